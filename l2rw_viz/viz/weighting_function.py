"""Meta-Weight-Net's learned weighting function: loss -> weight, drawn at several moments of training.

L2RW gives every example its own weight, recomputed each step; Meta-Weight-Net (Shu et al., 2019) learns one
function ``V(loss)`` shared by all examples. This figure draws that function as it was at several steps (a dark
line early, a light line late), and can put per-example points on top — e.g. L2RW's weights of a batch against the
same examples' losses — so the two answers to "which examples matter?" can be read side by side.

Nothing here trains: the curves come from :meth:`l2rw_viz.methods.meta_weight_net.MetaWeightNet.weight_curve`, or
from a History whose ``meta["method_settings"]["weight_curve"]`` holds them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from ..checks import check_int
from .style import GROUP_COLORS, GROUP_LABELS, TEMPLATE, WEIGHT_COLORSCALE


def curve_arrays(source: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(steps (K,), losses (G,), weights (K, G))`` from a ``WeightCurve``, a ``MetaWeightNet`` after training, a
    History whose ``meta["method_settings"]`` holds ``"weight_curve"``, or a mapping with those three keys."""
    if hasattr(source, "weight_curve") and callable(source.weight_curve):
        source = source.weight_curve()
    if hasattr(source, "meta") and isinstance(source.meta, Mapping):
        settings = source.meta.get("method_settings", {})
        if "weight_curve" not in settings:
            raise ValueError(f"source is a History of method {source.meta.get('method')!r} without a recorded "
                             "weight_curve; allowed: a meta_weight_net run's History, its method, or a WeightCurve")
        source = settings["weight_curve"]
    if isinstance(source, Mapping):
        steps, losses, weights = (source.get(k) for k in ("steps", "losses", "weights"))
    else:
        steps, losses, weights = (getattr(source, k, None) for k in ("steps", "losses", "weights"))
    if steps is None or losses is None or weights is None:
        raise ValueError(f"source={type(source).__name__} is not allowed; allowed: a WeightCurve, a MetaWeightNet, "
                         "a History with meta['method_settings']['weight_curve'], or a mapping with steps/losses/"
                         "weights")
    steps = np.asarray(steps, dtype=np.int64).reshape(-1)
    losses = np.asarray(losses, dtype=np.float64).reshape(-1)
    weights = np.asarray(weights, dtype=np.float64).reshape(len(steps), -1)
    if weights.shape[1] != len(losses) or len(steps) == 0:
        raise ValueError(f"weights has shape {weights.shape}; allowed: (K >= 1 sampled steps, {len(losses)} grid "
                         "losses)")
    return steps, losses, weights


def pick_curves(steps: np.ndarray, n_curves: int) -> np.ndarray:
    """Indices of ``n_curves`` sampled steps spread evenly over training, first and last always included."""
    n_curves = check_int("n_curves", n_curves, 1)
    if len(steps) <= n_curves:
        return np.arange(len(steps))
    return np.unique(np.round(np.linspace(0, len(steps) - 1, n_curves)).astype(int))


def weighting_function_figure(source: Any, n_curves: int = 6, points: Mapping[str, Any] | None = None,
                              title: str | None = None, width: int | None = None, height: int = 420) -> go.Figure:
    """Meta-Weight-Net's loss -> weight function at ``n_curves`` moments of training.

    Args:
        source: see :func:`curve_arrays` (a ``MetaWeightNet`` after training, its ``WeightCurve``, or a History).
        n_curves: how many of the sampled curves to draw (evenly spread; first and last included).
        points: optional per-example points drawn on a second y-axis: ``{"loss": (b,), "weight": (b,), "group":
            (b,) str in "noisy"/"clean"/... (optional), "name": legend label (optional)}``. Weights are plotted as
            given (pass ``weight * B`` for L2RW's normalised weights so that 1 = uniform).
        title: figure title (default says what is drawn).
    Returns:
        A plotly Figure: x = training loss (nats), left y = ``V(loss)`` in (0, 1), unnormalised.
    """
    steps, losses, weights = curve_arrays(source)
    chosen = pick_curves(steps, n_curves)
    colors = sample_colorscale(WEIGHT_COLORSCALE, list(np.linspace(0.0, 0.85, len(chosen))))
    fig = go.Figure()
    for color, k in zip(colors, chosen):
        fig.add_trace(go.Scatter(x=losses, y=weights[k], mode="lines", line=dict(color=color, width=2.5),
                                 name=f"V(loss) after step {int(steps[k]):,}"))
    if points is not None:
        loss = np.asarray(points["loss"], dtype=np.float64).reshape(-1)
        w = np.asarray(points["weight"], dtype=np.float64).reshape(-1)
        if len(loss) != len(w):
            raise ValueError(f"points['weight'] has length {len(w)}; allowed: the length of points['loss'] "
                             f"({len(loss)})")
        group = np.asarray(points.get("group", ["clean"] * len(loss))).reshape(-1)
        label = points.get("name", "per-example weights")
        for g in dict.fromkeys(group.tolist()):
            sel = group == g
            fig.add_trace(go.Scatter(x=loss[sel], y=w[sel], mode="markers", yaxis="y2", opacity=0.6,
                                     marker=dict(size=6, color=GROUP_COLORS.get(g, "#444444")),
                                     name=f"{label}: {GROUP_LABELS.get(g, g)}"))
        fig.update_layout(yaxis2=dict(title="per-example weight", overlaying="y", side="right", rangemode="tozero",
                                      showgrid=False))
    fig.update_layout(template=TEMPLATE, height=height, width=width,
                      title=title or "Meta-Weight-Net: the learned weighting function, loss -> weight",
                      xaxis_title="training loss of the example (nats)", yaxis_title="V(loss), before normalising",
                      yaxis=dict(range=[0, 1.02]), legend=dict(orientation="v"))
    return fig


def l2rw_points(model: Any, x: Any, y: Any, x_val: Any, y_val: Any, is_noisy: Any = None) -> dict[str, Any]:
    """L2RW's weights of one batch against the same examples' losses, ready for ``weighting_function_figure(...,
    points=...)``: ``{"loss": (b,) cross-entropy (nats), "weight": (b,) L2RW weight * b (1 = uniform), "group":
    "noisy"/"clean" per example (when ``is_noisy`` (b,) bool is given), "name": "L2RW"}``.

    ``model`` maps ``(b, *F)`` to logits; it is run in the mode it is in and not changed (the weights come from
    :func:`l2rw_viz.reweight.l2rw_weights`). This is what Meta-Weight-Net replaces by one shared function.
    """
    import torch
    import torch.nn.functional as F

    from ..reweight import l2rw_weights

    weights = l2rw_weights(model, x, y, x_val, y_val)
    with torch.no_grad():
        losses = F.cross_entropy(model(x), y, reduction="none")
    out: dict[str, Any] = {"loss": losses.detach().cpu().numpy(), "name": "L2RW",
                           "weight": (weights * len(y)).detach().cpu().numpy()}
    if is_noisy is not None:
        mask = np.asarray(is_noisy, dtype=bool).reshape(-1)
        if len(mask) != len(y):
            raise ValueError(f"is_noisy has length {len(mask)}; allowed: the batch size {len(y)}")
        out["group"] = np.where(mask, "noisy", "clean")
    return out


def curve_at(source: Any, step: int) -> tuple[int, np.ndarray, np.ndarray]:
    """``(sampled step, losses (G,), weights (G,))``: the curve sampled last at or before ``step`` (the first one
    if ``step`` precedes them all)."""
    steps, losses, weights = curve_arrays(source)
    k = int(np.searchsorted(steps, int(step), side="right")) - 1
    k = max(k, 0)
    return int(steps[k]), losses, weights[k]


__all__ = ["curve_arrays", "curve_at", "l2rw_points", "pick_curves", "weighting_function_figure"]
