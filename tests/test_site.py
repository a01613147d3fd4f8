"""The course site (``l2rw-viz course build``) and its kernel-free explorer page.

Fast checks use tiny notebooks written here (one kernel start each); one build executes a real course notebook
in smoke mode with a small, short explorer grid, and the browser tests open that site from disk in headless
Chromium (no server, no kernel). The whole course in smoke mode takes minutes; build it with
``l2rw-viz course build site/ --smoke`` (measured in the README).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import browser_harness as shot
import nbformat
import numpy as np
import pytest

from l2rw_viz import cli
from l2rw_viz.course import site as course_site
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
def course(course_build):
    """The session's one build of the whole course (conftest.course_build: full mode in CI)."""
    return course_build.site, course_build.info


def _hrefs(page: Path) -> list[str]:
    return re.findall(r'href="([^"#]+)"', page.read_text())


@pytest.mark.slow
def test_index_links_every_page_and_each_page_has_figures(course):
    out, info = course
    links = _hrefs(out / "index.html")
    pages = [p["page"] for p in info["pages"]]
    assert [p["notebook"] for p in info["pages"]] == [p.name for p in course_site.find_notebooks()]
    assert set(pages + [course_site.EXPLORER_PAGE, course_site.STEPTHROUGH_PAGE]) <= set(links)
    assert all((out / link).is_file() for link in links), links
    assert (out / course_site.PLOTLY_JS).stat().st_size > 1_000_000  # plotly.js is local: the site works offline
    index = (out / "index.html").read_text()
    assert "What does a per-example weight do" in index  # the course table's question
    record = json.loads((out / course_site.MARKER).read_text())
    assert ("Smoke build" in index) == record["smoke"]
    assert record["explorer"]["runs"] == len(se.grid_settings(record["explorer"]["grid"])) * 3
    for p in info["pages"]:
        text = (out / p["page"]).read_text()
        assert text.count("Plotly.newPlot") == p["figures"] >= 1, p["page"]
    # notebook 5 replays its step-through without a kernel where its text says "in the step-through above"
    nb5 = (out / "05_online_approximation.html").read_text()
    assert "An interactive widget was here" not in nb5 and "precomputed for a few batches" in nb5
    # every script, style sheet and font the pages load is a file of the site (no CDN, no require.js, no jQuery)
    for page in [*pages, "index.html", course_site.EXPLORER_PAGE, course_site.STEPTHROUGH_PAGE]:
        for url in re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', (out / page).read_text()):
            assert not re.match(r"(https?:)?//", url), (page, url)
            assert (out / url.split("?")[0]).is_file(), (page, url)


def _open(page, path: Path) -> None:
    page.goto(path.resolve().as_uri())
    page.wait_for_function("() => { const g = document.querySelectorAll('.js-plotly-plot');"
                           " return g.length > 0 && Array.from(g).every(gd => gd.data && gd._fullLayout); }",
                           timeout=shot.WAIT_MS)


def _offline(page) -> tuple[list, list]:
    """Block every request that is not a local file; returns the lists (blocked URLs, console errors) it fills."""
    blocked, errors = [], []
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:")
               else (blocked.append(r.request.url), r.abort()))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return blocked, errors


MATHJAX_DONE = ("() => window.MathJax && MathJax.isReady && MathJax.Hub.queue.pending === 0"
                " && !MathJax.Hub.queue.running")
# TeX left as text in the prose (MathJax keeps its sources in <script type="math/tex">, which innerText skips)
RAW_TEX = (r"() => Array.from(document.querySelectorAll('.jp-RenderedMarkdown')).map(e => e.innerText)"
           r".filter(t => /\$[^$\s][^$]*\$|\\\(|\\\[|\\frac|\\sum/.test(t))")


@needs_chromium
@pytest.mark.slow
@pytest.mark.browser
def test_every_page_works_offline_with_its_figures_and_rendered_maths(course):
    """Each page from disk with every non-file request blocked: no console error, as many drawn figures as the
    notebook produced, every formula typeset by the site's own MathJax (no raw TeX, no MathJax error)."""
    out, info = course
    with shot.browser_page() as page:
        blocked, errors = _offline(page)
        for record in info["pages"]:
            _open(page, out / record["page"])
            page.wait_for_function(MATHJAX_DONE, timeout=shot.WAIT_MS)
            drawn = page.evaluate("Array.from(document.querySelectorAll('.js-plotly-plot'))"
                                  ".filter(gd => gd._fullLayout && gd.data.length > 0).length")
            assert drawn == record["figures"], record["page"]
            assert page.evaluate(RAW_TEX) == [], record["page"]
            assert page.locator(".MathJax_Error, .MathJax_Processing").count() == 0, record["page"]
            assert not blocked and not errors, (record["page"], blocked, errors)
        for extra in (course_site.EXPLORER_PAGE, course_site.STEPTHROUGH_PAGE):
            _open(page, out / extra)
            assert not blocked and not errors, (extra, blocked, errors)
        page.goto((out / "index.html").resolve().as_uri())
        assert not blocked and not errors, ("index.html", blocked, errors)


@needs_chromium
@pytest.mark.slow
@pytest.mark.browser
def test_explorer_contours_equal_a_recomputation(course):
    """The explorer page's boundary panels show the probabilities of a fresh run of the default setting (P(y=1) in
    %, a 30 x 30 grid, not one flat row): the page draws what the code computes."""
    out, _ = course
    fresh = se.run_setting(se.DEFAULT_SETTING, base=se.BASE_STATE)
    with shot.browser_page(1300, 1300) as page:
        _open(page, out / course_site.EXPLORER_PAGE)
        contours = page.evaluate("document.querySelector('.js-plotly-plot')._fullData"
                                 ".filter(t => t.type === 'contour').map(t => Array.from(t.z, r => Array.from(r)))")
    assert len(contours) == len(se.METHODS)
    for method, z in zip(se.METHODS, contours):
        expected = np.round(100 * fresh["runs"][method]["prob"][-1])
        assert np.array(z).shape == (se.RESOLUTION, se.RESOLUTION) == expected.shape, method
        assert np.array_equal(np.array(z), expected), method
        assert 0 < (np.array(z) >= 50).mean() < 1, method   # a boundary crosses the panel


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
        assert symbols == se.BASE_STATE.n_train
        # the weight curves' axis fits the setting shown (set by the setting's frame)
        top = page.evaluate("document.querySelector('.js-plotly-plot')._fullLayout.yaxis4.range[1]")
        assert top >= 3.0
        # play runs the replay to its last step
        page.get_by_text("\u25b6 replay", exact=True).click()
        page.wait_for_function(f"() => ({TITLE})().includes('step {se.BASE_STATE.steps - 1} of')", timeout=30_000)


# ----------------------------------------------------------------------------------------------------------------
# Escaping, the step-through replay, the explorer's typed arrays, Ctrl-C

def test_stray_angle_brackets_in_markdown_are_text_and_maths_and_tags_are_kept():
    escape = course_site.escape_stray_html
    assert escape('titled "seen <label given> / true <real label>".') == \
        'titled "seen &lt;label given> / true &lt;real label>".'
    kept = "a <b>bold</b> <details><summary>s</summary></details> $a < b$ `x<y` $$\\langle g, h\\rangle$$ " \
           "<https://example.org> <!-- c -->"
    assert escape(kept) == kept
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell('# T\n\nEach image is titled "seen <label given> / true <real label>".')]
    page, _ = course_site.render_page(nb, "07_x", nav_html="", title="T")
    assert "seen &lt;label given&gt; / true &lt;real label&gt;" in page


def test_the_step_through_replay_has_every_stage_of_every_case_and_escaped_text():
    from l2rw_viz.viz import static_stepthrough as sst
    from l2rw_viz.viz.stepthrough import CLASS_COLORS, STAGES, stage_caption_html

    cases = sst.stepthrough_cases(seed=0, resamples=2)
    assert [label for label, _ in cases][:3] == ["batch 1", "batch 2", "batch 3"]
    flipped = cases[-1][1]
    # "flip a label": the first batch with exactly one more observed label changed
    assert np.array_equal(flipped.batch, cases[0][1].batch)
    assert int((flipped.y != cases[0][1].y).sum()) == 1
    fig = sst.stepthrough_replay_figure(cases)
    assert len(fig["frames"]) == len(cases) * len(STAGES) == 32
    texts = json.dumps([f["layout"] for f in fig["frames"]])
    assert "alpha&lt;g_val, g_i&gt;" in json.dumps(fig["data"]) and "&lt;grad L_val, grad f_i&gt;" in texts
    assert not re.search(r"<(?!br>)[a-z_ ]", texts.replace("<br>", "")), "an unescaped < reaches plotly"
    # the live widget's caption (HTML) says the same, escaped: stage 5 keeps its inner product
    assert "alpha &lt;grad L_val, grad f_i&gt;, the same numbers" in stage_caption_html(4)
    # the validation points carry their classes; the batch points their numbers
    val = next(t for t in fig["frames"][0]["data"] if t["name"] == "validation set")
    yv = cases[0][1].y_val.numpy()
    assert list(val["marker"]["color"]) == [CLASS_COLORS[c] for c in yv] and len(set(yv)) == 2
    batch = next(t for t in fig["frames"][0]["data"] if t["name"] == "batch")
    assert list(batch["text"]) == [str(i) for i in range(8)]


def test_explorer_grids_keep_their_shape():
    z = np.arange(12, dtype=np.uint8).reshape(3, 4)
    typed = se._typed(z, "u1")
    assert typed["shape"] == "3, 4" and np.array_equal(se.decode_typed(typed), z)
    assert "shape" not in se._typed(np.arange(5), "f4")


def test_hostile_notebook_names_are_escaped_everywhere(tmp_path):
    """File names, titles and summaries reach the index, the nav bars and the decks only as escaped text and
    percent-encoded links: parsed, no page has an attribute or element the names tried to inject."""
    from html.parser import HTMLParser
    from urllib.parse import unquote

    src = tmp_path / "nbs"
    src.mkdir()
    hostile = ['01_a" onmouseover="alert(1)', "02_b<img src=x onerror=alert(2)>", "03_c&amp;'<script>"]
    for name in hostile:
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_markdown_cell("# Title <script>alert(3)</script> & co\n\nSummary <b onclick=x>"
                                                  "bold</b> and <i>x</i>."),
                    nbformat.v4.new_code_cell(FIGURE_CELL)]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, src / f"{name}.ipynb")
    out = tmp_path / "site"
    info = course_site.build_site(out, notebooks_dir=src, smoke=True, explorer=False, progress=False, jobs=2)

    class Collect(HTMLParser):
        def __init__(self):
            super().__init__()
            self.attrs, self.tags = [], []

        def handle_starttag(self, tag, attrs):
            self.tags.append(tag)
            self.attrs += [(tag, k, v) for k, v in attrs]

    pages = ["index.html"] + [p["page"] for p in info["pages"]] + [p["deck"] for p in info["pages"]]
    for page in pages:
        parsed = Collect()
        parsed.feed((out / page).read_text())
        assert not any(k.startswith("on") for _, k, _ in parsed.attrs), page
        assert "img" not in parsed.tags, page
        for _, key, value in parsed.attrs:
            if key == "href" and not value.startswith(("#", "http")):
                target = (out / page).parent / unquote(value.split("#")[0])
                assert target.exists(), (page, value)
    index = (out / "index.html").read_text()
    assert index.count("<script") == 0   # the titles' <script> is text
    assert "Title &lt;script&gt;alert(3)&lt;/script&gt; &amp; co" in index


@pytest.mark.slow
def test_ctrl_c_stops_a_build_within_seconds_and_leaves_the_previous_site(tmp_path):
    """SIGINT while a cell runs for minutes: the kernel is interrupted then stopped, the temporary folder removed,
    the previous site untouched, exit status 130."""
    import os
    import signal
    import subprocess
    import sys

    src = tmp_path / "nbs"
    src.mkdir()
    started = tmp_path / "kernel.pid"
    _write_notebook(src / "01_long.ipynb", [f"import os, time\nopen({str(started)!r}, 'w').write(str(os.getpid()))\n"
                                            "time.sleep(600)"])
    out = tmp_path / "site"
    out.mkdir()
    (out / course_site.MARKER).write_text("{}")
    (out / "index.html").write_text("the previous site")
    proc = subprocess.Popen([sys.executable, "-m", "l2rw_viz.cli", "course", "build", str(out), "--notebooks-dir",
                             str(src), "--no-explorer", "--no-progress", "--smoke"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        while not (started.exists() and started.read_text()) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.2)
        kernel = int(started.read_text())
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)   # a bound for a hang, not a speed target
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130 and "interrupted" in err, err
    assert (out / "index.html").read_text() == "the previous site"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kernel.pid", "nbs", "site"]   # no .site.building-*
    with pytest.raises(ProcessLookupError):
        for _ in range(100):   # the kernel is gone (reaped by the build before it exited)
            os.kill(kernel, 0)
            time.sleep(0.1)
