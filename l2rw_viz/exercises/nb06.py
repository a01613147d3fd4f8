"""Exercises of notebook 6 (MNIST class imbalance, the paper's Fig. 8)."""

from __future__ import annotations

from . import Expects, define


@define("6.1", expects=Expects("number"),
        title="Proportion weights by hand", wrong=0.02, solution="""
Inverse-frequency weights are $w_i \\propto 1/\\text{count}(y_i)$, then normalised within the batch. With 8 fours
and 392 nines in the training set and a batch of 2 fours and 98 nines, the unnormalised weights sum to
$2/8 + 98/392 = 0.25 + 0.25 = 0.5$, so one four gets $(1/8)/0.5 = 0.25$: the two fours together carry half of
the batch's gradient, as much as the 98 nines. Answer: `0.25` (uniform weights would give it $1/100$).""")
def _answer_6_1():
    return (1 / 8) / (2 / 8 + 98 / 392)


@_answer_6_1.verify
def _(answer):
    import numpy as np
    import torch

    from ..methods import get_method
    from ..methods.proportion import normalise

    method = get_method("proportion")
    inv = torch.tensor([1 / 8, 1 / 392])            # what class_weights() holds for 8 fours and 392 nines
    y = torch.tensor([0] * 2 + [1] * 98)
    w = normalise(inv[y])
    assert np.isclose(float(answer), float(w[0]), atol=1e-3), \
        "normalise 1/count over the whole batch: the nines' small weights add up"
    assert method.name == "proportion"


@define("6.2", expects=Expects("number"),
        title="Read the shipped Fig. 8 table", wrong=0.0, solution="""
Load the shipped table and compare, at $p = 0.995$, L2RW's mean test error with the best of the two methods
that are *told* the class counts (proportion weights and class-balanced resampling). The code below computes
the difference in percentage points (positive: L2RW's error is lower).""")
def _answer_6_2():
    from ..results import load_results

    err = load_results("fig8", settings=[0.995]).groupby("method").test_error.mean()
    return round(100 * (min(err["proportion"], err["resample"]) - err["l2rw"]), 1)


@_answer_6_2.verify
def _(answer):
    from ..results import load_results

    err = load_results("fig8", settings=[0.995]).groupby("method").test_error.mean()
    expected = 100 * (min(err["proportion"], err["resample"]) - err["l2rw"])
    assert abs(float(answer) - expected) < 0.15, "mean over the 3 seeds, in percentage points, best of the two"
