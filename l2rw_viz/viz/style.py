"""The one look of every figure: template, group colours and labels, the weight colour scale, how a training
point is drawn (size, colour, symbol, outline) and the toy panel's layout.

Every figure module, widget and export draws with these names, so a lecture never has to re-explain a legend:
flipped labels are red, clean ones blue, the minority class orange, the majority grey, in every view.
Weights are shown as ``weight * B`` (``B`` the batch size), so 1.0 is what uniform training gives every example.
"""

from __future__ import annotations

import numpy as np

from .boundary import grid_bounds

TEMPLATE = "plotly_white"
GROUPS = ("noisy", "clean", "minority", "majority")
# One colour per group everywhere (figures, widgets, export), so a lecture never has to re-explain a legend.
GROUP_COLORS = {"noisy": "#d62728", "clean": "#1f77b4", "minority": "#ff7f0e", "majority": "#7f7f7f"}
GROUP_LABELS = {"noisy": "flipped labels", "clean": "clean labels", "minority": "minority class",
                "majority": "majority class"}
# Colour scale of ``weight * B`` on points: dark purple for low weights, yellow for high ones.
WEIGHT_COLORSCALE = "Viridis"


def rgba(hex_color: str, alpha: float) -> str:
    """``"#rrggbb"`` and an opacity in ``[0, 1]`` as a plotly ``"rgba(r,g,b,alpha)"`` string (e.g. a band's fill)."""
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def marker_sizes(weights: np.ndarray, base: float = 4.0, scale: float = 5.0, max_size: float = 22.0) -> np.ndarray:
    """Marker diameter (px) for ``weight * B`` values: area grows with the weight, weight 0 is a small dot."""
    w = np.clip(np.nan_to_num(np.asarray(weights, dtype=np.float64), nan=1.0), 0.0, None)
    return np.minimum(base + scale * np.sqrt(w), max_size)


def point_style(is_noisy: np.ndarray, is_minority: np.ndarray, y: np.ndarray) -> dict:
    """Marker ``symbol`` and outline ``line`` per training point, ``(n,)`` arrays each: the symbol shows the
    observed label (circle: 0, triangle: 1), the outline the point's bias (red: flipped label, orange: minority
    class, thin white: neither). Spread into a plotly ``marker`` dict."""
    symbols = np.where(np.asarray(y) == 0, "circle", "triangle-up")
    outline = np.where(is_noisy, GROUP_COLORS["noisy"], np.where(is_minority, GROUP_COLORS["minority"], "white"))
    width = np.where(is_noisy | is_minority, 2.0, 0.5)
    return dict(symbol=symbols, line=dict(color=outline, width=width))


def example_colors(is_noisy: np.ndarray, is_minority: np.ndarray) -> np.ndarray:
    """``(n,)`` colour per training example by its bias: flipped label red, else minority orange, else clean blue
    (the strip view of runs without 2-D inputs, e.g. MNIST)."""
    return np.where(is_noisy, GROUP_COLORS["noisy"],
                    np.where(is_minority, GROUP_COLORS["minority"], GROUP_COLORS["clean"]))


def toy_layout(fig, x: np.ndarray, title: str, width: int | None, height: int) -> None:
    """Lay out a one-panel toy figure in place: template, title, size (px), legend below, and equal-scale axes
    fitted to the ``(n, 2)`` inputs ``x`` (:func:`~l2rw_viz.viz.boundary.grid_bounds`), without grid lines."""
    x0, x1, y0, y1 = grid_bounds(x)
    fig.update_layout(template=TEMPLATE, title=title, width=width, height=height,
                      margin=dict(l=40, r=20, t=60, b=70),
                      legend=dict(orientation="h", y=-0.08, yanchor="top", x=0.5, xanchor="center"))
    fig.update_xaxes(range=[x0, x1], showgrid=False, zeroline=False, constrain="domain")
    fig.update_yaxes(range=[y0, y1], showgrid=False, zeroline=False, scaleanchor="x", scaleratio=1,
                     constrain="domain")


def log_tick_values(values) -> list[float]:
    """Tick positions 1-2-5 per decade (..., 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, ...) covering the positive finite
    ``values`` (any array-like), one tick beyond each end at most (only 1 and 5 when that makes more than 10;
    only powers of ten, at most about 8, over many decades).
    On a log axis plotly labels the 2s and 5s between powers of ten with their leading digit only ("2" for 200);
    explicit ticks read in full."""
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v) & (v > 0)]
    if not len(v):
        return [1.0]
    lo, hi = v.min(), v.max()
    decades = range(int(np.floor(np.log10(lo))) - 1, int(np.ceil(np.log10(hi))) + 1)

    def covering(mantissas):
        ticks = [m * 10.0 ** e for e in decades for m in mantissas]
        below, above = [t for t in ticks if t <= lo], [t for t in ticks if t >= hi]
        start, stop = (below[-1] if below else ticks[0]), (above[0] if above else ticks[-1])
        return [float(f"{t:.3g}") for t in ticks if start <= t <= stop]

    chosen = covering((1, 2, 5))
    if len(chosen) > 10:   # four decades or more: 1 and 5 per decade are enough to read a value
        chosen = covering((1, 5))
    if len(chosen) > 14:   # many decades: powers of ten only, at most about 8 of them, both ends kept
        powers = covering((1,))
        chosen = powers[::int(np.ceil(len(powers) / 8))]
        chosen += [] if chosen[-1] == powers[-1] else [powers[-1]]
    return chosen


def full_log_axis(fig, axis: str, values, **where) -> None:
    """Make ``axis`` (``"x"`` or ``"y"``) of ``fig`` logarithmic with ticks that read in full (``200``, not
    ``2``): :func:`log_tick_values` of the plotted ``values``. ``where``: ``row``/``col`` of a subplot."""
    if axis not in ("x", "y"):
        raise ValueError(f"axis={axis!r} is not allowed; allowed: 'x', 'y'")
    ticks = log_tick_values(values)
    update = fig.update_xaxes if axis == "x" else fig.update_yaxes
    update(type="log", tickvals=ticks, ticktext=[f"{t:g}" for t in ticks], **where)
