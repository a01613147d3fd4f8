"""The experiments' results tables (one row per run, from ``l2rw-viz sweep`` or the shipped results) as the
paper's comparisons: test error versus class imbalance (Fig. 8) and test accuracy under label noise."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.colors import qualitative

from .style import TEMPLATE

# The columns of an experiments' results table (one row per run), listed when a table lacks what a figure reads.
RESULT_COLUMNS = ("experiment", "method", "setting_name", "setting_value", "seed", "test_error", "test_accuracy")


def summarise_results(results: Any, metric: str = "test_error", setting_name: str | None = None):
    """Mean, std and count of ``metric`` over seeds per (method, setting_value): a tidy pandas DataFrame
    (:func:`l2rw_viz.experiments.summarize` on a figure's terms: a CSV path allowed, std 0 for one seed).

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
    # one summariser: the experiments' (a run counted once; a method's non-default settings get their own row)
    from ..experiments import summarize

    out = summarize(df, by=("method", "setting_value"), value=metric)
    out["std"] = out["std"].fillna(0.0)
    return out


def error_vs_proportion_figure(results: Any, percent: bool = True, title: str | None = None,
                               height: int = 420, highlight: Sequence[str] = ("l2rw",),
                               shown: Sequence[str] | None = None) -> go.Figure:
    """The paper's Fig. 8: test error versus the majority proportion, one line per method, error bars = std over
    seeds. Reads rows with ``setting_name == "proportion"`` (all rows if the column is absent).

    Every method has its own colour (up to 24 methods; plotly's default cycle repeats after 10), and the methods in
    ``highlight`` are drawn black and thick, on top. ``shown``: the methods drawn at first; the others start hidden
    (a click on their legend entry shows them). ``None`` shows every method. Names in ``shown`` that are not in the
    table are ignored (a smoke run may hold only a few methods).
    """
    import pandas as pd

    df = pd.read_csv(results) if not isinstance(results, pd.DataFrame) else results
    name = "proportion" if "setting_name" in df.columns else None
    s = summarise_results(df, "test_error", name)
    k = 100.0 if percent else 1.0
    fig = go.Figure()
    methods = sorted(s["method"].unique(), key=lambda m: (m in highlight, str(m)))   # highlighted last: on top

    def drawn(m) -> bool:
        return m in highlight or shown is None or m in shown

    # the methods drawn at first take the first (most distinct) colours; Dark24's near-black is left to highlight
    palette = [c for c in qualitative.Dark24 if c.upper() != "#222A2A"]
    others = sorted((m for m in methods if m not in highlight), key=lambda m: not drawn(m))   # stable: drawn first
    colour_of = {m: palette[i % len(palette)] for i, m in enumerate(others)}
    for method in methods:
        part = s[s["method"] == method].sort_values("setting_value")
        bold = method in highlight
        colour = "black" if bold else colour_of[method]
        fig.add_trace(go.Scatter(x=part["setting_value"], y=k * part["mean"], name=method, mode="lines+markers",
                                 line=dict(color=colour, width=4 if bold else 2), marker=dict(size=9 if bold else 6),
                                 visible=True if drawn(method) else "legendonly",
                                 error_y=dict(type="data", array=k * part["std"], visible=True),
                                 customdata=part["count"], meta={"method": method},
                                 hovertemplate="proportion %{x}<br>error %{y:.1f}<br>seeds %{customdata}<extra>"
                                 + str(method) + "</extra>"))
    hidden = sum(t.visible == "legendonly" for t in fig.data)
    fig.update_layout(template=TEMPLATE, height=height, title=title or "Test error vs class imbalance (paper Fig. 8)",
                      xaxis_title="proportion of the majority class",
                      yaxis_title="test error" + (" (%)" if percent else ""),
                      legend_title_text=f"{hidden} hidden: click to show" if hidden else None,
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
