"""SMOTE (Chawla et al., 2002) through imbalanced-learn: new minority examples on segments between a minority
example and one of its ``k`` nearest minority neighbours, then the same network and training as every other
method.

Inputs are flattened to ``(n, d)`` for ``imblearn.over_sampling.SMOTE`` and reshaped back (on MNIST a synthetic
"4" is a pixel-wise blend of two real 4s). Only the observed labels are used.

Synthetic points are appended after the originals: rows ``>= info["n_original"]`` are synthetic (figures draw
them differently). They get ``y_clean = y`` (their parents' observed class), ``is_noisy = False`` and
``is_minority`` from their class.

Few minority examples: SMOTE needs ``k_neighbors + 1`` examples per class. ``k_neighbors`` is
``min(5, n_min - 1)`` where ``n_min`` is the smallest class being over-sampled; with a single example
(``n_min == 1``, possible at p = 0.995 on the MNIST subset) there is no segment to draw on, so the method falls
back to random over-sampling (duplicates) with a ``UserWarning``.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from ..checks import check_int
from ..data.dataset import BiasedDataset
from .base import Method, register
from .clean_only import minority_mask_for
from .proportion import observed_class_counts


def smote_dataset(dataset: BiasedDataset, seed: int, k_neighbors: int = 5) -> BiasedDataset:
    """The dataset with SMOTE's synthetic examples appended (every class brought to the majority count).

    Returns the dataset unchanged (``info["n_synthetic"] = 0``) when the classes are already balanced.
    """
    k_neighbors = check_int("k_neighbors", k_neighbors, 1)
    counts = observed_class_counts(dataset)
    present = counts[counts > 0]
    n = dataset.n
    if len(present) < 2 or present.min() == present.max():
        return dataset.with_training_set(dataset.x, dataset.y, dataset.y_clean, dataset.is_noisy,
                                         dataset.is_minority, n_original=n, n_synthetic=0, smote_k_neighbors=0)
    n_min = int(present.min())
    flat = dataset.x.reshape(n, -1).numpy()
    y = dataset.y.numpy()
    if n_min == 1:
        from imblearn.over_sampling import RandomOverSampler

        warnings.warn("SMOTE needs at least 2 examples of every class to over-sample, but one class has a single "
                      "example: falling back to random over-sampling (duplicates) for this run", UserWarning,
                      stacklevel=2)
        sampler, k = RandomOverSampler(random_state=seed), 0
    else:
        from imblearn.over_sampling import SMOTE

        k = min(k_neighbors, n_min - 1)
        sampler = SMOTE(k_neighbors=k, random_state=seed)
    x_new, y_new = sampler.fit_resample(flat, y)
    # imbalanced-learn keeps the original rows first, in order, and appends the new ones
    if not np.array_equal(x_new[:n], flat) or not np.array_equal(y_new[:n], y):
        raise RuntimeError("imbalanced-learn did not keep the original rows first; cannot mark synthetic points")
    syn_y = torch.as_tensor(y_new[n:], dtype=torch.int64)
    syn_x = torch.as_tensor(x_new[n:], dtype=dataset.x.dtype).reshape(-1, *dataset.feature_shape)
    return dataset.with_training_set(
        torch.cat([dataset.x, syn_x]), torch.cat([dataset.y, syn_y]), torch.cat([dataset.y_clean, syn_y]),
        torch.cat([dataset.is_noisy, torch.zeros(len(syn_y), dtype=torch.bool)]),
        torch.cat([dataset.is_minority, minority_mask_for(dataset, syn_y)]),
        n_original=n, n_synthetic=len(syn_y), smote_k_neighbors=k)


@register
class Smote(Method):
    """Train on the SMOTE-augmented training set (uniform weights, shuffled epochs)."""

    name = "smote"

    def __init__(self, k_neighbors: int = 5):
        self.k_neighbors = check_int("k_neighbors", k_neighbors, 1)

    def prepare(self, dataset: BiasedDataset, seed: int) -> BiasedDataset:
        return smote_dataset(dataset, seed, self.k_neighbors)

    def describe(self):
        return {"method": self.name, "k_neighbors": self.k_neighbors}
