"""Every L2RW step path against an independent float64 reference (issue 14, items 1-3).

The reference takes Algorithm 1 at its word: the per-example loss gradients of the training batch as one Jacobian
(``torch.func.jacrev`` of the training forward of ``x`` alone), the validation gradient from a forward of
``x_val`` alone, the scores ``lr * J G``, the clipped and normalised weights, and the applied update ``w^T J``
(the gradient of ``sum_i w_i f_i`` for that very forward). No code of the package computes any of it.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, jacrev

from l2rw_viz.methods import StepContext
from l2rw_viz.methods.l2rw import L2RW, layerwise_layers


def reference(model: nn.Module, x, y, x_val, y_val, lr: float):
    """``(weights (b,), {trainable name: update})`` of one L2RW step, by per-example Jacobians (float64)."""
    params = {k: p.detach() for k, p in model.named_parameters() if p.requires_grad}
    frozen = {k: p.detach() for k, p in model.named_parameters() if not p.requires_grad}

    def call(p, inputs):   # fresh buffer copies: the reference never writes the model's running statistics
        state = {**frozen, **{k: b.detach().clone() for k, b in model.named_buffers()}, **p}
        return functional_call(model, state, (inputs,))

    jac = jacrev(lambda p: F.cross_entropy(call(p, x), y, reduction="none"))(params)          # (b, *shape)
    g_val = grad(lambda p: F.cross_entropy(call(p, x_val), y_val))(params)
    scores = lr * sum(jac[k].reshape(len(y), -1) @ g_val[k].reshape(-1) for k in params)
    clipped = scores.clamp(min=0)
    weights = clipped / clipped.sum() if clipped.sum() > 0 else clipped
    return weights, {k: torch.einsum("b,b...->...", weights, jac[k]) for k in params}


def batch(b=16, m=6, shape=(6,), classes=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, *shape, generator=g, dtype=torch.float64)
    x_val = torch.randn(m, *shape, generator=g, dtype=torch.float64)
    return x, torch.randint(0, classes, (b,), generator=g), x_val, torch.arange(m) % classes


def run_step(method: L2RW, model: nn.Module, x, y, x_val, y_val, lr=0.1):
    """One trainer step's weights and applied gradient (``{name: .grad}`` of the trainable parameters)."""
    ctx = StepContext(model=model, x=x, y=y, idx=np.arange(len(y)), x_val=x_val, y_val=y_val, step=0, lr=lr,
                      dataset=None, generator=torch.Generator(), per_example_loss=method.per_example_loss)
    model.zero_grad(set_to_none=True)
    out = method.step(ctx)
    out.loss.backward()
    grads = {k: p.grad.detach().clone() for k, p in model.named_parameters() if p.requires_grad}
    assert all(p.grad is None for p in model.parameters() if not p.requires_grad)
    model.zero_grad(set_to_none=True)
    return out.weights, grads


def assert_matches_reference(weights, grads, ref_weights, ref_update):
    torch.testing.assert_close(weights, ref_weights, rtol=1e-9, atol=1e-12)
    assert grads.keys() == ref_update.keys()
    for k in ref_update:
        torch.testing.assert_close(grads[k], ref_update[k], rtol=1e-8, atol=1e-12, msg=k)


# --- models whose examples mix only in train mode (issue 14.1) ----------------------------------------------------
class FunctionalBatchNorm(nn.Module):
    """Batch statistics through ``F.batch_norm(training=True)``: no BatchNorm module for the layer types to show."""

    def __init__(self):
        super().__init__()
        self.inp, self.out = nn.Linear(6, 16), nn.Linear(16, 3)

    def forward(self, x):
        h = self.inp(x)
        if self.training:
            h = F.batch_norm(h, None, None, training=True)
        return self.out(torch.relu(h))


class TrainCentring(nn.Module):
    """Hand-written batch centring, in train mode only (eval mode is per-example)."""

    def __init__(self):
        super().__init__()
        self.inp, self.out = nn.Linear(6, 16), nn.Linear(16, 3)

    def forward(self, x):
        h = torch.tanh(self.inp(x))
        if self.training:
            h = h - h.mean(0, keepdim=True)
        return self.out(h)


@pytest.mark.parametrize("cls", [FunctionalBatchNorm, TrainCentring])
def test_train_only_mixing_is_caught_and_the_fallback_is_exact(cls):
    torch.manual_seed(0)
    model = cls().double().train()
    assert layerwise_layers(model) is not None          # the layer types alone look fine
    x, y, x_val, y_val = batch()
    ref_w, ref_u = reference(model, x, y, x_val, y_val, lr=0.1)
    method = L2RW()
    with pytest.warns(RuntimeWarning, match="depends on the other examples"):
        w, grads = run_step(method, model, x, y, x_val, y_val)
    assert method.last_path == "dual"
    assert_matches_reference(w, grads, ref_w, ref_u)


# --- buffers: validation rows must not reach running statistics (issue 14.2) ---------------------------------------
def instance_norm_model():
    return nn.Sequential(nn.Linear(6, 32), nn.Unflatten(1, (4, 8)), nn.InstanceNorm1d(4, track_running_stats=True),
                         nn.Flatten(), nn.ReLU(), nn.Linear(32, 3)).double().train()


def test_running_statistics_see_only_the_training_rows():
    torch.manual_seed(0)
    model, twin = instance_norm_model(), instance_norm_model()
    twin.load_state_dict(model.state_dict())
    x, y, x_val, y_val = batch()
    ref_w, ref_u = reference(model, x, y, x_val, y_val, lr=0.1)
    method = L2RW()
    with pytest.warns(RuntimeWarning, match="writes the buffers"):
        w, grads = run_step(method, model, x, y, x_val, y_val)
    assert method.last_path == "dual"
    assert_matches_reference(w, grads, ref_w, ref_u)
    with torch.no_grad():
        twin(x)   # one plain training forward of the training rows
    for k, v in twin.named_buffers():
        torch.testing.assert_close(dict(model.named_buffers())[k], v, rtol=0, atol=0, msg=k)


# --- reused and frozen layers stay on the layer-wise path, exactly ---------------------------------------------------
class ReusedLayers(nn.Module):
    """A convolution and a Linear layer each called twice in one forward."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 2, 3, padding=1)
        self.mid = nn.Linear(8, 8)
        self.inp, self.out = nn.Linear(72, 8), nn.Linear(8, 3)

    def forward(self, x):
        h = torch.tanh(self.conv(torch.tanh(self.conv(x))))
        h = torch.tanh(self.inp(h.flatten(1)))
        return self.out(torch.tanh(self.mid(torch.tanh(self.mid(h)))))


def frozen_model():
    model = nn.Sequential(nn.Conv2d(2, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(48, 8), nn.Tanh(),
                          nn.LayerNorm(8), nn.Linear(8, 3))
    model[0].requires_grad_(False)          # a whole layer frozen
    model[3].bias.requires_grad_(False)     # only a bias frozen
    model[5].weight.requires_grad_(False)   # only a LayerNorm scale frozen
    return model.double()


@pytest.mark.parametrize("make", [lambda: ReusedLayers().double(), frozen_model], ids=["reused", "frozen"])
def test_reused_and_frozen_layers_are_exact_on_the_layerwise_path(make):
    torch.manual_seed(0)
    model = make()
    x, y, x_val, y_val = batch(shape=(2, 6, 6))
    ref_w, ref_u = reference(model, x, y, x_val, y_val, lr=0.1)
    method = L2RW()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        w, grads = run_step(method, model, x, y, x_val, y_val)
    assert method.last_path == "layerwise"
    assert_matches_reference(w, grads, ref_w, ref_u)


def test_the_first_batch_check_leaves_the_random_state_and_buffers_alone():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.Dropout(0.2), nn.ReLU(), nn.Linear(16, 3)).double()
    x, y, x_val, y_val = batch()
    method = L2RW()
    torch.manual_seed(5)
    run_step(method, model, x, y, x_val, y_val)          # first step: the check, then the step (one dropout draw)
    after_checked_step = torch.get_rng_state()
    torch.manual_seed(5)
    run_step(method, model, x, y, x_val, y_val)          # the same step, the check already done
    assert torch.equal(torch.get_rng_state(), after_checked_step)
    assert method.last_path == "layerwise"


# --- dropout: the update uses the masks the weights were computed with (issue 14.3) ----------------------------------
class RecordingDropout(nn.Module):
    """Dropout that records every mask it draws; with ``fixed`` (``{batch size: mask}``) it replays masks instead."""

    def __init__(self, p: float = 0.4):
        super().__init__()
        self.p, self.masks, self.fixed = p, [], None

    def forward(self, h):
        if self.fixed is not None:
            return h * self.fixed[len(h)] / (1 - self.p)
        if not self.training:
            return h
        mask = (torch.rand(h.shape, dtype=h.dtype, device=h.device) >= self.p).to(h.dtype)
        self.masks.append(mask.clone())
        return h * mask / (1 - self.p)


@pytest.mark.parametrize("settings, m, path", [({}, 6, "layerwise"), ({}, 12, "dual"), ({"fused": False}, 6, "unfused"),
                                               ({"weights_method": "autodiff"}, 6, "unfused")])
def test_weights_and_update_share_one_training_forwards_dropout_masks(settings, m, path):
    torch.manual_seed(0)
    drop = RecordingDropout()
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), drop, nn.Linear(16, 3)).double().train()
    b = 16
    x, y, x_val, y_val = batch(b=b, m=m)
    method = L2RW(**settings)
    run_step(method, model, x, y, x_val, y_val)   # the first step runs the one-time check
    drop.masks.clear()
    w, grads = run_step(method, model, x, y, x_val, y_val)
    assert method.last_path == path
    sizes = [len(mask) for mask in drop.masks]
    if path == "layerwise":   # one forward of [x; x_val]
        assert sizes == [b + m]
        train_mask, val_mask = drop.masks[0][:b], drop.masks[0][b:]
    else:                     # the training forward that the update used is the last one of b rows
        assert sorted(sizes) == sorted([m, b] + ([b] if path == "unfused" else []))
        train_mask = [mask for mask in drop.masks if len(mask) == b][-1]
        val_mask = [mask for mask in drop.masks if len(mask) == m][0]
        if path == "unfused":   # the weights' forward and the update's forward drew the same masks
            first, second = [mask for mask in drop.masks if len(mask) == b]
            assert torch.equal(first, second)
    drop.fixed = {b: train_mask, m: val_mask}
    ref_w, ref_u = reference(model, x, y, x_val, y_val, lr=0.1)
    assert_matches_reference(w, grads, ref_w, ref_u)
