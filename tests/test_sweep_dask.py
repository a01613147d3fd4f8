"""Sweeps on a Dask cluster (``backend="dask"``), against a ``LocalCluster`` on 127.0.0.1 with 2 worker processes:
the same rows as a ``jobs=2`` sweep of the same runs, and today's guarantees kept when a worker or the sweeping
process dies mid-run (no row lost, none duplicated; the next sweep runs what is missing)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from l2rw_viz.experiments import plan_sweep, read_results, sweep
from l2rw_viz.experiments.store import row_key
from l2rw_viz.sweep_cluster import WorkerLostError, check_backend, dask_parallel

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.cluster

ROOT = Path(__file__).resolve().parents[1]
# Six toy runs of a few seconds each on a loaded 2-core machine: long enough to kill a worker while one runs.
RUNS = dict(methods=["plain", "l2rw"], settings=[0.9], seeds=[0, 1, 2], steps=300, device="cpu")
WAIT_S = 240   # headroom for worker start-up and torch imports on a loaded machine


@pytest.fixture(scope="module")
def cluster():
    """A LocalCluster as a lecturer would start one (worker processes, one thread each), on 127.0.0.1 only."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address="127.0.0.1:0") as local:
        with distributed.Client(local.scheduler_address, set_as_default=False) as client:
            client.wait_for_workers(2, timeout=WAIT_S)
            yield local, client


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The same runs swept by local worker processes (``jobs=2``): the rows every Dask sweep must reproduce."""
    out = tmp_path_factory.mktemp("jobs2") / "jobs2.csv"
    return _by_key(sweep("toy-imbalance", out=out, jobs=2, progress=False, **RUNS))


def _by_key(table) -> dict:
    rows = table.to_dict("records")
    keys = [row_key(r) for r in rows]
    assert len(keys) == len(set(keys)), f"duplicated rows: {keys}"
    return dict(zip(keys, rows))


def _assert_same_rows(table, reference) -> None:
    got = _by_key(table)
    assert got.keys() == reference.keys()
    for key, row in got.items():
        ref = reference[key]
        assert row["test_error"] == ref["test_error"], key   # the same test errors, exactly
        for column in ("test_accuracy", "mean_w_minority", "mean_w_majority", "zero_weight_fraction"):
            assert row[column] == pytest.approx(ref[column], rel=1e-6, abs=1e-9, nan_ok=True), (key, column)
        assert row["l2rw_viz_version"] == ref["l2rw_viz_version"]


def _kill_a_worker_mid_run(client, killed: list, stop: threading.Event) -> None:
    """Wait until a worker is executing a run, then ``kill -9`` its process (by its pid); record the pid."""
    def state(dask_worker):
        return os.getpid(), len(dask_worker.state.executing)

    deadline = time.monotonic() + WAIT_S
    while not stop.is_set() and time.monotonic() < deadline:
        busy = [pid for pid, executing in client.run(state).values() if executing]
        if busy:
            os.kill(busy[0], signal.SIGKILL)
            killed.append(busy[0])
            return
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


@contextlib.contextmanager
def _killer(client):
    killed: list[int] = []
    stop = threading.Event()
    thread = threading.Thread(target=_kill_a_worker_mid_run, args=(client, killed, stop), daemon=True)
    thread.start()
    try:
        yield killed
    finally:
        stop.set()
        thread.join(WAIT_S)


def test_a_dask_sweep_from_the_command_line_gives_the_rows_of_a_jobs_2_sweep(cluster, reference, tmp_path):
    local, _ = cluster
    out = tmp_path / "dask.csv"
    cmd = [sys.executable, "-m", "l2rw_viz.cli", "sweep", "toy-imbalance", "--methods", *RUNS["methods"],
           "--settings", "0.9", "--seeds", "0", "1", "2", "--steps", "300", "--device", "cpu", "--no-progress",
           "--out", str(out), "--backend", "dask", "--scheduler", local.scheduler_address]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=WAIT_S * 2, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "6 run(s) to do" in done.stdout
    _assert_same_rows(read_results(out), reference)
    kw = {k: v for k, v in RUNS.items() if k not in ("methods", "settings", "seeds")}
    assert plan_sweep("toy-imbalance", RUNS["methods"], RUNS["settings"], RUNS["seeds"], out=out, **kw) == []


def test_a_worker_killed_mid_run_loses_and_duplicates_no_row(cluster, reference, tmp_path):
    local, client = cluster
    out = tmp_path / "killed_worker.csv"
    with _killer(client) as killed:
        table = sweep("toy-imbalance", out=out, progress=False, backend="dask", scheduler=local.scheduler_address,
                      **RUNS)
    assert len(killed) == 1, "no worker was seen running a run"
    assert not _alive(killed[0])
    _assert_same_rows(table, reference)              # the killed run was run again on a worker: all six rows
    _assert_same_rows(read_results(out), reference)  # each once in the file
    client.wait_for_workers(2, timeout=WAIT_S)       # the nanny restarted the worker


def test_a_worker_lost_more_often_than_allowed_is_reported_and_the_next_sweep_runs_the_rest(cluster, reference,
                                                                                          tmp_path):
    local, client = cluster
    out = tmp_path / "lost.csv"
    allowed = local.scheduler.allowed_failures
    local.scheduler.allowed_failures = 0   # the first death of a worker running a run stops the sweep
    try:
        with _killer(client) as killed, pytest.raises(WorkerLostError, match="run the same sweep again"):
            sweep("toy-imbalance", out=out, progress=False, backend="dask", scheduler=local.scheduler_address,
                  **RUNS)
    finally:
        local.scheduler.allowed_failures = allowed
    assert len(killed) == 1
    written = read_results(out) if out.exists() else None
    before = _by_key(written) if written is not None else {}
    assert len(before) < len(reference)   # the lost run has no row
    for key, row in before.items():       # and the rows written are whole and right
        assert row["test_error"] == reference[key]["test_error"]
    client.wait_for_workers(2, timeout=WAIT_S)
    table = sweep("toy-imbalance", out=out, progress=False, backend="dask", scheduler=local.scheduler_address,
                  **RUNS)
    _assert_same_rows(table, reference)


def test_a_killed_sweeping_process_loses_no_written_row(cluster, reference, tmp_path):
    local, client = cluster
    out = tmp_path / "killed_client.csv"
    cmd = [sys.executable, "-m", "l2rw_viz.cli", "sweep", "toy-imbalance", "--methods", *RUNS["methods"],
           "--settings", "0.9", "--seeds", "0", "1", "2", "--steps", "300", "--device", "cpu", "--no-progress",
           "--out", str(out), "--backend", "dask", "--scheduler", local.scheduler_address]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    try:
        deadline = time.monotonic() + WAIT_S * 2
        while time.monotonic() < deadline and proc.poll() is None and not (out.exists() and len(read_results(out))):
            time.sleep(0.05)
        assert proc.poll() is None, "the sweep finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    before = _by_key(read_results(out))
    assert 1 <= len(before) < len(reference)
    for key, row in before.items():
        assert row["test_error"] == reference[key]["test_error"]
    table = sweep("toy-imbalance", out=out, progress=False, backend="dask", scheduler=local.scheduler_address,
                  **RUNS)
    _assert_same_rows(table, reference)


def test_workers_with_several_threads_are_refused_before_any_run(tmp_path):
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, protocol="tcp", host="127.0.0.1",
                                  dashboard_address="127.0.0.1:0") as local:
        with pytest.raises(ValueError, match="several threads.*--nthreads 1"):
            sweep("toy-imbalance", out=tmp_path / "r.csv", progress=False, backend="dask",
                  scheduler=local.scheduler_address, **RUNS)
    assert not (tmp_path / "r.csv").exists()


@pytest.mark.parametrize("backend, scheduler, jobs, message", [
    ("spark", None, 1, "backend='spark' is not allowed; allowed: 'local', 'dask'"),
    ("dask", None, 1, "scheduler=None with backend='dask'"),
    ("dask", "  ", 1, "scheduler='  ' is not an address"),
    ("local", "tcp://127.0.0.1:8786", 1, "with backend='local'"),
    ("dask", "tcp://127.0.0.1:8786", 2, "jobs=2 with backend='dask'"),
])
def test_bad_backend_arguments_are_refused(backend, scheduler, jobs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        check_backend(backend, scheduler, jobs)


def test_a_scheduler_that_does_not_answer_is_named():
    with pytest.raises(ValueError, match=r"scheduler='tcp://127.0.0.1:9': no Dask scheduler answered"):
        with dask_parallel("tcp://127.0.0.1:9", timeout=2):
            pass


def test_the_command_line_refuses_dask_without_a_scheduler(tmp_path):
    from l2rw_viz.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["sweep", "toy-imbalance", "--backend", "dask", "--out", str(tmp_path / "r.csv")])
    assert exit_.value.code == 2
