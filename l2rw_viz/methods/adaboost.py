"""AdaBoost (scikit-learn, SAMME, decision stumps on the pixels) behind the same method interface as the others.

It is not trained step by step by the one trainer: it overrides :meth:`~l2rw_viz.methods.Method.fit` to boost on
the run's data (:func:`l2rw_viz.adaboost.run_adaboost`) and returns an
:class:`~l2rw_viz.adaboost.AdaBoostResult`, which fills the same table columns as a History. ``uses_trainer =
False``: it takes no ``+es``/``+ft`` and is not offered by the explorer (which trains step by step).
"""

from __future__ import annotations

from ..adaboost import AdaBoostResult, run_adaboost
from ..checks import check_in_range, check_int
from .base import FitRequest, Method, RunPlan, register
from .setting import Setting


@register
class AdaBoostBaseline(Method):
    """AdaBoost (scikit-learn, decision stumps) on the same splits: the classic reweighting algorithm as a foil.

    Args:
        n_estimators: boosting rounds (the experiments use their ``adaboost_rounds``). learning_rate: shrinkage
            (> 0). max_depth: depth of each tree (1: stumps).
    """

    name = "adaboost"
    addresses = ("imbalance", "noise")
    uses_trainer = False
    settings = (
        Setting("n_estimators", int, 200, "boosting rounds (the experiments: their adaboost_rounds)", low=1),
        Setting("learning_rate", float, 1.0, "shrinkage of each round's vote", low=0.0, low_open=True),
        Setting("max_depth", int, 1, "depth of each tree (1: stumps)", low=1),
    )

    def __init__(self, n_estimators: int = 200, learning_rate: float = 1.0, max_depth: int = 1):
        self.n_estimators = check_int("n_estimators", n_estimators, 1)
        self.learning_rate = check_in_range("learning_rate", learning_rate, 0.0, float("inf"), low_open=True)
        self.max_depth = check_int("max_depth", max_depth, 1)

    @classmethod
    def run_settings(cls, plan: RunPlan) -> dict:
        """The experiment's boosting rounds (``plan.boost_rounds``); the SGD settings do not apply."""
        return {"n_estimators": plan.boost_rounds}

    def fit(self, request: FitRequest) -> AdaBoostResult:
        """Boost on the run's data with the run's seed (no network, no SGD)."""
        return run_adaboost(request.dataset, n_estimators=self.n_estimators, learning_rate=self.learning_rate,
                            seed=request.seed, max_depth=self.max_depth)


__all__ = ["AdaBoostBaseline"]
