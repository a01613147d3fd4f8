"""Export for slides: a History as a self-contained HTML animation (plotly.js inlined, works offline, no kernel).

Left: every training example's weight as of the frame's step (toy points at their 2-D position when ``x`` is
given, else a strip ordered by group). Right: the per-group mean-weight curves, revealed up to that step.
A plain ``go.Figure`` with ``frames`` + a slider + a play button: no widget, no Python needed to watch it.

Command line (wired to ``l2rw-viz export``)::

    python -m l2rw_viz.viz.export run.npz run.html --group noisy --frames 60
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..checks import check_choice, check_int
from ..command_errors import reported_errors
from ..history import History
from ..outputs import atomic_write, check_output_file
from .style import (
    GROUP_COLORS,
    GROUP_LABELS,
    GROUPS,
    TEMPLATE,
    WEIGHT_COLORSCALE,
    example_colors,
    marker_sizes,
    point_style,
)
from .weights import auto_groups, example_weights_at, frame_indices, moving_average


def animation_figure(history: History, x: Any = None, groups: Sequence[str] | str | None = "auto",
                     n_frames: int = 60, smooth: int = 5, mode: str = "mean", frame_ms: int = 150,
                     title: str | None = None, width: int = 1100, height: int = 520) -> go.Figure:
    """The animated figure :func:`export_html` writes (exposed so notebooks can show or tweak it).

    Args:
        history: the run; x: optional ``(n, 2)`` toy inputs; groups: ``"auto"``, one group name or a list.
        n_frames: evenly spaced recorded steps to animate; smooth: moving window of the curves; mode: see
            :func:`~l2rw_viz.viz.weights.example_weights_at`; frame_ms: milliseconds per frame when playing.
    Frame ``f`` is named by its training step; its data are ``[points, curve per group...]``.
    """
    n_frames = check_int("n_frames", n_frames, 1)
    smooth = check_int("smooth", smooth, 1)
    frame_ms = check_int("frame_ms", frame_ms, 1)
    if isinstance(groups, str) and groups != "auto":
        groups = [groups]
    groups = auto_groups(history) if groups in (None, "auto") else [check_choice("group", g, GROUPS) for g in groups]
    frames_idx = frame_indices(history, n_frames)
    weights = example_weights_at(history, frames_idx, mode)
    n = len(history.y)
    steps = history.steps
    curves = {g: moving_average(history.mean_weight(g), smooth) for g in groups}
    if x is not None:
        x = x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)
        if x.shape != (n, 2):
            raise ValueError(f"x has shape {x.shape}; allowed: ({n}, 2) toy points, or None")
    toy = x is not None

    fig = make_subplots(rows=1, cols=2, column_widths=[0.5, 0.5], horizontal_spacing=0.1, subplot_titles=[
        "each example's weight" + (" (size and colour)" if toy else ""), "mean weight per group"])

    def points(f: int) -> go.Scatter | go.Scattergl:
        w = weights[f]
        if toy:
            return go.Scatter(x=x[:, 0], y=x[:, 1], mode="markers", name="examples", showlegend=False,
                              marker=dict(size=marker_sizes(w), color=w, cmin=0, cmax=3, colorscale=WEIGHT_COLORSCALE,
                                          showscale=True, colorbar=dict(title=dict(text="w x B"), x=0.44, len=0.8),
                                          **point_style(history.is_noisy, history.is_minority, history.y)))
        return go.Scatter(x=position, y=w, mode="markers", name="examples", showlegend=False,
                          marker=dict(size=4, color=strip_color, opacity=0.7))

    if not toy:
        order = np.lexsort((np.arange(n), ~history.is_minority, ~history.is_noisy))
        position = np.empty(n, dtype=np.int64)
        position[order] = np.arange(n)
        strip_color = example_colors(history.is_noisy, history.is_minority)

    def curve_traces(f: int) -> list[go.Scatter]:
        upto = frames_idx[f] + 1
        return [go.Scatter(x=steps[:upto], y=curves[g][:upto], mode="lines", name=GROUP_LABELS[g],
                           line=dict(color=GROUP_COLORS[g], width=2.5), meta={"group": g}) for g in groups]

    fig.add_trace(points(0), row=1, col=1)
    for tr in curve_traces(0):
        fig.add_trace(tr, row=1, col=2)
    trace_ids = list(range(1 + len(groups)))
    fig.frames = [go.Frame(name=str(int(steps[fi])), data=[points(f)] + curve_traces(f), traces=trace_ids)
                  for f, fi in enumerate(frames_idx)]

    finite = np.concatenate([c[np.isfinite(c)] for c in curves.values()] + [np.array([1.0])])
    fig.update_xaxes(range=[float(steps[0]), float(steps[-1]) + 1], title_text="training step", row=1, col=2)
    fig.update_yaxes(range=[0, max(2.0, float(finite.max()) * 1.1)], title_text="weight x batch size", row=1, col=2)
    if toy:
        fig.update_yaxes(scaleanchor="x", scaleratio=1, row=1, col=1)
    else:
        fig.update_xaxes(title_text="examples (flipped / minority first)", row=1, col=1)
        top = max(3.0, float(np.percentile(weights, 99.5)) * 1.05)
        fig.update_yaxes(title_text="weight x batch size", range=[0, top],
                         row=1, col=1)
    fig.add_hline(y=1.0, line=dict(dash="dot", color="#444", width=1), row=1, col=2)
    play = dict(frame=dict(duration=frame_ms, redraw=True), transition=dict(duration=0), fromcurrent=True,
                mode="immediate")
    fig.update_layout(
        template=TEMPLATE, width=width, height=height, margin=dict(l=60, r=30, t=80, b=110),
        title=title or f"{history.meta.get('method', 'run')}: how the learned weights evolve",
        legend=dict(orientation="h", y=1.08, yanchor="bottom", x=1, xanchor="right"),
        updatemenus=[dict(type="buttons", direction="left", x=0.0, y=-0.13, xanchor="left", yanchor="top",
                          showactive=False, buttons=[
                              dict(label="▶ play", method="animate", args=[None, play]),
                              dict(label="❚❚ pause", method="animate",
                                   args=[[None], dict(frame=dict(duration=0, redraw=False), mode="immediate")])])],
        sliders=[dict(active=0, x=0.15, y=-0.1, len=0.85, xanchor="left", yanchor="top",
                      currentvalue=dict(prefix="step "),
                      steps=[dict(label=fr.name, method="animate",
                                  args=[[fr.name], dict(frame=dict(duration=0, redraw=True), mode="immediate",
                                                        transition=dict(duration=0))]) for fr in fig.frames])])
    return fig


# Written into the <head> of every export: an existing file that carries it is an earlier export (replaced freely);
# any other file is replaced only with force (``--force``).
EXPORT_MARKER = '<meta name="generator" content="l2rw-viz export">'


def is_export(path: str | Path) -> bool:
    """Whether ``path`` is an HTML animation written by :func:`export_html` (its marker in the first 4 KB)."""
    try:
        with open(path, "rb") as f:
            return EXPORT_MARKER.encode() in f.read(4096)
    except OSError:
        return False


def export_html(history: History | str | Path, path: str | Path, x: Any = None,
                groups: Sequence[str] | str | None = "auto", n_frames: int = 60, smooth: int = 5, mode: str = "mean",
                frame_ms: int = 150, title: str | None = None, force: bool = False) -> Path:
    """Write ``history`` (or a saved ``.npz``) as a self-contained HTML animation to ``path``; returns the path.

    The file inlines plotly.js (``include_plotlyjs=True``, about 5 MB), so it plays offline in any browser with
    no kernel: good for slides. It is written atomically (a failure leaves no half file). ``path`` may not be the
    History file itself, and an existing file that is not an earlier export is refused (``ValueError``) unless
    ``force``. Other arguments as in :func:`animation_figure`.
    """
    inputs = [] if isinstance(history, History) else [history]
    check_output_file(path, "path", inputs=inputs, is_ours=is_export, kind="an HTML export of l2rw-viz",
                      force=force)
    if not isinstance(history, History):
        history = History.load(history)
    fig = animation_figure(history, x=x, groups=groups, n_frames=n_frames, smooth=smooth, mode=mode,
                           frame_ms=frame_ms, title=title)
    page = fig.to_html(include_plotlyjs=True, full_html=True, auto_play=False)
    page = page.replace("<head>", "<head>" + EXPORT_MARKER, 1)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, page)


def main(argv: Sequence[str] | None = None) -> int:
    """``HISTORY.npz OUT.html [--group noisy|clean|minority|majority ...] [--frames N] [--smooth K] [--mode
    mean|last] [--frame-ms MS] [--title T]``: write the HTML animation; returns the exit status (0)."""
    parser = argparse.ArgumentParser(prog="l2rw-viz export", description="Write a saved History as a "
                                     "self-contained HTML animation of the learned weights (works offline).")
    parser.add_argument("history", help="a History saved with History.save (.npz)")
    parser.add_argument("out", help="output .html file")
    parser.add_argument("--group", action="append", choices=list(GROUPS), default=None,
                        help="group(s) to draw (repeatable); default: the groups present in the run")
    parser.add_argument("--frames", type=int, default=60, help="number of animation frames (default 60)")
    parser.add_argument("--smooth", type=int, default=5, help="moving-average window of the curves, in steps")
    parser.add_argument("--mode", choices=["mean", "last"], default="mean",
                        help="point weight: mean so far (default) or at the last draw")
    parser.add_argument("--frame-ms", type=int, default=150, help="milliseconds per frame when playing")
    parser.add_argument("--title", default=None)
    parser.add_argument("--force", action="store_true",
                        help="replace an existing OUT that is not an earlier export (never the HISTORY file itself)")
    args = parser.parse_args(argv)
    src = Path(args.history)
    if not src.is_file():
        parser.error(f"HISTORY {src} does not exist")
    with reported_errors("l2rw-viz export", path=args.out):
        # the options by their command-line names, and OUT, before any work
        check_int("--frames", args.frames, 1)
        check_int("--smooth", args.smooth, 1)
        check_int("--frame-ms", args.frame_ms, 1)
        check_output_file(args.out, "OUT", inputs=[src], is_ours=is_export, kind="an HTML export of l2rw-viz",
                          force=args.force)
        out = export_html(src, args.out, groups=args.group or "auto", n_frames=args.frames, smooth=args.smooth,
                          mode=args.mode, frame_ms=args.frame_ms, title=args.title, force=args.force)
        print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
