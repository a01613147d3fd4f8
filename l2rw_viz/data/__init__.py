"""Data: toy 2-D problems and MNIST, biased on purpose (imbalance, label flips) with the truth kept."""

from .dataset import BiasedDataset

__all__ = ["BiasedDataset"]
