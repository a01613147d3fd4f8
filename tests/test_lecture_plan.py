"""The 90-minute lecture on the paper (notebooks/README.md): it adds up to 90 minutes, gives the results and their
critique (notebooks 6, 7, 9) about 25, ends with the computed claims table and 10 minutes of questions, and every
minute that needs a kernel names a page that works without one."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _rows() -> list[list[str]]:
    text = (ROOT / "notebooks" / "README.md").read_text()
    section = text.split("## A 90-minute lecture on the paper", 1)[1].split("\n## ", 1)[0]
    return [[c.strip() for c in line.strip().strip("|").split("|")] for line in section.splitlines()
            if re.match(r"\|\s*\d+-\d+\s*\|", line)]


def test_the_lecture_adds_up_and_gives_the_results_their_time():
    rows = _rows()
    spans = [tuple(map(int, r[0].split("-"))) for r in rows]
    assert spans[0][0] == 0 and spans[-1][1] == 90
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))           # contiguous, no overlap
    minutes = {r[1]: b - a for r, (a, b) in zip(rows, spans)}
    assert 22 <= sum(minutes.get(k, 0) for k in ("6", "7", "9")) <= 28
    assert "Opening" in rows[0][1] and "Questions" in rows[-1][1] and minutes[rows[-1][1]] == 10
    assert any("Closing" in r[1] and "claims_vs_measured" in r[2] for r in rows)


def test_every_kernel_minute_names_a_kernel_free_page_that_exists():
    notebooks = {p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    site_pages = {"explorer.html", "stepthrough.html", "lab.html", "index.html"}
    for row in _rows():
        pages = re.findall(r"`([\w.-]+\.html)`", row[4])
        if row[3].startswith("yes"):
            assert pages, f"minute {row[0]} needs a kernel but names no page without one"
        for page in pages:
            assert page[:-5] in notebooks or page in site_pages, page
