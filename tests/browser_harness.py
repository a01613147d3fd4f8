"""The real-browser harness: serve a small explorer notebook with Voila (app mode) or JupyterLab 4 on 127.0.0.1,
drive it in headless Debian Chromium with Playwright, and take the README screenshot.

The browser tests (``tests/test_browser*.py``, ``tests/test_site.py``) and ``docs/explorer.png`` use this same
code path; it lives with the tests, not in the installed package. From the repository root::

    python tests/browser_harness.py docs/explorer.png

Needs ``/usr/bin/chromium`` (``apt-get install chromium``) and the ``playwright`` Python package; no browser is
downloaded. Servers are always shut down (process group killed) when the ``with`` block ends.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
# How long any wait in the browser may take (ms): every wait is on a condition, so a long bound costs nothing when
# things are fast, and on a loaded 2-core CI machine (training, kernel start-up and plotly's 5 MB module all compete
# for the CPU) a run that takes 3-4x its quiet time still passes. L2RW_BROWSER_WAIT_S overrides it.
WAIT_MS = int(float(os.environ.get("L2RW_BROWSER_WAIT_S", "240")) * 1000)
# Server start-up (s): JupyterLab builds its page assets on the first request, slowly on a busy machine.
SERVER_START_S = WAIT_MS / 1000
# Flags checked in headless Debian Chromium (ENVIRONMENT_NOTES.md); swiftshader lets Scattergl (WebGL) draw.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--enable-unsafe-swiftshader"]

# Two small demo notebooks, one widget each. One page per widget on purpose: every plotly FigureWidget evaluates
# plotly's 5 MB JavaScript module and anywidget gives each model 2 s to initialise; on a busy 2-core machine the
# second figure on a page sometimes missed that deadline and then never updated (seen in Voila, Chromium 156).
_SETUP = ("import os\n"
          "from l2rw_viz.viz import ExplorerState, ToyExplorer, WeightAnimator, train_toy\n"
          "state = ExplorerState.from_json(os.environ.get('L2RW_VIZ_STATE') or ExplorerState().to_json())")
ANIMATOR_CELLS = [_SETUP,
                  "run = train_toy(state, boundary_every=10)\n"
                  "WeightAnimator(run.history, run.x, run.boundaries, n_frames=30, width=520, height=430)"]
EXPLORER_CELLS = [_SETUP, "ToyExplorer(state, debounce_s=0.1, panel_size=400)"]


def write_demo_notebook(path: str | Path, cells: Sequence[str] = EXPLORER_CELLS) -> Path:
    """Write the demo notebook (code cells ``cells``, no outputs) to ``path`` and return it."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    path = Path(path)
    nbformat.write(nb, path)
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str | None, port: int, proc: subprocess.Popen, timeout: float, log: Path) -> None:
    """Wait until ``url`` answers 200 (or, with ``url=None``, until ``port`` accepts connections)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}; log:\n{log.read_text()[-3000:]}")
        try:
            if url is None:
                with socket.create_connection(("127.0.0.1", port), timeout=2):
                    return
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout} s; log:\n{log.read_text()[-3000:]}")


@contextlib.contextmanager
def serve(notebook: str | Path, kind: str = "voila", timeout: float = SERVER_START_S,
          env: dict[str, str] | None = None) -> Iterator[str]:
    """Serve ``notebook`` on 127.0.0.1 (a free port) with ``kind`` = ``"voila"`` or ``"lab"``; yields the URL
    that opens it (Voila: the rendered app; Lab: ``/lab/tree/NB.ipynb?reset``). The server runs in its own process
    group and is killed on exit, whatever happens inside the block. Its log is ``<notebook dir>/<kind>.log``."""
    from l2rw_viz.checks import check_choice

    check_choice("kind", kind, ["voila", "lab"])
    notebook = Path(notebook).resolve()
    port = free_port()
    root = notebook.parent
    log = root / f"{kind}.log"
    if kind == "voila":
        cmd = [sys.executable, "-m", "voila", notebook.name, "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1",
               "--show_tracebacks=True"]
        # Voila executes the notebook on every GET of the page, so readiness is "the port accepts connections"
        url, ready = f"http://127.0.0.1:{port}/", None
    else:
        cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
               "--IdentityProvider.token=", "--ServerApp.password=", f"--ServerApp.root_dir={root}"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")
        url, ready = f"http://127.0.0.1:{port}/lab/tree/{notebook.name}?reset", f"http://127.0.0.1:{port}/api/status"
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=root, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                env={**os.environ, **(env or {})})
    try:
        _wait_http(ready, port, proc, timeout, log)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


@contextlib.contextmanager
def browser_page(width: int = 1400, height: int = 1000) -> Iterator[object]:
    """A Playwright page in headless ``/usr/bin/chromium`` (no browser download); closed on exit."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise FileNotFoundError(f"{CHROMIUM} is missing; install it with: apt-get install -y chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            # every Playwright wait (goto, click, wait_for) gets the same headroom, not its 30 s default
            page.set_default_timeout(WAIT_MS)
            page.set_default_navigation_timeout(WAIT_MS)
            yield page
        finally:
            browser.close()


def run_all_in_lab(page, url: str, timeout_ms: int = WAIT_MS) -> None:
    """Open a notebook in JupyterLab 4, wait for an idle kernel, and run all cells from the Run menu."""
    page.goto(url, timeout=timeout_ms)
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=timeout_ms)
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_text("Run All Cells", exact=True).click()


def plot_data(page, index: int, expr: str):
    """Evaluate ``expr`` (JavaScript, with ``gd`` the ``index``-th plotly graph div) in the page."""
    return page.evaluate(f"(i) => {{ const gd = document.querySelectorAll('.js-plotly-plot')[i]; return {expr}; }}",
                         index)


def wait_for_plot(page, timeout_ms: int = WAIT_MS) -> None:
    """Wait until a plotly figure is on the page."""
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length >= 1", timeout=timeout_ms)


def wait_for_explorer(page, timeout_ms: int = WAIT_MS) -> None:
    """Wait until the explorer's figure is drawn and shows both finished runs ("test accuracy" in both titles)."""
    wait_for_plot(page, timeout_ms)
    page.get_by_text("trained", exact=False).first.wait_for(timeout=timeout_ms)
    page.wait_for_function("() => (document.querySelector('.js-plotly-plot').layout.annotations || [])"
                           ".filter(a => a.text.includes('test accuracy')).length >= 2", timeout=timeout_ms)


def wait_until_settled(page, index: int = 0, quiet_ms: int = 1000, timeout_ms: int = WAIT_MS) -> None:
    """Wait until the ``index``-th plot has not changed (titles, trace lengths, point colours) for ``quiet_ms``:
    plotly's last relayout is done, however long it took (a condition, not a fixed sleep)."""
    page.wait_for_function(
        "([i, quiet]) => { const gd = document.querySelectorAll('.js-plotly-plot')[i];"
        " if (!gd || !gd.data) return false;"
        " const s = JSON.stringify([(gd.layout.annotations || []).map(a => a.text),"
        "   gd.data.map(t => [t.x ? t.x.length : 0, t.marker && t.marker.color ? Array.from(t.marker.color) : 0])]);"
        " const now = Date.now(); const w = window.__l2rwSettle = window.__l2rwSettle || {};"
        " if (w[i] === undefined || w[i].s !== s) { w[i] = {s: s, since: now}; return false; }"
        " return now - w[i].since >= quiet; }",
        arg=[index, quiet_ms], timeout=timeout_ms, polling=200)


def take_screenshot(out: str | Path, workdir: str | Path, kind: str = "voila", state_json: str | None = None) -> Path:
    """Serve the explorer notebook, wait until both runs are drawn, and save a PNG of the page at ``out``."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    nb = write_demo_notebook(workdir / "explorer_demo.ipynb", EXPLORER_CELLS)
    env = {"L2RW_VIZ_STATE": state_json} if state_json else None
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with serve(nb, kind, env=env) as url, browser_page(1320, 1000) as page:
        if kind == "lab":
            run_all_in_lab(page, url)
        else:
            page.goto(url, timeout=WAIT_MS)
        wait_for_explorer(page)
        wait_until_settled(page)
        page.screenshot(path=str(out), full_page=True)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """``OUT.png [--kind voila|lab] [--state STATE.json]``: write the explorer screenshot (the README image)."""
    import tempfile

    parser = argparse.ArgumentParser(prog="python tests/browser_harness.py",
                                     description="Screenshot of the explorer in headless Chromium (README image).")
    parser.add_argument("out", nargs="?", default="docs/explorer.png")
    parser.add_argument("--kind", choices=["voila", "lab"], default="voila")
    parser.add_argument("--state", default=None, help="an ExplorerState JSON file to show (default: the defaults)")
    args = parser.parse_args(argv)
    state_json = None
    if args.state:
        from l2rw_viz.viz.state import ExplorerState

        state_json = ExplorerState.load(args.state).to_json()
    with tempfile.TemporaryDirectory() as tmp:
        out = take_screenshot(args.out, tmp, args.kind, state_json)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
