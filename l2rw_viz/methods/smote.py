"""SMOTE (Chawla et al., 2002) through imbalanced-learn: new minority examples on segments between a minority
example and one of its ``k`` nearest minority neighbours, then the same network and training as every other
method.

Inputs are flattened to ``(n, d)`` for ``imblearn.over_sampling.SMOTE`` and reshaped back (on MNIST a synthetic
"4" is a pixel-wise blend of two real 4s). Only the observed labels are used.

Synthetic points are appended after the originals: rows ``>= info["n_original"]`` are synthetic (figures draw
them differently). Their truth masks come from their parents (:func:`smote_parents`): imbalanced-learn does not
report the parents, so each synthetic point's two parents are recovered geometrically — the pair ``(x_i, x_j)`` of
same-class originals, ``x_j`` among the nearest neighbours of ``x_i``, whose segment passes through the point
(SMOTE draws ``x_i + lambda (x_j - x_i)``, ``lambda`` in [0, 1)). The point takes ``y_clean``, ``is_noisy`` and
``is_minority`` from the *nearer* parent: a blend of two flipped majority images is a noisy majority image, not a
clean minority one; a blend of a clean and a flipped parent counts as the one it mostly is. Its observed label
``y`` is the class it was made for. ``info["smote_parents"]`` keeps the ``(n_synthetic, 2)`` parent indices
(nearer parent first).

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
from .proportion import observed_class_counts
from .setting import Setting


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
    parents = smote_parents(flat, y, x_new[n:], y_new[n:], k_neighbors=k)
    nearer = torch.as_tensor(parents[:, 0], dtype=torch.int64)
    syn_y = torch.as_tensor(y_new[n:], dtype=torch.int64)
    syn_x = torch.as_tensor(x_new[n:], dtype=dataset.x.dtype).reshape(-1, *dataset.feature_shape)
    return dataset.with_training_set(
        torch.cat([dataset.x, syn_x]), torch.cat([dataset.y, syn_y]),
        torch.cat([dataset.y_clean, dataset.y_clean[nearer]]), torch.cat([dataset.is_noisy, dataset.is_noisy[nearer]]),
        torch.cat([dataset.is_minority, dataset.is_minority[nearer]]),
        n_original=n, n_synthetic=len(syn_y), smote_k_neighbors=k, smote_parents=parents.tolist())


def smote_parents(x: np.ndarray, y: np.ndarray, x_syn: np.ndarray, y_syn: np.ndarray, *, k_neighbors: int,
                  chunk: int = 256) -> np.ndarray:
    """The two parents of each synthetic point, recovered from the geometry (imbalanced-learn does not report them).

    Args:
        x: ``(n, d)`` the original rows; y: ``(n,)`` their observed labels.
        x_syn: ``(s, d)`` synthetic rows; y_syn: ``(s,)`` the class each was made for.
        k_neighbors: SMOTE's ``k``; 0 for random over-sampling (each synthetic row is a copy of an original).
    Returns:
        ``(s, 2)`` int64 indices into ``x``: the nearer parent first, then the other (equal for a copy). Candidate
        pairs are each same-class original ``x_i`` with itself and with its ``k + 2`` nearest same-class
        neighbours (two spare ones in case of distance ties); the pair whose segment ``[x_i, x_j]`` passes
        nearest the point wins (ties: the first such pair).
    Raises:
        RuntimeError: a synthetic point lies on no candidate segment (relative distance > 1e-4).
    """
    from sklearn.neighbors import NearestNeighbors

    x, x_syn = np.asarray(x, dtype=np.float64), np.asarray(x_syn, dtype=np.float64)
    out = np.zeros((len(x_syn), 2), dtype=np.int64)
    scale = max(float(np.abs(x).max()) if x.size else 0.0, 1e-12)
    for c in np.unique(y_syn):
        members = np.flatnonzero(y == c)
        rows = np.flatnonzero(y_syn == c)
        k = min(k_neighbors + 2, len(members) - 1) if k_neighbors > 0 else 0
        pairs = [np.stack([np.arange(len(members))] * 2, 1)]   # (i, i): a copy of x_i
        if k > 0:
            _, nbr = NearestNeighbors(n_neighbors=k + 1).fit(x[members]).kneighbors(x[members])
            pairs.append(np.stack([np.repeat(np.arange(len(members)), k), nbr[:, 1:].reshape(-1)], 1))
        pairs = np.concatenate(pairs)
        a, b = x[members[pairs[:, 0]]], x[members[pairs[:, 1]]]            # (P, d) segment ends
        d = b - a
        dd, ad, aa = (d * d).sum(1), (a * d).sum(1), (a * a).sum(1)          # (P,)
        for start in range(0, len(rows), chunk):
            s = x_syn[rows[start:start + chunk]]                              # (S, d)
            # the segment's closest point to s is a + t d, t clipped to [0, 1]; squared distances from
            # (S, P) matrix products, so that no (S, P, d) array is ever built
            sd, sa = s @ d.T, s @ a.T
            t = np.clip((sd - ad) / np.maximum(dd, 1e-300), 0.0, 1.0)
            sq = (s * s).sum(1)[:, None] - 2 * sa + aa - 2 * t * (sd - ad) + t * t * dd
            dist = np.sqrt(np.maximum(sq, 0.0))
            best = dist.argmin(1)
            if float(dist[np.arange(len(s)), best].max()) > 1e-4 * scale:
                raise RuntimeError("a synthetic point lies on no segment between same-class neighbours; cannot "
                                   "recover its SMOTE parents")
            i, j = members[pairs[best, 0]], members[pairs[best, 1]]
            t_best = t[np.arange(len(s)), best]
            near_i = t_best <= 0.5
            out[rows[start:start + chunk]] = np.stack([np.where(near_i, i, j), np.where(near_i, j, i)], 1)
    return out


@register
class Smote(Method):
    """Train on the SMOTE-augmented training set (uniform weights, shuffled epochs)."""

    name = "smote"
    addresses = ("imbalance",)
    settings = (Setting("k_neighbors", int, 5, "nearest same-class neighbours a synthetic point may be drawn towards",
                        low=1),)

    def __init__(self, k_neighbors: int = 5):
        self.k_neighbors = check_int("k_neighbors", k_neighbors, 1)

    def prepare(self, dataset: BiasedDataset, seed: int) -> BiasedDataset:
        return smote_dataset(dataset, seed, self.k_neighbors)
