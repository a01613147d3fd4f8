"""Hard example mining: the paper's "Hard Mining" baseline for class imbalance (Ren et al., 2018, Fig. 8).

The selection rule of the official code (``reweight_hard_mining(positive=True)`` in
uber-research/learning-to-reweight-examples, ``mnist/reweight.py:157-192``): each step draws a bigger candidate pool
(``pool_size``, 500 for batch 100, capped here at the training set size), keeps *every* minority example in it, and
adds *as many* majority examples (at least one). The kept batch is therefore half minority, half majority; the loss
is the mean over the kept examples (weight ``1/k`` each for ``k`` kept, 0 for the rest).

Which majority examples: here the highest-loss ones (the hardest, as the method's name and the paper say). The
official code ranks by ``loss * label`` where ``loss`` is the batch's *mean* loss, one number (``get_model`` with
``ex_wts=None`` returns ``reduce_mean``), so every majority example ties and ``tf.nn.top_k`` keeps the first ``k``
in pool order: random undersampling to 50/50 (``docs/departures.md``, row 11).

At p = 0.98 a pool of 397 training images (the offline subset) holds about 8 fours, so each step trains on
about 16 images. An earlier version of this module filled the batch to ``batch_size`` with hard majority
examples instead (5% minority at p = 0.98). That is not the official rule, and it measured worse on one seed
(27.5% vs 17.0% test error at p = 0.98), so it was removed.

"Minority" is decided from the observed labels (classes with at most half the count of the largest class,
see :func:`~l2rw_viz.methods.proportion.observed_minority_classes`). On balanced data there is no minority
class, and the method keeps the ``batch_size`` hardest examples of the pool.

History note: the trainer records the whole pool, so a History of this method has ``B = pool size`` columns,
with weight 0 on the examples that were not kept (``weight * B`` of a kept example is ``B/k``).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from ..checks import check_int
from ..data.dataset import BiasedDataset
from ..reweight import weighted_loss
from .base import Method, RunPlan, StepContext, StepOutput, epoch_sampler, register
from .proportion import observed_minority_classes
from .setting import Setting


def select_hard(losses: torch.Tensor, is_minority: torch.Tensor, keep: int | None = None) -> torch.Tensor:
    """``(p,)`` bool mask of the kept pool entries (the official 50/50 rule, ranked by each entry's own loss): every
    minority entry, plus as many of the highest-loss majority entries as there are minority ones (at least one).

    Args:
        losses: ``(p,)`` per-example losses of the pool. is_minority: ``(p,)`` bool.
        keep: how many to keep when the pool has no minority entry at all (balanced data: the ``keep`` hardest);
            ``None``: one, as the official code (``k = max(k, 1)``).
    """
    mask = is_minority.clone()
    n_minority = int(mask.sum())
    n_hard = n_minority if n_minority else (1 if keep is None else keep)
    n_hard = min(max(n_hard, 1), int((~is_minority).sum()))
    if n_hard > 0:
        majority_losses = torch.where(is_minority, torch.full_like(losses, -float("inf")), losses)
        mask[torch.topk(majority_losses, n_hard).indices] = True
    return mask


@register
class HardMining(Method):
    """Keep all minority examples of a ``pool_size`` pool plus as many of the hardest majority ones (a 50/50 batch)."""

    name = "hard_mining"
    addresses = ("imbalance",)
    # 1: the official rule (all minority of the pool plus as many hardest majority), was: filled to the batch
    revision = 1
    settings = (Setting("pool_size", int, 500, "examples scored per step to pick the batch from (the experiments: 5 "
                        "batches, as the official code)", low=1),)

    @classmethod
    def run_settings(cls, plan: RunPlan) -> dict:
        return {"pool_size": 5 * plan.batch_size}  # the official code: pool 500 for batch 100

    def __init__(self, pool_size: int = 500):
        self.pool_size = check_int("pool_size", pool_size, 1)
        self._minority_classes: torch.Tensor | None = None

    def prepare(self, dataset: BiasedDataset, seed: int) -> BiasedDataset:
        self._minority_classes = torch.as_tensor(observed_minority_classes(dataset))
        return dataset

    def make_sampler(self, dataset: BiasedDataset, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
        # a pool larger than the training set would hold duplicates (drawn with replacement), which could then be
        # kept twice: cap it at the training set (the offline MNIST subset has 397-439 training images)
        return epoch_sampler(dataset.n, max(min(self.pool_size, dataset.n), batch_size), rng)

    def step(self, ctx: StepContext) -> StepOutput:
        with torch.no_grad():
            pool_losses = ctx.per_example_loss(ctx.model(ctx.x), ctx.y)
        is_min = self._minority_classes.to(ctx.y.device)[ctx.y]
        kept = select_hard(pool_losses, is_min, self._require_setup("step").batch_size)
        weights = kept.to(ctx.x.dtype) / kept.sum()
        # Only the kept examples go through the graph: the gradient is the same, the backward pass much cheaper.
        kept_losses = ctx.per_example_loss(ctx.model(ctx.x[kept]), ctx.y[kept])
        return StepOutput(weighted_loss(kept_losses, weights[kept]), weights, pool_losses.detach())
