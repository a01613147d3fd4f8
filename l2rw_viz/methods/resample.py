"""Resampling: change *which* examples are drawn instead of how they are weighted.

- ``"resample"``: class-balanced batches — every batch holds (about) ``batch_size / C`` examples of each observed
  class, drawn with replacement inside the class, so a minority example is seen many times per epoch.
- ``"oversample"``: imbalanced-learn's ``RandomOverSampler`` duplicates minority examples until every class is as
  large as the largest one, then ordinary shuffled epochs.
- ``"undersample"``: imbalanced-learn's ``RandomUnderSampler`` throws majority examples away until every class is
  as small as the smallest one (at p = 0.995 on the MNIST subset that leaves a handful of images).

All three use only the observed labels ``y``. Duplicated/kept examples keep their truth masks, and ``info`` records
``resampled_from`` (the original index of every row) so figures can map rows back.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from ..data.dataset import BiasedDataset
from .base import Method, register


@register
class Resample(Method):
    """Class-balanced batches: each class gets ``batch_size // C`` slots (the remainder goes to random classes)."""

    name = "resample"
    addresses = ("imbalance",)

    def make_sampler(self, dataset: BiasedDataset, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
        y = dataset.y.numpy()
        by_class = [np.flatnonzero(y == c) for c in range(dataset.num_classes)]
        present = [c for c, idx in enumerate(by_class) if len(idx)]
        return self._balanced(by_class, present, batch_size, rng)

    @staticmethod
    def _balanced(by_class, present, batch_size, rng) -> Iterator[np.ndarray]:
        base, extra = divmod(batch_size, len(present))
        while True:
            counts = {c: base for c in present}
            for c in rng.choice(present, size=extra, replace=False):
                counts[int(c)] += 1
            batch = np.concatenate([rng.choice(by_class[c], size=k, replace=True) for c, k in counts.items()])
            yield rng.permutation(batch)


def _resampled(dataset: BiasedDataset, sampler, kind: str) -> BiasedDataset:
    """Apply an imbalanced-learn sampler to the row indices and gather every tensor of the training set."""
    rows = np.arange(dataset.n).reshape(-1, 1)
    picked, _ = sampler.fit_resample(rows, dataset.y.numpy())
    sel = torch.as_tensor(picked.ravel(), dtype=torch.int64)
    return dataset.with_training_set(dataset.x[sel], dataset.y[sel], dataset.y_clean[sel], dataset.is_noisy[sel],
                                     dataset.is_minority[sel], resampling=kind, n_original=dataset.n,
                                     resampled_from=sel.numpy())


@register
class Oversample(Method):
    """Random over-sampling (``imblearn.over_sampling.RandomOverSampler``) of every non-majority class."""

    name = "oversample"
    addresses = ("imbalance",)

    def prepare(self, dataset: BiasedDataset, seed: int) -> BiasedDataset:
        from imblearn.over_sampling import RandomOverSampler

        return _resampled(dataset, RandomOverSampler(random_state=seed), "oversample")


@register
class Undersample(Method):
    """Random under-sampling (``imblearn.under_sampling.RandomUnderSampler``) of every non-minority class."""

    name = "undersample"
    addresses = ("imbalance",)

    def prepare(self, dataset: BiasedDataset, seed: int) -> BiasedDataset:
        from imblearn.under_sampling import RandomUnderSampler

        return _resampled(dataset, RandomUnderSampler(random_state=seed), "undersample")
