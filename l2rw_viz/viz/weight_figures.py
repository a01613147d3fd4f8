"""How the learned weights evolve and spread over training, per group: ``History -> plotly Figure``.

- :func:`weight_trajectory_figure`: mean weight per group over the steps, with its interquartile band.
- :func:`weight_distribution_figure`: violins (or histograms) of the weights in consecutive step windows.
- :func:`weight_by_label_figure`: mean weight by true class and given label (flipped labels off the diagonal).

The paper's story (Ren et al., 2018, Sec. 4 and Fig. 2/6) reads directly off these figures: examples with flipped
labels fall below 1 (the uniform weight ``weight * B``), examples of the minority class rise above it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..checks import check_choice, check_int
from ..history import History
from .style import GROUP_COLORS, GROUP_LABELS, TEMPLATE, full_log_axis, rgba
from .weights import check_groups, moving_average, step_windows, weight_quantiles


def weight_trajectory_figure(history: History, groups: Sequence[str] | str | None = "auto", smooth: int = 1,
                             spread: bool = True, title: str | None = None, height: int = 380,
                             log_y: bool = False) -> go.Figure:
    """Mean learned weight (``* B``) per group over training, with its interquartile band.

    One line per group (``History.mean_weight``), smoothed by a centred moving window of ``smooth`` recorded
    steps; the dotted line at 1 is uniform training. Trace ``i`` (mean) carries ``meta={"group": g}``.
    ``log_y``: a logarithmic weight axis (when one group weighs 100x another; weights of 0 are not drawn).
    """
    groups = check_groups(groups, history)
    steps = history.steps
    fig = go.Figure()
    for g in groups:
        mean = moving_average(history.mean_weight(g), smooth)
        color = GROUP_COLORS[g]
        if spread:
            lo, hi = (moving_average(q, smooth) for q in weight_quantiles(history, g))
            fig.add_trace(go.Scatter(x=steps, y=hi, mode="lines", line=dict(width=0, color=color),
                                     hoverinfo="skip", showlegend=False, meta={"group": g, "band": "q75"}))
            fig.add_trace(go.Scatter(x=steps, y=lo, mode="lines", line=dict(width=0, color=color), fill="tonexty",
                                     fillcolor=rgba(color, 0.15), hoverinfo="skip", showlegend=False,
                                     meta={"group": g, "band": "q25"}))
        fig.add_trace(go.Scatter(x=steps, y=mean, mode="lines", name=GROUP_LABELS[g], line=dict(color=color, width=2.5),
                                 meta={"group": g}, hovertemplate="step %{x}<br>mean weight x B %{y:.2f}<extra>"
                                 + GROUP_LABELS[g] + "</extra>"))
    fig.add_hline(y=1.0, line=dict(dash="dot", color="#444", width=1))
    # on a log axis an annotation's y is log10 of the value (a shape's is not): 0 puts the label at weight 1
    fig.add_annotation(x=0, xref="paper", y=0.0 if log_y else 1.0, yref="y", text="uniform", showarrow=False,
                       xanchor="left", yanchor="bottom")
    if log_y:   # ticks that read in full ("200", not plotly's "2"), over everything drawn
        full_log_axis(fig, "y", np.concatenate([np.asarray(t.y, float) for t in fig.data] + [[1.0]]))
    method = history.meta.get("method", "")
    fig.update_layout(template=TEMPLATE, height=height, title=title or f"Learned weight per group ({method})",
                      xaxis_title="training step", yaxis_title="weight x batch size",
                      legend=dict(orientation="h", y=-0.18, yanchor="top", x=0.5, xanchor="center"),
                      margin=dict(l=60, r=20, t=60, b=90))
    return fig


def weight_distribution_figure(history: History, groups: Sequence[str] | str | None = "auto", windows: int = 4,
                               kind: str = "violin", max_points: int = 3000, seed: int = 0,
                               title: str | None = None, height: int = 380) -> go.Figure:
    """Distribution of ``weight * B`` per group in ``windows`` consecutive step windows (violins or histograms).

    Each (group, window) keeps at most ``max_points`` values, drawn with ``seed`` (so the browser stays fast on
    long runs); the trace's ``meta`` holds the group and window so tests can match it to the History.
    """
    groups = check_groups(groups, history)
    check_choice("kind", kind, ["violin", "histogram"])
    max_points = check_int("max_points", max_points, 1)
    rng = np.random.default_rng(seed)
    spans = step_windows(history, windows)
    scaled = history.weights * history.batch_size
    labels = [f"steps {history.steps[a]}-{history.steps[b - 1]}" for a, b in spans]
    if kind == "histogram":
        fig = make_subplots(rows=1, cols=len(spans), shared_yaxes=True, subplot_titles=labels)
    else:
        fig = go.Figure()
    for g in groups:
        mask = history.group_mask(g)
        for j, (a, b) in enumerate(spans):
            vals = scaled[a:b][mask[a:b]]
            if len(vals) > max_points:
                vals = np.sort(rng.choice(vals, size=max_points, replace=False))
            meta = {"group": g, "window": [int(history.steps[a]), int(history.steps[b - 1])]}
            if kind == "violin":
                fig.add_trace(go.Violin(x=[labels[j]] * len(vals), y=vals, name=GROUP_LABELS[g], legendgroup=g,
                                        showlegend=j == 0, line_color=GROUP_COLORS[g], box_visible=True,
                                        meanline_visible=True, points=False, spanmode="hard", scalemode="width",
                                        meta=meta))
            else:
                fig.add_trace(go.Histogram(x=vals, name=GROUP_LABELS[g], legendgroup=g, showlegend=j == 0,
                                           marker_color=GROUP_COLORS[g], opacity=0.6, histnorm="probability",
                                           nbinsx=30, meta=meta), row=1, col=j + 1)
    if kind == "violin":
        fig.update_layout(violinmode="group", yaxis_title="weight x batch size", xaxis_title="training window")
    else:
        fig.update_layout(barmode="overlay", yaxis_title="share of examples")
        fig.update_xaxes(title_text="weight x B")
    fig.update_layout(template=TEMPLATE, height=height,
                      title=title or f"How the weights are distributed ({history.meta.get('method', '')})",
                      legend=dict(orientation="h", y=1.02, yanchor="bottom", x=1, xanchor="right"),
                      margin=dict(l=60, r=20, t=80, b=50))
    return fig


def weight_by_label_figure(history: History, class_names: Sequence[str] | None = None, title: str | None = None,
                           height: int = 380, width: int | None = 460) -> go.Figure:
    """Heatmap of :meth:`History.mean_weight_by_labels`: rows the true class, columns the label the example
    carries, colour the mean learned weight x B on a scale from 0 (red: no weight, white = 1, uniform training,
    blue: more), text the weight and how many
    training images have that pair. Clean examples sit on the diagonal, flipped ones off it."""
    means, counts = history.mean_weight_by_labels()
    c = len(means)
    names = [str(k) for k in (class_names if class_names is not None else range(c))]
    if len(names) != c:
        raise ValueError(f"class_names has {len(names)} names; allowed: {c} (one per class)")
    text = [[(f"{means[i, j]:.2f}" if np.isfinite(means[i, j]) else "-") + f"<br>{counts[i, j]} img"
             for j in range(c)] for i in range(c)]
    # the scale starts at 0 (no weight at all) and keeps 1 (uniform) white in the middle of a symmetric range
    top = max(2.0, float(np.nanmax(means))) if np.isfinite(means).any() else 2.0
    scale = [[0.0, "#b2182b"], [1.0 / top, "#f7f7f7"], [1.0, "#2166ac"]]   # red 0, white 1 (uniform), blue high
    fig = go.Figure(go.Heatmap(z=means, x=names, y=names, text=text, texttemplate="%{text}", colorscale=scale,
                               zmin=0.0, zmax=top, colorbar=dict(title="weight x B"),
                               hovertemplate="true %{y}, labelled %{x}<br>mean weight x B %{z:.2f}<extra></extra>"))
    fig.update_layout(template=TEMPLATE, height=height, width=width,
                      title=title or "Mean learned weight by true class and given label",
                      xaxis_title="label given", yaxis_title="true class", margin=dict(l=60, r=20, t=60, b=50))
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(type="category")
    return fig
