"""The course site (``l2rw-viz course build``) and its kernel-free explorer page.

Fast checks use tiny notebooks written here (one kernel start each); one build executes a real course notebook
in smoke mode with a small, short explorer grid, and the browser tests open that site from disk in headless
Chromium (no server, no kernel). The whole course in smoke mode takes minutes; build it with
``l2rw-viz course build site/ --smoke`` (measured in the README).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import browser_harness as shot
import nbformat
import numpy as np
import pytest

from l2rw_viz import cli
from l2rw_viz import site as course_site
from l2rw_viz.viz import static_explorer as se

ROOT = Path(__file__).resolve().parents[1]
# explorer runs in tests: short and small, the same code path as the site's
TEST_BASE = se.BASE_STATE.replace(steps=60, n_train=120)
needs_chromium = pytest.mark.skipif(not Path(shot.CHROMIUM).exists(),
                                    reason=f"{shot.CHROMIUM} is missing (apt-get install -y chromium); CI installs it")


def _write_notebook(path: Path, cells: list[str]) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {path.stem}\n\nA test notebook. It draws one figure.")]
    nb.cells += [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


FIGURE_CELL = ("import os, plotly.graph_objects as go\n"
               "go.Figure(go.Scatter(x=[1, 2, 3], y=[3, 1, int(os.environ['L2RW_SMOKE']) + 5]))")


# ----------------------------------------------------------------------------------------------------------------
# No kernel

def test_find_notebooks_picks_by_number_or_name_and_names_the_bad_one():
    every = course_site.find_notebooks()
    assert [p.name[:2] for p in every] == sorted(p.name[:2] for p in every) and len(every) >= 8
    assert [p.stem for p in course_site.find_notebooks(names=["5", "01_weighted_loss", "05"])] == \
        ["01_weighted_loss", "05_online_approximation"]
    with pytest.raises(ValueError, match="notebooks='99'"):
        course_site.find_notebooks(names=["99"])
    with pytest.raises(ValueError, match="notebooks_dir="):
        course_site.find_notebooks(ROOT / "tests")


def test_out_dir_must_be_new_empty_or_a_previous_site(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("do not delete")
    with pytest.raises(ValueError, match="is not a site built by"):
        course_site.check_out_dir(tmp_path / "mine")
    assert course_site.check_out_dir(tmp_path / "mine", force=True) == (tmp_path / "mine").resolve()
    (tmp_path / "empty").mkdir()
    course_site.check_out_dir(tmp_path / "empty")
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / course_site.MARKER).write_text("{}")
    course_site.check_out_dir(tmp_path / "old")
    with pytest.raises(ValueError, match="holds the notebooks"):
        course_site.check_out_dir(ROOT, force=True)
    # the command line refuses before doing anything, naming the folder
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["course", "build", str(tmp_path / "mine"), "--no-progress"])
    assert exit_info.value.code == 2
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "do not delete"


def test_plotly_outputs_become_static_divs_and_widgets_a_note():
    nb = nbformat.v4.new_notebook()
    fig = {"data": [{"type": "scatter", "y": [1, 2]}], "layout": {}}
    nb.cells = [nbformat.v4.new_code_cell("fig", outputs=[
        nbformat.v4.new_output("display_data", {course_site.PLOTLY_MIME: fig, "text/plain": "Figure"}),
        nbformat.v4.new_output("display_data", {course_site.WIDGET_MIME: {"model_id": "x"}, "text/plain": "VBox"})])]
    nb.metadata["widgets"] = {"state": {}}
    page, figures = course_site.render_page(nb, "07_x", nav_html="<a href='index.html'>index</a>", title="Seven")
    assert figures == 1 and "<title>Seven</title>" in page
    assert 'id="07_x-c0-o0"' in page and "Plotly.newPlot" in page and '"y":[1,2]' in page
    assert f'<script src="{course_site.PLOTLY_JS}"></script>' in page
    assert "require.js" not in page and "html-manager" not in page  # nothing that captures plotly or needs a CDN
    assert "precomputed explorer" in page and "VBox" not in page


def test_explorer_grid_has_one_no_flip_setting_and_fixed_seeds():
    settings = se.grid_settings("full")
    assert len(settings) == 4 * (1 + 2 * 2) * 3
    assert sum(s["noise_rate"] == 0 for s in settings) == 4 * 3  # no flips: the flip type is not a setting
    with pytest.raises(ValueError, match="grid='huge'"):
        se.grid_settings("huge")


@pytest.mark.slow
def test_explorer_runs_are_reproducible_and_show_l2rw_weights():
    setting = {"proportion": 0.9, "noise_rate": 0.2, "noise_mode": "uniform", "n_val": 10}
    a = se.run_setting(setting, base=TEST_BASE)
    b = se.run_setting(setting, base=TEST_BASE)
    for m in se.METHODS:
        assert np.array_equal(a["runs"][m]["weights"], b["runs"][m]["weights"]), m
        assert a["runs"][m]["test_acc"] == b["runs"][m]["test_acc"], m
    # plain training weights every example alike; L2RW does not, and favours the minority over the majority
    assert np.allclose(a["runs"]["plain"]["weights"][-1], 1.0)
    w = a["runs"]["l2rw"]["weights"][-1]
    assert w[a["is_minority"]].mean() > w[~a["is_minority"]].mean()


# ----------------------------------------------------------------------------------------------------------------
# Builds (kernels)

def test_failed_build_leaves_the_previous_site_and_no_debris(tmp_path):
    good = tmp_path / "good"
    good.mkdir()
    _write_notebook(good / "01_figure.ipynb", [FIGURE_CELL])
    _write_notebook(good / "02_figure.ipynb", [FIGURE_CELL])
    out = tmp_path / "site"
    info = course_site.build_site(out, notebooks_dir=good, smoke=True, explorer=False, progress=False, jobs=2)
    assert [p["page"] for p in info["pages"]] == ["01_figure.html", "02_figure.html"]
    assert [p["figures"] for p in info["pages"]] == [1, 1]
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}

    bad = tmp_path / "bad"
    bad.mkdir()
    _write_notebook(bad / "01_figure.ipynb", [FIGURE_CELL])
    _write_notebook(bad / "02_broken.ipynb", ["raise RuntimeError('this notebook is broken')"])
    broken = "(?s)02_broken.ipynb failed.*RuntimeError: this notebook is broken"
    with pytest.raises(course_site.NotebookBuildError, match=broken):
        course_site.build_site(out, notebooks_dir=bad, smoke=True, explorer=False, progress=False)
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad", "good", "site"]  # no half-built folder left
    # and the smoke switch reached the kernel: the figure's last point is L2RW_SMOKE + 5
    assert '"y":[3,1,6]' in (out / "01_figure.html").read_text()


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A real smoke build: the course's notebook 01 and a small grid of short explorer runs."""
    out = tmp_path_factory.mktemp("course") / "site"
    info = course_site.build_site(out, ["01"], smoke=True, explorer_grid="small", explorer_base=TEST_BASE,
                                  progress=False, jobs=1)
    return out, info


def _hrefs(page: Path) -> list[str]:
    return re.findall(r'href="([^"#]+)"', page.read_text())


@pytest.mark.slow
def test_index_links_every_page_and_each_page_has_figures(course):
    out, info = course
    links = _hrefs(out / "index.html")
    pages = [p["page"] for p in info["pages"]]
    assert pages == ["01_weighted_loss.html"]
    assert set(pages + [course_site.EXPLORER_PAGE]) <= set(links)
    assert all((out / link).is_file() for link in links), links
    assert (out / course_site.PLOTLY_JS).stat().st_size > 1_000_000  # plotly.js is local: the site works offline
    index = (out / "index.html").read_text()
    assert "Smoke build" in index and "What does a per-example weight do" in index  # the course table's question
    record = json.loads((out / course_site.MARKER).read_text())
    assert record["smoke"] is True and record["explorer"]["runs"] == 6 * 3
    for page in pages:
        text = (out / page).read_text()
        assert text.count("Plotly.newPlot") == info["pages"][0]["figures"] >= 2
        assert "SMOKE RUN" in text or "smoke mode" in text


def _open(page, path: Path) -> None:
    page.goto(path.resolve().as_uri())
    page.wait_for_function("() => { const g = document.querySelectorAll('.js-plotly-plot');"
                           " return g.length > 0 && Array.from(g).every(gd => gd.data && gd._fullLayout); }",
                           timeout=60_000)


@needs_chromium
@pytest.mark.slow
@pytest.mark.browser
def test_notebook_page_draws_its_figures_from_disk_without_network(course):
    out, info = course
    with shot.browser_page() as page:
        failed = []
        page.on("requestfailed", lambda r: failed.append(r.url))
        _open(page, out / info["pages"][0]["page"])
        sizes = page.evaluate("Array.from(document.querySelectorAll('.js-plotly-plot')).map(gd => gd.data.length)")
        assert len(sizes) == info["pages"][0]["figures"] and all(n > 0 for n in sizes)
        # local files only: nothing the figures need comes from the network (MathJax may try a CDN, and fail)
        assert all("mathjax" in url for url in failed), failed


# the j-th scatter trace named "examples" (one per method panel): its colours are the weights
COLORS = ("(j) => { const t = document.querySelector('.js-plotly-plot').data.filter(t => t.name === 'examples')[j];"
          " const c = t.marker.color; return c.bdata !== undefined ? c.bdata : Array.from(c).join(','); }")
TITLE = "() => document.querySelector('.js-plotly-plot').layout.title.text"


def _click_slider_label(page, slider: str, label: str) -> None:
    """Click the step ``label`` of the plotly slider whose current-value text starts with ``slider`` (as a user
    would: on the rail above the label)."""
    group = page.locator(".slider-group", has_text=slider)
    box = group.locator(".slider-label", has_text=re.compile(f"^{re.escape(label)}$")).first.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] - 12)


@needs_chromium
@pytest.mark.slow
@pytest.mark.browser
def test_explorer_page_answers_its_controls_without_a_kernel(course):
    out, _ = course
    with shot.browser_page(1300, 1300) as page:
        _open(page, out / course_site.EXPLORER_PAGE)
        start_title = page.evaluate(TITLE)
        assert "90% majority" in start_title and "20% uniform flips" in start_title and "L2RW" in start_title
        l2rw_before = page.evaluate(COLORS, 2)

        # a button: background flips -> the same sliders, other data
        page.get_by_text("background flips", exact=True).click()
        page.wait_for_function(f"() => ({TITLE})().includes('background flips')", timeout=20_000)
        page.wait_for_function(f"(b) => ({COLORS})(2) !== b", arg=l2rw_before, timeout=20_000)

        # a slider: majority share 0.5 keeps the flip type chosen by the button (the controls combine)
        _click_slider_label(page, "majority share", "0.5")
        page.wait_for_function(f"() => ({TITLE})().includes('50% majority')", timeout=20_000)
        assert "background flips" in page.evaluate(TITLE)

        # the replay: an early step changes weights and keeps the points' symbols (a replay frame is partial)
        final = page.evaluate(COLORS, 2)
        _click_slider_label(page, "training step", "50")
        page.wait_for_function(f"() => ({TITLE})().includes('step 50 of')", timeout=20_000)
        assert page.evaluate(COLORS, 2) != final
        symbols = page.evaluate("document.querySelector('.js-plotly-plot')._fullData"
                                ".filter(t => t.name === 'examples')[2].marker.symbol.length")
        assert symbols == TEST_BASE.n_train
        # the weight curves' axis fits the setting shown (set by the setting's frame)
        top = page.evaluate("document.querySelector('.js-plotly-plot')._fullLayout.yaxis4.range[1]")
        assert top >= 3.0
        # play runs the replay to its last step
        page.get_by_text("\u25b6 replay", exact=True).click()
        page.wait_for_function(f"() => ({TITLE})().includes('step 59 of')", timeout=30_000)
