"""Notebook 5's helpers: the layer-wise form of the score (activations x backward signals) equals the identity's
dot product per example, and the weight rules do what line 11 (and its absence) says."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from l2rw_viz.course import layerwise_score_parts, rule_weights, train_weight_rule
from l2rw_viz.data import make_noisy
from l2rw_viz.methods.l2rw import layerwise_scores
from l2rw_viz.models import make_model
from l2rw_viz.reweight import gradient_similarity, normalize_weights

pytestmark = pytest.mark.usefixtures("one_thread")


def test_layerwise_parts_add_up_to_the_identity():
    data = make_noisy("moons", rate=0.3, n_train=100, n_val_per_class=5, seed=0)
    model = make_model("toy_mlp", 2, (2,), seed=0).double()
    x, xv = data.x[:16].double(), data.x_val.double()
    names, parts = layerwise_score_parts(model, x, data.y[:16], xv, data.y_val)
    assert len(names) == 3 and parts.shape == (16, 3)
    dot = gradient_similarity(model, x, data.y[:16], xv, data.y_val).dot
    assert torch.allclose(parts.sum(1), dot, atol=1e-12)
    fused = layerwise_scores(model, x, data.y[:16], xv, data.y_val,
                             loss_fn=lambda lo, t: F.cross_entropy(lo, t, reduction="none"))
    assert torch.allclose(fused, dot, atol=1e-12)
    with pytest.raises(ValueError, match="model"):
        x, y = torch.zeros(2, 1, 28, 28), torch.zeros(2, dtype=torch.long)
        layerwise_score_parts(make_model("lenet", 2, (1, 28, 28), seed=0), x, y, x, y)


def test_weight_rules():
    u = torch.tensor([0.3, -0.1, 0.2])
    assert torch.allclose(rule_weights(u, "paper"), normalize_weights(u))
    assert torch.allclose(rule_weights(u, "no clip"), u / 0.6)
    assert torch.allclose(rule_weights(10 * u, "no normalise"), 10 * u.clamp(min=0))
    assert torch.allclose(rule_weights(-u.abs(), "paper"), torch.zeros(3))
    with pytest.raises(ValueError, match="rule"):
        rule_weights(u, "nope")


def test_without_normalisation_a_large_lookahead_step_diverges_and_the_paper_rule_does_not():
    data = make_noisy("moons", rate=0.3, n_train=200, n_val_per_class=5, seed=0)
    paper = train_weight_rule(make_model("toy_mlp", 2, (2,), seed=0), data, "paper", steps=30, eval_every=10)
    big = train_weight_rule(make_model("toy_mlp", 2, (2,), seed=0), data, "no normalise", alpha=10.0, steps=30)
    assert not paper["diverged"] and np.allclose(paper["weight_sum"], 1, atol=1e-5)
    assert big["diverged"] or np.median(big["weight_sum"]) > 5
