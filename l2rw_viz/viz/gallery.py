"""The MNIST gallery: the training images L2RW weighs most and least, with the label each carries and its true
class (``History`` + images -> plotly Figure)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..checks import check_int
from ..history import History
from .style import TEMPLATE
from .weights import weight_ranking


def gallery_figure(history: History, x: Any, k: int = 8, class_names: Sequence[str] | None = None,
                   title: str | None = None, height: int = 360, seed: int = 0) -> go.Figure:
    """The ``k`` highest- and ``k`` lowest-weighted training images, labelled "seen <observed> / true <clean>".

    Args:
        x: ``(n, 28, 28)``, ``(n, 1, 28, 28)`` or ``(n, 784)`` the run's training images (``dataset.x``; numpy or
            torch, any scale — each image is shown on its own min-max scale).
        class_names: display name per label (``dataset.class_names``), e.g. ``["4", "9"]``.
        seed: which sample the bottom row shows when more than ``k`` images share the lowest mean weight.
    Row 1 holds the highest weights, row 2 the lowest; each panel's trace has ``meta={"index", "weight"}``.
    Ties have no order: when more than ``k`` images share the lowest mean weight (often weight 0, never used), the
    bottom row is a random sample of them (``seed``), its row label says so, and ``fig.layout.meta["tied_lowest"]``
    holds how many are tied (1 when the lowest weight is unique).
    """
    k = check_int("k", k, 1)
    imgs = _as_images(x, len(history.y))
    order, mean = weight_ranking(history)
    k = min(k, max(len(order) // 2, 1))
    top, bottom = order[:k], order[::-1][:k]
    tied = order[mean[order] == mean[order[-1]]]        # every image at the lowest mean weight
    if len(tied) > k:   # a tie-break by index would pick arbitrary images: sample them, and say so
        bottom = np.sort(np.random.default_rng(check_int("seed", seed, 0)).choice(tied, size=k, replace=False))
    names = list(class_names) if class_names else [str(c) for c in range(int(history.y_clean.max()) + 1)]

    def caption(i):
        flag = " (flipped)" if history.is_noisy[i] else ""
        # class names are the caller's text: escaped, since plotly.js reads <...> in a title as its own markup
        seen, true = (html.escape(str(names[c]), quote=False) for c in (history.y[i], history.y_clean[i]))
        return f"w={mean[i]:.2f}<br>seen {seen} / true {true}{flag}"

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
    low_label = (f"lowest<br><span style='font-size:10px'>{k} of {len(tied)}<br>tied at {mean[tied[0]]:.2f},<br>"
                 "at random</span>" if len(tied) > k else "lowest")
    fig.add_annotation(text=low_label, x=-0.01, y=0.2, xref="paper", yref="paper", xanchor="right",
                       showarrow=False, font=dict(size=13), align="right")
    fig.update_layout(meta={"tied_lowest": int(len(tied))})
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
