"""Exercises of notebook 2 (biased data)."""

from __future__ import annotations

import numpy as np

from . import Expects, define


@define("2.1", expects=Expects("numbers", 2),
        title="Always-majority on two test sets", wrong=(0.98, 0.98), solution="""
A model that always answers "majority" is right on exactly the majority examples. On a test set with the training
set's 98 : 2 mix that is $0.98$ (98 % accuracy for a model that never finds the minority); on a balanced test set it
is $0.5$. Answer: `(0.98, 0.5)`.""")
def _answer_2_1():
    return (0.98, 0.5)


@_answer_2_1.verify
def _(answer):
    from ..data import make_imbalanced

    biased, balanced = (float(a) for a in answer)
    d = make_imbalanced("moons", proportion=0.98, n_train=400, n_val=10, seed=0)
    majority = int(np.bincount(d.y.numpy()).argmax())
    on_train_mix = float((d.y.numpy() == majority).mean())       # the training set's own mix, as a test set
    on_balanced = float((d.y_test.numpy() == majority).mean())
    assert abs(biased - on_train_mix) < 0.01, "the biased test set has the training set's share of majority examples"
    assert abs(balanced - on_balanced) < 0.01, "on a balanced test set each class is half of the examples"


@define("2.2", expects=Expects("number"),
        title="How many labels does a 40 % background flip change?", wrong=0.4, solution="""
Background flips choose among the examples **not already** in the background class: on a balanced 10-class set
that is 90 % of the examples, and 40 % of those are flipped: $0.4 \\times 0.9 = 0.36$ of all labels.""")
def _answer_2_2():
    return 0.4 * 0.9


@_answer_2_2.verify
def _(answer):
    from ..data import flip_labels

    y = np.repeat(np.arange(10), 200)
    _, noisy = flip_labels(y, 0.4, "background", num_classes=10, background_class=3, seed=0)
    measured = float(np.asarray(noisy).mean())
    assert abs(float(answer) - measured) < 0.01, "which examples can a background flip choose from?"
