"""AdaBoost's example weights on the network itself: the same LeNet and SGD as every other method, reweighted by
AdaBoost's multiplicative rule (SAMME, Zhu et al. 2009) instead of L2RW's look-ahead.

The ``adaboost`` baseline (:mod:`l2rw_viz.adaboost`) boosts 200 decision stumps on raw pixels: it shows AdaBoost's
weights, but it changes the model family too. This method keeps the model fixed, so a lecturer can compare
*reweighting schemes* on one network:

- every training example ``j`` carries a weight ``D_j`` (``D = 1/n`` at the start);
- every ``update_every`` steps (default: once per epoch, ``ceil(n / batch_size)`` steps) the network, as it is
  now, plays the role of AdaBoost's weak learner: it predicts the whole training set (eval mode), and SAMME
  updates the weights from its weighted training error (see :func:`samme_update`)::

      D <- max(D, eps);  err = sum(D * wrong) / sum(D);  alpha = log((1 - err) / err) + log(C - 1)
      D <- D * exp(alpha * wrong);  D <- D / sum(D)

  so the examples the network gets wrong gain weight, by a factor that grows as the network gets better;
- each step's loss is the batch's cross-entropy weighted by the batch's current ``D``, normalised to sum to 1
  within the batch (a batch whose examples the network keeps getting wrong is dominated by them).

Differences from AdaBoost as scikit-learn runs it: there is one network, trained on, not an ensemble of weak
learners with their votes ``alpha`` (the network is evaluated alone, like every torch method here), and the weak
learner is not refitted from scratch on each new ``D``. When the network makes no error on the training set
(``err = 0``) or is no better than chance (``err >= 1 - 1/C``, ``alpha <= 0``), the weights are left as they are
(scikit-learn would stop boosting there); ``updates`` records what each update did.

The rule reads only the observed labels ``dataset.y`` (never the truth masks): a flipped label that the network
refuses to fit looks like a hard example and gains weight, which is AdaBoost's known weakness on label noise and
the opposite of what L2RW does.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import torch

from ..checks import check_int
from ..data.dataset import BiasedDataset
from .base import Method, StepContext, register
from .setting import Setting


def samme_update(weights: np.ndarray, wrong: np.ndarray, num_classes: int) -> tuple[np.ndarray, float, float]:
    """One SAMME reweighting round (scikit-learn's ``AdaBoostClassifier`` with ``learning_rate=1``).

    Args:
        weights: ``(n,)`` non-negative example weights (any positive sum). wrong: ``(n,)`` bool, the examples
            the weak learner misclassifies. num_classes: ``C >= 2``.

    Returns:
        ``(new_weights (n,) float64 summing to 1, err, alpha)``: ``err`` the weighted error in [0, 1] of the
        weights after the floor ``max(w, eps)`` (float64 ``eps``, as scikit-learn, so that no weight is stuck at 0),
        ``alpha = log((1 - err) / err) + log(C - 1)``. Where ``err == 0`` or ``alpha <= 0`` (no better than chance)
        the weights are only floored and renormalised, and ``alpha`` is returned as ``0.0``.
    """
    w = np.asarray(weights, dtype=np.float64)
    wrong = np.asarray(wrong, dtype=bool)
    if w.ndim != 1 or wrong.shape != w.shape:
        raise ValueError(f"weights shape {w.shape} and wrong shape {wrong.shape} are not allowed; allowed: two "
                         "(n,) arrays")
    if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError("weights are not allowed: they must be finite, non-negative and not all zero")
    num_classes = check_int("num_classes", num_classes, 2)
    w = np.clip(w, np.finfo(np.float64).eps, None)
    err = float(w[wrong].sum() / w.sum())
    alpha = math.log((1.0 - err) / err) + math.log(num_classes - 1) if 0.0 < err < 1.0 else 0.0
    if alpha <= 0.0:
        return w / w.sum(), err, 0.0
    # in log space, so that a large alpha over many rounds cannot overflow before the renormalisation
    log_w = np.log(w) + alpha * wrong
    w = np.exp(log_w - log_w.max())
    return w / w.sum(), err, alpha


@register
class AdaBoostNet(Method):
    """The network trained with AdaBoost's (SAMME) multiplicative example weights, updated once per epoch.

    Args:
        update_every: steps between two weight updates (>= 1); ``None`` (default): one epoch,
            ``ceil(n_train / batch_size)`` steps (4 steps on the 397-image offline subset at p = 0.995, 50 on
            5,000 images).

    Attributes (after a run):
        example_weights: ``(n,)`` float64 ``D``, summing to 1. updates: one dict per update with ``step``,
            ``error`` (the network's weighted training error before it) and ``alpha`` (0: weights left as they were).
    """

    name = "adaboost_net"
    addresses = ("imbalance", "noise")
    settings = (Setting("update_every", int, None, "steps between two weight updates (none: one epoch)", low=1,
                        optional=True),)

    def __init__(self, update_every: int | None = None):
        self.update_every = None if update_every is None else check_int("update_every", update_every, 1)
        self.example_weights: np.ndarray | None = None
        self.updates: list[dict] = []
        self._every = 1
        self._data: BiasedDataset | None = None

    def prepare(self, dataset: BiasedDataset, seed: int) -> BiasedDataset:
        self._data = dataset
        self.example_weights = np.full(dataset.n, 1.0 / dataset.n)
        self.updates = []
        return dataset

    def make_sampler(self, dataset: BiasedDataset, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
        self._every = self.update_every or max(1, -(-dataset.n // batch_size))
        return super().make_sampler(dataset, batch_size, rng)

    @torch.no_grad()
    def _wrong(self, model: torch.nn.Module, device: torch.device, chunk: int = 1000) -> np.ndarray:
        """``(n,)`` bool: which training examples ``model`` (in eval mode) misclassifies, by observed label."""
        was = model.training
        model.eval()
        x, y = self._data.x, self._data.y
        pred = torch.cat([model(x[s:s + chunk].to(device)).argmax(1).cpu() for s in range(0, len(y), chunk)])
        model.train(was)
        return (pred != y).numpy()

    def batch_weights(self, ctx: StepContext) -> torch.Tensor:
        if self.example_weights is None or self._data is None:
            raise ValueError("adaboost_net.batch_weights was called before prepare(); allowed: the trainer's order")
        if ctx.step > 0 and ctx.step % self._every == 0:
            wrong = self._wrong(ctx.model, ctx.x.device)
            self.example_weights, err, alpha = samme_update(self.example_weights, wrong, self._data.num_classes)
            self.updates.append({"step": ctx.step, "error": err, "alpha": alpha})
        w = self.example_weights[ctx.idx]
        # normalised in float64 before the cast, so tiny weights do not underflow to an all-zero batch
        return torch.as_tensor(w / w.sum(), dtype=ctx.x.dtype, device=ctx.x.device)
