"""The explorer in a real browser: Voila (app mode, what a seminar projects) and JupyterLab 4 (what a student opens)
in headless Debian Chromium.

Starts Voila or JupyterLab on 127.0.0.1 with a small notebook (first the replay animator, then the live toy
explorer), moves the animator's slider, presses Play, moves the explorer's seed slider, and checks through plotly's
own data (``document.querySelectorAll('.js-plotly-plot')[i].data``) that the plots changed. In JupyterLab the test
runs all cells from the Run menu first. The server is always shut down (``serve`` kills its process group in
``finally``). Each test takes about 20-60 s on 2 cores. Every wait is on a condition (never a fixed sleep) with the
harness's headroom ``shot.WAIT_MS`` (240 s; ``L2RW_BROWSER_WAIT_S``), so a loaded CI machine is slower, not red.
"""

from __future__ import annotations

import json
from pathlib import Path

import browser_harness as shot
import pytest

from l2rw_viz.viz.state import ExplorerState

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(shot.CHROMIUM).exists(),
                                 reason=f"{shot.CHROMIUM} is missing (apt-get install -y chromium); CI installs it")]

STATE = ExplorerState(method="l2rw", baseline="plain", n_train=160, steps=120, batch_size=32, lr=0.03, device="cpu")
# the k-th trace named "examples" of a plot: its point colours (= weights); panels are subplots of one figure
COLORS = "Array.from(gd.data.filter(t => t.name === 'examples')[{k}].marker.color)"


def _colors(page, plot: int, k: int = 0) -> list[float]:
    return shot.plot_data(page, plot, COLORS.format(k=k))


def _wait_changed(page, plot: int, before: list[float], k: int = 0, timeout_ms: int = shot.WAIT_MS) -> None:
    page.wait_for_function(
        "([i, k, before]) => { const gd = document.querySelectorAll('.js-plotly-plot')[i];"
        " const t = gd && gd.data && gd.data.filter(t => t.name === 'examples')[k];"
        " return !!t && JSON.stringify(Array.from(t.marker.color)) !== before; }",
        arg=[plot, k, json.dumps(before)], timeout=timeout_ms)


def _titles(page, plot: int) -> list[str]:
    return shot.plot_data(page, plot, "(gd.layout.annotations || []).map(a => a.text)")


@pytest.mark.parametrize("kind", ["voila", "lab"])
def test_animator_replays_with_slider_and_play(tmp_path, kind):
    nb = shot.write_demo_notebook(tmp_path / "animator_demo.ipynb", shot.ANIMATOR_CELLS)
    with shot.serve(nb, kind, env={"L2RW_VIZ_STATE": STATE.to_json()}) as url, shot.browser_page() as page:
        if kind == "lab":   # what a student does: open the notebook in JupyterLab and run all cells
            shot.run_all_in_lab(page, url)
        else:               # what a seminar projects: the notebook as a Voila app
            page.goto(url, timeout=shot.WAIT_MS)
        shot.wait_for_plot(page)
        start = _colors(page, 0)
        assert len(start) == STATE.n_train

        # move the frame slider with the keyboard, as a lecturer would
        page.locator(".widget-slider .noUi-handle").first.focus()
        for _ in range(5):
            page.keyboard.press("ArrowRight")
        _wait_changed(page, 0, start)
        page.wait_for_function("() => document.querySelector('.widget-slider .widget-readout').innerText.trim()"
                               " === '5'", timeout=shot.WAIT_MS)
        shot.wait_until_settled(page)  # frames 1..5 may still be arriving: compare against the last one
        moved = _colors(page, 0)

        # Play advances the slider in the browser (jslink) and every frame reaches the plot
        page.locator(".widget-play button").first.click()
        _wait_changed(page, 0, moved)
        page.wait_for_function("() => Number(document.querySelector('.widget-slider .widget-readout')"
                               ".innerText) > 6", timeout=shot.WAIT_MS)
        page.screenshot(path=str(tmp_path / "animator.png"))
    assert (tmp_path / "animator.png").stat().st_size > 10_000


def test_toy_explorer_retrains_on_a_slider_in_voila(tmp_path):
    nb = shot.write_demo_notebook(tmp_path / "explorer_demo.ipynb", shot.EXPLORER_CELLS)
    with shot.serve(nb, "voila", env={"L2RW_VIZ_STATE": STATE.to_json()}) as url, shot.browser_page() as page:
        page.goto(url, timeout=shot.WAIT_MS)
        # both panels show finished runs (not only what was streamed while training), and the weight curves
        shot.wait_for_explorer(page)
        curve_len = shot.plot_data(page, 0, "Math.max(...gd.data.filter(t => t.meta && t.meta.group"
                                            " && t.visible !== false).map(t => t.y ? t.y.length : 0))")
        assert curve_len == STATE.steps
        left = _colors(page, 0, 0)
        assert len(left) == STATE.n_train
        assert page.get_by_text("device: cpu").count() >= 1

        # typing another seed retrains and streams the new run into the figure
        seed = page.locator(".widget-inline-hbox", has_text="seed").locator("input")
        seed.scroll_into_view_if_needed()
        seed.fill("1")
        seed.press("Enter")
        _wait_changed(page, 0, left, 0)
        page.wait_for_function("() => (document.querySelector('.js-plotly-plot').layout.annotations || [])"
                               ".filter(a => a.text.includes('test accuracy')).length == 2", timeout=shot.WAIT_MS)
        assert seed.input_value().strip() == "1"
        page.screenshot(path=str(tmp_path / "explorer.png"))
    assert (tmp_path / "explorer.png").stat().st_size > 10_000
