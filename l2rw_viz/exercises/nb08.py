"""Exercises of notebook 8 (the explorer and the step-through)."""

from __future__ import annotations

import numpy as np

from . import Expects, define


@define("8.1", expects=Expects("texts", 2),
        title="Who gains and who loses weight in the explorer?", wrong=("majority", "clean"), solution="""
At 90 % majority and 20 % flipped labels, L2RW gives the **minority** class the largest mean weight (its few
examples are what the balanced validation set misses most), and the **flipped labels** less than the clean ones
(their gradients point against the clean validation gradient, so their scores are mostly negative and clipped to
0). Answer: `("minority", "noisy")`. The check trains the explorer's set-up (seed 0) for 150 steps and compares
the groups' mean weights. The first half of the answer holds for every seed the notebook tries; the second does
not: most flipped labels carry the minority's label, which L2RW up-weights as a whole (the notebook's "over seeds"
table).""")
def _answer_8_1():
    return ("minority", "noisy")


@_answer_8_1.verify
def _(answer):
    from ..viz import ExplorerState, train_toy

    largest, lower = (str(a).strip().lower() for a in answer)
    state = ExplorerState(data="moons", proportion=0.9, noise_rate=0.2, method="l2rw", n_val=10, steps=150,
                          lr=0.03, seed=0, device="cpu")
    h = train_toy(state).history
    means = {g: float(np.nanmean(h.mean_weight(g))) for g in ("noisy", "clean", "minority", "majority")}
    assert largest == max(means, key=means.get), "which group does a balanced validation set miss most?"
    assert lower == min(("noisy", "clean"), key=means.get), \
        "which examples' gradients disagree with the clean validation set?"


@define("8.2", expects=Expects("integer", low=0, high=1000),
        title="How many examples survive the clip?", wrong=8, solution="""
In the step-through with `StepThroughProblem(seed=0)`, stage 6 ("clip") shows the clipped scores: only the
examples whose gradient agrees with the validation gradient keep a non-zero bar. Count them: the answer is the
number of positive scores. The check recomputes the weights with `l2rw_weights`.""")
def _answer_8_2():
    from ..viz.stepthrough import StepThroughProblem

    return int((StepThroughProblem(seed=0).compute().clipped > 0).sum())


@_answer_8_2.verify
def _(answer):
    from ..reweight import l2rw_weights
    from ..viz.stepthrough import StepThroughProblem

    p = StepThroughProblem(seed=0)
    w = l2rw_weights(p.model, p.x, p.y, p.x_val, p.y_val, lr=p.alpha)
    assert int(answer) == int((w > 0).sum()), "count the bars that are still above zero after the clip"
