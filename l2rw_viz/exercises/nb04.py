"""Exercises of notebook 4 (the meta-objective)."""

from __future__ import annotations

import torch

from . import Expects, define, sign_answer


def notebook4_data():
    """The tiny problem of notebook 4: 40 blob points, a quarter of the labels flipped, 10 clean validation points."""
    from ..data import make_noisy
    from ..data.toy import make_toy

    pool = make_toy("blobs", n=200, seed=2, noise=0.6)
    return make_noisy("blobs", noise_rate=0.25, n_train=40, n_val_per_class=5, n_test=40, seed=2, pool=pool)


@define("4.1", expects=Expects("text"),
        title="The sign of the hypergradient", wrong="negative", solution="""
At uniform weights, $\\partial L_\\text{val} / \\partial w_i = -\\nabla L_\\text{val}^\\top H^{-1} \\nabla f_i$ is
mostly **positive** for a flipped point: giving it more weight pulls $\\theta^*$ towards the wrong label and raises
the clean validation loss. The projected gradient step $w - \\eta\\,\\partial L_\\text{val}/\\partial w$ therefore
lowers its weight: that is how $w^*$ comes to ignore the flipped points.""")
def _answer_4_1():
    return "positive"


@_answer_4_1.verify
def _(answer):
    from ..bilevel import hypergradient_at

    assert sign_answer(answer) == "positive", \
        "would more weight on a wrong label raise or lower the clean validation loss?"
    d = notebook4_data()
    w = torch.full((len(d.y),), 1.0 / len(d.y), dtype=torch.float64)
    _, g = hypergradient_at(w, d.x.double(), d.y, d.x_val.double(), d.y_val)
    assert float(g[d.is_noisy].mean()) > 0 > float(g[~d.is_noisy].mean()), "the library disagrees with the story"


@define("4.2", expects=Expects("tensor", 40),
        title="From the hypergradient to L2RW's score", wrong="minus", solution="""
Replace $H^{-1}$ by $\\alpha I$ in
$-\\partial L_\\text{val}/\\partial w_i = \\nabla L_\\text{val}^\\top H^{-1} \\nabla f_i$
and you get $\\alpha \\langle \\nabla L_\\text{val}, \\nabla f_i \\rangle$, which is exactly L2RW's score (notebook 5).
The code computes it at $\\theta^*(\\text{uniform})$ with $\\alpha = 1$: a vector of 40 scores, one per point;
the check compares it with `l2rw_scores` (Algorithm 1 through the look-ahead step) on a model holding the same
parameters.""")
def _answer_4_2():
    from ..bilevel import _augment, _newton, _per_example_grads

    d = notebook4_data()
    xa, xa_val = _augment(d.x.double()), _augment(d.x_val.double())
    w = torch.full((len(d.y),), 1.0 / len(d.y), dtype=torch.float64)
    theta, _ = _newton(torch.zeros(6, dtype=torch.float64), w, xa, d.y, 2, 1e-2, 1e-12, 100)   # theta*(uniform)
    grads = _per_example_grads(theta, xa, d.y, 2)                  # (40, 6): grad f_i
    g_val = _per_example_grads(theta, xa_val, d.y_val, 2).mean(0)  # (6,): grad L_val
    alpha = 1.0
    return alpha * grads @ g_val                                    # H^{-1} replaced by alpha * I


@_answer_4_2.verify
def _(answer):
    from ..bilevel import _augment, _newton
    from ..models import LogisticRegression
    from ..reweight import l2rw_scores

    assert isinstance(answer, torch.Tensor) and answer.shape == (40,), "one score per training point: shape (40,)"
    d = notebook4_data()
    w = torch.full((40,), 1.0 / 40, dtype=torch.float64)
    theta, _ = _newton(torch.zeros(6, dtype=torch.float64), w, _augment(d.x.double()), d.y, 2, 1e-2, 1e-12, 100)
    model = LogisticRegression(2, 2).double()
    v = theta.view(2, 3)
    with torch.no_grad():
        model.linear.weight.copy_(v[:, :2])
        model.linear.bias.copy_(v[:, 2])
    ref = l2rw_scores(model, d.x.double(), d.y, d.x_val.double(), d.y_val, lr=1.0, weights_method="autodiff")
    assert torch.allclose(answer.double(), ref, atol=1e-10), "check the sign: the score is MINUS the eps-gradient"
