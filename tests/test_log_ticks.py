"""Log axes read in full: plotly labels the 2s and 5s between powers of ten by their leading digit ("2" for 200), so
the course's log axes carry explicit ticks (notebooks 4 and 6)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from l2rw_viz.viz.style import full_log_axis, log_tick_values


def test_ticks_cover_the_values_one_two_five_per_decade():
    assert log_tick_values([6, 602]) == [5, 10, 20, 50, 100, 200, 500, 1000]
    ticks = log_tick_values([0.0005, 15.6])          # four decades and more: 1 and 5 only
    assert ticks[0] <= 0.0005 and ticks[-1] >= 15.6 and 2 not in ticks and 5 in ticks
    many = log_tick_values([1e-6, 1e37])             # many decades: at most about 8 powers of ten
    assert len(many) <= 9 and all(np.isclose(np.log10(t), round(np.log10(t))) for t in many)
    assert log_tick_values([0, -1, np.nan]) == [1.0]   # nothing positive to cover


def test_full_log_axis_writes_the_ticks_in_full():
    fig = go.Figure(go.Scatter(x=[6, 602], y=[0.01, 2.0]))
    full_log_axis(fig, "x", [6, 602])
    text = fig.layout.xaxis.ticktext
    assert fig.layout.xaxis.type == "log" and "200" in text and "2" not in text
    with pytest.raises(ValueError, match="axis"):
        full_log_axis(fig, "z", [1, 2])
