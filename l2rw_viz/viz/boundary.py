"""A 2-D classifier's decision boundary as numbers: ``P(y = 1 | x)`` on a grid over the toy input plane (torch is
imported only to evaluate a model; drawing happens in :mod:`~l2rw_viz.viz.toy_figures`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..checks import check_int


@dataclass
class BoundaryGrid:
    """A model's ``P(y = 1 | x)`` on a regular grid over the 2-D input plane.

    Attributes: xs ``(G,)``, ys ``(G,)`` grid coordinates (input units); prob ``(G, G)`` float32 in ``[0, 1]``,
    ``prob[i, j]`` at ``(xs[j], ys[i])``; step: the training step it was taken after (-1: unknown).
    """

    xs: np.ndarray
    ys: np.ndarray
    prob: np.ndarray
    step: int = -1


def grid_bounds(x: np.ndarray, padding: float = 0.15) -> tuple[float, float, float, float]:
    """``(x0, x1, y0, y1)`` covering the ``(n, 2)`` points with ``padding`` (fraction of the range) on each side."""
    x = np.asarray(x, dtype=np.float64)
    lo, hi = x.min(axis=0), x.max(axis=0)
    pad = padding * np.maximum(hi - lo, 1e-6)
    return float(lo[0] - pad[0]), float(hi[0] + pad[0]), float(lo[1] - pad[1]), float(hi[1] + pad[1])


def boundary_grid(model: Any, bounds: tuple[float, float, float, float], resolution: int = 60, step: int = -1,
                  positive_class: int = 1) -> BoundaryGrid:
    """Evaluate a 2-D classifier on a ``resolution x resolution`` grid: ``softmax(model(points))[:, positive_class]``.

    ``model`` is any ``nn.Module`` mapping ``(b, 2)`` to logits; it is run in eval mode without gradients on the
    device of its parameters, and its mode is restored. About 1 ms for 60 x 60 on a CPU for a small MLP.
    """
    import torch

    resolution = check_int("resolution", resolution, 2)
    x0, x1, y0, y1 = bounds
    xs = np.linspace(x0, x1, resolution)
    ys = np.linspace(y0, y1, resolution)
    gx, gy = np.meshgrid(xs, ys)
    param = next(model.parameters())
    pts = torch.as_tensor(np.stack([gx.ravel(), gy.ravel()], 1), dtype=param.dtype, device=param.device)
    was = model.training
    model.eval()
    with torch.no_grad():
        prob = torch.softmax(model(pts), dim=1)[:, positive_class]
    model.train(was)
    return BoundaryGrid(xs, ys, prob.reshape(resolution, resolution).float().cpu().numpy(), step)
