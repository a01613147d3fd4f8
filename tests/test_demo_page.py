"""``l2rw-viz demo`` ends with a picture and a next step: a self-contained offline page (boundaries and learned
weights, plain vs L2RW) whose path it prints, with the two commands that open the course."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from l2rw_viz import cli
from l2rw_viz.viz.static_explorer import decode_typed


@pytest.mark.slow
def test_demo_writes_an_offline_picture_and_prints_the_next_step(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["demo", "--smoke", "--device", "cpu", "--out", "picture.html"]) == 0
    out = capsys.readouterr().out
    page = tmp_path / "picture.html"
    assert str(page.resolve()) in out
    assert "jupyter lab notebooks/" in out and "l2rw-viz course build site/" in out
    text = page.read_text()
    # self-contained: plotly.js inlined, nothing fetched
    assert not re.search(r'<script[^>]+src=', text) and "Plotly.newPlot" in text and len(text) > 3_000_000
    assert "plain SGD" in text and "L2RW" in text and "test accuracy" in text.lower()
    # two boundary panels, each a 30 x 30 grid of P(y=1) that a boundary crosses
    found = re.findall(r'"z":\{"dtype":"(u1)","bdata":"([^"]+)","shape":"([^"]+)"\}', text)
    # (the page's JSON escapes "/", which base64 holds, as "\u002f")
    grids = [decode_typed({"dtype": d, "bdata": b.replace("\\u002f", "/"), "shape": s}) for d, b, s in found]
    assert len(grids) >= 2 and all(g.shape == (30, 30) and 0 < (g >= 50).mean() < 1 for g in grids[:2])
    assert not list(Path(tmp_path).glob(".*.tmp"))
