"""Experiments and sweeps: identical splits per seed, tidy rows written atomically, interrupted sweeps resume."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest
import torch

import l2rw_viz.experiments as ex
from l2rw_viz.experiments import (
    EXPERIMENTS,
    ROW_COLUMNS,
    append_row,
    finished_keys,
    make_dataset,
    plan_sweep,
    read_results,
    run_one,
    sweep,
)

FAST = dict(steps=20, device="cpu")


def test_every_experiment_is_complete():
    assert set(EXPERIMENTS) == {"mnist-imbalance", "mnist-noise", "mnist-imbalance-noise", "toy-imbalance",
                                "toy-noise", "toy-imbalance-noise"}
    assert EXPERIMENTS["mnist-imbalance"].settings == (0.9, 0.95, 0.98, 0.99, 0.995)
    e = EXPERIMENTS["mnist-imbalance"]
    assert (e.model, e.lr, e.momentum, e.batch_size) == ("lenet", 1e-3, 0.9, 100)
    assert EXPERIMENTS["mnist-noise"].noise_rate == 0.4


def test_methods_see_the_same_split_for_a_seed():
    a, b = make_dataset("toy-imbalance", 0.95, seed=4), make_dataset("toy-imbalance", 0.95, seed=4)
    assert torch.equal(a.x, b.x) and torch.equal(a.x_val, b.x_val) and torch.equal(a.y, b.y)
    assert not torch.equal(a.x, make_dataset("toy-imbalance", 0.95, seed=5).x)


def test_run_one_returns_a_tidy_row_with_group_weights(tmp_path):
    row = run_one("toy-imbalance-noise", "proportion", 0.9, seed=1, history_dir=tmp_path, **FAST)
    assert set(ROW_COLUMNS) <= set(row)
    assert row["experiment"] == "toy-imbalance-noise" and row["setting_name"] == "proportion"
    assert row["setting_value"] == 0.9 and row["seed"] == 1 and row["steps"] == 20 and row["data_source"] == "toy"
    assert row["test_error"] == pytest.approx(1 - row["test_accuracy"])
    # inverse-frequency weights lift the minority above uniform (1.0) and the majority below it
    assert row["mean_w_minority"] > 1 > row["mean_w_majority"]
    assert os.path.exists(row["history_path"])
    from l2rw_viz.history import History

    h = History.load(row["history_path"])
    assert h.meta["experiment"] == "toy-imbalance-noise" and len(h.steps) == 20


def test_run_one_adaboost_row():
    row = run_one("toy-noise", "adaboost", "uniform", seed=0, **FAST)
    assert 0 <= row["test_error"] <= 1 and row["mean_w_noisy"] > row["mean_w_clean"]


def test_bad_values_fail_before_training():
    with pytest.raises(ValueError, match="proportion"):
        run_one("toy-imbalance", "plain", 1.5)
    with pytest.raises(ValueError, match="noise_mode"):
        run_one("toy-noise", "plain", "sideways")
    with pytest.raises(ValueError, match="method"):
        run_one("toy-noise", "nope")
    with pytest.raises(ValueError, match="experiment"):
        run_one("cifar", "plain")
    with pytest.raises(ValueError, match="steps"):
        run_one("toy-noise", "plain", steps=0)


def test_append_row_is_atomic_and_replaces_a_same_key_row(tmp_path, monkeypatch):
    out = tmp_path / "r.csv"
    row = run_one("toy-noise", "plain", "uniform", seed=0, **FAST)
    append_row(out, row)
    append_row(out, {**row, "seed": 1})
    append_row(out, {**row, "test_error": 0.123})  # same key as the first: replaced, not duplicated
    table = read_results(out)
    assert len(table) == 2 and sorted(table["seed"]) == [0, 1]
    assert 0.123 in table["test_error"].round(3).tolist()
    assert list(table.columns[:len(ROW_COLUMNS)]) == list(ROW_COLUMNS)
    before = out.read_bytes()

    # a crash while writing (here: in the middle of to_csv) leaves the old file untouched and no temp file behind
    def boom(self, *args, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(pd.DataFrame, "to_csv", boom)
    with pytest.raises(KeyboardInterrupt):
        append_row(out, {**row, "seed": 2})
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"] == []


def test_interrupted_sweep_resumes_without_repeating(tmp_path, monkeypatch):
    out = tmp_path / "sweep.csv"
    calls = []
    real = ex.run.run_one

    def flaky(*args, **kw):
        calls.append(args[:4])
        if len(calls) == 3:
            raise RuntimeError("simulated crash")
        return real(*args, **kw)

    monkeypatch.setattr(ex.run, "run_one", flaky)   # what the sweep calls
    kw = dict(methods=["plain", "proportion"], settings=[0.9, 0.95], seeds=[0], out=out, steps=10, device="cpu",
              progress=False)
    with pytest.raises(RuntimeError, match="simulated"):
        sweep("toy-imbalance", **kw)
    assert len(read_results(out)) == 2  # the two runs before the crash are saved
    done_before = finished_keys(out)
    calls.clear()
    table = sweep("toy-imbalance", **kw)
    assert len(calls) == 2  # only the two missing runs
    assert len(table) == 4 and done_before <= finished_keys(out)
    assert plan_sweep("toy-imbalance", kw["methods"], kw["settings"], [0], 10, "cpu", out=out) == []
    assert sorted(table["method"]) == ["plain", "plain", "proportion", "proportion"]


def test_rows_of_another_results_version_are_run_again(tmp_path, monkeypatch):
    import l2rw_viz.experiments as ex

    out = tmp_path / "versions.csv"
    kw = dict(methods=["plain"], settings=[0.9], seeds=[0, 1], out=out, steps=5, device="cpu", progress=False)
    sweep("toy-imbalance", **kw)
    assert plan_sweep("toy-imbalance", ["plain"], [0.9], [0, 1], 5, "cpu", out=out) == []
    assert ex.stale_rows(read_results(out)) == 0
    # the library changed what a run computes (the store judges rows, the run writes them)
    monkeypatch.setattr(ex.store, "RESULTS_VERSION", ex.RESULTS_VERSION + 1)
    monkeypatch.setattr(ex.run, "RESULTS_VERSION", ex.RESULTS_VERSION + 1)
    assert ex.stale_rows(read_results(out)) == 2
    assert len(plan_sweep("toy-imbalance", ["plain"], [0.9], [0, 1], 5, "cpu", out=out)) == 2
    table = sweep("toy-imbalance", **kw)
    assert len(table) == 2 and set(table["results_version"]) == {ex.store.RESULTS_VERSION}  # replaced, not duplicated


def test_a_sweep_refuses_to_pass_off_finished_rows_as_another_variant(tmp_path):
    out = tmp_path / "variants.csv"
    kw = dict(methods=["plain"], settings=[0.9], seeds=[0], steps=5, device="cpu")
    sweep("toy-imbalance", out=out, progress=False, **kw)
    assert plan_sweep("toy-imbalance", out=out, lr=EXPERIMENTS["toy-imbalance"].lr, **kw) == []  # same: reused
    # the options that change a run but are not in its key: lr, on_zero_weights, data_seed
    for option, value in [("lr", 0.5), ("on_zero_weights", "step"), ("data_seed", 7)]:
        with pytest.raises(ValueError, match=f"{option}=.*another out file"):
            plan_sweep("toy-imbalance", out=out, **{option: value}, **kw)
    assert len(plan_sweep("toy-imbalance", out=tmp_path / "lr05.csv", lr=0.5, **kw)) == 1


def test_a_method_revision_makes_only_that_methods_rows_stale(tmp_path, monkeypatch):
    import l2rw_viz.experiments as ex
    from l2rw_viz.methods import METHODS

    out = tmp_path / "revisions.csv"
    kw = dict(methods=["plain", "proportion"], settings=[0.9], seeds=[0], out=out, steps=5, device="cpu",
              progress=False)
    sweep("toy-imbalance", **kw)
    assert set(read_results(out)["method_revision"]) == {METHODS["plain"].revision}
    monkeypatch.setattr(METHODS["proportion"], "revision", METHODS["proportion"].revision + 1)
    assert ex.stale_rows(read_results(out)) == 1
    todo = plan_sweep("toy-imbalance", ["plain", "proportion"], [0.9], [0], 5, "cpu", out=out)
    assert [spec.method for spec in todo] == ["proportion"]
    table = sweep("toy-imbalance", **kw)
    assert len(table) == 2 and ex.stale_rows(table) == 0
    # a table written before revisions were recorded: plain's rows stay current, the revised method's do not
    legacy = read_results(out).drop(columns=["method_revision"])
    assert ex.stale_rows(legacy) == 1


@pytest.mark.slow
def test_sweep_in_parallel_processes(tmp_path):
    out = tmp_path / "par.csv"
    table = sweep("toy-noise", methods=["random"], settings=["background"], seeds=[0, 1], out=out, jobs=2,
                  steps=10, device="cpu", progress=False)
    assert len(table) == 2 and table["test_error"].between(0, 1).all()
    # same numbers as a serial run of the same key (seeded, deterministic)
    serial = run_one("toy-noise", "random", "background", seed=1, steps=10, device="cpu")
    got = table[(table["method"] == "random") & (table["seed"] == 1)]["test_error"].item()
    assert got == pytest.approx(serial["test_error"])


@pytest.mark.slow
def test_mnist_run_on_the_offline_subset():
    row = run_one("mnist-imbalance", "plain", 0.9, seed=0, steps=3, device="cpu", data_source="subset")
    assert row["data_source"] == "subset" and row["n_val"] == 10 and row["n_train"] > 300
    assert np.isfinite(row["test_error"])


def test_method_settings_are_part_of_a_runs_identity(tmp_path):
    """--method-arg: checked by the method's declaration; every resolved setting is written to the row (canonical
    JSON) and its key; a sweep skips only rows with the same settings, and a summary keeps the variants apart."""
    out = tmp_path / "args.csv"
    kw = dict(methods=["proportion"], settings=[0.9], seeds=[0], steps=5, device="cpu", out=out, progress=False)
    sweep("toy-imbalance", **kw)
    sweep("toy-imbalance", method_args={"normalise": "false"}, **kw)
    table = read_results(out)
    assert sorted(table["method_args"]) == ['{"normalise":false}', '{"normalise":true}']
    assert sorted(json.loads(s)["normalise"] for s in table["method_settings"]) == [False, True]
    assert len(finished_keys(out)) == 2
    plan = {k: v for k, v in kw.items() if k != "progress"}
    assert plan_sweep("toy-imbalance", method_args={"normalise": False}, **plan) == []   # typed or text: the same
    assert plan_sweep("toy-imbalance", method_args={"normalise": "no"}, **plan) == []
    summary = ex.summarize(table, by=("method",))
    assert sorted(summary["method"]) == ['proportion', 'proportion {"normalise":false}']
    assert set(summary["count"]) == {1}


def test_rows_without_the_method_args_column_mean_the_defaults(tmp_path):
    """Older tables (and the shipped ones) have no method_args column: their rows are default runs, skipped by a
    default sweep and not by one with settings."""
    out = tmp_path / "old.csv"
    kw = dict(methods=["plain", "proportion"], settings=[0.9], seeds=[0], steps=5, device="cpu")
    sweep("toy-imbalance", out=out, progress=False, **kw)
    legacy = read_results(out).drop(columns=["method_args", "method_settings"])
    legacy.to_csv(out, index=False)
    assert plan_sweep("toy-imbalance", out=out, **kw) == []
    assert [s.method for s in plan_sweep("toy-imbalance", out=out, method_args={"normalise": "0"},
                                         **{**kw, "methods": ["proportion"]})] == ["proportion"]


@pytest.mark.parametrize("method, args, message", [
    ("plain", {"gamma": "1"}, r"gamma='1' is not allowed for method 'plain'; allowed keys: none"),
    ("l2rw", {"weights_method": "exact"},
     r"weights_method='exact' is not allowed for method 'l2rw'; allowed: one of 'jvp', 'autodiff'"),
    ("l2rw", {"fused": "maybe"}, r"fused='maybe' is not allowed for method 'l2rw'; allowed: true or false"),
    ("hard_mining", {"pool_size": "lots"}, r"pool_size='lots' is not allowed.*; allowed: an integer in \[1, inf\)"),
    ("adaboost", {"n_estimators": "0"}, r"n_estimators='0' is not allowed.*allowed: an integer"),
    ("plain+es", {"es_every": "0"}, r"es_every='0' is not allowed.*allowed"),
])
def test_bad_method_settings_are_refused_before_any_work(method, args, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        run_one("toy-imbalance", method, 0.9, steps=5, device="cpu", method_args=args, out=tmp_path / "r.csv")
    assert not (tmp_path / "r.csv").exists()
    with pytest.raises(ValueError, match=message.split(" is not")[0].split("=")[0]):
        plan_sweep("toy-imbalance", [method], [0.9], [0], 5, "cpu", method_args=args)


def test_a_method_derives_its_run_settings_itself():
    """method_for asks each method (Method.run_settings) for what depends on the run; user settings win."""
    exp = EXPERIMENTS["mnist-imbalance"]
    assert ex.method_for("finetune", exp, 200, 100, 1e-3).switch_step == 180
    assert ex.method_for("hard_mining", exp, 200, 50, 1e-3).pool_size == 250
    assert ex.method_for("hard_mining", exp, 200, 50, 1e-3, pool_size=7).pool_size == 7
    conf = ex.method_for("noise_layer_conf", exp, 200, 100, 0.01)
    assert (conf.pretrain_steps, conf.pretrain_lr, conf.pretrain_batch_size) == (100, 0.01, 100)
    assert ex.method_for("noise_layer", exp, 200, 100, 0.01).pretrain_steps == 1000   # no pre-training to size
    m = ex.method_for("self_training+es+ft", exp, 300, 100, 1e-3)
    assert (m.base.round_steps, m.es_every, m.ft_switch_step) == (100, 100, 270)


def test_every_method_in_an_experiments_list_addresses_its_bias_or_is_a_control():
    from l2rw_viz.experiments import method_class

    for exp in EXPERIMENTS.values():
        for name in exp.methods:
            addresses = method_class(name).addresses
            assert not addresses or set(addresses) & set(exp.bias.split("-")), (exp.name, name, addresses)


def test_seeds_text_never_claims_more_seeds_than_a_point_has():
    import pandas as pd

    def rows(cells):   # cells: {(method, setting): seeds}
        return pd.DataFrame([{"experiment": "x", "method": m, "setting_value": s, "seed": d, "test_error": 0.1}
                             for (m, s), seeds in cells.items() for d in seeds])

    assert ex.seeds_text(rows({("plain", 0.9): [0, 1, 2], ("l2rw", 0.9): [0, 1, 2]})) == "3 seeds"
    assert ex.seeds_text(rows({("plain", 0.9): [0]})) == "1 seed"
    # a table being made: the table holds seeds 0-1, but one point has only seed 0
    assert ex.seeds_text(rows({("plain", 0.9): [0, 1], ("l2rw", 0.9): [0]})) == "1-2 seeds per point"
    assert ex.seeds_text(rows({})) == "no runs"
