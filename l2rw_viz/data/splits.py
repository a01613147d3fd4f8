"""Drawing disjoint training / validation / test index sets from a labelled pool, class by class.

The paper takes its small clean validation set *out of* the training data (Section 4, MNIST: "10 balanced
validation images"), so the three sets must never share an example. Every draw here removes what it takes from
the pool of available indices, which makes disjointness hold by construction; ``check_disjoint`` verifies it by
image content for tests and for users who build their own splits.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import numpy as np
import torch


def take_per_class(y: np.ndarray, counts: Mapping[int, int], available: np.ndarray, rng: np.random.Generator,
                   what: str) -> np.ndarray:
    """Draw ``counts[c]`` indices with ``y == c`` among ``available``, without replacement, and mark them taken.

    Args:
        y: ``(N,)`` int labels of the pool.
        counts: class -> number of examples wanted.
        available: ``(N,)`` bool, True where an example is still free; updated in place (taken -> False).
        rng: numpy generator (the caller's seeded stream).
        what: name of the set being drawn, for the error message (e.g. ``"validation set"``).

    Returns:
        ``(sum(counts),)`` int64 indices into the pool, grouped by class in the order of ``counts``.

    Raises:
        ValueError: the pool holds fewer free examples of some class than asked for.
    """
    chosen = []
    for c, k in counts.items():
        free = np.flatnonzero(available & (y == c))
        if k > len(free):
            raise ValueError(f"the {what} needs {k} examples of class {c}, but only {len(free)} are left in the "
                             f"pool; allowed: at most {len(free)} (use a smaller request or a larger source)")
        pick = rng.choice(free, size=k, replace=False) if k else np.zeros(0, dtype=np.int64)
        available[pick] = False
        chosen.append(pick.astype(np.int64))
    return np.concatenate(chosen) if chosen else np.zeros(0, dtype=np.int64)


def spread_evenly(total: int, classes: list[int], rng: np.random.Generator) -> dict[int, int]:
    """Split ``total`` over ``classes`` as evenly as possible; the remainder goes to randomly chosen classes."""
    base, extra = divmod(total, len(classes))
    lucky = set(rng.choice(classes, size=extra, replace=False).tolist()) if extra else set()
    return {c: base + (c in lucky) for c in classes}


def content_hashes(x: torch.Tensor | np.ndarray) -> list[str]:
    """One SHA-1 per example of its raw bytes: equal inputs, equal hashes (used to check splits are disjoint)."""
    a = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    a = np.ascontiguousarray(a.reshape(len(a), -1))
    return [hashlib.sha1(row.tobytes()).hexdigest() for row in a]


def check_disjoint(**sets: torch.Tensor | np.ndarray) -> None:
    """Raise ``ValueError`` if any two of the named input sets share an example (compared by content)."""
    hashed = {name: set(content_hashes(x)) for name, x in sets.items()}
    names = list(hashed)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            shared = len(hashed[a] & hashed[b])
            if shared:
                raise ValueError(f"{a} and {b} share {shared} examples; allowed: disjoint sets")
