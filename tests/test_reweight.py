"""The L2RW weights (Ren et al., 2018, Algorithm 1, lines 4-11), checked against the paper's claims."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from l2rw_viz.models import MLP, LeNet
from l2rw_viz.reweight import (
    gradient_similarity,
    l2rw_scores,
    l2rw_weights,
    normalize_weights,
    validation_gradient,
    weighted_loss,
)


class ScaledResidual(nn.Module):
    """A user-defined module: a custom forward with a residual, tanh and a free-standing parameter."""

    def __init__(self, d: int = 6, classes: int = 3):
        super().__init__()
        self.inp = nn.Linear(d, 16)
        self.mid = nn.Linear(16, 16)
        self.scale = nn.Parameter(torch.tensor(0.7))
        self.out = nn.Linear(16, classes)

    def forward(self, x):
        h = torch.tanh(self.inp(x))
        h = h + self.scale * torch.relu(self.mid(h))
        return self.out(h)


def _problem(kind: str, dtype: torch.dtype, seed: int = 0, b: int = 12, m: int = 6):
    torch.manual_seed(seed)
    if kind == "mlp":
        model, shape, c = MLP(20, 3, hidden=(16, 8)), (20,), 3
    elif kind == "lenet":
        model, shape, c = LeNet(num_classes=2), (1, 28, 28), 2
    else:
        model, shape, c = ScaledResidual(), (6,), 3
    model = model.to(dtype)
    x, x_val = torch.randn(b, *shape, dtype=dtype), torch.randn(m, *shape, dtype=dtype)
    y, y_val = torch.randint(0, c, (b,)), torch.arange(m) % c
    return model, x, y, x_val, y_val


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


@pytest.mark.parametrize("kind", ["mlp", "lenet", "custom"])
@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-10), (torch.float32, 1e-4)])
def test_weights_equal_the_gradient_similarity_identity(kind, dtype, tol):
    model, x, y, x_val, y_val = _problem(kind, dtype)
    lr = 0.1
    autodiff = l2rw_scores(model, x, y, x_val, y_val, lr=lr, method="autodiff")
    jvp = l2rw_scores(model, x, y, x_val, y_val, lr=lr, method="jvp")
    # -dL_val/d eps_i = lr * <grad L_val, grad f_i>, with per-example gradients from vmap
    identity = lr * gradient_similarity(model, x, y, x_val, y_val).dot
    assert autodiff.dtype == dtype and jvp.dtype == dtype
    assert _rel(autodiff, identity) < tol and _rel(jvp, identity) < tol
    w_a = l2rw_weights(model, x, y, x_val, y_val, lr=lr, method="autodiff")
    w_j = l2rw_weights(model, x, y, x_val, y_val, lr=lr, method="jvp")
    assert (w_a - w_j).abs().max() < tol


def test_identity_holds_on_random_models_in_float32_to_1e4():
    for seed in range(4):
        model, x, y, x_val, y_val = _problem("mlp", torch.float32, seed=seed, b=32, m=10)
        a = l2rw_scores(model, x, y, x_val, y_val, method="autodiff")
        j = l2rw_scores(model, x, y, x_val, y_val, method="jvp")
        assert _rel(j, a) <= 1e-4


def test_all_negative_scores_give_all_zero_weights():
    w = normalize_weights(torch.tensor([-1.0, -0.5, -3.0]))
    assert torch.equal(w, torch.zeros(3))
    assert torch.equal(normalize_weights(torch.zeros(4)), torch.zeros(4))   # the Kronecker-delta guard: no NaN


def test_weights_are_non_negative_and_sum_to_one_otherwise():
    w = normalize_weights(torch.tensor([2.0, -1.0, 1.0, 0.0]))
    torch.testing.assert_close(w, torch.tensor([2 / 3, 0.0, 1 / 3, 0.0]))
    model, x, y, x_val, y_val = _problem("mlp", torch.float64, b=64)
    w = l2rw_weights(model, x, y, x_val, y_val)
    assert (w >= 0).all() and not w.requires_grad
    assert float(w.sum()) == pytest.approx(1.0, abs=1e-12) or float(w.sum()) == 0.0


@pytest.mark.parametrize("bad", [torch.ones(2, 2), [1.0, 2.0], torch.tensor([1, 2])])
def test_normalize_weights_rejects_what_is_not_a_float_vector(bad):
    with pytest.raises(ValueError, match="scores"):
        normalize_weights(bad)


@pytest.mark.parametrize("method", ["autodiff", "jvp"])
def test_lookahead_learning_rate_does_not_change_the_normalised_weights(method):
    model, x, y, x_val, y_val = _problem("custom", torch.float64, b=24)
    ws = [l2rw_weights(model, x, y, x_val, y_val, lr=lr, method=method) for lr in (1e-3, 1.0, 50.0)]
    for w in ws[1:]:
        torch.testing.assert_close(w, ws[0], rtol=1e-9, atol=1e-12)
    s1 = l2rw_scores(model, x, y, x_val, y_val, lr=1.0, method=method)
    s2 = l2rw_scores(model, x, y, x_val, y_val, lr=2.0, method=method)
    torch.testing.assert_close(s2, 2 * s1)   # the raw scores do scale with lr


def _line_data(n: int, seed: int, minority_share: float = 0.5):
    """Two well-separated 2-D blobs; class 1 drawn with probability ``minority_share``."""
    g = torch.Generator().manual_seed(seed)
    y = (torch.rand(n, generator=g) < minority_share).long()
    x = torch.randn(n, 2, generator=g) * 0.5
    x[:, 0] += torch.where(y == 1, 1.0, -1.0)
    return x, y


def _pretrained(x, y, seed: int, steps: int = 20) -> nn.Module:
    torch.manual_seed(seed)
    model = MLP(2, 2, hidden=(16,))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(steps):   # trained a little: the validation gradient then says something about the task
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return model


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_flipped_examples_get_lower_mean_weight_than_clean_ones(seed):
    x, y = _line_data(400, seed)
    x_val, y_val = _line_data(20, seed + 100)
    # trained a little (as early in training): once a small net is very confident on separable data, the
    # validation gradient mostly asks for larger margins and the contrast fades (seen at ~150 steps)
    model = _pretrained(x[:200], y[:200], seed)
    xb, yb = x[200:300], y[200:300].clone()
    flipped = torch.zeros(100, dtype=torch.bool)
    flipped[::4] = True
    yb[flipped] = 1 - yb[flipped]
    for method in ("autodiff", "jvp"):
        w = l2rw_weights(model, xb, yb, x_val, y_val, method=method)
        assert w[flipped].mean() < w[~flipped].mean()
        assert (w[flipped] == 0).float().mean() > (w[~flipped] == 0).float().mean()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_minority_examples_get_higher_mean_weight_than_majority_ones(seed):
    x, y = _line_data(600, seed, minority_share=0.1)        # class 1 is the minority (about 10 %)
    x_val, y_val = _line_data(20, seed + 100)                # balanced clean validation set
    model = _pretrained(x[:400], y[:400], seed, steps=60)   # biased towards the majority class
    xb, yb = x[400:], y[400:]
    assert 0 < int(yb.sum()) < len(yb) // 4
    w = l2rw_weights(model, xb, yb, x_val, y_val)
    assert w[yb == 1].mean() > w[yb == 0].mean()


def _bn_dropout_model(p: float = 0.0) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(p), nn.Linear(16, 3)).double()


@pytest.mark.parametrize("method", ["autodiff", "jvp"])
def test_model_parameters_grads_and_buffers_are_unchanged(method):
    model = _bn_dropout_model(p=0.3)
    model.train()
    for p in model.parameters():
        p.grad = torch.full_like(p, 0.25)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    grads = [p.grad.clone() for p in model.parameters()]
    x, y = torch.randn(16, 5, dtype=torch.float64), torch.randint(0, 3, (16,))
    w = l2rw_weights(model, x, y, x[:6], y[:6], method=method)
    assert not w.requires_grad and w.shape == (16,)
    for k, v in model.state_dict().items():   # parameters and BatchNorm running statistics / batch counter
        assert torch.equal(v, state[k]), k
    assert all(torch.equal(p.grad, g) for p, g in zip(model.parameters(), grads))
    assert model.training


def test_batchnorm_in_train_mode_uses_batch_statistics_and_both_methods_agree():
    model = _bn_dropout_model(p=0.0)
    model.train()
    x, y = torch.randn(20, 5, dtype=torch.float64), torch.randint(0, 3, (20,))
    a = l2rw_scores(model, x, y, x[:8], y[:8], method="autodiff")
    j = l2rw_scores(model, x, y, x[:8], y[:8], method="jvp")
    assert _rel(j, a) < 1e-10
    model.eval()   # running statistics instead of batch statistics: different weights
    assert _rel(l2rw_scores(model, x, y, x[:8], y[:8]), a) > 1e-3


def test_gradient_similarity_pieces_are_consistent():
    model, x, y, x_val, y_val = _problem("custom", torch.float64)
    sim = gradient_similarity(model, x, y, x_val, y_val)
    assert sim.dot.shape == sim.grad_norm.shape == sim.cosine.shape == (12,)
    torch.testing.assert_close(sim.dot, sim.cosine * sim.grad_norm * sim.val_grad_norm)
    assert (sim.cosine.abs() <= 1 + 1e-12).all()
    # example 3's gradient norm, by ordinary autograd on a batch of one
    g3 = torch.autograd.grad(F.cross_entropy(model(x[3:4]), y[3:4]), list(model.parameters()))
    assert float(sim.grad_norm[3]) == pytest.approx(float(torch.sqrt(sum(g.pow(2).sum() for g in g3))), rel=1e-10)
    g_val = validation_gradient(model, x_val, y_val)
    assert float(sim.val_grad_norm) == pytest.approx(float(torch.sqrt(sum(g.pow(2).sum() for g in g_val.values()))))
    torch.testing.assert_close(sim.weights, l2rw_weights(model, x, y, x_val, y_val))


def test_gradient_similarity_refuses_batchnorm_in_train_mode():
    model = _bn_dropout_model()
    x, y = torch.randn(8, 5, dtype=torch.float64), torch.randint(0, 3, (8,))
    with pytest.raises(ValueError, match="BatchNorm"):
        gradient_similarity(model, x, y, x, y)
    model.eval()
    assert gradient_similarity(model, x, y, x, y).dot.shape == (8,)


def test_custom_loss_function_is_used():
    model, x, y, x_val, y_val = _problem("mlp", torch.float64)

    def smoothed(logits, target):
        return F.cross_entropy(logits, target, reduction="none", label_smoothing=0.2)

    a = l2rw_scores(model, x, y, x_val, y_val, loss_fn=smoothed, method="autodiff")
    j = l2rw_scores(model, x, y, x_val, y_val, loss_fn=smoothed, method="jvp")
    assert _rel(j, a) < 1e-10
    assert _rel(j, l2rw_scores(model, x, y, x_val, y_val)) > 1e-3


@pytest.mark.parametrize("kwargs, name", [({"method": "hessian"}, "method"), ({"lr": 0.0}, "lr"),
                                          ({"lr": float("nan")}, "lr"),
                                          ({"loss_fn": lambda logits, y: F.cross_entropy(logits, y)}, "loss_fn")])
def test_bad_arguments_are_named(kwargs, name):
    model, x, y, x_val, y_val = _problem("mlp", torch.float32)
    with pytest.raises(ValueError, match=name):
        l2rw_weights(model, x, y, x_val, y_val, **kwargs)


def test_mismatched_batches_and_parameterless_models_are_clear_errors():
    model, x, y, x_val, y_val = _problem("mlp", torch.float32)
    with pytest.raises(ValueError, match="y has length"):
        l2rw_weights(model, x, y[:-1], x_val, y_val)
    with pytest.raises(ValueError, match="y_val"):
        l2rw_weights(model, x, y, x_val, y_val[:-1])
    with pytest.raises(ValueError, match="model"):
        l2rw_weights(nn.Flatten(), x, y, x_val, y_val)


def test_weighted_loss_is_the_weighted_sum():
    losses = torch.tensor([1.0, 2.0, 4.0])
    assert float(weighted_loss(losses, torch.tensor([0.5, 0.5, 0.0]))) == 1.5
    with pytest.raises(ValueError, match="weights"):
        weighted_loss(losses, torch.ones(2))
