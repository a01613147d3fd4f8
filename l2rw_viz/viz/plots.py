"""Figures: ``History -> plotly Figure``. Nothing here trains; every number drawn comes from a History (or from
arrays the caller passes, such as images or a results table).

Weights are shown as ``weight * B`` (``B`` the batch size), so 1.0 is what uniform training gives every example.
The paper's story (Ren et al., 2018, Sec. 4 and Fig. 2/6) reads directly off these figures: examples with flipped
labels fall below 1, examples of the minority class rise above it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..checks import check_choice, check_int
from ..history import History

GROUPS = ("noisy", "clean", "minority", "majority")
# One colour per group everywhere (figures, widgets, export), so a lecture never has to re-explain a legend.
GROUP_COLORS = {"noisy": "#d62728", "clean": "#1f77b4", "minority": "#ff7f0e", "majority": "#7f7f7f"}
GROUP_LABELS = {"noisy": "flipped labels", "clean": "clean labels", "minority": "minority class",
                "majority": "majority class"}
WEIGHT_COLORSCALE = "Viridis"
TEMPLATE = "plotly_white"


# ----------------------------------------------------------------------------------------------------------------
# Numbers behind the figures (public so that tests and notebooks can check them)

def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average of a ``(R,)`` float array that ignores NaNs; ``window=1`` returns a copy.

    Each output is the mean of the non-NaN values among the ``window`` neighbours (NaN if there are none), so a
    step whose batch held no example of a group does not drag the curve to zero.
    """
    window = check_int("window", window, 1)
    v = np.asarray(values, dtype=np.float64)
    if window == 1 or len(v) == 0:
        return v.copy()
    ok = np.isfinite(v)
    kernel = np.ones(window)
    total = np.convolve(np.where(ok, v, 0.0), kernel, mode="same")
    count = np.convolve(ok.astype(np.float64), kernel, mode="same")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def weight_quantiles(history: History, group: str, q: Sequence[float] = (0.25, 0.75)) -> np.ndarray:
    """``(len(q), R)`` quantiles of ``weight * B`` over the batch entries in ``group`` at each recorded step (NaN
    where the batch held none) — the spread band around :meth:`History.mean_weight`."""
    mask = history.group_mask(group)
    scaled = np.where(mask, history.weights * history.batch_size, np.nan)
    out = np.full((len(q), len(scaled)), np.nan)
    rows = mask.any(axis=1)
    if rows.any():
        out[:, rows] = np.nanquantile(scaled[rows], q, axis=1)
    return out


def auto_groups(history: History) -> list[str]:
    """The groups worth drawing for this run: noisy/clean if any label is flipped, minority/majority if one class
    really is a minority (fewer than half the examples); clean/majority alone are never informative."""
    groups: list[str] = []
    if history.is_noisy.any():
        groups += ["noisy", "clean"]
    if 0 < history.is_minority.mean() < 0.5:
        groups += ["minority", "majority"]
    return groups or ["clean"]


def _check_groups(groups: Sequence[str] | str | None, history: History) -> list[str]:
    if groups is None or groups == "auto":
        return auto_groups(history)
    if isinstance(groups, str):
        groups = [groups]
    for g in groups:
        check_choice("groups", g, GROUPS)
    return list(groups)


def example_weights_at(history: History, frames: Sequence[int] | np.ndarray, mode: str = "last",
                       default: float = 1.0) -> np.ndarray:
    """``(F, n)`` float32 each training example's weight (``* B``) as of recorded step ``frames[f]`` (inclusive).

    Args:
        frames: increasing indices into the recorded steps (``0..R-1``), e.g. ``np.linspace(0, R-1, 60)``.
        mode: ``"last"``: the weight the example got the last time it was drawn; ``"mean"``: the mean of all
            its weights so far (smoother, what :meth:`History.example_mean_weight` gives at the end).
        default: the value shown for an example not drawn yet (1.0: the uniform weight).

    One pass over the History, ``O(R * B + F * n)``: cheap enough to precompute every frame of an animation.
    """
    check_choice("mode", mode, ["last", "mean"])
    frames = np.asarray(frames, dtype=np.int64)
    r = len(history.steps)
    if len(frames) and (frames.min() < 0 or frames.max() >= r or np.any(np.diff(frames) < 0)):
        raise ValueError(f"frames={frames.tolist()[:5]}... is not allowed; allowed: increasing indices in [0, {r - 1}]")
    n = len(history.y)
    scaled = history.weights.astype(np.float64) * history.batch_size
    out = np.empty((len(frames), n), dtype=np.float32)
    last = np.full(n, default)
    total = np.zeros(n)
    count = np.zeros(n)
    done = 0
    for f, upto in enumerate(frames):
        for row in range(done, upto + 1):
            idx = history.indices[row]
            last[idx] = scaled[row]
            np.add.at(total, idx, scaled[row])
            np.add.at(count, idx, 1.0)
        done = upto + 1
        if mode == "last":
            out[f] = last
        else:
            out[f] = np.where(count > 0, total / np.maximum(count, 1), default)
    return out


def frame_indices(history: History, n_frames: int) -> np.ndarray:
    """``(F,)`` up to ``n_frames`` evenly spaced recorded-step indices, always ending at the last one."""
    n_frames = check_int("n_frames", n_frames, 1)
    r = len(history.steps)
    if r == 0:
        raise ValueError("history has no recorded steps; allowed: a History with at least one step")
    return np.unique(np.linspace(0, r - 1, min(n_frames, r)).round().astype(np.int64))


def marker_sizes(weights: np.ndarray, base: float = 4.0, scale: float = 5.0, max_size: float = 22.0) -> np.ndarray:
    """Marker diameter (px) for ``weight * B`` values: area grows with the weight, weight 0 is a small dot."""
    w = np.clip(np.nan_to_num(np.asarray(weights, dtype=np.float64), nan=1.0), 0.0, None)
    return np.minimum(base + scale * np.sqrt(w), max_size)


# ----------------------------------------------------------------------------------------------------------------
# Weight trajectories and distributions

def weight_trajectory_figure(history: History, groups: Sequence[str] | str | None = "auto", smooth: int = 1,
                             spread: bool = True, title: str | None = None, height: int = 380) -> go.Figure:
    """Mean learned weight (``* B``) per group over training, with its interquartile band.

    One line per group (``History.mean_weight``), smoothed by a centred moving window of ``smooth`` recorded
    steps; the dotted line at 1 is uniform training. Trace ``i`` (mean) carries ``meta={"group": g}``.
    """
    groups = _check_groups(groups, history)
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
                                     fillcolor=_rgba(color, 0.15), hoverinfo="skip", showlegend=False,
                                     meta={"group": g, "band": "q25"}))
        fig.add_trace(go.Scatter(x=steps, y=mean, mode="lines", name=GROUP_LABELS[g], line=dict(color=color, width=2.5),
                                 meta={"group": g}, hovertemplate="step %{x}<br>mean weight x B %{y:.2f}<extra>"
                                 + GROUP_LABELS[g] + "</extra>"))
    fig.add_hline(y=1.0, line=dict(dash="dot", color="#444", width=1),
                  annotation_text="uniform", annotation_position="top left")
    method = history.meta.get("method", "")
    fig.update_layout(template=TEMPLATE, height=height, title=title or f"Learned weight per group ({method})",
                      xaxis_title="training step", yaxis_title="weight x batch size",
                      legend=dict(orientation="h", y=-0.18, yanchor="top", x=0.5, xanchor="center"),
                      margin=dict(l=60, r=20, t=60, b=90))
    return fig


def step_windows(history: History, windows: int) -> list[tuple[int, int]]:
    """Split the recorded steps into ``windows`` consecutive ``(start_row, stop_row)`` ranges of equal length."""
    windows = check_int("windows", windows, 1)
    edges = np.linspace(0, len(history.steps), min(windows, max(len(history.steps), 1)) + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def weight_distribution_figure(history: History, groups: Sequence[str] | str | None = "auto", windows: int = 4,
                               kind: str = "violin", max_points: int = 3000, seed: int = 0,
                               title: str | None = None, height: int = 380) -> go.Figure:
    """Distribution of ``weight * B`` per group in ``windows`` consecutive step windows (violins or histograms).

    Each (group, window) keeps at most ``max_points`` values, drawn with ``seed`` (so the browser stays fast on
    long runs); the trace's ``meta`` holds the group and window so tests can match it to the History.
    """
    groups = _check_groups(groups, history)
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


# ----------------------------------------------------------------------------------------------------------------
# Toy 2-D: points sized/coloured by weight, with the decision boundary

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


def _point_style(is_noisy: np.ndarray, is_minority: np.ndarray, y: np.ndarray) -> dict:
    """Per-point marker symbol (observed label) and outline (red: flipped label, orange: minority class)."""
    symbols = np.where(np.asarray(y) == 0, "circle", "triangle-up")
    outline = np.where(is_noisy, GROUP_COLORS["noisy"], np.where(is_minority, GROUP_COLORS["minority"], "white"))
    width = np.where(is_noisy | is_minority, 2.0, 0.5)
    return dict(symbol=symbols, line=dict(color=outline, width=width))


def add_toy_traces(fig: go.Figure, x: np.ndarray, history: History, weights: np.ndarray,
                   boundary: BoundaryGrid | None = None, row: int | None = None, col: int | None = None,
                   cmax: float = 3.0, showscale: bool = True, gl: bool | None = None) -> None:
    """Add the toy panel's traces to ``fig``: boundary (filled ``P(y=1)`` contour + the 0.5 line), if given, then
    the points (``Scattergl`` above 1,000 points, or when ``gl``) sized and coloured by ``weights``.

    Trace names: ``"P(y=1)"``, ``"boundary"``, ``"examples"``; the points trace's ``customdata`` holds each point's
    dataset index. Legend-only traces explain the outlines.
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
    style = _point_style(history.is_noisy, history.is_minority, history.y)
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


def toy_weights_figure(x: np.ndarray, history: History, frame: int = -1, boundary: BoundaryGrid | None = None,
                       mode: str = "mean", title: str | None = None, width: int | None = None,
                       height: int = 450) -> go.Figure:
    """Toy 2-D data: each training point sized and coloured by its weight as of recorded step ``frame`` (``-1``:
    the end), flipped labels ringed red, minority points ringed orange, the decision boundary drawn if given.

    Args:
        x: ``(n, 2)`` the training inputs of the run (``dataset.x``); the History does not store inputs.
        frame: index into the recorded steps. mode: see :func:`example_weights_at`.
        boundary: the model's boundary grid (from :func:`boundary_grid` or a :class:`~l2rw_viz.viz.live.ToyRun`).
    """
    r = len(history.steps)
    frame = check_int("frame", frame if frame >= 0 else r + frame, 0, r - 1)
    weights = example_weights_at(history, [frame], mode)[0]
    fig = go.Figure()
    add_toy_traces(fig, x, history, weights, boundary)
    _toy_layout(fig, x, title or f"{history.meta.get('method', '')}: weights at step {history.steps[frame]}",
                width, height)
    return fig


def _toy_layout(fig: go.Figure, x: np.ndarray, title: str, width: int | None, height: int) -> None:
    x0, x1, y0, y1 = grid_bounds(x)
    fig.update_layout(template=TEMPLATE, title=title, width=width, height=height,
                      margin=dict(l=40, r=20, t=60, b=70),
                      legend=dict(orientation="h", y=-0.08, yanchor="top", x=0.5, xanchor="center"))
    fig.update_xaxes(range=[x0, x1], showgrid=False, zeroline=False, constrain="domain")
    fig.update_yaxes(range=[y0, y1], showgrid=False, zeroline=False, scaleanchor="x", scaleratio=1,
                     constrain="domain")


def toy_comparison_figure(x: np.ndarray, runs: Mapping[str, tuple[History, BoundaryGrid | None]], mode: str = "mean",
                          title: str | None = None, height: int = 430, width: int | None = None) -> go.Figure:
    """Several methods on the same toy data side by side: one panel per ``name -> (history, boundary)``, each
    with its final weights and decision boundary (e.g. L2RW beside plain training)."""
    if not runs:
        raise ValueError("runs is empty; allowed: a mapping name -> (History, BoundaryGrid or None)")
    names = list(runs)
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=[
        f"{n} (test acc {runs[n][0].final_test_accuracy:.0%})" for n in names], horizontal_spacing=0.04)
    for j, name in enumerate(names):
        history, boundary = runs[name]
        weights = example_weights_at(history, [len(history.steps) - 1], mode)[0]
        add_toy_traces(fig, x, history, weights, boundary, row=1, col=j + 1, showscale=j == len(names) - 1)
    x0, x1, y0, y1 = grid_bounds(x)
    fig.update_xaxes(range=[x0, x1], showgrid=False, zeroline=False)
    fig.update_yaxes(range=[y0, y1], showgrid=False, zeroline=False, showticklabels=False)
    fig.update_yaxes(showticklabels=True, col=1)
    fig.update_layout(template=TEMPLATE, height=height, width=width, title=title or "Same biased data, different methods",
                      margin=dict(l=40, r=20, t=80, b=40),
                      legend=dict(orientation="h", y=-0.05, yanchor="top", x=0.5, xanchor="center"))
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


# ----------------------------------------------------------------------------------------------------------------
# MNIST gallery

def weight_ranking(history: History) -> tuple[np.ndarray, np.ndarray]:
    """``(order, mean_weight)``: indices of the examples drawn at least once, sorted by their mean weight (``* B``)
    from highest to lowest (ties broken by index, so the order is reproducible), and every example's mean."""
    mean = history.example_mean_weight()
    seen = np.flatnonzero(np.isfinite(mean))
    order = seen[np.lexsort((seen, -mean[seen]))]
    return order, mean


def gallery_figure(history: History, x: Any, k: int = 8, class_names: Sequence[str] | None = None,
                   title: str | None = None, height: int = 360) -> go.Figure:
    """The ``k`` highest- and ``k`` lowest-weighted training images, labelled "seen <observed> / true <clean>".

    Args:
        x: ``(n, 28, 28)``, ``(n, 1, 28, 28)`` or ``(n, 784)`` the run's training images (``dataset.x``; numpy or
            torch, any scale — each image is shown on its own min-max scale).
        class_names: display name per label (``dataset.class_names``), e.g. ``["4", "9"]``.
    Row 1 holds the highest weights, row 2 the lowest; each panel's trace has ``meta={"index", "weight"}``.
    """
    k = check_int("k", k, 1)
    imgs = _as_images(x, len(history.y))
    order, mean = weight_ranking(history)
    k = min(k, max(len(order) // 2, 1))
    top, bottom = order[:k], order[::-1][:k]
    names = list(class_names) if class_names else [str(c) for c in range(int(history.y_clean.max()) + 1)]

    def caption(i):
        flag = " (flipped)" if history.is_noisy[i] else ""
        return f"w={mean[i]:.2f}<br>seen {names[history.y[i]]} / true {names[history.y_clean[i]]}{flag}"

    fig = make_subplots(rows=2, cols=k, subplot_titles=[caption(i) for i in top] + [caption(i) for i in bottom],
                        vertical_spacing=0.2, horizontal_spacing=0.01)
    for row, chosen in ((1, top), (2, bottom)):
        for j, i in enumerate(chosen):
            fig.add_trace(go.Heatmap(z=imgs[i][::-1], colorscale="Greys", showscale=False, hoverinfo="skip",
                                     meta={"index": int(i), "weight": float(mean[i])}), row=row, col=j + 1)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor="x", scaleratio=1)
    fig.update_annotations(font_size=10)
    fig.update_layout(template=TEMPLATE, height=height, margin=dict(l=90, r=10, t=80, b=10),
                      title=title or f"Highest (top row) and lowest (bottom row) mean weights "
                                     f"({history.meta.get('method', '')})")
    fig.add_annotation(text="highest", x=-0.01, y=0.8, xref="paper", yref="paper", xanchor="right",
                       showarrow=False, font=dict(size=13))
    fig.add_annotation(text="lowest", x=-0.01, y=0.2, xref="paper", yref="paper", xanchor="right",
                       showarrow=False, font=dict(size=13))
    return fig


def _as_images(x: Any, n: int) -> np.ndarray:
    a = x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)
    if len(a) != n:
        raise ValueError(f"x has {len(a)} images; allowed: the History's {n} training examples")
    if a.ndim == 2:
        side = int(round(np.sqrt(a.shape[1])))
        if side * side != a.shape[1]:
            raise ValueError(f"x has shape {a.shape}; allowed: (n, H*W) with a square image, (n, H, W), (n, 1, H, W)")
        a = a.reshape(n, side, side)
    elif a.ndim == 4 and a.shape[1] == 1:
        a = a[:, 0]
    elif a.ndim != 3:
        raise ValueError(f"x has shape {a.shape}; allowed: (n, H*W), (n, H, W) or (n, 1, H, W)")
    return a.astype(np.float32)


# ----------------------------------------------------------------------------------------------------------------
# "Why this weight": gradient agreement with the clean validation set

_SIM_KEYS = {"dot": ("dot", "dots", "dot_product"), "norm": ("norm", "norms", "grad_norm"),
             "cosine": ("cosine", "cosines", "cos")}


def similarity_arrays(similarity: Any) -> dict[str, np.ndarray]:
    """``{"dot", "norm", "cosine", "val_norm"?}`` as ``(b,)`` float arrays from a dict or an object with those
    attributes (e.g. the result of ``l2rw_viz.reweight.gradient_similarity``)."""
    out = {}
    for key, aliases in _SIM_KEYS.items():
        for a in aliases:
            v = similarity.get(a) if isinstance(similarity, Mapping) else getattr(similarity, a, None)
            if v is not None:
                out[key] = np.asarray(v.detach().cpu() if hasattr(v, "detach") else v, dtype=np.float64).ravel()
                break
        else:
            raise ValueError(f"similarity has no {key!r} entry; allowed: a dict or object with "
                             f"{', '.join(_SIM_KEYS)} arrays of equal length")
    lengths = {len(v) for v in out.values()}
    if len(lengths) != 1:
        raise ValueError(f"similarity arrays have lengths {sorted(lengths)}; allowed: equal lengths")
    return out


def why_this_weight_figure(similarity: Any, example: int, is_noisy: np.ndarray | None = None,
                           weights: np.ndarray | None = None, title: str | None = None,
                           height: int = 400) -> go.Figure:
    """Why an example gets its weight: its training gradient's agreement with the clean validation gradient.

    At ``eps = 0`` the L2RW weight is ``max(0, lr * <grad L_val, grad f_i>)`` before normalising (the identity in
    the paper's Eq. 12), so the sign of the dot product decides whether the example is learned from at all.

    Left: every example of the batch by gradient norm (x) and cosine with the validation gradient (y), flipped
    labels in red; the chosen one is ringed. Right: the chosen example's dot product against the batch's (bars),
    with the zero line below which L2RW gives weight 0. ``weights`` (``(b,)`` ``* B``), if given, colour the bars.
    """
    s = similarity_arrays(similarity)
    b = len(s["dot"])
    if weights is None:  # a GradientSimilarity carries the normalised L2RW weights; show them x B
        w = similarity.get("weights") if isinstance(similarity, Mapping) else getattr(similarity, "weights", None)
        if w is not None:
            weights = np.asarray(w.detach().cpu() if hasattr(w, "detach") else w, dtype=np.float64).ravel() * b
    example = check_int("example", example, 0, b - 1)
    noisy = np.zeros(b, bool) if is_noisy is None else np.asarray(is_noisy, bool)
    fig = make_subplots(rows=1, cols=2, column_widths=[0.55, 0.45], horizontal_spacing=0.12, subplot_titles=[
        "gradient norm vs agreement with validation", "dot product with the validation gradient"])
    for flag, g in ((False, "clean"), (True, "noisy")):
        m = noisy == flag
        if m.any():
            fig.add_trace(go.Scatter(x=s["norm"][m], y=s["cosine"][m], mode="markers", name=GROUP_LABELS[g],
                                     customdata=np.flatnonzero(m), marker=dict(color=GROUP_COLORS[g], size=8, opacity=0.7),
                                     hovertemplate="example %{customdata}<br>|g|=%{x:.3g}<br>cos=%{y:.2f}<extra></extra>"),
                          row=1, col=1)
    fig.add_trace(go.Scatter(x=[s["norm"][example]], y=[s["cosine"][example]], mode="markers", name=f"example {example}",
                             marker=dict(size=18, color="rgba(0,0,0,0)", line=dict(color="black", width=3))),
                  row=1, col=1)
    order = np.argsort(-s["dot"], kind="stable")
    colors = [("#000000" if i == example else GROUP_COLORS["noisy" if noisy[i] else "clean"]) for i in order]
    fig.add_trace(go.Bar(x=np.arange(b), y=s["dot"][order], customdata=order, marker_color=colors, name="dot product",
                         showlegend=False,
                         hovertemplate="example %{customdata}<br>dot=%{y:.3g}<extra></extra>"), row=1, col=2)
    fig.add_hline(y=0, line=dict(color="#444", width=1), row=1, col=2)
    fig.add_hline(y=0, line=dict(color="#444", width=1, dash="dot"), row=1, col=1)
    verdict = "up-weighted" if s["dot"][example] > 0 else "weight 0 (clipped)"
    wtext = f", weight x B {weights[example]:.2f}" if weights is not None else ""
    fig.update_xaxes(title_text="|grad f_i|", row=1, col=1)
    fig.update_yaxes(title_text="cosine with grad L_val", range=[-1.05, 1.05], row=1, col=1)
    fig.update_xaxes(title_text="batch examples, by dot product", showticklabels=False, row=1, col=2)
    fig.update_yaxes(title_text="<grad f_i, grad L_val>", row=1, col=2)
    fig.update_layout(template=TEMPLATE, height=height, margin=dict(l=60, r=20, t=90, b=50),
                      title=title or f"Why this weight: example {example} is {verdict} "
                                     f"(dot {s['dot'][example]:.3g}, cos {s['cosine'][example]:.2f}{wtext})",
                      legend=dict(orientation="h", y=-0.2, yanchor="top", x=0.25, xanchor="center"))
    return fig


# ----------------------------------------------------------------------------------------------------------------
# Comparison tables (from the experiments' results CSV)

RESULT_COLUMNS = ("experiment", "method", "setting_name", "setting_value", "seed", "test_error", "test_accuracy")


def summarise_results(results: Any, metric: str = "test_error", setting_name: str | None = None):
    """Mean, std and count of ``metric`` over seeds per (method, setting_value): a tidy pandas DataFrame.

    ``results``: a DataFrame or a CSV path with the experiments' columns (experiment, method, setting_name,
    setting_value, seed, test_error, test_accuracy, ...). ``setting_name`` keeps only those rows.
    """
    import pandas as pd

    df = pd.read_csv(results) if not isinstance(results, pd.DataFrame) else results
    missing = [c for c in ("method", "setting_value", "seed", metric) if c not in df.columns]
    if missing:
        raise ValueError(f"results lacks columns {missing}; allowed: a table with {', '.join(RESULT_COLUMNS)}")
    if setting_name is not None:
        df = df[df["setting_name"] == setting_name]
        if df.empty:
            raise ValueError(f"setting_name={setting_name!r} has no rows in results")
    g = df.groupby(["method", "setting_value"], sort=True)[metric]
    out = g.agg(["mean", "std", "count"]).reset_index()
    out["std"] = out["std"].fillna(0.0)
    return out


def error_vs_proportion_figure(results: Any, percent: bool = True, title: str | None = None,
                               height: int = 420) -> go.Figure:
    """The paper's Fig. 8: test error versus the majority proportion, one line per method, error bars = std over
    seeds. Reads rows with ``setting_name == "proportion"`` (all rows if the column is absent)."""
    import pandas as pd

    df = pd.read_csv(results) if not isinstance(results, pd.DataFrame) else results
    name = "proportion" if "setting_name" in df.columns else None
    s = summarise_results(df, "test_error", name)
    k = 100.0 if percent else 1.0
    fig = go.Figure()
    for method, part in s.groupby("method", sort=True):
        part = part.sort_values("setting_value")
        fig.add_trace(go.Scatter(x=part["setting_value"], y=k * part["mean"], name=method, mode="lines+markers",
                                 error_y=dict(type="data", array=k * part["std"], visible=True),
                                 customdata=part["count"], meta={"method": method},
                                 hovertemplate="proportion %{x}<br>error %{y:.1f}<br>seeds %{customdata}<extra>"
                                 + str(method) + "</extra>"))
    fig.update_layout(template=TEMPLATE, height=height, title=title or "Test error vs class imbalance (paper Fig. 8)",
                      xaxis_title="proportion of the majority class", yaxis_title="test error" + (" (%)" if percent else ""),
                      margin=dict(l=60, r=20, t=60, b=50))
    fig.update_xaxes(type="category")
    return fig


def noise_accuracy_figure(results: Any, setting_name: str | None = None, percent: bool = True,
                          title: str | None = None, height: int = 420) -> go.Figure:
    """Grouped bars: mean test accuracy per method for each noise setting (error bars = std over seeds).

    ``setting_name``: which rows to use (e.g. ``"noise_rate"``); ``None`` keeps every row whose setting is not
    ``"proportion"``."""
    import pandas as pd

    df = pd.read_csv(results) if not isinstance(results, pd.DataFrame) else results
    if setting_name is None and "setting_name" in df.columns:
        df = df[df["setting_name"] != "proportion"]
    s = summarise_results(df, "test_accuracy", setting_name)
    k = 100.0 if percent else 1.0
    fig = go.Figure()
    for method, part in s.groupby("method", sort=True):
        fig.add_trace(go.Bar(x=part["setting_value"].astype(str), y=k * part["mean"], name=method,
                             error_y=dict(type="data", array=k * part["std"], visible=True), meta={"method": method}))
    fig.update_layout(template=TEMPLATE, height=height, barmode="group",
                      title=title or "Test accuracy under label noise", xaxis_title=setting_name or "noise setting",
                      yaxis_title="test accuracy" + (" (%)" if percent else ""), margin=dict(l=60, r=20, t=60, b=50))
    return fig


def explain_weight_figure(model: Any, x: Any, y: Any, x_val: Any, y_val: Any, example: int,
                          is_noisy: np.ndarray | None = None, **kwargs: Any) -> go.Figure:
    """:func:`why_this_weight_figure` for a batch ``(x, y)`` (``(b, *F)``, ``(b,)``) and the clean validation set,
    computing the per-example gradient agreement with ``l2rw_viz.reweight.gradient_similarity``."""
    from ..reweight import gradient_similarity

    return why_this_weight_figure(gradient_similarity(model, x, y, x_val, y_val), example, is_noisy=is_noisy,
                                  **kwargs)


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"
