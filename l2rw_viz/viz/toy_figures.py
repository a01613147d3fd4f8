"""Toy 2-D figures: every training point sized and coloured by its learned weight, its label's symbol, a ring
for flipped labels and the minority class, and the model's decision boundary behind (``History`` + inputs ->
plotly Figure). :func:`add_toy_traces` is the panel the widgets and figures share.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..checks import check_int
from ..history import History
from .boundary import BoundaryGrid, grid_bounds
from .style import GROUP_COLORS, TEMPLATE, WEIGHT_COLORSCALE, marker_sizes, point_style, toy_layout
from .weights import example_weights_at


def add_toy_traces(fig: go.Figure, history: History, x: np.ndarray, weights: np.ndarray,
                   boundary: BoundaryGrid | None = None, row: int | None = None, col: int | None = None,
                   cmax: float = 3.0, showscale: bool = True, gl: bool | None = None) -> None:
    """Add the toy panel's traces to ``fig``: boundary (filled ``P(y=1)`` contour + the 0.5 line), if given, then
    the points (``Scattergl`` above 1,000 points, or when ``gl``) sized and coloured by ``weights``.

    Trace names: ``"P(y=1)"``, ``"boundary"``, ``"examples"``; the points trace's ``customdata`` holds each point's
    dataset index. Legend-only traces explain the outlines. ``x``: ``(n, 2)`` the run's inputs; ``weights``:
    ``(n,)`` each example's ``weight * B``; ``row``/``col``: the subplot (``None``: a one-panel figure).
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"x has shape {x.shape}; allowed: (n, 2) toy points")
    if len(x) != len(history.y):
        raise ValueError(f"x has {len(x)} points; allowed: the History's {len(history.y)} training examples")
    where = dict(row=row, col=col) if row is not None else {}
    if boundary is not None:
        fig.add_trace(go.Contour(x=boundary.xs, y=boundary.ys, z=boundary.prob, zmin=0, zmax=1, name="P(y=1)",
                                 colorscale=[[0, "#c6dbef"], [0.5, "#ffffff"], [1, "#fdd0a2"]], showscale=False,
                                 contours=dict(coloring="fill", showlines=False), ncontours=12, opacity=0.8,
                                 hoverinfo="skip"), **where)
        fig.add_trace(go.Contour(x=boundary.xs, y=boundary.ys, z=boundary.prob, name="boundary", showscale=False,
                                 showlegend=showscale,
                                 contours=dict(coloring="none", start=0.5, end=0.5, size=1, showlabels=False),
                                 line=dict(color="black", width=2), hoverinfo="skip"), **where)
    use_gl = len(x) > 1000 if gl is None else gl
    trace_cls = go.Scattergl if use_gl else go.Scatter
    style = point_style(history.is_noisy, history.is_minority, history.y)
    fig.add_trace(trace_cls(
        x=x[:, 0], y=x[:, 1], mode="markers", name="examples", showlegend=False,
        customdata=np.arange(len(x)),
        marker=dict(size=marker_sizes(weights), color=np.asarray(weights, dtype=np.float32), cmin=0, cmax=cmax,
                    colorscale=WEIGHT_COLORSCALE, showscale=showscale, opacity=0.9,
                    colorbar=dict(title=dict(text="weight x B"), thickness=12, len=0.8), **style),
        hovertemplate="example %{customdata}<br>weight x B %{marker.color:.2f}<extra></extra>"), **where)
    if showscale:  # legend entries for the outlines, once per figure (hidden when the group is absent)
        present = {"noisy": bool(history.is_noisy.any()), "minority": bool(0 < history.is_minority.mean() < 0.5)}
        for key, label in (("noisy", "ring: flipped label"), ("minority", "ring: minority class")):
            fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=label, visible=present[key],
                                     hoverinfo="skip",
                                     marker=dict(size=10, color="white", line=dict(color=GROUP_COLORS[key], width=2))),
                          **where)


def toy_weights_figure(history: History, x: np.ndarray, frame: int = -1, boundary: BoundaryGrid | None = None,
                       mode: str = "mean", title: str | None = None, width: int | None = None,
                       height: int = 450) -> go.Figure:
    """Toy 2-D data: each training point sized and coloured by its weight as of recorded step ``frame`` (``-1``:
    the end), flipped labels ringed red, minority points ringed orange, the decision boundary drawn if given.

    Args:
        history: the run (any method); a History first, like every figure of a run.
        x: ``(n, 2)`` the training inputs of the run (``dataset.x``); the History does not store inputs.
        frame: index into the recorded steps. mode: see :func:`example_weights_at`.
        boundary: the model's boundary grid (from :func:`boundary_grid` or a :class:`~l2rw_viz.viz.live.ToyRun`).
    """
    if not isinstance(history, History):
        raise ValueError(f"history is a {type(history).__name__}; allowed: a History (the argument order is "
                         "toy_weights_figure(history, x, ...))")
    r = len(history.steps)
    frame = check_int("frame", frame if frame >= 0 else r + frame, 0, r - 1)
    weights = example_weights_at(history, [frame], mode)[0]
    fig = go.Figure()
    add_toy_traces(fig, history, x, weights, boundary)
    toy_layout(fig, x, title or f"{history.meta.get('method', '')}: weights at step {history.steps[frame]}",
               width, height)
    return fig


def toy_comparison_figure(runs: Mapping[str, tuple[History, BoundaryGrid | None]], x: np.ndarray,
                          mode: str = "mean", title: str | None = None, height: int = 430,
                          width: int | None = None) -> go.Figure:
    """Several methods on the same toy data side by side: one panel per ``name -> (history, boundary)``, each
    with its final weights and decision boundary (e.g. L2RW beside plain training); ``x``: ``(n, 2)`` the inputs
    they share.

    The runs come first, like the History of every other figure; the old order ``(x, runs)`` still works but
    warns (``DeprecationWarning``), for notebooks written before.
    """
    if isinstance(x, Mapping) and not isinstance(runs, Mapping):
        warnings.warn("toy_comparison_figure(x, runs) is deprecated; call toy_comparison_figure(runs, x)",
                      DeprecationWarning, stacklevel=2)
        runs, x = x, runs
    if not runs:
        raise ValueError("runs is empty; allowed: a mapping name -> (History, BoundaryGrid or None)")
    names = list(runs)
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=[
        f"{n} (test acc {runs[n][0].final_test_accuracy:.0%})" for n in names], horizontal_spacing=0.04)
    for j, name in enumerate(names):
        history, boundary = runs[name]
        weights = example_weights_at(history, [len(history.steps) - 1], mode)[0]
        add_toy_traces(fig, history, x, weights, boundary, row=1, col=j + 1, showscale=j == len(names) - 1)
    x0, x1, y0, y1 = grid_bounds(x)
    fig.update_xaxes(range=[x0, x1], showgrid=False, zeroline=False)
    fig.update_yaxes(range=[y0, y1], showgrid=False, zeroline=False, showticklabels=False)
    fig.update_yaxes(showticklabels=True, col=1)
    fig.update_layout(template=TEMPLATE, height=height, width=width,
                      title=title or "Same biased data, different methods",
                      margin=dict(l=40, r=20, t=80, b=40),
                      legend=dict(orientation="h", y=-0.05, yanchor="top", x=0.5, xanchor="center"))
    return fig
