"""Exercises of notebook 7 (MNIST with noisy labels)."""

from __future__ import annotations

from . import Expects, define


@define("7.1", expects=Expects("number"),
        title="The base rate of the label-noise detector", wrong=0.4, solution="""
If L2RW's ranking were random, its 100 lowest-weighted images would be flipped as often as any training image:
the share of flipped labels in the training set. With 40 % background flips that is not 0.4: a background flip
only chooses among images *not already* in the background class (9 of 10 classes), so about $0.4 \\times 0.9 =
0.36$ of all labels are flipped. The code counts them on the data of seed 0.""")
def _answer_7_1():
    from ..experiments import make_dataset

    return round(float(make_dataset("mnist-noise", "background", 0, "subset").is_noisy.float().mean()), 3)


@_answer_7_1.verify
def _(answer):
    from ..experiments import make_dataset

    rate = float(make_dataset("mnist-noise", "background", 0, "subset").is_noisy.float().mean())
    assert abs(float(answer) - rate) < 0.01, "which images can a background flip choose from?"


@define("7.2", expects=Expects("text"),
        title="The strongest baseline under background flips", wrong="plain", solution="""
Look at the shipped mnist-noise table, background column, and leave L2RW out (`l2rw` and `l2rw+es`): which method
has the highest mean test accuracy? The answer uses the clean images in training, as L2RW uses them to choose
weights.""")
def _answer_7_2():
    from ..results import load_results

    t = load_results("noise", settings=["background"])
    acc = t[~t.method.str.startswith("l2rw")].groupby("method").test_accuracy.mean()
    return str(acc.idxmax())


@_answer_7_2.verify
def _(answer):
    from ..results import load_results

    t = load_results("noise", settings=["background"])
    acc = t[~t.method.str.startswith("l2rw")].groupby("method").test_accuracy.mean()
    assert str(answer) == acc.idxmax(), f"the highest mean in the 'background' column, L2RW left out (not {answer!r})"
