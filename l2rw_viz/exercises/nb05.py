"""Exercises of notebook 5 (the online approximation)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from . import Expects, define, sign_answer


@define("5.1", expects=Expects("numbers", 3),
        title="Three weights by hand", wrong=(0.75, -0.25, 0.5), solution="""
Scores $u = (0.3, -0.1, 0.2)$. Clip: $\\tilde w = (0.3, 0, 0.2)$. Normalise by $\\sum \\tilde w = 0.5$:
$w = (0.6, 0, 0.4)$. The second example gets nothing: a step on it would *raise* the clean validation loss.
(Dividing the raw scores by their sum $0.4$ without clipping gives $(0.75, -0.25, 0.5)$: gradient ascent on the
second example.)""")
def _answer_5_1():
    u = torch.tensor([0.3, -0.1, 0.2])
    clipped = u.clamp(min=0)
    return clipped / clipped.sum()


@_answer_5_1.verify
def _(answer):
    from ..reweight import normalize_weights

    expected = normalize_weights(torch.tensor([0.3, -0.1, 0.2]))
    assert torch.allclose(torch.as_tensor(answer, dtype=torch.float32), expected, atol=1e-6), \
        "clip at zero first, then divide by the sum of what is left"


@define("5.2", expects=Expects("text"),
        title="Predict the sign of a score", wrong="positive", solution="""
Example 7 of `StepThroughProblem(seed=0)` carries a flipped label: a step on it pulls the boundary towards the
wrong side, against the clean validation gradient (its arrow in the step-through points left, away from the
validation arrow). Its score $\\alpha\\langle\\nabla L_\\text{val}, \\nabla f_7\\rangle$ is **negative**, so its
weight is clipped to 0.""")
def _answer_5_2():
    return "negative"


@_answer_5_2.verify
def _(answer):
    from ..reweight import l2rw_scores
    from ..viz.stepthrough import StepThroughProblem

    assert sign_answer(answer) == "negative", \
        "does a step on a flipped label go downhill or uphill on the clean validation loss?"
    p = StepThroughProblem(seed=0)
    assert bool(p.is_flipped[7]), "example 7 of the seed-0 batch is no longer a flipped label"
    assert float(l2rw_scores(p.model, p.x, p.y, p.x_val, p.y_val, lr=1.0, weights_method="jvp")[7]) < 0


def broken_l2rw_weights(model, x, y, x_val, y_val, alpha=1.0):
    """An L2RW step with ONE bug (exercise 5.3): find it."""
    from torch.func import functional_call

    theta = {k: p.detach().requires_grad_() for k, p in model.named_parameters()}
    eps = torch.zeros(len(y), dtype=x.dtype, requires_grad=True)
    l_f = (eps * F.cross_entropy(functional_call(model, theta, (x,)), y, reduction="none")).sum()
    grads = torch.autograd.grad(l_f, list(theta.values()), create_graph=True)
    theta_hat = {k: p - alpha * g for (k, p), g in zip(theta.items(), grads)}
    l_g = F.cross_entropy(functional_call(model, theta_hat, (x_val,)), y_val)
    (grad_eps,) = torch.autograd.grad(l_g, eps)
    w_tilde = torch.clamp(grad_eps, min=0)
    return w_tilde / (w_tilde.sum() + (w_tilde.sum() == 0))


@define("5.3", expects=Expects("function"),
        title="Find the bug in an L2RW step", wrong=broken_l2rw_weights, solution="""
The clip line: `torch.clamp(grad_eps, min=0)` keeps the examples whose up-weighting would *raise* the validation
loss. Algorithm 1, line 11 clips the **negated** gradient: `w_tilde = torch.clamp(-grad_eps, min=0)`. With the bug
the flipped labels get the largest weights. Answer: the repaired function (the same code with that one sign
changed); the check compares it with `l2rw_weights` on the step-through's batch.""")
def _answer_5_3():
    import inspect

    source = inspect.getsource(broken_l2rw_weights).replace("torch.clamp(grad_eps, min=0)",
                                                            "torch.clamp(-grad_eps, min=0)")
    source = source.replace("def broken_l2rw_weights", "def fixed_l2rw_weights")
    namespace = {"torch": torch, "F": F}
    exec(source, namespace)  # the same code as the broken step, one sign changed
    return namespace["fixed_l2rw_weights"]


@_answer_5_3.verify
def _(answer):
    from ..reweight import l2rw_weights
    from ..viz.stepthrough import StepThroughProblem

    p = StepThroughProblem(seed=0)
    got = answer(p.model, p.x, p.y, p.x_val, p.y_val, alpha=1.0)
    expected = l2rw_weights(p.model, p.x, p.y, p.x_val, p.y_val, lr=1.0, weights_method="autodiff")
    assert torch.allclose(got, expected, atol=1e-10), "compare line by line with Algorithm 1, lines 10-11"
