"""The Reweight Lab in headless Chromium: open the written page from disk with every request that is not
``file://`` or ``data:`` aborted (the page must need no network), and take the README screenshots.

Used by ``tests/test_lab.py`` and ``benchmarks/bench_lab.py``. From the repository root::

    python tests/lab_browser.py docs/lab.png --before docs/lab_before.png

draws a data set by clicking (real mouse clicks on the canvas, a few of them shift-clicks that flip a label), saves
the page before training, trains, and saves it again.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
WAIT_MS = int(float(os.environ.get("L2RW_BROWSER_WAIT_S", "120")) * 1000)


@contextlib.contextmanager
def lab_page(path: str | Path, fragment: str = "", width: int = 1400, height: int = 1150) -> Iterator[tuple]:
    """Open the lab page at ``path`` (``#fragment`` appended) in headless Chromium; yields ``(page, blocked)``
    where ``blocked`` lists every URL the page asked for that was not a file or data URL (and was aborted)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise FileNotFoundError(f"{CHROMIUM} is missing; install it with: apt-get install -y chromium")
    blocked: list[str] = []

    def route(r):
        if r.request.url.startswith(("file:", "data:")):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.set_default_timeout(WAIT_MS)
            page.route("**/*", route)
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(Path(path).resolve().as_uri() + fragment)
            page.wait_for_function("document.body.dataset.ready === '1' && window.l2rwLab !== undefined")
            page.lab_errors = errors
            yield page, blocked
        finally:
            browser.close()


def open_in(page, path: str | Path, fragment: str = "") -> None:
    """Open the lab at ``path`` afresh in an already open ``page`` and wait until it is ready (via about:blank: a
    change of the fragment alone would not load the page again)."""
    page.goto("about:blank")
    page.goto(Path(path).resolve().as_uri() + fragment)
    page.wait_for_function("document.body.dataset.ready === '1' && window.l2rwLab !== undefined")


def click_world(page, canvas_id: str, x: float, y: float, shift: bool = False) -> None:
    """A real mouse click on a panel at the data coordinates ``(x, y)`` (the panels show [-3, 3]^2)."""
    canvas = page.locator(f"#{canvas_id}")
    box = canvas.bounding_box()
    position = {"x": (x + 3) / 6 * box["width"], "y": (3 - y) / 6 * box["height"]}
    canvas.click(position=position, modifiers=["Shift"] if shift else [])


# A drawn data set: two clusters of each class along a curve, then three points shift-clicked to the wrong label
_DRAWN_0 = [(-2.2, 0.9), (-1.9, 1.4), (-1.6, 0.6), (-1.3, 1.2), (-1.0, 0.5), (-0.9, 1.5), (-0.6, 0.9), (-2.4, 0.2),
            (-0.3, 1.3), (0.0, 0.8), (-1.7, -0.1), (0.3, 1.6)]
_DRAWN_1 = [(2.2, -0.9), (1.9, -1.4), (1.6, -0.6), (1.3, -1.2), (1.0, -0.5), (0.9, -1.5), (0.6, -0.9), (2.4, -0.2),
            (0.3, -1.3), (0.0, -0.8), (1.7, 0.1), (-0.3, -1.6), (0.7, -2.1), (1.4, -2.0), (2.0, -1.8), (0.2, -2.2)]
_FLIP = [(0.6, -0.9), (1.0, -0.5), (1.3, -1.2)]


def draw_data_set(page) -> None:
    """Choose "draw", pick each class with its radio button and click the points in; shift-click three to flip."""
    page.select_option("select[data-key=dataset]", "draw")
    for cls, points in ((0, _DRAWN_0), (1, _DRAWN_1)):
        page.check(f"input[data-key=drawClass][value='{cls}']")
        for x, y in points:
            click_world(page, "panel-l2rw", x, y)
    for x, y in _FLIP:
        click_world(page, "panel-l2rw", x, y, shift=True)


def screenshots(after: str | Path, before: str | Path | None = None, steps: int = 1500) -> dict:
    """Write the lab to a temporary file, draw a data set by clicking, save ``before`` (optional), train ``steps``
    steps, open the next step's breakdown, and save ``after``. Returns the snapshot after training."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from l2rw_viz.lab import write_lab

    with tempfile.TemporaryDirectory() as tmp:
        path = write_lab(Path(tmp) / "lab.html")
        with lab_page(path) as (page, blocked):
            page.evaluate("l2rwLab.load({dataset: 'draw', nVal: 6, lr: 0.3, seed: 1})")
            draw_data_set(page)
            if before:   # after two animation frames the page has drawn its state at step 0
                page.evaluate("new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
                page.screenshot(path=str(before), full_page=True)
            snap = page.evaluate(f"l2rwLab.train({steps})")
            page.click("#open-step")
            page.screenshot(path=str(after), full_page=True)
            if blocked or page.lab_errors:
                raise RuntimeError(f"the page asked the network for {blocked} / raised {page.lab_errors}")
    return snap


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Screenshots of the Reweight Lab with a drawn data set.")
    parser.add_argument("out", help="PNG after training")
    parser.add_argument("--before", default=None, help="PNG before training")
    parser.add_argument("--steps", type=int, default=1500)
    args = parser.parse_args(argv)
    snap = screenshots(args.out, args.before, args.steps)
    print({k: snap[k] for k in ("step", "testAccuracy", "meanWeight", "counts")})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
