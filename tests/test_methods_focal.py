"""Focal loss (l2rw_viz/methods/focal.py): its rule, a short training run, and that one new file is all a method
needs (list, run, sweep --methods every, the explorer's menu, the figures)."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from l2rw_viz.cli import main
from l2rw_viz.data import make_imbalanced
from l2rw_viz.experiments import EXPERIMENTS, read_results, resolve_methods, run_one
from l2rw_viz.methods import available_methods, get_method
from l2rw_viz.methods.focal import focal_loss
from l2rw_viz.models import make_model
from l2rw_viz.train import train

pytestmark = pytest.mark.usefixtures("one_thread")


def test_the_rule_is_lin_et_al_focal_loss():
    logits = torch.tensor([[2.0, 0.0], [0.0, 2.0], [0.5, 0.4]])
    y = torch.tensor([0, 0, 1])
    p_t = torch.softmax(logits, 1)[torch.arange(3), y]
    for gamma in (0.0, 0.5, 2.0):
        want = [-(1 - float(p)) ** gamma * math.log(float(p)) for p in p_t]
        np.testing.assert_allclose(focal_loss(logits, y, gamma).numpy(), want, rtol=1e-6)
    # gamma = 0 is cross-entropy; gamma > 0 shrinks the easy example's loss far more than the hard one's
    torch.testing.assert_close(focal_loss(logits, y, 0.0), F.cross_entropy(logits, y, reduction="none"))
    ratio = focal_loss(logits, y, 2.0) / F.cross_entropy(logits, y, reduction="none")
    assert ratio[0] < 0.02 < 0.7 < ratio[1]        # easy (p_t = 0.88) vs hard (p_t = 0.12)
    assert get_method("focal").per_example_loss(logits, y).shape == (3,)


def test_gamma_is_checked_and_parsed_by_the_method():
    with pytest.raises(ValueError, match=r"gamma=-1\.0.*allowed"):
        get_method("focal", gamma=-1.0)
    from l2rw_viz.methods.focal import Focal

    assert Focal.parse_args({"gamma": "0.5"}) == {"gamma": 0.5}
    with pytest.raises(ValueError, match=r"alpha='1'.*allowed keys: gamma"):
        Focal.parse_args({"alpha": "1"})


def test_a_short_training_run_learns():
    ds = make_imbalanced("moons", proportion=0.9, seed=0)
    model = make_model("toy_mlp", ds.num_classes, ds.feature_shape, seed=0)
    h = train(model, ds, get_method("focal", gamma=2.0), steps=150, batch_size=50, lr=0.05, device="cpu",
              eval_every=50, progress=False)
    assert h.meta["method"] == "focal" and h.meta["method_settings"]["gamma"] == 2.0
    assert np.allclose(h.weights.sum(1), 1.0)             # the loss changes, the weights stay uniform
    assert h.train_loss[-10:].mean() < h.train_loss[:10].mean()
    assert h.final_test_accuracy > 0.6


def test_one_file_is_all_it_takes(tmp_path, capsys):
    assert "focal" in available_methods()
    main(["list"])
    assert "focal" in capsys.readouterr().out
    # every method, but in no experiment's standard comparison (the shipped tables stay complete)
    assert "focal" in resolve_methods("toy-imbalance", "every")
    assert all("focal" not in e.methods for e in EXPERIMENTS.values())
    out = tmp_path / "r.csv"
    main(["run", "toy-imbalance", "--proportion", "0.9", "--method", "focal", "--method-arg", "gamma=1", "--steps", "5",
          "--device", "cpu", "--out", str(out)])
    main(["sweep", "toy-imbalance", "--methods", "focal", "plain", "--settings", "0.9", "--seeds", "0", "--steps", "5",
          "--device", "cpu", "--out", str(out), "--no-progress"])
    table = read_results(out)
    assert sorted(zip(table["method"], table["method_args"])) == [
        ("focal", '{"gamma":1.0}'), ("focal", '{"gamma":2.0}'), ("plain", "{}")]
    # the figures read any method of a results table
    from l2rw_viz.viz import error_vs_proportion_figure

    fig = error_vs_proportion_figure(table)
    assert {"focal", "plain"} <= {tr.name for tr in fig.data}
    row = run_one("toy-imbalance", "focal", 0.9, steps=5, device="cpu", method_args={"gamma": 0.0})
    assert row["method_args"] == '{"gamma":0.0}'


def test_the_explorer_offers_it():
    from l2rw_viz.viz.state import ExplorerState
    from l2rw_viz.viz.widgets import ToyExplorer

    e = ToyExplorer(ExplorerState(method="focal", baseline="plain", steps=20, n_train=100), autostart=False)
    assert "focal" in e.controls["method"].options and e.controls["method"].value == "focal"
