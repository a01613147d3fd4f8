"""Small helpers that several course notebooks share (``notebooks/NN_*.ipynb``).

Only what two or more notebooks need lives here: announcing the device, a hand-written full-batch weighted fit for
toy problems (the teaching version of the trainer), per-class accuracy, and decision boundaries of several models
on one 2-D picture. Everything else the notebooks call comes from the library proper (``data``, ``reweight``,
``train``, ``methods``, ``experiments``, ``viz``).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import plotly.graph_objects as go
import torch
import torch.nn.functional as F
from torch import nn

from .checks import check_in_range, check_int
from .device import describe_device, resolve_device
from .reweight import weighted_loss
from .settings import smoke_mode
from .viz.plots import boundary_grid, grid_bounds

# Colours used for the two classes of a toy problem and for "special" examples throughout the course.
CLASS_COLORS = ("#1f77b4", "#ff7f0e")
BOUNDARY_COLORS = ("#222222", "#d62728", "#2ca02c", "#9467bd", "#8c564b")


def announce_device(device: str | torch.device = "auto") -> torch.device:
    """Resolve ``device`` (``"auto"``: CUDA when present, else CPU), print it and the smoke switch, return it."""
    dev = resolve_device(device)
    mode = "smoke mode (L2RW_SMOKE=1: short runs)" if smoke_mode() else "full mode"
    print(f"device: {describe_device(dev)} | {mode} | torch {torch.__version__}")
    return dev


def fit_weighted(model: nn.Module, x: torch.Tensor, y: torch.Tensor, weights: torch.Tensor | None = None, *,
                 steps: int = 300, lr: float = 0.5, momentum: float = 0.9) -> list[float]:
    """Full-batch SGD on the weighted loss ``sum_i w_i f_i`` (the paper's Eq. 1 with fixed weights), in place.

    The teaching version of :func:`l2rw_viz.train.train` for toy problems: every step sees all ``n`` examples, so
    the weights are the *only* thing that decides how much each example pulls on the parameters.

    Args:
        model: maps ``(n, *F)`` to logits ``(n, C)``; trained in place on ``x``'s device.
        x: ``(n, *F)`` float inputs; y: ``(n,)`` int64 labels.
        weights: ``(n,)`` non-negative float; ``None`` means uniform ``1/n`` (the ordinary mean loss). They are
            used as given (not renormalised), so their sum acts like a learning-rate factor.
        steps: SGD steps (>= 1); lr > 0; momentum in [0, 1).
    Returns:
        The weighted loss before each step (length ``steps``), in nats.
    """
    steps = check_int("steps", steps, 1)
    check_in_range("lr", lr, 0.0, float("inf"), low_open=True, high_open=True)
    check_in_range("momentum", momentum, 0.0, 1.0, high_open=True)
    if weights is None:
        weights = torch.full((len(y),), 1.0 / len(y), dtype=x.dtype, device=x.device)
    if weights.shape != y.shape:
        raise ValueError(f"weights has shape {tuple(weights.shape)}; allowed: the shape of y {tuple(y.shape)}")
    if bool((weights < 0).any()):
        raise ValueError("weights has negative entries; allowed: weights >= 0")
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    losses = []
    for _ in range(steps):
        per_example = F.cross_entropy(model(x), y, reduction="none")  # (n,) one loss per example
        loss = weighted_loss(per_example, weights)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses


@torch.no_grad()
def per_class_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, num_classes: int) -> np.ndarray:
    """``(num_classes,)`` float: the share of each class's examples that ``model`` labels correctly (its recall).

    Plain accuracy hides a minority class; this does not. NaN for a class with no examples. ``x``, ``y`` are
    moved to the model's device; the model runs in eval mode, which is restored afterwards.
    """
    dev = next(model.parameters()).device
    was = model.training
    model.eval()
    pred = model(x.to(dev)).argmax(1).cpu()
    model.train(was)
    y = y.cpu()
    return np.array([float((pred[y == c] == c).float().mean()) if bool((y == c).any()) else float("nan")
                     for c in range(num_classes)])


def boundary_figure(models: Mapping[str, nn.Module], x: torch.Tensor, y: torch.Tensor,
                    weights: torch.Tensor | np.ndarray | None = None, *, title: str = "",
                    highlight: torch.Tensor | np.ndarray | None = None, highlight_name: str = "marked",
                    shade: bool = True, class_names: tuple[str, str] = ("class 0", "class 1")) -> go.Figure:
    """Decision boundaries (``p(class 1) = 0.5``) of one or more 2-D binary models over the training points.

    Args:
        models: legend name -> model; each draws one boundary line (solid for the first, dashed for the rest);
            the *last* one also shades ``p(class 1)`` in the background if ``shade``.
        x: ``(n, 2)`` points; y: ``(n,)`` labels in {0, 1} (the labels the model was trained on).
        weights: optional ``(n,)`` non-negative weights; marker area grows with the weight (0 = a hollow dot).
        highlight: optional ``(n,)`` bool mask, drawn with a black ring (e.g. flipped labels) and named
            ``highlight_name`` in the legend.
    Returns:
        A static ``go.Figure`` (600 x 640 px), ready for ``fig.show()`` or ``export_html``.
    """
    x_np = x.detach().cpu().numpy()
    y_np = y.detach().cpu().numpy()
    bounds = grid_bounds(x_np)
    fig = go.Figure()
    for k, (name, model) in enumerate(models.items()):
        grid = boundary_grid(model, bounds, resolution=100)
        xs, ys, p = grid.xs, grid.ys, grid.prob
        if k == len(models) - 1 and shade:
            fig.add_trace(go.Heatmap(x=xs, y=ys, z=p, zmin=0, zmax=1, colorscale=[[0, "#dbe9f6"], [1, "#fde3c8"]],
                                     showscale=False, hoverinfo="skip", name="p(class 1)"))
        color = BOUNDARY_COLORS[k % len(BOUNDARY_COLORS)]
        fig.add_trace(go.Contour(x=xs, y=ys, z=p, contours=dict(start=0.5, end=0.5, size=1, coloring="none"),
                                 line=dict(color=color, width=3, dash="solid" if k == 0 else "dash"),
                                 showscale=False, name=name, showlegend=True, hoverinfo="skip"))
    if weights is None:
        size = np.full(len(y_np), 7.0)
    else:
        w = weights.detach().cpu().numpy() if isinstance(weights, torch.Tensor) else np.asarray(weights, float)
        size = 4.0 + 18.0 * np.sqrt(w / max(w.max(), 1e-12))  # marker *area* proportional to the weight
    for c in (0, 1):
        m = y_np == c
        fig.add_trace(go.Scatter(x=x_np[m, 0], y=x_np[m, 1], mode="markers", name=f"label {class_names[c]}",
                                 marker=dict(size=size[m], color=CLASS_COLORS[c], opacity=0.8,
                                             line=dict(width=0.5, color="white"))))
    if highlight is not None:
        h = highlight.cpu().numpy() if isinstance(highlight, torch.Tensor) else np.asarray(highlight)
        h = h.astype(bool)
        fig.add_trace(go.Scatter(x=x_np[h, 0], y=x_np[h, 1], mode="markers", name=highlight_name,
                                 marker=dict(size=size[h] + 6, color="rgba(0,0,0,0)",
                                             line=dict(width=1.5, color="black"))))
    fig.update_layout(title=title, width=600, height=640, template="plotly_white",
                      xaxis=dict(title="feature 1", range=list(bounds[:2]), showgrid=False, zeroline=False),
                      yaxis=dict(title="feature 2", range=list(bounds[2:]), showgrid=False, zeroline=False,
                                 scaleanchor="x"),
                      legend=dict(orientation="h", y=-0.12, x=0.5, xanchor="center"))
    return fig
