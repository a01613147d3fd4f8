"""Clean only: train on the small clean validation set alone (the paper's "clean only" row, Table 2).

It answers the obvious question "why not just use the clean examples?": with 10 images the network overfits
them. Batches larger than the set are drawn with replacement (see ``epoch_sampler``).
"""

from __future__ import annotations

import torch

from ..data.dataset import BiasedDataset
from .base import Method, register


def minority_mask_for(dataset: BiasedDataset, labels: torch.Tensor) -> torch.Tensor:
    """``(len(labels),)`` bool: whether each (true) label is one of the dataset's minority classes."""
    minority_classes = torch.unique(dataset.y_clean[dataset.is_minority])
    return torch.isin(labels, minority_classes)


@register
class CleanOnly(Method):
    """Replace the training set by the clean validation set (validation and test sets unchanged)."""

    name = "clean_only"
    uses_validation = True
    addresses = ("imbalance", "noise")

    def prepare(self, dataset: BiasedDataset, seed: int) -> BiasedDataset:
        m = len(dataset.y_val)
        return dataset.with_training_set(dataset.x_val.clone(), dataset.y_val.clone(), dataset.y_val.clone(),
                                         torch.zeros(m, dtype=torch.bool),
                                         minority_mask_for(dataset, dataset.y_val), trained_on="validation set")
