"""The step-through widget in a real browser: JupyterLab 4 (a student) and Voila (the lecture hall), headless
Debian Chromium. Clicks "next >" through every stage and then each control (flip a label, resample batch, new
validation set), and checks after every click, through plotly's own data in the page, that the figure changed
and shows the expected stage. Reuses the harness of ``browser_harness`` (servers always shut down)."""

from __future__ import annotations

from pathlib import Path

import browser_harness as shot
import pytest

from l2rw_viz.viz import STAGES

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(shot.CHROMIUM).exists(),
                                 reason=f"{shot.CHROMIUM} is missing (apt-get install -y chromium); CI installs it")]

CELLS = ["import torch\ntorch.set_num_threads(1)\nfrom l2rw_viz.viz import StepThrough, StepThroughProblem",
         "StepThrough(StepThroughProblem(seed=0), width=900, height=700)"]
# every trace's data and the title: what a student sees change
# generous: on a loaded 2-core machine Voila's first page (kernel start + torch import) took over 90 s
LOAD_MS = 300_000
SNAPSHOT = "JSON.stringify([gd.data.map(t => [t.x, t.y, t.marker && t.marker.size]), gd.layout.title.text])"


def _snapshot(page) -> str:
    return shot.plot_data(page, 0, SNAPSHOT)


def _click_and_wait(page, button: str, before: str, title_start: str, timeout_ms: int = 60_000) -> str:
    # by its text (an icon button's accessible name also holds the icon)
    page.locator("button", has_text=button).first.click()
    page.wait_for_function(
        "([before, start]) => { const gd = document.querySelectorAll('.js-plotly-plot')[0];"
        f" const now = {SNAPSHOT};"
        " return now !== before && gd.layout.title.text.startsWith(start); }",
        arg=[before, title_start], timeout=timeout_ms)
    return _snapshot(page)


@pytest.mark.parametrize("kind", ["voila", "lab"])
def test_step_through_every_stage_and_control(tmp_path, kind):
    nb = shot.write_demo_notebook(tmp_path / "stepthrough_demo.ipynb", CELLS)
    with shot.serve(nb, kind) as url, shot.browser_page() as page:
        if kind == "lab":
            shot.run_all_in_lab(page, url, timeout_ms=LOAD_MS)
        else:
            page.goto(url, timeout=LOAD_MS)
        shot.wait_for_plot(page, LOAD_MS)
        page.wait_for_function("() => (document.querySelector('.js-plotly-plot').layout.title || {}).text"
                               " && document.querySelector('.js-plotly-plot').layout.title.text.startsWith('stage 1/')",
                               timeout=LOAD_MS)
        now = _snapshot(page)
        for k in range(2, len(STAGES) + 1):
            now = _click_and_wait(page, "next >", now, f"stage {k}/")
        # the last stage draws the boundary after the weighted update
        after = shot.plot_data(page, 0, "gd.data.find(t => t.name === 'boundary after update').x.length")
        assert after == 2
        for control in ("flip a label", "resample batch", "new validation set"):
            now = _click_and_wait(page, control, now, f"stage {len(STAGES)}/")
        now = _click_and_wait(page, "< back", now, f"stage {len(STAGES) - 1}/")
        page.screenshot(path=str(tmp_path / f"stepthrough_{kind}.png"))
    assert (tmp_path / f"stepthrough_{kind}.png").stat().st_size > 10_000
