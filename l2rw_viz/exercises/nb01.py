"""Exercises of notebook 1 (the weighted loss)."""

from __future__ import annotations

import torch

from . import Expects, choice_answer, define

# the two answers exercise 1.2 offers, in the spellings a student may use
CHOICES_1_2 = {"the learning rate": ("learning rate", "learning-rate", "lr", "step size"),
               "the end point": ("end point", "endpoint", "end-point")}


@define("1.1", expects=Expects("number"),
        title="A weighted loss by hand", wrong=1.4, solution="""
Three examples with losses $f = (0.2, 1.0, 3.0)$ nats and weights $w = (0.5, 0.5, 0)$:
$L = \\sum_i w_i f_i = 0.5 \\cdot 0.2 + 0.5 \\cdot 1.0 + 0 \\cdot 3.0 = 0.6$. The third example, however wrong,
has no say at all: weight 0 is deletion. (1.4 would be the plain mean, which ignores the weights.)""")
def _answer_1_1():
    return 0.5 * 0.2 + 0.5 * 1.0 + 0.0 * 3.0


@_answer_1_1.verify
def _(answer):
    from ..reweight import weighted_loss

    expected = float(weighted_loss(torch.tensor([0.2, 1.0, 3.0]), torch.tensor([0.5, 0.5, 0.0])))
    assert abs(float(answer) - expected) < 1e-6, "multiply each loss by its weight, then add them up"


@define("1.2", expects=Expects("text"),
        title="Weights times ten", wrong="the end point", solution="""
$\\nabla_\\theta \\sum_i (10 w_i) f_i = 10 \\nabla_\\theta \\sum_i w_i f_i$: with plain gradient descent, multiplying
every weight by 10 is exactly multiplying the **learning rate** by 10. The minimiser of the weighted loss does not
move (same boundary in the end); only the path and the speed change (and a step can become too large). This is
why Algorithm 1 normalises the weights: their sum acts as a learning-rate factor. The check trains two logistic
regressions (weights x10 at lr 0.05, weights x1 at lr 0.5) and finds identical parameters.""")
def _answer_1_2():
    return "the learning rate"


@_answer_1_2.verify
def _(answer):
    from ..course import fit_weighted
    from ..data.toy import make_toy
    from ..models import make_model

    choice = choice_answer(answer, CHOICES_1_2)
    assert choice is not None, "answer with one of the two: \"the learning rate\" or \"the end point\""
    assert choice == "the learning rate", \
        "write the gradient of sum_i (10 w_i) f_i and compare it with a step of a different size"
    x, y = make_toy("blobs", n=60, seed=0)
    w = torch.full((60,), 1 / 60)
    a, b = make_model("logreg", 2, (2,), seed=0), make_model("logreg", 2, (2,), seed=0)
    fit_weighted(a, x, y, 10 * w, steps=30, lr=0.05, momentum=0.0)
    fit_weighted(b, x, y, w, steps=30, lr=0.5, momentum=0.0)
    assert all(torch.allclose(p, q, atol=1e-5) for p, q in zip(a.parameters(), b.parameters())), \
        "the library no longer shows weights x10 == learning rate x10"
