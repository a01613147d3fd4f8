"""Toy 2-D binary problems (moons, blobs, circles) where every weight and decision boundary can be drawn.

They come from scikit-learn's generators; this module only fixes the conventions the rest of the package
relies on: balanced classes, standardised features, torch tensors, one seed.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import make_blobs, make_circles, make_moons

from ..checks import check_choice, check_in_range, check_int, check_seed

TOY_KINDS = ("moons", "blobs", "circles")

# Default noise per kind: moons/circles pass it to scikit-learn as Gaussian jitter, blobs as the cluster std.
# Chosen so the two classes touch a little: a linear model is not enough, a small MLP is.
DEFAULT_NOISE = {"moons": 0.2, "blobs": 1.0, "circles": 0.08}

# Blob centres on the x axis, 3 units apart: with std 1 the classes overlap by a few percent.
_BLOB_CENTERS = np.array([[-1.5, 0.0], [1.5, 0.0]])


def make_toy(kind: str = "moons", n: int = 400, seed: int = 0, noise: float | None = None
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """A balanced, standardised 2-D binary problem.

    Args:
        kind: ``"moons"``, ``"blobs"`` or ``"circles"``.
        n: number of points, 4 to 2,000,000; class sizes are ``n - n // 2`` (label 0) and ``n // 2`` (label 1).
        seed: the one seed; the same seed gives the same points.
        noise: moons/circles: std of the Gaussian jitter; blobs: cluster std (before standardising).
            ``None`` uses ``DEFAULT_NOISE[kind]``.

    Returns:
        ``x``: ``(n, 2)`` float32, each feature standardised to mean 0 and std 1 (so learning rates carry over
        between kinds); ``y``: ``(n,)`` int64 in ``{0, 1}``. Points are in random (seeded) order.
    """
    check_choice("kind", kind, TOY_KINDS)
    n = check_int("n", n, 4, 2_000_000)  # far above any lecture use; a typo (10**9) fails at once
    seed = check_seed("seed", seed)
    noise = DEFAULT_NOISE[kind] if noise is None else check_in_range("noise", noise, 0.0, 10.0)

    # scikit-learn accepts a (class 0, class 1) pair of sizes, which makes the balance exact rather than random.
    sizes = (n - n // 2, n // 2)
    if kind == "moons":
        x, y = make_moons(n_samples=sizes, noise=noise, random_state=seed, shuffle=False)
    elif kind == "circles":
        # label 0 is the outer circle, label 1 the inner one (factor: inner radius / outer radius)
        x, y = make_circles(n_samples=sizes, noise=noise, factor=0.5, random_state=seed, shuffle=False)
    else:
        x, y = make_blobs(n_samples=list(sizes), centers=_BLOB_CENTERS, cluster_std=noise, random_state=seed,
                          shuffle=False)
    order = np.random.default_rng(seed).permutation(n)
    x, y = x[order], y[order]
    x = (x - x.mean(axis=0)) / np.maximum(x.std(axis=0), 1e-12)
    return torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.int64)
