"""Experiments and sweeps: identical splits per seed, tidy rows written atomically, interrupted sweeps resume."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
import torch

import l2rw_viz.experiments as ex
from l2rw_viz.experiments import (EXPERIMENTS, ROW_COLUMNS, append_row, finished_keys, make_dataset, plan_sweep,
                                  read_results, run_one, sweep)

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
    real = ex.run_one

    def flaky(*args, **kw):
        calls.append(args[:4])
        if len(calls) == 3:
            raise RuntimeError("simulated crash")
        return real(*args, **kw)

    monkeypatch.setattr(ex, "run_one", flaky)
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
    monkeypatch.setattr(ex, "RESULTS_VERSION", ex.RESULTS_VERSION + 1)  # the library changed what a run computes
    assert ex.stale_rows(read_results(out)) == 2
    assert len(plan_sweep("toy-imbalance", ["plain"], [0.9], [0, 1], 5, "cpu", out=out)) == 2
    table = sweep("toy-imbalance", **kw)
    assert len(table) == 2 and set(table["results_version"]) == {ex.RESULTS_VERSION}  # replaced, not duplicated


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

    out = tmp_path / "revisions.csv"
    kw = dict(methods=["plain", "proportion"], settings=[0.9], seeds=[0], out=out, steps=5, device="cpu",
              progress=False)
    sweep("toy-imbalance", **kw)
    assert set(read_results(out)["method_revision"]) == {ex.METHOD_REVISIONS.get("plain", 0)}
    monkeypatch.setitem(ex.METHOD_REVISIONS, "proportion", ex.METHOD_REVISIONS.get("proportion", 0) + 1)
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
