"""The shipped full results: complete, current, with provenance, loadable by the course, and reproducible."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest

from l2rw_viz.experiments import RESULTS_VERSION, run_one
from l2rw_viz.results import (
    SHIPPED,
    compare_with_shipped,
    describe_comparison,
    load_history,
    load_results,
    provenance,
    shipped_histories,
    stale_methods,
)
from l2rw_viz.results.pack import expected_runs, pack, thin_history
from l2rw_viz.results.shipped import DATA_DIR, setting_text

#: The reproduction test draws among rows whose run took at most this long when it was made (s): CI re-runs one per
#: table, and a MentorNet-DD run takes 20-50 minutes. Costlier rows are guarded by the fingerprints.
SAMPLE_MAX_WALL_S = 600


def sampled_rows(name: str, k: int = 1) -> list[dict]:
    """``k`` rows of a shipped table for the reproduction test, drawn with the table file's hash as the seed: the
    sample changes whenever the table does, and no row can be chosen by hand (only runs that took at most
    :data:`SAMPLE_MAX_WALL_S` are drawn)."""
    import hashlib

    from l2rw_viz.results.shipped import table_path

    seed = int(hashlib.sha256(table_path(name).read_bytes()).hexdigest()[:8], 16)
    table = load_results(name)
    table = table[table["wall_time_s"] <= SAMPLE_MAX_WALL_S].reset_index(drop=True)
    return table.iloc[np.random.default_rng(seed).choice(len(table), size=k, replace=False)].to_dict("records")


@pytest.mark.parametrize("name", SHIPPED)
def test_every_run_of_the_full_sweep_ships(name):
    table = load_results(name)
    have = {(r["method"], setting_text(r["setting_value"]), int(r["seed"])) for r in table.to_dict("records")}
    missing = expected_runs(name) - have
    # the table holds every run of the full sweep except those its provenance declares missing (a sweep that did
    # not finish in the session that packed it; 'l2rw-viz results make NAME' resumes it)
    declared = {(m, s, int(d)) for m, s, d in provenance(name)["missing_runs"]}
    assert missing == declared, \
        f"{name}: missing {sorted(missing - declared)[:5]}, declared {sorted(declared - missing)[:5]}"
    # what the course draws is there at least once (seed 0) at every setting, whatever else a cut sweep left
    # missing: L2RW and plain training everywhere, the paper's six Fig. 8 methods on Fig. 8
    core = {"mnist-imbalance": ("plain", "proportion", "resample", "hard_mining", "random", "l2rw")}.get(
        name, ("plain", "l2rw"))
    assert not {(m, s) for m, s, d in missing if d == 0 and m in core}, f"{name}: a core cell has no run"
    assert (table["steps"] == 2000).all() and (table["data_source"] == "subset").all()
    keys = table[["method", "setting_value", "seed"]].astype(str).agg("/".join, axis=1)
    assert not keys.duplicated().any(), "a run appears twice"
    assert table["test_error"].between(0, 1).all()
    np.testing.assert_allclose(table["test_error"] + table["test_accuracy"], 1.0, atol=1e-9)


@pytest.mark.parametrize("name", SHIPPED)
def test_each_table_carries_its_provenance(name):
    prov = provenance(name)
    for key in ("made_with", "versions", "results_version", "method_revisions", "devices", "date_packed_utc",
                "wall_time_s", "sum_of_run_wall_times_s", "machine"):
        assert prov.get(key) not in (None, [], {}, ""), key
    assert all(cmd.startswith("l2rw-viz ") for cmd in prov["made_with"])
    assert {"l2rw_viz", "torch", "numpy", "scikit_learn"} <= set(prov["versions"])
    assert prov["rows"] == len(load_results(name))
    assert set(prov["method_revisions"]) == set(load_results(name)["method"])


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_tables_are_current(name):
    """A change that alters a method's results bumps its revision (the method class's ``revision``), a change of a
    default makes its rows a variant; the shipped rows of that method are then stale, and this test fails with the
    command that refreshes them."""
    stale = stale_methods(name)
    assert not stale, (f"{name}: shipped rows are stale for {stale} ((shipped, library) revision; results version "
                       f"{RESULTS_VERSION}); refresh with: l2rw-viz results make {name} --jobs 2")


def test_a_stale_revision_is_detected(monkeypatch):
    from l2rw_viz.methods import METHODS

    monkeypatch.setattr(METHODS["l2rw"], "revision", METHODS["l2rw"].revision + 1)
    assert "l2rw" in stale_methods("fig8")


def test_a_changed_default_makes_the_shipped_rows_stale(monkeypatch):
    """Changing a default changes the identity of a default run: the shipped rows (migrated with the defaults they
    were computed with) no longer are that run, so their table is stale; its revision is untouched."""
    from l2rw_viz.methods import METHODS
    from l2rw_viz.methods.setting import with_defaults

    cls = METHODS["hard_mining"]
    assert "hard_mining" not in stale_methods("fig8")
    monkeypatch.setattr(cls, "settings", with_defaults(cls.settings, pool_size=700))
    monkeypatch.setattr(cls, "run_settings", classmethod(lambda c, plan: {}))   # no run-dependent pool size
    assert "hard_mining" in stale_methods("fig8") and "plain" not in stale_methods("fig8")


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_histories_match_their_rows(name):
    table = load_results(name)
    found = shipped_histories(name)
    assert any(m == "l2rw" for m, _, _ in found)
    for method, setting, seed in found:
        h = load_history(name, method, setting, seed)
        same = (table.method == method) & (table.setting_value.map(setting_text) == setting) & (table.seed == seed)
        row = table[same]
        assert len(row) == 1
        # the History is the run of that row: same final test accuracy, same number of steps
        assert h.final_test_accuracy == pytest.approx(float(row.test_accuracy.iloc[0]), abs=1e-9)
        assert h.meta["steps"] == 2000 and h.steps[-1] >= 2000 - h.meta["recorded_every"]
        sums = h.weights.sum(axis=1)
        assert (h.weights >= 0).all() and np.all((np.abs(sums - 1) < 1e-4) | (sums == 0))


def test_shipped_results_fit_the_size_budget():
    total = sum(p.stat().st_size for p in DATA_DIR.rglob("*") if p.is_file())
    assert total <= 20e6, f"shipped results are {total / 1e6:.1f} MB; budget 20 MB"


def test_loader_aliases_filters_and_errors():
    fig8 = load_results("fig8")
    assert fig8.equals(load_results("mnist-imbalance"))
    some = load_results("fig8", methods=["l2rw"], settings=[0.995], seeds=[0])
    assert len(some) == 1 and some.method.iloc[0] == "l2rw"
    with pytest.raises(ValueError, match="name='fig9'"):
        load_results("fig9")
    with pytest.raises(ValueError, match="no History ships"):
        load_history("fig8", "l2rw", 0.995, seed=2)


def test_a_recomputation_that_differs_says_so():
    table = load_results("fig8", settings=[0.9], seeds=[0])
    assert describe_comparison(compare_with_shipped(table, "fig8"), len(table), "fig8").startswith("all ")
    changed = table.copy()
    changed.loc[0, "test_error"] += 0.005
    diff = compare_with_shipped(changed, "fig8")
    assert len(diff) == 1 and "DIFFER" in describe_comparison(diff, len(changed), "fig8")
    short = table.copy()
    short["steps"] = 200
    assert "no shipped twin" in describe_comparison(compare_with_shipped(short, "fig8"), len(short), "fig8")


def test_thin_history_keeps_every_kth_step():
    h = load_history("fig8", "plain", 0.9)
    thin = thin_history(h, 4)
    assert np.array_equal(thin.steps, h.steps[::4]) and np.array_equal(thin.weights, h.weights[::4])
    assert np.array_equal(thin.test_acc, h.test_acc)
    assert thin.meta["recorded_every"] == 4 * h.meta["recorded_every"]


def test_pack_writes_table_histories_and_provenance(tmp_path):
    from test_numerics import PINNABLE, WHY_NOT

    if not PINNABLE:
        pytest.skip(f"pack fingerprints the numerics pinned; this machine cannot pin: {WHY_NOT}")
    csv, hist = tmp_path / "sweep.csv", tmp_path / "hist"
    run_one("mnist-imbalance", "l2rw", 0.9, seed=0, steps=3, data_source="subset", out=csv, history_dir=hist)
    with pytest.raises(ValueError, match="lacks"):
        pack("fig8", csv, hist, out_dir=tmp_path / "out")
    with pytest.raises(ValueError, match="not computed with pinned numerics"):   # run_one here is not pinned
        pack("fig8", csv, hist, out_dir=tmp_path / "out", allow_missing=True)
    prov = pack("fig8", csv, hist, commands=["l2rw-viz run mnist-imbalance ..."], wall_time_s=1.0,
                out_dir=tmp_path / "out", allow_missing=True, diverged_runs=[["plain", 0.99, 2, "nan at step 7"]],
                require_pinned=False)
    assert prov["rows"] == 1 and len(prov["missing_runs"]) == len(expected_runs("fig8")) - 1
    assert prov["diverged_runs"] == [["plain", "0.99", 2, "nan at step 7"]]
    assert set(prov["numerics_fingerprints"]) == {"l2rw"} and len(prov["numerics_fingerprints"]["l2rw"]) == 16
    saved = json.loads((tmp_path / "out" / "mnist-imbalance.provenance.json").read_text())
    assert saved["made_with"] == ["l2rw-viz run mnist-imbalance ..."]
    assert (tmp_path / "out" / "histories" / "mnist-imbalance__l2rw__0.9__seed0.npz").exists()
    # packing again from the shipped table itself (as 'results make' resumes) keeps the shipped History
    again = pack("fig8", tmp_path / "out" / "mnist-imbalance.csv", None, out_dir=tmp_path / "out", allow_missing=True,
                 require_pinned=False)
    assert again["histories"] == prov["histories"]


@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED)
def test_a_sampled_shipped_row_reproduces_exactly(name):
    """A row drawn by the table's hash, re-run at full length with pinned numerics in a fresh process (as
    'results make' ran it): the same test error, and the same trajectory (its digest covers the first 50 steps'
    batches, weights and losses and every evaluation), on any x86-64 CPU. A machine that cannot pin skips."""
    from test_numerics import PINNABLE, WHY_NOT

    from l2rw_viz.sweep_worker import run_pinned

    if not PINNABLE:
        pytest.skip(f"this machine cannot run pinned: {WHY_NOT}")
    (row,) = sampled_rows(name)
    spec = {"experiment": row["experiment"], "method": row["method"], "setting": row["setting_value"],
            "seed": int(row["seed"]), "steps": int(row["steps"]), "device": "cpu", "data_source": row["data_source"],
            "options": {"method_args": json.loads(row.get("method_args") or "{}") or None}}
    again = run_pinned(spec, os.getpid())
    what = f"{name} {row['method']} {row['setting_value']} seed {row['seed']}"
    assert again["numerics"] == row["numerics"], what
    assert again["trajectory"] == row["trajectory"], f"{what}: the run took other steps than the shipped one"
    assert math.isclose(again["test_error"], float(row["test_error"]), abs_tol=1e-12), \
        (what, again["test_error"], float(row["test_error"]))


@pytest.mark.parametrize("name", SHIPPED)
def test_the_readme_shows_the_shipped_tables(name):
    """The README's tables are `l2rw-viz results show NAME --markdown`, verbatim: a refreshed table must be pasted."""
    from pathlib import Path

    from l2rw_viz.results.pack import summary_table

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    table = summary_table(name, markdown=True).split("\n\n", 1)[1]
    assert table in readme, f"README.md lacks the current {name} table; paste `l2rw-viz results show {name} --markdown`"


def test_a_diverged_run_does_not_stop_the_sweep_and_is_declared(tmp_path, monkeypatch):
    """One run whose loss became NaN: the sweep finishes the others, warns, names it, and hands it on (to pack, which
    lists it in the provenance: backward loss correction can diverge, a result in itself)."""
    from l2rw_viz import sweep_worker
    from l2rw_viz.experiments import run as run_module
    from l2rw_viz.experiments import sweep
    from l2rw_viz.train import TrainingDivergedError

    real = run_module.run_one

    def flaky(experiment, method, setting, seed, *args, **kwargs):
        if method == "proportion" and seed == 1:
            raise TrainingDivergedError("the training loss became nan at step 3 (method='proportion', lr=0.05)")
        return real(experiment, method, setting, seed, *args, **kwargs)

    monkeypatch.setattr(run_module, "run_one", flaky)
    out = tmp_path / "r.csv"
    with pytest.warns(RuntimeWarning, match=r"1 run\(s\) diverged.*proportion 0.9 seed 1: the training loss"):
        table = sweep("toy-imbalance", ["plain", "proportion"], [0.9], [0, 1], out=out, steps=3, device="cpu",
                      progress=False)
    assert sorted(zip(table["method"], table["seed"])) == [("plain", 0), ("plain", 1), ("proportion", 0)]
    assert table.attrs["diverged_runs"] == [["proportion", "0.9", 1, "the training loss became nan at step 3 "
                                            "(method='proportion', lr=0.05)"]]
    # the worker entry point (jobs > 1) reports a diverged run instead of raising, with its spec
    spec = {"experiment": "toy-imbalance", "method": "proportion", "setting": 0.9, "seed": 1, "steps": 3,
            "device": "cpu", "data_source": "auto", "options": {}}
    monkeypatch.setattr("l2rw_viz.experiments.run.run_one", flaky)
    assert sweep_worker.run_in_worker(spec, 1)["diverged"].startswith("the training loss became nan")


def test_make_queues_seed_0_of_every_method_of_every_table_first():
    """A make that stops early (``--hours``) leaves every table whole at one seed before any cell has three."""
    from l2rw_viz.experiments import get_experiment, plan_sweep, resolve_methods
    from l2rw_viz.results.pack import SEEDS, make_order

    runs = [(exp, s.method, s.seed) for exp in SHIPPED
            for s in plan_sweep(exp, "all", seeds=SEEDS, device="cpu", data_source="subset")]
    order = sorted(runs, key=lambda r: make_order(*r))
    first = order[:sum(1 for r in runs if r[2] == 0)]
    assert {r[2] for r in first} == {0}
    assert {(e, m) for e, m, _ in first} == {(e, m) for e in SHIPPED for m in resolve_methods(get_experiment(e), "all")}
    assert {m for _, m, _ in order[:2 * len(SHIPPED)]} <= {"l2rw", "plain"}
    assert make_order("mnist-noise", "meta_weight_net", 0) < make_order("mnist-noise", "mentornet_dd", 0) \
        < make_order("mnist-imbalance", "l2rw", 1)


def test_a_pinned_sweep_past_its_deadline_starts_nothing():
    import time

    from l2rw_viz.experiments import plan_sweep
    from l2rw_viz.experiments.sweeps import run_pinned_sweep

    specs = plan_sweep("toy-imbalance", ["plain"], [0.9], [0, 1], steps=5, device="cpu")
    got = []
    left = run_pinned_sweep(specs, 2, lambda row, spec: got.append(spec), stop_at=time.monotonic() - 1)
    assert left == specs and got == []


@pytest.mark.parametrize("argv, message", [
    (["make", "fig8", "--hours", "0"], "hours=0.0"),
    (["make", "fig8", "--jobs", "0"], "jobs=0"),
])
def test_results_make_refuses_bad_values_before_any_work(argv, message, tmp_path, capsys):
    from l2rw_viz.results.pack import main

    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--work-dir", str(tmp_path / "w")])
    assert exit_.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "w").exists()


def test_a_stopped_run_is_marked_in_its_cell_never_a_bare_gap(monkeypatch):
    """A run that stopped with a message (e.g. loss correction refusing an unusable T) has no row; the table says
    'stopped' (or marks the cell's other seeds), with a footnote, where a run not made yet shows '-'."""
    from l2rw_viz.results import pack as pack_module
    from l2rw_viz.results import shipped

    real = shipped.provenance("noise")
    fake = {**real, "diverged_runs": [["l2rw", "uniform", 1, "stopped: why"], ["no_such", "background", 0, "why"]]}
    monkeypatch.setattr(shipped, "provenance", lambda name: fake)   # what load_results reads the stopped runs from
    text = pack_module.summary_table("noise", markdown=True)
    row = {line.split(" | ")[0].strip("| "): line for line in text.splitlines() if line.startswith("| ")}
    assert row["l2rw"].split(" | ")[2].endswith("‡ |") and row["no_such"].startswith("| no_such | stopped ‡ |")
    assert "‡ stopped: a run of this cell ended with a message" in text


def test_a_resumed_make_continues_the_shipped_wall_time(tmp_path, monkeypatch):
    """``make`` resumed from a shipped table carries its commands, and so its wall time: the provenance's
    ``wall_time_s`` is the sum over the makes (here the queue is stubbed: nothing runs)."""
    from l2rw_viz.experiments import sweeps
    from l2rw_viz.results import fingerprints
    from l2rw_viz.results import pack as pack_module

    monkeypatch.setattr(fingerprints, "fingerprints", lambda exp, methods: {})
    monkeypatch.setattr(sweeps, "run_pinned_sweep", lambda specs, jobs, collect, stop_at: specs)
    packed = {}
    monkeypatch.setattr(pack_module, "pack", lambda exp, *a, **kw: packed.setdefault(exp, kw))
    pack_module.make_tables(["fig8"], work_dir=tmp_path / "w", progress=False, hours=1)
    shipped = provenance("fig8")
    kw = packed["mnist-imbalance"]
    assert shipped["wall_time_s"] <= kw["wall_time_s"] < shipped["wall_time_s"] + 60
    assert kw["commands"][:-1] == shipped["made_with"] and kw["allow_missing"] is (len(shipped["missing_runs"]) > 0)
