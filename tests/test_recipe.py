"""The paper-protocol recipe: the official settings, recorded in every row, never mixed with ours in one table;
and the official (unnormalised) proportion weights it uses."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from l2rw_viz.experiments import (
    RECIPE_SEEDS,
    RESULTS_VERSION,
    append_row,
    get_experiment,
    history_filename,
    method_for,
    plan_sweep,
    recipe_experiment,
    run_one,
)
from l2rw_viz.methods import StepContext, get_method

pytestmark = pytest.mark.usefixtures("one_thread")


def test_paper_recipe_is_the_official_protocol():
    ours = get_experiment("mnist-imbalance")
    assert recipe_experiment("mnist-imbalance", "ours") is ours
    paper = recipe_experiment("mnist-imbalance", "paper")
    assert (paper.model, paper.steps, paper.lr, paper.momentum, paper.batch_size) == ("lenet_official", 8000, 1e-3,
                                                                                       0.9, 100)
    assert paper.settings == (0.9, 0.95, 0.98, 0.99, 0.995)
    # constant lr: the official code's halved lr goes to a placeholder no op reads (mnist/mnist_train.py:313, 319)
    assert paper.lr_schedule(8000) is None and paper.lr_decay_at == ()
    assert ours.lr_schedule(2000) is None and ours.model == "lenet"      # ours: unchanged
    assert RECIPE_SEEDS["paper"] == tuple(range(10)) and RECIPE_SEEDS["ours"] == (0, 1, 2)


@pytest.mark.parametrize("experiment, recipe, message", [
    ("toy-imbalance", "paper", "recipe='paper' is not defined for experiment='toy-imbalance'"),
    ("mnist-noise", "paper", "recipe='paper' is not defined"),
    ("mnist-imbalance", "official", "recipe='official' is not allowed"),
])
def test_recipe_is_refused_where_it_is_not_defined(experiment, recipe, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        recipe_experiment(experiment, recipe)
    with pytest.raises(ValueError, match="recipe="):
        plan_sweep(experiment, ["plain"], recipe=recipe, data_source="subset" if "mnist" in experiment else "auto")


def _ctx(ds, idx):
    idx = np.asarray(idx)
    return StepContext(model=None, x=ds.x[idx], y=ds.y[idx], idx=idx, x_val=ds.x_val, y_val=ds.y_val, step=0,
                       lr=1e-3, dataset=ds, generator=torch.Generator().manual_seed(0), per_example_loss=None)


def test_unnormalised_proportion_weights_are_the_official_p_and_1_minus_p():
    from l2rw_viz.data import make_imbalanced

    ds = make_imbalanced("moons", proportion=0.98, n_train=400, seed=0)     # 392 majority (y=1), 8 minority
    minority, majority = np.flatnonzero(ds.y == 0), np.flatnonzero(ds.y == 1)
    batch = np.concatenate([minority[:2], majority[:98]])                    # a batch with the data's proportions
    w = get_method("proportion", normalise=False).batch_weights(_ctx(ds, batch))
    np.testing.assert_allclose(w[:2], 0.98, rtol=1e-6)                       # minority: p
    np.testing.assert_allclose(w[2:], 0.02, rtol=1e-5)                       # majority: 1 - p
    assert float(w.sum()) == pytest.approx(200 * 0.98 * 0.02, rel=1e-5)     # 3.92, not 1
    normalised = get_method("proportion").batch_weights(_ctx(ds, batch))
    assert float(normalised.sum()) == pytest.approx(1.0) and float(normalised[:2].sum()) == pytest.approx(0.5)
    torch.testing.assert_close(normalised, w / w.sum())


def test_unnormalised_class_weights_sum_to_one_over_classes_with_more_classes():
    from l2rw_viz.data import make_noisy

    ds = make_noisy("moons", rate=0.2, seed=0)
    method = get_method("proportion", normalise=False)
    w = method.batch_weights(_ctx(ds, np.arange(20)))
    counts = np.bincount(ds.y.numpy())
    expected = (1 / counts) / (1 / counts).sum()
    np.testing.assert_allclose(w.numpy(), expected[ds.y.numpy()[:20]], rtol=1e-6)
    # settings go through the method's declaration, as on the command line: "no" is False, "maybe" is refused
    assert get_method("proportion", normalise="no").normalise is False
    with pytest.raises(ValueError, match="normalise='maybe' is not allowed for method 'proportion'; allowed: true or"):
        get_method("proportion", normalise="maybe")


def test_method_for_uses_unnormalised_proportion_only_in_the_paper_recipe():
    exp = get_experiment("mnist-imbalance")
    assert method_for("proportion", exp, 100, 100, 1e-3).normalise is True
    assert method_for("proportion", exp, 100, 100, 1e-3, recipe="paper").normalise is False
    assert method_for("plain", exp, 100, 100, 1e-3, recipe="paper").name == "plain"
    with pytest.raises(ValueError, match="recipe='x'"):
        method_for("plain", exp, 100, 100, 1e-3, recipe="x")


def _fake_row(recipe=None):
    row = {"experiment": "mnist-imbalance", "method": "plain", "setting_name": "proportion", "setting_value": 0.9,
           "seed": 0, "steps": 5, "data_source": "subset", "test_error": 0.5, "results_version": RESULTS_VERSION}
    if recipe is not None:
        row["recipe"] = recipe
    return row


def test_a_results_file_holds_one_recipe(tmp_path):
    old = tmp_path / "ours.csv"
    append_row(old, _fake_row())                     # a row written before recipes existed counts as "ours"
    kw = dict(methods=["plain"], settings=[0.9], seeds=[0], steps=5, device="cpu", data_source="subset")
    assert len(plan_sweep("mnist-imbalance", out=old, **kw)) == 0             # ours: the finished row is skipped
    with pytest.raises(ValueError, match="recipe='paper'.*already holds rows of recipe 'ours'"):
        plan_sweep("mnist-imbalance", out=old, recipe="paper", **kw)
    new = tmp_path / "paper.csv"
    append_row(new, _fake_row("paper"))
    with pytest.raises(ValueError, match="recipe='ours'.*already holds rows of recipe 'paper'"):
        plan_sweep("mnist-imbalance", out=new, **kw)
    assert len(plan_sweep("mnist-imbalance", out=new, recipe="paper", **kw)) == 0


def test_sweep_plans_ten_seeds_for_the_paper_and_three_for_ours():
    kw = dict(methods=["plain"], settings=[0.9], device="cpu", data_source="subset")
    paper = plan_sweep("mnist-imbalance", recipe="paper", **kw)
    assert [s.seed for s in paper] == list(range(10))
    assert {s.steps for s in paper} == {8000} and all(s.options["recipe"] == "paper" for s in paper)
    ours = plan_sweep("mnist-imbalance", **kw)
    assert [s.seed for s in ours] == [0, 1, 2] and all("recipe" not in s.options for s in ours)


def test_history_file_names_keep_recipes_apart():
    assert history_filename(_fake_row()) == "mnist-imbalance__plain__0.9__seed0__steps5__subset.npz"
    assert history_filename(_fake_row("paper")).endswith("__subset__paper.npz")


def test_run_one_with_the_paper_recipe_records_it(tmp_path):
    out = tmp_path / "paper.csv"
    row, history = run_one("mnist-imbalance", "proportion", 0.98, seed=0, steps=2, device="cpu",
                           data_source="subset", out=out, recipe="paper", return_history=True)
    assert row["recipe"] == "paper" and row["on_zero_weights"] == "step"
    assert history.meta["model"] == "LeNetOfficial" and history.meta["recipe"] == "paper"
    assert history.meta["method_settings"]["normalise"] is False
    assert row["mean_w_minority"] > 40 * row["mean_w_majority"]             # 0.98 vs 0.02, times the batch size
    with pytest.raises(ValueError, match="already holds rows of recipe 'paper'"):
        run_one("mnist-imbalance", "plain", 0.98, seed=0, steps=2, device="cpu", data_source="subset", out=out)


@pytest.mark.parametrize("argv, message", [
    (["run", "toy-imbalance", "--recipe", "paper"], "recipe='paper' is not defined"),
    (["sweep", "toy-noise", "--recipe", "paper"], "recipe='paper' is not defined"),
    (["run", "mnist-imbalance", "--recipe", "official"], "invalid choice"),
])
def test_cli_refuses_a_recipe_where_it_is_not_defined(argv, message, capsys, monkeypatch):
    import l2rw_viz.train as train_module
    from l2rw_viz.cli import main

    monkeypatch.setattr(train_module, "train", lambda *a, **k: (_ for _ in ()).throw(AssertionError("trained")))
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_cli_help_names_the_recipe(capsys):
    from l2rw_viz.cli import main

    for cmd in ("run", "sweep"):
        with pytest.raises(SystemExit):
            main([cmd, "--help"])
        assert "--recipe" in capsys.readouterr().out
