"""Slides: the lecturer's notebooks carry reveal.js metadata that follows the one rule of ``l2rw_viz.course.slides``,
and ``course build`` writes an offline reveal.js deck per notebook (``l2rw_viz.course.decks``: one idea per slide, at
most about 60 words, the figures large), checked here on the session's one course build."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from l2rw_viz.course.decks import MAX_WORDS, count_words
from l2rw_viz.course.slides import apply_slide_metadata, has_slide_metadata, slide_type

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
WITH_SLIDES = [p for p in NOTEBOOKS if has_slide_metadata(nbformat.read(p, as_version=4))]
LECTURE = {"01", "02", "03", "04", "05", "08"}   # the notebooks this course's lecture path presents
PLOTLY = "application/vnd.plotly.v1+json"
needs_chromium = pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="/usr/bin/chromium is missing")


def test_lecture_notebooks_have_up_to_date_slide_metadata():
    names = {p.name[:2] for p in WITH_SLIDES}
    assert LECTURE <= names, f"missing slide metadata: {sorted(LECTURE - names)}"
    for path in WITH_SLIDES:
        nb = nbformat.read(path, as_version=4)
        assert apply_slide_metadata(nb) == 0, f"{path.name}: run python -m l2rw_viz.course.slides {path}"


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


class _Sections(HTMLParser):
    """The text of each ``<section>`` of a deck (scripts and styles left out) and its plotly figures."""

    def __init__(self):
        super().__init__()
        self.sections: list[dict] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag == "section":
            self.sections.append({"text": "", "figures": 0})
        elif tag in ("script", "style"):
            self._skip += 1
        elif tag == "div" and "plotly-graph-div" in (dict(attrs).get("class") or "") and self.sections:
            self.sections[-1]["figures"] += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data):
        if self.sections and not self._skip:
            self.sections[-1]["text"] += " " + data


def _deck(course_build, record) -> list[dict]:
    parsed = _Sections()
    parsed.feed((course_build.site / record["deck"]).read_text())
    return parsed.sections


def test_every_notebook_has_a_deck_with_one_idea_per_slide(course_build):
    """One deck per notebook: at most about 60 words a slide (a formula counts as one), the figures the notebook drew
    (each alone on its slide), and the notebook keeps the full text (the deck holds much less of it)."""
    for record in course_build.info["pages"]:
        sections = _deck(course_build, record)
        assert len(sections) == record["slides"] >= 3, record["deck"]
        words = [count_words(s["text"]) for s in sections]
        assert max(words) <= MAX_WORDS, (record["deck"], words)
        nb = course_build.notebook(record["notebook"])
        drawn = sum(PLOTLY in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))
        on_slides = sum(s["figures"] for s in sections)
        assert all(s["figures"] <= 1 for s in sections)
        assert 0 < on_slides <= drawn, (record["deck"], on_slides, drawn)
        prose = sum(count_words(c.source) for c in nb.cells if c.cell_type == "markdown")
        assert sum(words) < prose, record["deck"]


@needs_chromium
@pytest.mark.slow
@pytest.mark.browser
def test_decks_load_offline_as_reveal_decks(course_build):
    """Each deck from disk with every non-file request blocked: reveal.js initialised with every slide, the
    figures drawn, no console error."""
    import browser_harness as shot

    with shot.browser_page(1280, 760) as page:
        blocked, errors = [], []
        page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:")
                   else (blocked.append(r.request.url), r.abort()))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        for record in course_build.info["pages"]:
            page.goto((course_build.site / record["deck"]).resolve().as_uri())
            page.wait_for_function("() => window.Reveal && Reveal.isReady()", timeout=shot.WAIT_MS)
            assert page.evaluate("Reveal.getTotalSlides()") == record["slides"], record["deck"]
            drawn = page.evaluate("Array.from(document.querySelectorAll('.js-plotly-plot'))"
                                  ".filter(gd => gd._fullLayout).length")
            assert drawn == sum(s["figures"] for s in _deck(course_build, record)), record["deck"]
            page.evaluate("Reveal.slide(1)")
            page.wait_for_function("() => Reveal.getIndices().h === 1")
            assert not blocked and not errors, (record["deck"], blocked, errors)
