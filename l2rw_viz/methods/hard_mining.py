"""Hard example mining: the paper's "Hard Mining" baseline for class imbalance (Ren et al., 2018, Fig. 8).

As in the official code, each step draws a bigger candidate pool (``pool_size``, 500 by default, capped at the
training set size), keeps *every* minority example in it, and fills the rest of the ``batch_size`` batch with the
majority examples of highest current loss. The loss is the mean over the kept examples (weight ``1/batch_size``
each, 0 for the rest).

"Minority" is decided from the observed labels (classes with at most half the count of the largest class,
see :func:`~l2rw_viz.methods.proportion.observed_minority_classes`). On balanced data there is no minority
class and the method keeps the ``batch_size`` hardest examples of the pool.

History note: the trainer records the whole pool, so a History of this method has ``B = pool size`` columns,
with weight 0 on the examples that were not kept (``weight * B`` of a kept example is ``B/batch_size``).
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import torch

from ..checks import check_int
from ..data.dataset import BiasedDataset
from ..reweight import weighted_loss
from .base import Method, StepContext, StepOutput, epoch_sampler, register
from .proportion import observed_minority_classes


def select_hard(losses: torch.Tensor, is_minority: torch.Tensor, keep: int) -> torch.Tensor:
    """``(p,)`` bool mask of the kept pool entries: all minority entries (the first ``keep`` of them if there are
    more), then the highest-loss majority entries until ``keep`` are chosen.

    Args:
        losses: ``(p,)`` per-example losses of the pool. is_minority: ``(p,)`` bool. keep: batch size.
    """
    keep = min(keep, len(losses))
    mask = torch.zeros_like(is_minority)
    minority_pos = torch.nonzero(is_minority).flatten()[:keep]
    mask[minority_pos] = True
    rest = keep - len(minority_pos)
    if rest > 0:
        majority_losses = torch.where(is_minority, torch.full_like(losses, -float("inf")), losses)
        mask[torch.topk(majority_losses, rest).indices] = True
    return mask


@register
class HardMining(Method):
    """Keep all minority examples of a ``pool_size`` pool plus the hardest majority ones, ``batch_size`` in all."""

    name = "hard_mining"

    def __init__(self, pool_size: int = 500):
        self.pool_size = check_int("pool_size", pool_size, 1)
        self._batch_size: int | None = None
        self._minority_classes: torch.Tensor | None = None

    def prepare(self, dataset: BiasedDataset, seed: int) -> BiasedDataset:
        self._minority_classes = torch.as_tensor(observed_minority_classes(dataset))
        return dataset

    def make_sampler(self, dataset: BiasedDataset, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
        self._batch_size = batch_size
        # a pool larger than the training set would hold duplicates (drawn with replacement), which could then be
        # kept twice: cap it at the training set (the offline MNIST subset has 397-439 training images)
        return epoch_sampler(dataset.n, max(min(self.pool_size, dataset.n), batch_size), rng)

    def step(self, ctx: StepContext) -> StepOutput:
        keep = self._batch_size or len(ctx.y)
        with torch.no_grad():
            pool_losses = ctx.per_example_loss(ctx.model(ctx.x), ctx.y)
        is_min = self._minority_classes.to(ctx.y.device)[ctx.y]
        kept = select_hard(pool_losses, is_min, keep)
        weights = kept.to(ctx.x.dtype) / kept.sum()
        # Only the kept examples go through the graph: the gradient is the same, the backward pass 5x cheaper.
        kept_losses = ctx.per_example_loss(ctx.model(ctx.x[kept]), ctx.y[kept])
        return StepOutput(weighted_loss(kept_losses, weights[kept]), weights, pool_losses.detach())

    def describe(self):
        return {"method": self.name, "pool_size": self.pool_size}
