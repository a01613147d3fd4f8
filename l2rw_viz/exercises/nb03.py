"""Exercises of notebook 3 (classic fixes)."""

from __future__ import annotations

import numpy as np

from . import Expects, define


@define("3.1", expects=Expects("numbers", 2),
        title="Proportion weights by hand", wrong=(0.05, 0.95), solution="""
95 majority and 5 minority examples; weights proportional to $1/N_{y_i}$ and summing to 1 over all 100 examples.
Each class then carries half the total: one minority example gets $0.5 / 5 = 0.1$, one majority example
$0.5 / 95 \\approx 0.00526$. Answer: `(0.1, 0.5 / 95)` (minority, majority). scikit-learn's
`compute_class_weight("balanced")` gives the same up to the factor $n = 100$.""")
def _answer_3_1():
    return (0.5 / 5, 0.5 / 95)


@_answer_3_1.verify
def _(answer):
    from sklearn.utils.class_weight import compute_class_weight

    y = np.array([0] * 5 + [1] * 95)
    cw = compute_class_weight("balanced", classes=np.array([0, 1]), y=y) / len(y)
    assert np.allclose(np.asarray(answer, float), cw, rtol=1e-3), \
        "weight proportional to 1 / (class count), then scale so that all 100 weights sum to 1"


@define("3.2", expects=Expects("numbers", 2),
        title="One AdaBoost round by hand", wrong=(0.25, 0.25), solution="""
Four examples with weights $1/4$; the first stump gets exactly one wrong, so its weighted error is
$\\epsilon = 1/4$ and $\\alpha = \\log\\frac{1-\\epsilon}{\\epsilon} + \\log(C-1) = \\log 3$ (SAMME, $C = 2$).
The wrong example's weight is multiplied by $e^{\\alpha} = 3$: weights $(3, 1, 1, 1)/4$, normalised
$(0.5, 1/6, 1/6, 1/6)$. Answer: `(0.5, 1/6)` (the misclassified example, each of the others). The misclassified
example now counts as much as the other three together, which is what boosting does to a flipped label.""")
def _answer_3_2():
    return (0.5, 1 / 6)


@_answer_3_2.verify
def _(answer):
    from sklearn.ensemble import AdaBoostClassifier
    from sklearn.tree import DecisionTreeClassifier

    from ..adaboost import samme_sample_weights

    x = np.array([[0.0], [1.0], [2.0], [3.0]])
    y = np.array([0, 0, 1, 0])          # no single stump separates these: one example stays wrong
    model = AdaBoostClassifier(DecisionTreeClassifier(max_depth=1), n_estimators=2, random_state=0).fit(x, y)
    weights, _ = samme_sample_weights(model, x, y)
    second = np.sort(weights[1])       # the weights the second stump was fitted with
    assert np.allclose([second[-1], second[0]], np.asarray(answer, float), atol=1e-6), \
        "error 1/4 gives alpha = log 3; multiply the wrong example's weight by e^alpha, then normalise"
