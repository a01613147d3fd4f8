"""Data: toy 2-D problems and MNIST, biased on purpose (imbalance, label flips) with the truth kept."""

from .corrupt import flip_labels, make_imbalanced, make_imbalanced_noisy, make_noisy
from .dataset import BiasedDataset
from .mnist import MnistDownloadError, MnistPool, download_mnist, load_mnist, read_idx
from .splits import check_disjoint, content_hashes
from .toy import make_toy

__all__ = ["BiasedDataset", "MnistDownloadError", "MnistPool", "check_disjoint", "content_hashes",
           "download_mnist", "flip_labels", "load_mnist", "make_imbalanced", "make_imbalanced_noisy",
           "make_noisy", "make_toy", "read_idx"]
