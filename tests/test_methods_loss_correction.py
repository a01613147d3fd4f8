"""The top-down noise model: Patrini et al.'s forward and backward loss correction, and the two estimators of T."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from l2rw_viz.data import make_noisy
from l2rw_viz.methods import get_method
from l2rw_viz.methods.loss_correction import (
    anchor_transition,
    backward_corrected_loss,
    clean_set_transition,
    forward_corrected_loss,
)
from l2rw_viz.models import make_model
from l2rw_viz.train import setup_method, train

pytestmark = pytest.mark.usefixtures("one_thread")


def test_forward_correction_by_hand():
    logits = torch.log(torch.tensor([[0.8, 0.2]], dtype=torch.float64))    # p = (0.8, 0.2)
    t = torch.tensor([[0.9, 0.1], [0.3, 0.7]], dtype=torch.float64)
    # p @ T = (0.72 + 0.06, 0.08 + 0.14) = (0.78, 0.22)
    torch.testing.assert_close(forward_corrected_loss(logits, torch.tensor([1]), t),
                               torch.tensor([-math.log(0.22)], dtype=torch.float64))
    torch.testing.assert_close(forward_corrected_loss(logits, torch.tensor([0]), t),
                               torch.tensor([-math.log(0.78)], dtype=torch.float64))
    z, y = torch.randn(5, 3, dtype=torch.float64), torch.tensor([0, 1, 2, 1, 0])
    eye = torch.eye(3, dtype=torch.float64)
    torch.testing.assert_close(forward_corrected_loss(z, y, eye), F.cross_entropy(z, y, reduction="none"))
    torch.testing.assert_close(backward_corrected_loss(z, y, eye), F.cross_entropy(z, y, reduction="none"))


def test_backward_correction_is_unbiased_for_the_clean_loss():
    t = torch.tensor([[0.8, 0.2], [0.2, 0.8]], dtype=torch.float64)
    inv = torch.linalg.inv(t)                                          # 1/0.6 [[0.8, -0.2], [-0.2, 0.8]]
    logits = torch.log(torch.tensor([[0.7, 0.3]], dtype=torch.float64))
    l0, l1 = -math.log(0.7), -math.log(0.3)
    got = [float(backward_corrected_loss(logits, torch.tensor([j]), inv)) for j in (0, 1)]
    assert got == pytest.approx([(0.8 * l0 - 0.2 * l1) / 0.6, (0.8 * l1 - 0.2 * l0) / 0.6])
    # Patrini et al., Theorem 1: averaged over the noisy label of a true class i, the corrected loss is l_i
    assert 0.8 * got[0] + 0.2 * got[1] == pytest.approx(l0)
    assert 0.2 * got[0] + 0.8 * got[1] == pytest.approx(l1)


def test_the_two_estimators_by_hand():
    probs = torch.tensor([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.3, 0.7]], dtype=torch.float64)
    # anchors at the arg max of each column: rows 0 and 2
    torch.testing.assert_close(anchor_transition(probs, 1.0), probs[[0, 2]])
    # the clean-set estimate: mean over the examples of each true class (class 0: rows 0, 1; class 1: rows 2, 3)
    expected = torch.tensor([[0.75, 0.25], [0.25, 0.75]], dtype=torch.float64)
    torch.testing.assert_close(clean_set_transition(probs, torch.tensor([0, 0, 1, 1]), 2), expected)
    # a class without clean examples keeps the identity row
    torch.testing.assert_close(clean_set_transition(probs[:2], torch.tensor([0, 0]), 2)[1],
                               torch.tensor([0.0, 1.0], dtype=torch.float64))
    with pytest.raises(ValueError, match="quantile"):
        anchor_transition(probs, 1.5)
    with pytest.raises(ValueError, match="estimator"):
        get_method("forward_correction", estimator="oracle")
    with pytest.raises(ValueError, match="transition"):
        get_method("forward_correction", transition=[[0.5, 0.6], [0.0, 1.0]])


def test_forward_correction_run_beats_plain_on_background_flips():
    ds = make_noisy("moons", rate=0.4, mode="background", seed=0)
    bg = ds.info["background_class"]

    def run(method):
        return train(make_model("toy_mlp", 2, (2,), seed=0), ds, method, steps=400, batch_size=50, lr=0.05,
                     device="cpu", seed=0, eval_every=400, progress=False)

    method = get_method("forward_correction", pretrain_steps=200, pretrain_lr=0.05, pretrain_batch_size=50)
    model = make_model("toy_mlp", 2, (2,), seed=0)
    start = [p.detach().clone() for p in model.parameters()]
    setup_method(method, ds, model, seed=0)   # the trainer's order: setup, prepare, wrap_model
    method.prepare(ds, seed=0)
    assert method.wrap_model(model) is model
    # the pre-training ran on a copy: the run starts from the initial weights (Patrini et al. re-train)
    assert all(torch.equal(a, b) for a, b in zip(start, model.parameters()))
    t = method.transition_matrix()
    np.testing.assert_allclose(t.sum(1), 1.0)
    assert t[bg, bg] > 0.9 and t[1 - bg, bg] > 0.1    # the flips go into the background class
    h = run(get_method("forward_correction", pretrain_steps=200, pretrain_lr=0.05, pretrain_batch_size=50))
    assert h.final_test_accuracy > run("plain").final_test_accuracy + 0.05
    assert h.meta["method_settings"]["estimator"] == "anchor"
    assert h.meta["method_settings"]["pretrain_kappa"] > 0.2


def test_a_pretraining_that_learned_nothing_stops_the_run():
    """A near-uniform T starves the network (audit: forward correction sat at ln 10 with a T of diagonal 0.14-0.40,
    condition number 241): pre-training goes on for up to pretrain_rounds rounds, then the run stops and says why."""
    from l2rw_viz.train import TrainingDivergedError

    ds = make_noisy("moons", rate=0.4, mode="uniform", seed=0)
    method = get_method("forward_correction", pretrain_steps=1, pretrain_lr=1e-4, pretrain_batch_size=50,
                        pretrain_rounds=2)
    model = make_model("toy_mlp", 2, (2,), seed=0)
    with pytest.raises(ValueError, match="wrap_model was called before setup"):
        method.wrap_model(model)
    setup_method(method, ds, model, seed=0)
    method.prepare(ds, seed=0)
    with pytest.raises(TrainingDivergedError, match=r"unusable after 2 x 1 pre-training steps: .*kappa"):
        method.wrap_model(model)
    assert method.pretrain_kappa < 0.2 and method.pretrain_rounds_used == 2


def test_transition_quality_check():
    """The true T of the experiments passes; the audit's near-uniform estimate and a singular one do not."""
    from l2rw_viz.methods.loss_correction import transition_problem

    c = 10
    uniform_flips = torch.full((c, c), 0.4 / (c - 1), dtype=torch.float64).fill_diagonal_(0.6)
    background = torch.eye(c, dtype=torch.float64) * 0.6
    background[:, 3] += 0.4
    background[3, 3] = 1.0
    assert transition_problem(uniform_flips) == "" and transition_problem(background) == ""
    near_uniform = torch.full((c, c), 0.87 / (c - 1), dtype=torch.float64).fill_diagonal_(0.13)   # cond 30
    assert "condition number" in transition_problem(near_uniform)
    swapped = torch.tensor([[0.3, 0.7], [0.2, 0.8]], dtype=torch.float64)
    assert "rows [0] are not diagonally dominant" in transition_problem(swapped)


def test_backward_correction_is_bounded_below():
    """Patrini et al.'s clip: with a negative entry in T^{-1}, the unclipped loss falls without bound as the network
    pushes a probability to 0 (audit: -55,540, then one class predicted for every test image)."""
    from l2rw_viz.methods.loss_correction import BACKWARD_CLIP

    t = torch.tensor([[0.6, 0.4], [0.3, 0.7]], dtype=torch.float64)
    inv = torch.linalg.inv(t)
    assert (inv < 0).any()
    y = torch.tensor([0])
    worst = min(float(backward_corrected_loss(torch.tensor([[0.0, -s]]), y, inv)) for s in (1e1, 1e3, 1e6))
    bound = float(inv[0].clamp(max=0).sum() * -np.log(BACKWARD_CLIP))   # the most a negative entry can subtract
    assert worst >= bound - 1e-4 and np.isfinite(worst)   # float32 logits


def test_a_given_transition_is_ready_before_any_run():
    """A T passed in is known at once: both corrections' losses work straight after construction (the fingerprints'
    loss probe relies on it), backward correction with T's inverse; a nearly singular given T warns as it is given."""
    t = torch.tensor([[0.6, 0.4], [0.3, 0.7]], dtype=torch.float64)
    z, y = torch.randn(4, 2, dtype=torch.float64), torch.tensor([0, 1, 1, 0])
    back = get_method("backward_correction", transition=t.numpy())
    torch.testing.assert_close(back.per_example_loss(z, y), backward_corrected_loss(z, y, torch.linalg.pinv(t)))
    fwd = get_method("forward_correction", transition=t.numpy())
    torch.testing.assert_close(fwd.per_example_loss(z, y), forward_corrected_loss(z, y, t))
    with pytest.warns(RuntimeWarning, match="given transition matrix is nearly singular"):
        get_method("backward_correction", transition=[[0.5, 0.5], [0.5, 0.5]])
