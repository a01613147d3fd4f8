"""The entry point of a sweep's worker processes (``l2rw_viz.experiments.sweep`` with ``jobs > 1``).

Kept apart from :mod:`l2rw_viz.experiments` on purpose: a worker imports this module (numpy-free, stdlib only) and
starts its watchdog before it imports torch, pandas and the methods, which takes tens of seconds on a loaded
machine. A sweep killed in that time must not leave its workers behind. The run itself arrives as a plain dict
(the fields of ``RunSpec``), so unpickling it imports nothing heavy either.
"""

from __future__ import annotations

import os
import threading
import time

_watching_parent = False


def exit_with_parent(parent_pid: int, poll_s: float = 1.0) -> None:
    """In a sweep worker process: exit as soon as the sweep's process (``parent_pid``) is gone. After ``kill -9``
    of a sweep, joblib's workers otherwise live on for minutes, each holding a few hundred MB, and their results
    could not be saved anyway (the parent writes the rows). Started once per worker process."""
    global _watching_parent
    if _watching_parent or parent_pid == os.getpid():
        return
    _watching_parent = True

    direct = os.getppid() == parent_pid

    def gone() -> bool:
        if direct:  # a dead parent's children are re-parented at once, even while it is a zombie
            return os.getppid() != parent_pid
        try:
            os.kill(parent_pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass
        return False

    def watch() -> None:
        while not gone():
            time.sleep(poll_s)
        os._exit(1)

    threading.Thread(target=watch, name="l2rw-exit-with-sweep", daemon=True).start()


def run_in_worker(spec: dict, threads: int | None, parent_pid: int | None = None) -> dict:
    """Run one sweep run (``spec``: the fields of ``RunSpec``) with ``threads`` torch threads, without writing (the
    sweep's process writes). ``parent_pid``: the sweep's process; the worker exits when it dies."""
    if parent_pid is not None:
        exit_with_parent(parent_pid)
    # imported only now, after the watchdog started (see the module docstring)
    from .experiments.run import run_one
    from .train import TrainingDivergedError

    try:
        return run_one(spec["experiment"], spec["method"], spec["setting"], spec["seed"], spec["steps"],
                       spec["device"], spec["data_source"], threads=threads, **spec["options"])
    except TrainingDivergedError as error:   # one diverged run must not stop the others: the sweep reports it
        return {"diverged": str(error), "spec": spec}


def run_pinned(spec: dict, parent_pid: int, timeout_s: float | None = None) -> dict:
    """Run one sweep run in a fresh process with pinned numerics (:mod:`l2rw_viz.numerics`) and return what
    :func:`run_in_worker` returns there (the row, or the diverged report). Called from a thread of the sweeping
    process: the child starts with the pinned environment (read when torch starts, so it cannot be set in a
    process that runs already), exits when ``parent_pid`` dies, and hands its row back through a file."""
    import json
    import tempfile

    from .numerics import run_pinned_module

    with tempfile.TemporaryDirectory(prefix="l2rw-pinned-") as tmp:
        result = os.path.join(tmp, "row.json")
        with open(os.path.join(tmp, "spec.json"), "w") as f:
            json.dump(spec, f, default=str)
        what = f"the pinned run {spec['method']} {spec['setting']} seed {spec['seed']}"
        run_pinned_module("l2rw_viz.sweep_worker", [os.path.join(tmp, "spec.json"), result, str(parent_pid)], what,
                          timeout_s)
        if not os.path.exists(result):
            raise RuntimeError(f"{what} wrote no result")
        with open(result) as f:
            return json.load(f)


def _main(argv: list[str]) -> int:
    """``python -m l2rw_viz.sweep_worker SPEC.json OUT.json PARENT_PID``: one pinned run (see :func:`run_pinned`)."""
    import json

    spec_path, out_path, parent_pid = argv
    exit_with_parent(int(parent_pid))
    from .numerics import enter_pinned

    enter_pinned()   # before anything else imports torch
    with open(spec_path) as f:
        spec = json.load(f)
    row = run_in_worker(spec, 1)
    tmp = out_path + ".part"
    with open(tmp, "w") as f:
        json.dump(row, f, default=lambda v: v.item() if hasattr(v, "item") else str(v))
    os.replace(tmp, out_path)
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(_main(sys.argv[1:]))
