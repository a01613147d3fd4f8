"""Baseline + fine-tune: plain training on the biased set, then the last steps on the clean validation set
(the paper's "Baseline + Fine-tune" rows, Table 2 / Fig. 8 discussion).

How it fits the one trainer: ``prepare`` appends the validation set to the training set (rows ``n .. n+m-1``,
clean, recorded in ``info["n_original"]``), and the sampler draws from the biased rows for steps
``0 .. switch_step-1`` and from the clean rows afterwards. So a single ``train(..., steps=S)`` call with
``switch_step = S - k`` is "S - k plain steps, then k fine-tuning steps", optimiser state (momentum) carried over.
:func:`l2rw_viz.experiments.run_one` sets ``switch_step`` to ``steps - max(1, steps // 10)``.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from ..checks import check_int
from ..data.dataset import BiasedDataset
from .base import Method, RunPlan, epoch_sampler, register
from .clean_only import minority_mask_for
from .setting import Setting


@register
class FineTune(Method):
    """Plain training for ``switch_step`` steps, then training on the clean validation set only.

    Args:
        switch_step: the first step (0-based) that draws from the clean set; required before training
            (``get_method("finetune", switch_step=steps - steps // 10)``).
    """

    name = "finetune"
    uses_validation = True
    addresses = ("imbalance", "noise")
    settings = (Setting("switch_step", int, None, "the first step on the clean set (required; the experiments: the "
                        "last 10% of the run)", low=0, optional=True),)

    @classmethod
    def run_settings(cls, plan: RunPlan) -> dict:
        return {"switch_step": plan.steps - max(1, plan.steps // 10)}  # the last 10% of the steps on the clean set

    def __init__(self, switch_step: int | None = None):
        self.switch_step = None if switch_step is None else check_int("switch_step", switch_step, 0)

    def prepare(self, dataset: BiasedDataset, seed: int) -> BiasedDataset:
        if self.switch_step is None:
            raise ValueError("switch_step=None is not allowed for method 'finetune'; allowed: an integer >= 0, the "
                             "step at which training moves to the clean set (e.g. steps - steps // 10)")
        m = len(dataset.y_val)
        return dataset.with_training_set(
            torch.cat([dataset.x, dataset.x_val]), torch.cat([dataset.y, dataset.y_val]),
            torch.cat([dataset.y_clean, dataset.y_val]),
            torch.cat([dataset.is_noisy, torch.zeros(m, dtype=torch.bool)]),
            torch.cat([dataset.is_minority, minority_mask_for(dataset, dataset.y_val)]),
            n_original=dataset.n, finetune_switch_step=self.switch_step)

    def make_sampler(self, dataset: BiasedDataset, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
        n = self._require_setup("make_sampler").dataset.n   # the biased rows: the data the trainer was given
        m = dataset.n - n
        biased = epoch_sampler(n, batch_size, rng)
        for _ in range(self.switch_step):
            yield next(biased)
        clean = epoch_sampler(m, batch_size, rng)
        while True:
            yield n + next(clean)

    def describe(self):
        return {"method": self.name, "switch_step": self.switch_step}
