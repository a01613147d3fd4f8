"""L2RW's successor, Meta-Weight-Net: its look-ahead meta-gradient, its rule, a real run and its figure."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from l2rw_viz.data import make_noisy
from l2rw_viz.methods import get_method
from l2rw_viz.methods.meta_weight_net import WeightNet, lookahead_validation_loss, sum_normalised
from l2rw_viz.models import make_model
from l2rw_viz.train import train
from l2rw_viz.viz.weighting_function import curve_arrays, curve_at, l2rw_points, pick_curves, weighting_function_figure

pytestmark = pytest.mark.usefixtures("one_thread")


def test_sum_normalised_and_the_weight_net_range():
    torch.testing.assert_close(sum_normalised(torch.tensor([1.0, 3.0])), torch.tensor([0.25, 0.75]))
    torch.testing.assert_close(sum_normalised(torch.zeros(3)), torch.zeros(3))  # the official guard: no 0/0
    v = WeightNet(100)(torch.linspace(0, 10, 7).reshape(-1, 1))
    assert v.shape == (7, 1) and ((v > 0) & (v < 1)).all()
    with pytest.raises(ValueError, match="curve_every"):
        get_method("meta_weight_net", curve_every=0)


def test_lookahead_gradient_matches_the_closed_form_for_softmax_regression():
    # softmax regression logits = x @ W: grad_W f_i = x_i (p_i - t_i)^T by hand, so the meta-gradient
    # d L_val(theta^) / d w_i = -lr * <grad L_val(theta^), grad f_i(theta)> can be written without autograd
    torch.manual_seed(0)
    model = nn.Linear(3, 2, bias=False).double()
    x, y = torch.randn(4, 3, dtype=torch.float64), torch.tensor([0, 1, 1, 0])
    x_val, y_val = torch.randn(5, 3, dtype=torch.float64), torch.tensor([0, 1, 0, 1, 1])
    w = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64, requires_grad=True)
    lr = 0.5
    before = model.weight.detach().clone()
    val = lookahead_validation_loss(model, lambda losses: w, x, y, x_val, y_val,
                                    loss_fn=lambda z, t: F.cross_entropy(z, t, reduction="none"), lr=lr)
    (got,) = torch.autograd.grad(val, w)

    W = model.weight.detach().T                                     # (3, 2): logits = x @ W
    def grad_of(xs, ys, Wm):                                        # (n, 3, 2) per-example gradients
        p = torch.softmax(xs @ Wm, 1)
        return xs[:, :, None] * (p - F.one_hot(ys, 2).double())[:, None, :]
    g_train = grad_of(x, y, W)
    W_hat = W - lr * (w.detach()[:, None, None] * g_train).sum(0)
    g_val = grad_of(x_val, y_val, W_hat).mean(0)
    expected = -lr * (g_train * g_val).sum((1, 2))
    torch.testing.assert_close(got, expected)
    torch.testing.assert_close(model.weight.detach(), before)      # the model itself is not moved
    assert model.weight.grad is None


def test_meta_step_lowers_the_weight_of_a_loss_that_hurts_the_validation_set():
    # two training examples at the same point: one with the validation example's label, one flipped; the label
    # is the one the network already predicts, so the agreeing example has the low loss and the flipped one the
    # high loss. The meta step must move V to prefer the first: V(high) / V(low) falls.
    ds = make_noisy("moons", rate=0.0, mode="uniform", seed=0)
    method = get_method("meta_weight_net", meta_lr=1e-2)
    method.prepare(ds, seed=0)
    model = make_model("toy_mlp", 2, (2,), seed=0)
    x = ds.x_val[:1].repeat(2, 1)
    agree = model(x[:1]).argmax(1)
    y = torch.cat([agree, 1 - agree])
    x_val, y_val = x[:1], agree
    from l2rw_viz.methods import StepContext

    def ratio():
        with torch.no_grad():
            losses = F.cross_entropy(model(x), y, reduction="none")
            v = method.weights_of(losses)
        return float(v[1] / v[0]), losses

    first, losses = ratio()
    assert losses[1] > losses[0]
    for step in range(20):
        ctx = StepContext(model=model, x=x, y=y, idx=np.arange(2), x_val=x_val, y_val=y_val,
                          step=step, lr=0.5, dataset=ds, generator=torch.Generator().manual_seed(0),
                          per_example_loss=method.per_example_loss)
        method.step(ctx)   # the trainer's optimiser is not involved: only V moves here
    assert ratio()[0] < first


def test_meta_weight_net_run_downweights_flipped_labels_and_records_its_curve():
    ds = make_noisy("moons", rate=0.4, mode="uniform", seed=0)
    method = get_method("meta_weight_net", curve_every=50)
    h = train(make_model("toy_mlp", 2, (2,), seed=0), ds, method, steps=400, batch_size=50, lr=0.05, device="cpu",
              seed=0, eval_every=200, progress=False)
    np.testing.assert_allclose(h.weights.sum(1), 1.0, rtol=1e-5)
    late = slice(200, None)
    assert np.nanmean(h.mean_weight("noisy")[late]) < np.nanmean(h.mean_weight("clean")[late])
    curve = method.weight_curve()
    assert curve.steps.tolist() == list(range(0, 400, 50)) + [399]
    assert curve.weights.shape == (9, 81) and ((curve.weights > 0) & (curve.weights < 1)).all()
    # learned under uniform flips: low losses (probably clean) weigh more than high ones (probably flipped)
    assert curve.weights[-1][3] > 2 * curve.weights[-1][20]   # V(0.3 nats) against V(2 nats)
    assert h.meta["method_settings"]["method"] == "meta_weight_net"
    # the trainer stores describe() after training: the curve travels with the History (and its .npz)
    steps, losses, weights = curve_arrays(h)
    np.testing.assert_array_equal(steps, curve.steps)
    np.testing.assert_allclose(weights, curve.weights, atol=1e-6)
    np.testing.assert_allclose(losses, curve.losses)
    # same seed, same numbers
    again = train(make_model("toy_mlp", 2, (2,), seed=0), ds, get_method("meta_weight_net", curve_every=25),
                  steps=20, batch_size=50, lr=0.05, device="cpu", seed=0, eval_every=20, progress=False)
    first20 = train(make_model("toy_mlp", 2, (2,), seed=0), ds, get_method("meta_weight_net", curve_every=25),
                    steps=20, batch_size=50, lr=0.05, device="cpu", seed=0, eval_every=20, progress=False)
    assert again.equals(first20)

    fig = weighting_function_figure(method, n_curves=4, points={"loss": [0.1, 2.0], "weight": [1.5, 0.2],
                                                                "group": ["clean", "noisy"], "name": "L2RW"})
    lines = [t for t in fig.data if t.mode == "lines"]
    assert len(lines) == 4 and lines[-1].name.endswith("step 399")
    np.testing.assert_allclose(lines[-1].y, curve.weights[-1])
    assert [t.name for t in fig.data if t.mode == "markers"] == ["L2RW: clean labels", "L2RW: flipped labels"]


def test_weighting_function_figure_inputs():
    curve = {"steps": [0, 10, 20], "losses": [0.0, 1.0], "weights": [[0.5, 0.5], [0.6, 0.4], [0.7, 0.3]]}
    steps, _, weights = curve_arrays(curve)
    assert steps.tolist() == [0, 10, 20] and weights.shape == (3, 2)
    assert pick_curves(np.arange(10), 3).tolist() == [0, 4, 9]
    assert curve_at(curve, 15)[0] == 10 and curve_at(curve, -1)[0] == 0
    with pytest.raises(ValueError, match="weights has shape"):
        curve_arrays({"steps": [0], "losses": [0.0, 1.0], "weights": [[0.5, 0.5, 0.5]]})
    with pytest.raises(ValueError, match="source="):
        curve_arrays(3)
    with pytest.raises(ValueError, match="n_curves"):
        weighting_function_figure(curve, n_curves=0)


def test_l2rw_points_are_the_l2rw_weights_of_the_batch():
    from l2rw_viz.reweight import l2rw_weights

    ds = make_noisy("moons", rate=0.4, mode="uniform", seed=0)
    model = make_model("toy_mlp", 2, (2,), seed=0)
    x, y = ds.x[:30], ds.y[:30]
    pts = l2rw_points(model, x, y, ds.x_val, ds.y_val, is_noisy=ds.is_noisy[:30].numpy())
    np.testing.assert_allclose(pts["weight"], 30 * l2rw_weights(model, x, y, ds.x_val, ds.y_val).numpy(), rtol=1e-6)
    np.testing.assert_allclose(pts["loss"], F.cross_entropy(model(x), y, reduction="none").detach().numpy(),
                               rtol=1e-6)
    assert (pts["group"] == np.where(ds.is_noisy[:30].numpy(), "noisy", "clean")).all()
    with pytest.raises(ValueError, match="is_noisy"):
        l2rw_points(model, x, y, ds.x_val, ds.y_val, is_noisy=[True])
