"""The L2RW trainer method: Algorithm 1, lines 12-14, and its fused fast paths."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from l2rw_viz.data.dataset import BiasedDataset
from l2rw_viz.methods import StepContext, get_method
from l2rw_viz.methods.l2rw import L2RW, dual_step, layerwise_layers, layerwise_scores
from l2rw_viz.models import MLP, LeNet, toy_mlp
from l2rw_viz.reweight import l2rw_scores, l2rw_weights, weighted_loss
from l2rw_viz.train import train


class ScaledResidual(nn.Module):
    """A user-defined module with a free-standing parameter (not inside a Linear layer)."""

    def __init__(self):
        super().__init__()
        self.inp, self.out = nn.Linear(6, 16), nn.Linear(16, 3)
        self.scale = nn.Parameter(torch.tensor(0.7))

    def forward(self, x):
        h = torch.tanh(self.inp(x))
        return self.out(h + self.scale * h.pow(2))


class CentredHidden(nn.Module):
    """Only Linear parameters, but the forward mixes examples (subtracts the batch mean): the layer-wise shortcut
    does not hold and must be caught by its first-batch check."""

    def __init__(self):
        super().__init__()
        self.inp, self.out = nn.Linear(6, 16), nn.Linear(16, 3)

    def forward(self, x):
        h = torch.relu(self.inp(x))
        return self.out(h - h.mean(0, keepdim=True))


def _ctx(model, dtype=torch.float64, b=16, m=6, shape=(6,), classes=3, seed=0, lr=0.1) -> StepContext:
    g = torch.Generator().manual_seed(seed)
    x, x_val = torch.randn(b, *shape, generator=g, dtype=dtype), torch.randn(m, *shape, generator=g, dtype=dtype)
    y, y_val = torch.randint(0, classes, (b,), generator=g), torch.arange(m) % classes
    method = L2RW()
    return StepContext(model=model, x=x, y=y, idx=np.arange(b), x_val=x_val, y_val=y_val, step=0, lr=lr,
                       dataset=None, generator=g, per_example_loss=method.per_example_loss)


def _reference(ctx: StepContext):
    """Algorithm 1 as printed: autodiff weights, then a fresh weighted forward/backward (lines 12-13)."""
    w = l2rw_weights(ctx.model, ctx.x, ctx.y, ctx.x_val, ctx.y_val, lr=ctx.lr, method="autodiff")
    loss = weighted_loss(F.cross_entropy(ctx.model(ctx.x), ctx.y, reduction="none"), w)
    return w, float(loss.detach()), torch.autograd.grad(loss, list(ctx.model.parameters()))


def _fused(method: L2RW, ctx: StepContext):
    out = method.step(ctx)
    for p in ctx.model.parameters():
        p.grad = None
    out.loss.backward()
    grads = [p.grad.clone() for p in ctx.model.parameters()]
    for p in ctx.model.parameters():
        p.grad = None
    return out.weights, float(out.loss.detach()), grads


def _models():
    torch.manual_seed(0)
    return {"mlp": (MLP(6, 3, hidden=(16, 8)).double(), (6,), 3),
            "lenet": (LeNet(num_classes=2).double(), (1, 28, 28), 2),
            "custom": (ScaledResidual().double(), (6,), 3)}


@pytest.mark.parametrize("name, path", [("mlp", "layerwise"), ("lenet", "layerwise"), ("custom", "dual")])
@pytest.mark.parametrize("settings", [{}, {"fused": False}, {"weights_method": "autodiff"}])
def test_every_step_path_gives_algorithm_1s_weights_and_gradient(name, path, settings):
    model, shape, classes = _models()[name]
    ctx = _ctx(model, shape=shape, classes=classes)
    w_ref, loss_ref, g_ref = _reference(ctx)
    method = L2RW(**settings)
    w, loss, grads = _fused(method, ctx)
    assert method.last_path == (path if not settings else "unfused")
    torch.testing.assert_close(w, w_ref, rtol=1e-10, atol=1e-13)
    assert loss == pytest.approx(loss_ref, rel=1e-12)
    for g, r in zip(grads, g_ref):
        torch.testing.assert_close(g, r, rtol=1e-9, atol=1e-13)


@pytest.mark.parametrize("name", ["mlp", "lenet"])
def test_fused_path_in_float32_agrees_to_1e4(name):
    model, shape, classes = _models()[name]
    model = model.float()
    ctx = _ctx(model, dtype=torch.float32, b=32, shape=shape, classes=classes)
    w_ref, _, g_ref = _reference(ctx)
    w, _, grads = _fused(L2RW(), ctx)
    assert float((w - w_ref).abs().max()) <= 1e-4 * float(w_ref.abs().max())
    for g, r in zip(grads, g_ref):
        assert float((g - r).abs().max()) <= 1e-4 * float(r.abs().max()) + 1e-7


def test_a_large_validation_batch_takes_the_dual_path_with_the_same_weights():
    model, shape, classes = _models()["mlp"]
    ctx = _ctx(model, shape=shape, classes=classes, b=8, m=6)   # 6 > 8 // 2: appending it would double the pass
    w_ref, loss_ref, _ = _reference(ctx)
    method = L2RW()
    w, loss, _ = _fused(method, ctx)
    assert method.last_path == "dual"
    torch.testing.assert_close(w, w_ref, rtol=1e-10, atol=1e-13)


def test_layerwise_scores_equal_the_jvp_identity():
    model, shape, classes = _models()["lenet"]
    ctx = _ctx(model, shape=shape, classes=classes)
    fast = layerwise_scores(model, ctx.x, ctx.y, ctx.x_val, ctx.y_val, loss_fn=ctx.per_example_loss, lr=0.3)
    torch.testing.assert_close(fast, l2rw_scores(model, ctx.x, ctx.y, ctx.x_val, ctx.y_val, lr=0.3))


def test_a_forward_that_mixes_examples_falls_back_with_a_warning():
    torch.manual_seed(0)
    model = CentredHidden().double()
    assert layerwise_layers(model) is not None   # the shortcut looks applicable from the layer types alone...
    ctx = _ctx(model)
    method = L2RW()
    with pytest.warns(RuntimeWarning, match="layer-wise fast path does not hold"):
        w, _, grads = _fused(method, ctx)
    assert method.last_path == "dual"             # ...but the first-batch check catches it
    w_ref, _, g_ref = _reference(ctx)
    torch.testing.assert_close(w, w_ref)
    for g, r in zip(grads, g_ref):
        torch.testing.assert_close(g, r)
    with warnings.catch_warnings():
        warnings.simplefilter("error")            # decided once per model: no second check, no second warning
        _fused(method, ctx)


def test_dropout_model_keeps_the_layerwise_path():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 3)).double().train()
    method = L2RW()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = method.step(_ctx(model))
    assert method.last_path == "layerwise"
    assert float(out.weights.sum()) in (pytest.approx(1.0), 0.0)


def test_batchnorm_in_train_mode_takes_the_dual_path_and_updates_running_stats_once():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 3)).double().train()
    twin = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 3)).double().train()
    twin.load_state_dict(model.state_dict())
    ctx = _ctx(model)
    w_ref = l2rw_weights(model, ctx.x, ctx.y, ctx.x_val, ctx.y_val, lr=ctx.lr, method="autodiff")
    method = L2RW()
    out = method.step(ctx)
    assert method.last_path == "dual"
    torch.testing.assert_close(out.weights, w_ref)
    twin(ctx.x)   # one plain training forward
    for k, v in twin.state_dict().items():
        if "running" in k or "num_batches" in k:
            torch.testing.assert_close(model.state_dict()[k], v)


def test_weights_do_not_depend_on_the_optimizers_momentum_buffer():
    torch.manual_seed(0)
    model = MLP(6, 3, hidden=(16,)).double()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for seed in range(3):   # fill the momentum buffer with real steps
        c = _ctx(model, seed=seed + 10)
        opt.zero_grad()
        F.cross_entropy(model(c.x), c.y).backward()
        opt.step()
    velocity = [opt.state[p]["momentum_buffer"].clone() for p in model.parameters()]
    ctx = _ctx(model)
    method = L2RW()
    w_with_buffer = method.step(ctx).weights
    opt.state.clear()   # same parameters, no momentum buffer
    torch.testing.assert_close(method.step(ctx).weights, w_with_buffer, rtol=0, atol=0)
    torch.testing.assert_close(w_with_buffer, l2rw_weights(model, ctx.x, ctx.y, ctx.x_val, ctx.y_val, lr=ctx.lr))

    # the test can fail: a look-ahead with momentum, theta^ = theta - lr * (mu * v + grad), starts from
    # theta - lr * mu * v at eps = 0, so its scores are lr * <grad L_val(theta - lr mu v), grad f_i(theta)>
    shifted = MLP(6, 3, hidden=(16,)).double()
    with torch.no_grad():
        for q, p, v in zip(shifted.parameters(), model.parameters(), velocity):
            q.copy_(p - 10 * ctx.lr * 0.9 * v)
    g_val = torch.autograd.grad(F.cross_entropy(shifted(ctx.x_val), ctx.y_val), list(shifted.parameters()))
    scores = torch.stack([
        sum((a * b).sum() for a, b in zip(torch.autograd.grad(F.cross_entropy(model(ctx.x[i:i + 1]), ctx.y[i:i + 1]),
                                                              list(model.parameters())), g_val))
        for i in range(len(ctx.y))])
    w_momentum = scores.clamp(min=0) / scores.clamp(min=0).sum()
    assert float((w_momentum - w_with_buffer).abs().max()) > 1e-3


def _noisy_toy(n: int = 240, seed: int = 0) -> BiasedDataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n + 60, 2, generator=g)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).long()
    flip = torch.zeros(n, dtype=torch.bool)
    flip[::4] = True
    y_obs = y[:n].clone()
    y_obs[flip] = 1 - y_obs[flip]
    return BiasedDataset(x[:n], y_obs, y[:n].clone(), flip, torch.zeros(n, dtype=torch.bool), x[n:n + 10],
                         y[n:n + 10], x[n + 10:], y[n + 10:], num_classes=2, info={"name": "toy"})


def _run(settings: dict, steps: int = 40):
    torch.manual_seed(0)
    return train(toy_mlp(), _noisy_toy(), get_method("l2rw", **settings), steps=steps, batch_size=32, lr=0.05,
                 device="cpu", seed=0, eval_every=20, progress=False)


def test_trainer_records_weights_that_sum_to_one_or_zero():
    h = _run({})
    sums = h.weights.sum(axis=1)
    assert np.all(np.isclose(sums, 1.0, atol=1e-5) | (sums == 0))
    assert (h.weights >= 0).all()
    assert h.meta["method"] == "l2rw" and h.meta["method_settings"]["weights_method"] == "jvp"
    assert get_method("l2rw").uses_validation


def test_trainer_paths_record_the_same_history():
    fused, unfused, autodiff = _run({}, 25), _run({"fused": False}, 25), _run({"weights_method": "autodiff"}, 25)
    np.testing.assert_allclose(fused.weights, unfused.weights, atol=1e-5)
    np.testing.assert_allclose(fused.weights, autodiff.weights, atol=1e-5)
    np.testing.assert_allclose(fused.train_loss, autodiff.train_loss, rtol=1e-5)


def test_noisy_labels_get_lower_weight_during_training():
    h = _run({}, steps=150)   # a quarter of the labels flipped; weights x batch size, 1.0 = uniform
    assert np.nanmean(h.mean_weight("noisy")) < 0.5 * np.nanmean(h.mean_weight("clean"))
    assert np.nanmean(h.mean_weight("clean")) > 1.0


@pytest.mark.parametrize("kwargs, name", [({"weights_method": "hessian"}, "weights_method"),
                                          ({"lookahead_lr": 0.0}, "lookahead_lr"), ({"fused": "maybe"}, "fused")])
def test_bad_settings_are_named(kwargs, name):
    with pytest.raises(ValueError, match=name):
        get_method("l2rw", **kwargs)


def test_lookahead_lr_setting_is_used_and_described():
    method = get_method("l2rw", lookahead_lr=2.0, weights_method="autodiff")
    assert method.describe() == {"method": "l2rw", "weights_method": "autodiff", "lookahead_lr": 2.0, "fused": True}
    model, shape, classes = _models()["mlp"]
    ctx = _ctx(model)
    torch.testing.assert_close(method.batch_weights(ctx), l2rw_weights(model, ctx.x, ctx.y, ctx.x_val, ctx.y_val))


def test_dual_step_matches_for_any_module():
    model, shape, classes = _models()["custom"]
    ctx = _ctx(model)
    out = dual_step(model, ctx.x, ctx.y, ctx.x_val, ctx.y_val, loss_fn=ctx.per_example_loss, lr=ctx.lr)
    torch.testing.assert_close(out.weights, _reference(ctx)[0])


@pytest.mark.slow
def test_l2rw_beats_plain_training_on_mnist_4_vs_9_at_proportion_0995():
    """The paper's class-imbalance claim on the offline subset: 397 training images, 2 of them 4s, 10 clean
    validation images. Plain training predicts 9 for everything (50 % test error on the balanced test set); L2RW,
    up-weighting the rare examples whose gradients agree with the validation set, does far better.

    Checked on seeds 0, 1, 2 (LeNet, SGD lr 1e-3, momentum 0.9, batch 100, 300 steps, this torch on CPU): L2RW
    test error 0.375, 0.22, 0.31 (at 400 steps 0.385, 0.19, 0.235); plain 0.50 on all three at every evaluation.
    The seed spread is large, as the paper notes report; seed 1 is asserted.
    """
    from l2rw_viz.data import load_mnist, make_imbalanced
    from l2rw_viz.models import make_model

    data = make_imbalanced("mnist", proportion=0.995, source="subset", seed=1,
                           pool=load_mnist(source="subset", progress=False))
    assert int(data.is_minority.sum()) == 2
    errors = {}
    for method in ("plain", "l2rw"):
        model = make_model("lenet", 2, data.feature_shape, seed=1)
        h = train(model, data, method, steps=300, batch_size=100, lr=1e-3, momentum=0.9, device="cpu", seed=1,
                  eval_every=100, progress=False)
        errors[method] = h.final_test_error
    assert errors["plain"] >= 0.45
    assert errors["l2rw"] < 0.35


@pytest.mark.parametrize("name", ["toy_mlp", "lenet"])
def test_fused_and_textbook_steps_give_the_same_gradient_for_every_parameter(name):
    """Regression: at real shapes (2-D toy inputs; LeNet with batch 100, val 10) the layer-wise path scales the
    layer input rather than the backward signal for the first layer; its bias gradient must be weighted too."""
    from l2rw_viz.models import make_model

    shape, b, m = ((2,), 50, 10) if name == "toy_mlp" else ((1, 28, 28), 100, 10)
    model = make_model(name, 2, shape, seed=0).double()
    ctx = _ctx(model, shape=shape, classes=2, b=b, m=m, lr=0.05)
    grads = {}
    for fused in (True, False):
        method = L2RW(fused=fused)
        model.zero_grad()
        method.step(ctx).loss.backward()
        grads[fused] = {k: p.grad.clone() for k, p in model.named_parameters()}
        assert method.last_path == ("layerwise" if fused else "unfused")
    for k in grads[True]:
        torch.testing.assert_close(grads[True][k], grads[False][k], rtol=1e-9, atol=1e-12, msg=k)
