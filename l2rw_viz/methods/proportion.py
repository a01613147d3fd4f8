"""Proportion: weight each example by the inverse frequency of its (observed) class — the classic fix for
class imbalance, and the paper's "Proportion" baseline (Ren et al., 2018, Section 5.1, Fig. 8).

The frequencies come from the labels the learner sees (``dataset.y``), never from the truth masks.
"""

from __future__ import annotations

import numpy as np
import torch

from ..checks import check_choice
from ..data.dataset import BiasedDataset
from ..reweight import normalize_weights
from .base import Method, MethodSetup, RunPlan, StepContext, register
from .setting import Setting


def observed_class_counts(dataset: BiasedDataset) -> np.ndarray:
    """``(C,)`` int64 counts of the observed training labels ``dataset.y`` (what any learner may look at)."""
    return np.bincount(dataset.y.numpy(), minlength=dataset.num_classes).astype(np.int64)


def observed_minority_classes(dataset: BiasedDataset, ratio: float = 0.5) -> np.ndarray:
    """``(C,)`` bool: classes whose observed count is at most ``ratio`` times the largest count.

    Balanced data has no minority class (all False). Used by hard mining and SMOTE, which must not read the
    truth mask ``is_minority``.
    """
    counts = observed_class_counts(dataset)
    return counts <= ratio * counts.max()


# The one normaliser is l2rw_viz.reweight.normalize_weights (L2RW's line 11; on non-negative weights it is the plain
# "divide by the sum, all zero stays all zero"). This older name stays for the notebook 6 exercise, which imports it.
normalise = normalize_weights


@register
class Proportion(Method):
    """Inverse class-frequency weights: ``w_i ∝ 1 / count(y_i)``, normalised to sum to 1 within the batch.

    With 99 nines and 1 four in a batch, the four gets weight 0.5 and the nines share the other 0.5: both classes
    pull equally on the gradient, whatever their counts.

    Args:
        normalise: ``True`` (default): the batch's weights sum to 1. ``False``: the official code's "ratio" weights,
            not normalised per batch: each class gets the fixed weight ``(1 / count_c) / sum_k (1 / count_k)`` (the
            class weights sum to 1, not the batch's). With two classes and majority share ``p`` that is ``p`` for
            every minority example and ``1 - p`` for every majority one, so a batch of ``b`` examples sums to about
            ``2 b p (1 - p)`` (about 200p(1-p) for batch 100: 18 at p = 0.9, 3.9 at 0.98, 1.0 at 0.995) and the
            effective learning rate changes with ``p``. Used by ``--recipe paper``.
    """

    name = "proportion"
    addresses = ("imbalance",)
    settings = (Setting("normalise", bool, True, "normalise the weights per batch (the paper recipe: false, fixed "
                        "class weights as the official code)"),)

    @classmethod
    def run_settings(cls, plan: RunPlan) -> dict:
        # the official code's (p, 1 - p) weights: a batch sums to about 200p(1-p)
        return {"normalise": False} if plan.recipe == "paper" else {}

    def __init__(self, normalise: bool = True):
        self.normalise = bool(check_choice("normalise", normalise, [True, False]))
        self._inv_freq: torch.Tensor | None = None   # of the run's training data, from its first step on

    def setup(self, run: MethodSetup) -> None:
        super().setup(run)
        self._inv_freq = None

    @staticmethod
    def class_weights(dataset: BiasedDataset) -> torch.Tensor:
        """``(C,)`` float32 ``1 / count`` per class of ``dataset``'s observed labels (0 for a class that never
        occurs)."""
        counts = torch.as_tensor(observed_class_counts(dataset), dtype=torch.float32)
        return torch.where(counts > 0, 1.0 / counts.clamp(min=1), torch.zeros_like(counts))

    def batch_weights(self, ctx: StepContext) -> torch.Tensor:
        if self._inv_freq is None:   # the data the steps draw from (with +ft, the clean rows appended)
            self._inv_freq = self.class_weights(ctx.dataset)
        inv = self._inv_freq
        if not self.normalise:
            # the official code's (p, 1 - p): fixed per-class weights, the batch sum is whatever it comes to
            return (inv / inv.sum()).to(device=ctx.x.device, dtype=ctx.x.dtype)[ctx.y]
        w = inv.to(device=ctx.x.device, dtype=ctx.x.dtype)[ctx.y]
        return normalize_weights(w)
