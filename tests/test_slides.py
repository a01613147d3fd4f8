"""Slide mode: the lecturer's notebooks carry reveal.js metadata that follows the one rule of ``l2rw_viz.slides``,
and ``jupyter nbconvert --to slides`` turns each executed notebook (smoke mode) into a deck that holds its
figures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from l2rw_viz.slides import apply_slide_metadata, has_slide_metadata, slide_type

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
WITH_SLIDES = [p for p in NOTEBOOKS if has_slide_metadata(nbformat.read(p, as_version=4))]
LECTURE = {"01", "02", "03", "04", "05", "08"}   # the notebooks this course's lecture path presents
PLOTLY = "application/vnd.plotly.v1+json"


def test_lecture_notebooks_have_up_to_date_slide_metadata():
    names = {p.name[:2] for p in WITH_SLIDES}
    assert LECTURE <= names, f"missing slide metadata: {sorted(LECTURE - names)}"
    for path in WITH_SLIDES:
        nb = nbformat.read(path, as_version=4)
        assert apply_slide_metadata(nb) == 0, f"{path.name}: run python -m l2rw_viz.slides {path}"


def test_the_rule():
    md = nbformat.v4.new_markdown_cell
    code = nbformat.v4.new_code_cell
    nb = nbformat.v4.new_notebook(cells=[md("# Title"), code("import x"), md("## Part"), md("text"), code("fig"),
                                         md("### Sub"), code("more")])
    nb.cells[-1].metadata["tags"] = ["no-slides"]
    assert apply_slide_metadata(nb) == 7 and apply_slide_metadata(nb) == 0
    assert [c.metadata.slideshow.slide_type for c in nb.cells] == ["slide", "skip", "slide", "subslide", "-",
                                                                   "subslide", "skip"]
    assert slide_type(md("plain"), None, True) == "slide"


@pytest.mark.notebooks
@pytest.mark.parametrize("path", WITH_SLIDES, ids=[p.stem for p in WITH_SLIDES])
def test_nbconvert_slides_deck_holds_the_figures(path, tmp_path, monkeypatch):
    monkeypatch.setenv("L2RW_SMOKE", "1")
    monkeypatch.setenv("L2RW_DATA_DIR", str(tmp_path / "data"))
    # a kernel without a front end gives plotly figures only as JSON, which nbconvert's HTML cannot show; with the
    # "notebook" renderer as well each figure also carries its HTML (plotly.js embedded once): what a deck needs
    monkeypatch.setenv("PLOTLY_RENDERER", "plotly_mimetype+notebook")
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    executed = tmp_path / path.name
    nbformat.write(nb, executed)
    figures = sum(PLOTLY in out.get("data", {}) for c in nb.cells if c.cell_type == "code"
                  and c.metadata.get("slideshow", {}).get("slide_type") != "skip" for out in c.get("outputs", []))
    result = subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "slides", str(executed),
                             "--output-dir", str(tmp_path / "deck")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    deck = (tmp_path / "deck" / f"{path.stem}.slides.html").read_text()
    slides = sum(c.metadata.get("slideshow", {}).get("slide_type") in ("slide", "subslide") for c in nb.cells)
    assert "reveal" in deck and deck.count("<section") >= slides
    assert figures > 0 and deck.count('class="plotly-graph-div"') >= figures, (figures, path.name)
