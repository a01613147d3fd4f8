"""Self-training (Yarowsky bootstrapping): confident predictions replace labels between rounds."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from l2rw_viz.data import make_noisy
from l2rw_viz.methods import StepContext, get_method
from l2rw_viz.methods.self_training import relabel, round_record
from l2rw_viz.models import make_model
from l2rw_viz.train import train

pytestmark = pytest.mark.usefixtures("one_thread")


def test_relabel_and_its_record_by_hand():
    probs = torch.tensor([[0.95, 0.05], [0.6, 0.4], [0.1, 0.9], [0.92, 0.08]])
    observed = torch.tensor([1, 1, 1, 0])
    labels, confident = relabel(probs, observed, 0.9)
    assert labels.tolist() == [0, 1, 1, 0] and confident.tolist() == [True, False, True, True]
    y_clean = torch.tensor([0, 0, 0, 0])
    # example 0: wrong observed label corrected; example 2: confident and wrong, kept at 1; example 1 not confident
    assert round_record(labels, confident, observed, y_clean) == {
        "confident": 3, "changed": 1, "corrected": 1, "corrupted": 0, "confident_correct": 2, "wrong_observed": 3,
        "wrong_now": 2}
    # threshold 0 relabels everything with the arg max; threshold 1 keeps every label here
    assert relabel(probs, observed, 0.0)[0].tolist() == [0, 0, 1, 0]
    assert relabel(probs, observed, 1.0)[0].tolist() == observed.tolist()
    with pytest.raises(ValueError, match="threshold"):
        get_method("self_training", round_steps=10, threshold=1.5)
    with pytest.raises(ValueError, match="round_steps"):
        get_method("self_training").prepare(make_noisy("moons", rate=0.4, seed=0), seed=0)


def test_step_trains_on_the_current_labels_not_the_observed_ones():
    ds = make_noisy("moons", rate=0.4, mode="uniform", seed=0)
    method = get_method("self_training", round_steps=5)
    method.prepare(ds, seed=0)
    method.labels = 1 - ds.y                       # as if a round had flipped every label
    model = make_model("toy_mlp", 2, (2,), seed=0)
    idx = np.arange(8)
    ctx = StepContext(model=model, x=ds.x[idx], y=ds.y[idx], idx=idx, x_val=ds.x_val, y_val=ds.y_val, step=1,
                      lr=0.1, dataset=ds, generator=torch.Generator().manual_seed(0),
                      per_example_loss=method.per_example_loss)
    out = method.step(ctx)
    torch.testing.assert_close(out.per_example_losses,
                               F.cross_entropy(model(ds.x[idx]), 1 - ds.y[idx], reduction="none").detach())
    torch.testing.assert_close(out.weights, torch.full((8,), 1 / 8))


def test_self_training_run_records_each_round_against_the_truth():
    ds = make_noisy("moons", rate=0.4, mode="uniform", seed=0)
    method = get_method("self_training", round_steps=100, rounds=3, threshold=0.7)
    h = train(make_model("toy_mlp", 2, (2,), seed=0), ds, method, steps=300, batch_size=50, lr=0.05, device="cpu",
              seed=0, eval_every=300, progress=False)
    log = method.rounds_log
    assert [r["step"] for r in log] == [100, 200] and [r["round"] for r in log] == [1, 2]
    assert len(method.relabelled_masks) == 2 and method.relabelled_masks[0].shape == (ds.n,)
    for r, mask in zip(log, method.relabelled_masks):
        assert r["confident"] == mask.sum()
        assert r["wrong_now"] == r["wrong_observed"] - r["corrected"] + r["corrupted"]
        assert r["wrong_observed"] == int(ds.is_noisy.sum())
    # on this data the confident predictions fix more flipped labels than they break
    assert log[-1]["corrected"] > log[-1]["corrupted"]
    assert np.isfinite(h.final_test_accuracy)
    assert h.meta["method_settings"]["rounds_log"] == log   # recorded with the run
