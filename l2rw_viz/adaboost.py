"""AdaBoost (SAMME, Zhu et al. 2009) through scikit-learn, on the same splits as the torch methods.

AdaBoost is the classic "reweight the examples" algorithm, and the natural foil for L2RW: it *raises* the weight
of every example the current ensemble gets wrong — which is exactly what a flipped label looks like — while L2RW
lowers the weight of examples whose gradient disagrees with the clean validation set.

scikit-learn does not keep the per-round sample weights, so :func:`samme_sample_weights` recomputes them from the
fitted ensemble with scikit-learn's own update (``AdaBoostClassifier._boost`` / ``fit``, SAMME):

    w_0 = 1/n;  per round m:  w <- max(w, eps),  err_m = sum(w * wrong_m) / sum(w),
    alpha_m = learning_rate * (log((1 - err_m) / err_m) + log(C - 1)),  w <- w * exp(alpha_m * wrong_m),  w /= sum(w)

where ``wrong_m`` marks the training examples stump ``m`` misclassifies. The tests check the recomputed errors
against ``estimator_errors_`` and that a stump refitted with the recomputed weights predicts like the stored one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .checks import check_in_range, check_int
from .data.dataset import BiasedDataset
from .history import group_mask_of


@dataclass
class AdaBoostResult:
    """What one AdaBoost run produced (``M`` fitted rounds, ``n`` training examples).

    Attributes:
        test_accuracy: accuracy of the full ensemble on ``dataset.x_test`` in [0, 1].
        staged_test_error: ``(M,)`` test error of the ensemble after each round.
        sample_weights: ``(M, n)`` float64, row ``m`` = the weights stump ``m`` was fitted with (each sums to 1).
        estimator_weights: ``(M,)`` alpha of each stump; estimator_errors: ``(M,)`` its weighted training error.
        is_noisy, is_minority: ``(n,)`` the training set's truth masks (for "mean weight of noisy examples").
        wall_time_s: fitting + scoring time in seconds. model: the fitted ``AdaBoostClassifier``.
    """

    test_accuracy: float
    staged_test_error: np.ndarray
    sample_weights: np.ndarray
    estimator_weights: np.ndarray
    estimator_errors: np.ndarray
    is_noisy: np.ndarray
    is_minority: np.ndarray
    wall_time_s: float
    model: Any = field(repr=False, default=None)
    meta: dict = field(default_factory=dict)

    # what run_one saves with history_dir: this file ending (a History is ".npz")
    FILE_SUFFIX = ".adaboost.npz"

    @property
    def test_error(self) -> float:
        return 1.0 - self.test_accuracy

    def row_fields(self) -> dict[str, Any]:
        """The results-table columns this run fills (test error, its last-5 mean over rounds, mean group weights)."""
        return {"test_accuracy": self.test_accuracy, "test_error": self.test_error,
                "test_error_last5": float(np.mean(self.staged_test_error[-5:])), "device": "cpu (scikit-learn)",
                **{f"mean_w_{g}": self.mean_weight(g) for g in ("noisy", "clean", "minority", "majority")}}

    def save(self, path) -> Path:
        """Write the weights, staged errors and masks to ``path`` (``.npz``); returns it."""
        path = Path(path)
        np.savez_compressed(path, sample_weights=self.sample_weights.astype(np.float32),
                            staged_test_error=self.staged_test_error, estimator_weights=self.estimator_weights,
                            is_noisy=self.is_noisy, is_minority=self.is_minority)
        return path

    def mean_weight(self, group: str, round_: int = -1) -> float:
        """Mean of ``weight * n`` over the training examples in ``group`` ("noisy", "clean", "minority",
        "majority") at round ``round_`` (default: the last); 1.0 is uniform, NaN if the group is empty."""
        mask = group_mask_of(group, self.is_noisy, self.is_minority)
        if not mask.any() or not len(self.sample_weights):
            return float("nan")
        w = self.sample_weights[round_] * len(mask)
        return float(w[mask].mean())


def _flat(x) -> np.ndarray:
    a = x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)
    return a.reshape(len(a), -1)


def samme_sample_weights(model, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Recompute the per-round sample weights of a fitted SAMME ``AdaBoostClassifier`` (no initial weights).

    Returns:
        ``(weights (M, n), errors (M,))``: the normalised weights each of the ``M`` stored estimators was fitted
        with, and its weighted training error (compare with ``model.estimator_errors_``).
    """
    n = len(y)
    eps = np.finfo(np.float64).eps
    w = np.full(n, 1.0 / n)
    rows, errors = [], []
    for m, est in enumerate(model.estimators_):
        w = np.clip(w, eps, None)  # as scikit-learn does before every round (issue #20320)
        rows.append(w / w.sum())
        wrong = est.predict(x) != y
        errors.append(float(np.average(wrong, weights=w)))
        alpha = model.estimator_weights_[m]
        w = np.exp(np.log(w) + alpha * wrong * (w > 0))
        w = w / w.sum()
    return np.array(rows).reshape(-1, n), np.array(errors)


def run_adaboost(dataset: BiasedDataset, n_estimators: int = 200, learning_rate: float = 1.0, seed: int = 0,
                 max_depth: int = 1) -> AdaBoostResult:
    """Fit ``AdaBoostClassifier`` (depth-``max_depth`` trees, stumps by default) on the observed training labels
    (inputs flattened: MNIST is ``(n, 784)`` pixels) and score it on the dataset's test split.

    Args:
        n_estimators: boosting rounds (>= 1). learning_rate: shrinkage (> 0). seed: ``random_state``.
    """
    from sklearn.ensemble import AdaBoostClassifier
    from sklearn.tree import DecisionTreeClassifier

    n_estimators = check_int("n_estimators", n_estimators, 1)
    learning_rate = check_in_range("learning_rate", learning_rate, 0.0, float("inf"), low_open=True)
    max_depth = check_int("max_depth", max_depth, 1)
    seed = check_int("seed", seed, 0)
    if not isinstance(dataset, BiasedDataset):
        raise ValueError(f"dataset={type(dataset).__name__} is not allowed; allowed: a BiasedDataset")
    start = time.perf_counter()
    x, y = _flat(dataset.x), dataset.y.numpy()
    x_test, y_test = _flat(dataset.x_test), dataset.y_test.numpy()
    model = AdaBoostClassifier(DecisionTreeClassifier(max_depth=max_depth), n_estimators=n_estimators,
                               learning_rate=learning_rate, random_state=seed)
    model.fit(x, y)
    # SAMME is the only algorithm from scikit-learn 1.6 (our floor); SAMME.R (older default) would give every
    # estimator weight 1 and hide the reweighting this baseline is here to show
    if getattr(model, "algorithm", "SAMME") not in ("SAMME", "deprecated"):
        raise RuntimeError(f"AdaBoostClassifier ran {model.algorithm!r}, not SAMME; scikit-learn>=1.6 is required")
    weights, errors = samme_sample_weights(model, x, y)
    staged = np.array([np.mean(p != y_test) for p in model.staged_predict(x_test)])
    acc = float(np.mean(model.predict(x_test) == y_test))
    m = len(model.estimators_)
    return AdaBoostResult(test_accuracy=acc, staged_test_error=staged, sample_weights=weights,
                          estimator_weights=np.asarray(model.estimator_weights_[:m]), estimator_errors=errors,
                          is_noisy=dataset.is_noisy.numpy().copy(), is_minority=dataset.is_minority.numpy().copy(),
                          wall_time_s=time.perf_counter() - start, model=model)
