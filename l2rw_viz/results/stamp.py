"""A stamp on figures drawn from short runs: a figure never claims more than the data behind it.

A course figure is either drawn from the full experiment (the shipped results, or a full-length run) or from a
short run (smoke mode, ``L2RW_SMOKE=1``, or fewer steps than the experiment's). The second kind carries a large,
semi-transparent label on the figure itself, so a screenshot of it cannot be passed off as the result.

It lives with the results (whether data is the full result is theirs to say: :meth:`ResultSet.stamp
<l2rw_viz.results.course_data.ResultSet.stamp>`), below the figures; ``l2rw_viz.viz.stamp`` re-exports it.
"""

from __future__ import annotations

import plotly.graph_objects as go

from ..settings import smoke_mode

SMOKE_TEXT = "SMOKE RUN: not the result"
STAMP_NAME = "l2rw-short-run-stamp"  # the annotation's name, so tests (and a second call) can find it


def stamp_short_run(fig: go.Figure, text: str = SMOKE_TEXT) -> go.Figure:
    """Put ``text`` across ``fig`` (in place; also returned). Idempotent: a second call replaces the first stamp.

    Args:
        fig: a plotly ``Figure`` or ``FigureWidget``.
        text: what to say, e.g. ``"SHORT RUN (200 of 2,000 steps): not the result"``.
    """
    kept = [a for a in (fig.layout.annotations or ()) if a.name != STAMP_NAME]
    fig.layout.annotations = kept
    fig.add_annotation(name=STAMP_NAME, text=f"<b>{text}</b>", xref="paper", yref="paper", x=0.5, y=0.5,
                       showarrow=False, textangle=-18, font=dict(size=26, color="rgba(200, 30, 30, 0.45)"),
                       bordercolor="rgba(200, 30, 30, 0.45)", borderwidth=3, borderpad=6)
    return fig


def is_stamped(fig: go.Figure) -> bool:
    """Whether ``fig`` carries the short-run stamp."""
    return any(a.name == STAMP_NAME for a in (fig.layout.annotations or ()))


def stamp_if_short(fig: go.Figure, steps: int | None = None, full_steps: int | None = None) -> go.Figure:
    """Stamp ``fig`` when it comes from a short run: in smoke mode, or when ``steps < full_steps``.

    Returns ``fig`` (stamped or not), so a notebook can write ``stamp_if_short(figure(...), steps, 2000)``.
    """
    if steps is not None and full_steps is not None and steps < full_steps:
        return stamp_short_run(fig, f"SHORT RUN ({steps:,} of {full_steps:,} steps): not the result")
    if smoke_mode():
        return stamp_short_run(fig)
    return fig


__all__ = ["SMOKE_TEXT", "STAMP_NAME", "is_stamped", "stamp_if_short", "stamp_short_run"]
