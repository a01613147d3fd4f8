"""The "why this weight" figure: an example's training gradient against the clean validation gradient, whose dot product
decides its L2RW weight (paper Eq. 12); from a batch's gradient similarities to a plotly Figure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..checks import check_int
from .style import GROUP_COLORS, GROUP_LABELS, TEMPLATE

# The arrays a similarity must hold, and the names they may have: a dict's keys, or the attributes of
# l2rw_viz.reweight.GradientSimilarity (which calls the norm ``grad_norm``).
_SIM_KEYS = {"dot": ("dot",), "norm": ("norm", "grad_norm"), "cosine": ("cosine",)}


def similarity_arrays(similarity: Any) -> dict[str, np.ndarray]:
    """``{"dot", "norm", "cosine"}`` as ``(b,)`` float64 arrays from a dict with those keys or an object with those
    attributes (e.g. the result of ``l2rw_viz.reweight.gradient_similarity``, whose norm is ``grad_norm``)."""
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
            hover = "example %{customdata}<br>|g|=%{x:.3g}<br>cos=%{y:.2f}<extra></extra>"
            fig.add_trace(go.Scatter(x=s["norm"][m], y=s["cosine"][m], mode="markers", name=GROUP_LABELS[g],
                                     customdata=np.flatnonzero(m), hovertemplate=hover,
                                     marker=dict(color=GROUP_COLORS[g], size=8, opacity=0.7)),
                          row=1, col=1)
    fig.add_trace(go.Scatter(x=[s["norm"][example]], y=[s["cosine"][example]], mode="markers",
                             name=f"example {example}",
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


def explain_weight_figure(model: Any, x: Any, y: Any, x_val: Any, y_val: Any, example: int,
                          is_noisy: np.ndarray | None = None, **kwargs: Any) -> go.Figure:
    """:func:`why_this_weight_figure` for a batch ``(x, y)`` (``(b, *F)``, ``(b,)``) and the clean validation set,
    computing the per-example gradient agreement with ``l2rw_viz.reweight.gradient_similarity``."""
    from ..reweight import gradient_similarity

    return why_this_weight_figure(gradient_similarity(model, x, y, x_val, y_val), example, is_noisy=is_noisy,
                                  **kwargs)
