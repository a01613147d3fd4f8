"""The course as a static web site: every notebook executed and rendered, plus a kernel-free explorer page.

    l2rw-viz course build site/                    # full mode: what a lecturer hosts
    l2rw-viz course build site/ --smoke            # L2RW_SMOKE=1 for every notebook (CI; figures are stamped)
    l2rw-viz course build site/ --notebooks 01 05 --no-explorer

The pipeline uses the Jupyter tools, not a renderer of its own: ``nbclient`` executes each notebook in a fresh
kernel, ``nbconvert``'s ``HTMLExporter`` (the JupyterLab template) writes its page. Between the two, one
nbconvert preprocessor (:class:`StaticOutputs`) turns each plotly output (``application/vnd.plotly.v1+json``,
what plotly emits in a kernel) into a plotly ``<div>`` that draws with the site's single local ``plotly.min.js``
(copied from the installed plotly), so every figure is interactive without a kernel or a network. Widget outputs
need a kernel: the step-through becomes its precomputed replay (:mod:`l2rw_viz.viz.static_stepthrough`), any other
widget (the live explorer of notebook 8) a note that links the explorer page. Formulas are typeset by the site's
own MathJax; no page loads anything from a CDN (:mod:`l2rw_viz.course.assets` says which package provides what).

The site: ``index.html`` (links to every page, the build's mode, versions and times), ``NN_name.html`` per
notebook, ``slides/NN_name.html`` per notebook (:mod:`l2rw_viz.course.decks`), ``explorer.html``
(:mod:`l2rw_viz.viz.static_explorer`), ``stepthrough.html``, ``plotly.min.js``, ``mathjax/``, ``reveal.js/``, the
output-free notebooks under ``notebooks/`` for download, and ``.l2rw-course-site.json`` (the build record, which
also marks the folder as a site so that a rebuild may replace it). The site is built in a temporary folder beside
``OUT_DIR`` and moved into place only when everything succeeded: a failed or interrupted build (Ctrl-C stops the
kernels within seconds, :class:`RunningKernels`) leaves the previous site (or nothing) behind. Every file name,
title and text is escaped on its way into HTML (:func:`href`, :func:`html_id`, :func:`escape_stray_html`).
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..checks import check_int
from . import assets, decks
from .files import notebooks_dir

MARKER = ".l2rw-course-site.json"
PLOTLY_JS = assets.PLOTLY_JS
EXPLORER_PAGE = "explorer.html"
LAB_PAGE = "lab.html"   # the Reweight Lab (l2rw_viz.lab): written by every build, linked first on the index
STEPTHROUGH_PAGE = decks.STEPTHROUGH_PAGE
SLIDES_DIR = "slides"
NOTEBOOKS_DIR = notebooks_dir()   # the repository's notebooks/ in a checkout, else the ones installed with the wheel
PLOTLY_MIME = "application/vnd.plotly.v1+json"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"

# The JupyterLab template with these changes: plotly.js (local) instead of require.js, which would otherwise
# capture plotly.js as an anonymous AMD module; no widget manager and no mermaid.js from a CDN (widget outputs are
# replaced; the course draws no mermaid diagrams); MathJax from the site's own copy (nbconvert's mathjax_url, plus
# the font settings of assets.MATHJAX_CONFIG); a navigation bar and, for smoke builds, a banner at the top.
_PAGE_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}
<script src="{{ resources.l2rw.plotly_js }}"></script>
{%- endblock html_head_js -%}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_js_mathjax -%}
{{ resources.l2rw.mathjax_config }}
{{ super() }}
{%- endblock html_head_js_mathjax -%}
{% block extra_css %}
<style>
.l2rw-nav { position: sticky; top: 0; z-index: 10; background: #f7f7f7; border-bottom: 1px solid #ddd;
            padding: 6px 16px; font-family: var(--jp-ui-font-family, sans-serif); font-size: 14px; }
.l2rw-nav a { margin-right: 18px; }
.l2rw-banner { margin: 10px 16px; padding: 8px 12px; border: 2px solid #c82020; color: #a01010;
               font-family: var(--jp-ui-font-family, sans-serif); font-weight: bold; }
.l2rw-widget-note { padding: 8px 12px; border-left: 4px solid #1f77b4; background: #eef4fa; }
</style>
{% endblock extra_css %}
{%- block body_header -%}
{{ super() }}
<nav class="l2rw-nav">{{ resources.l2rw.nav }}</nav>
{%- if resources.l2rw.banner %}<div class="l2rw-banner">{{ resources.l2rw.banner }}</div>{% endif -%}
{%- endblock body_header -%}
"""

SMOKE_BANNER = ("Smoke build (L2RW_SMOKE=1): every notebook ran its short settings. Figures from short runs carry "
                "the stamp \u201cSMOKE RUN: not the result\u201d.")


class NotebookBuildError(RuntimeError):
    """A notebook failed to execute; the message names it and carries the failing cell's error."""


@dataclass
class PageRecord:
    """One rendered notebook: its source name, page file, title, summary, execution time (s) and figure count."""

    notebook: str
    page: str
    title: str
    summary: str
    seconds: float
    figures: int
    deck: str = ""        # the reveal.js deck, e.g. slides/01_weighted_loss.html ("" when none was written)
    slides: int = 0       # its number of slides


# ----------------------------------------------------------------------------------------------------------------
# Which notebooks

def find_notebooks(notebooks_dir: str | Path = NOTEBOOKS_DIR, names: Sequence[str] | None = None) -> list[Path]:
    """The course notebooks ``NN_*.ipynb`` in ``notebooks_dir``, in course order; ``names`` picks a subset.

    ``names`` entries may be the number (``"01"`` or ``"1"``), the stem (``"01_weighted_loss"``) or the file name.
    An unknown name or an empty folder is a ``ValueError`` that lists what exists.
    """
    folder = Path(notebooks_dir)
    found = sorted(folder.glob("[0-9][0-9]_*.ipynb")) if folder.is_dir() else []
    if not found:
        raise ValueError(f"notebooks_dir={str(folder)!r} holds no course notebooks; allowed: a folder with "
                         f"NN_name.ipynb files (the repository's notebooks/)")
    if not names:
        return found
    picked = []
    for name in names:
        key = str(name).removesuffix(".ipynb")
        match = [p for p in found if p.stem == key or (key.isdigit() and int(p.stem[:2]) == int(key))]
        if not match:
            raise ValueError(f"notebooks={name!r} is not a course notebook; allowed: {[p.stem for p in found]} "
                             f"or their numbers")
        if match[0] not in picked:
            picked.append(match[0])
    return sorted(picked)


# ----------------------------------------------------------------------------------------------------------------
# Execute

def kernel_env(smoke: bool, jobs: int = 1) -> dict[str, str]:
    """The environment of each notebook kernel: this process's, with ``L2RW_SMOKE`` set to the build's mode.

    With ``jobs`` kernels at once, each gets ``cores // jobs`` math threads (unless ``OMP_NUM_THREADS`` is set),
    so parallel notebooks do not fight over the same cores."""
    env = dict(os.environ)
    env["L2RW_SMOKE"] = "1" if smoke else "0"
    if jobs > 1 and "OMP_NUM_THREADS" not in env:
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // jobs))
    return env


class RunningKernels:
    """The kernels of a build's notebooks while they run, so that Ctrl-C stops them within seconds.

    A cell may run for many minutes; waiting for it would ignore the interrupt. :meth:`stop` interrupts every
    kernel (SIGINT: a Python cell raises KeyboardInterrupt at once), gives them ``grace_s`` seconds, then kills
    what still runs; the notebook's thread then ends with an error instead of waiting for the cell."""

    def __init__(self):
        self._lock = threading.Lock()
        self._managers: list = []
        self.stopping = False

    def add(self, km) -> None:
        with self._lock:
            self._managers.append(km)

    def remove(self, km) -> None:
        with self._lock:
            if km in self._managers:
                self._managers.remove(km)

    def stop(self, grace_s: float = 2.0) -> None:
        import signal

        with self._lock:
            self.stopping = True
            procs = [getattr(getattr(km, "provisioner", None), "process", None) for km in self._managers]
        procs = [p for p in procs if p is not None and p.poll() is None]
        for p in procs:
            p.send_signal(signal.SIGINT)
        deadline = time.monotonic() + grace_s
        for p in procs:
            try:
                p.wait(max(0.0, deadline - time.monotonic()))
            except Exception:  # still running after the grace period (subprocess.TimeoutExpired)
                pass
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(10)


def execute_notebook(path: str | Path, workdir: str | Path, env: dict[str, str], timeout: int = 1200,
                     kernels: RunningKernels | None = None):
    """Run ``path`` top to bottom in a fresh ``python3`` kernel whose working directory is ``workdir``.

    Files the notebook writes (result caches, exports) land in ``workdir``, never beside the source. Returns
    ``(notebook, seconds)``, the notebook with its outputs. A failing cell raises :class:`NotebookBuildError`.
    ``kernels``: where the running kernel is registered, so that the build can stop it on Ctrl-C.
    ``timeout``: seconds allowed per cell.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(workdir)}})
    if kernels is not None and kernels.stopping:
        raise KeyboardInterrupt
    km = client.create_kernel_manager()   # made here (nbclient would make it in execute) so a build can stop it
    if kernels is not None:
        kernels.add(km)
    start = time.perf_counter()
    try:
        client.execute(env=env)
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as error:
        if kernels is not None and kernels.stopping:
            raise KeyboardInterrupt from error
        plain = re.sub(r"\x1b\[[0-9;]*m", "", str(error))  # the traceback's terminal colours
        raise NotebookBuildError(f"{path.name} failed: {plain}") from error
    finally:
        if kernels is not None:
            kernels.remove(km)
    return nb, time.perf_counter() - start


# ----------------------------------------------------------------------------------------------------------------
# Render

def _static_outputs(nb, page_stem: str, explorer_link: str | None) -> int:
    """In place: plotly JSON outputs -> self-drawing plotly ``<div>``s; the step-through widget -> its precomputed
    replay (a plotly figure too); other widget outputs -> a note that links the explorer. Returns the number of
    plotly figures on the page. Div ids are ``<page>-c<cell>-o<output>`` so a rebuild writes the same HTML."""
    import plotly.io as pio

    figures = 0
    div_stem = html_id(page_stem)
    for c, cell in enumerate(nb.cells):
        for o, out in enumerate(cell.get("outputs", [])):
            data = out.get("data")
            if not data:
                continue
            if PLOTLY_MIME in data:
                fig = data.pop(PLOTLY_MIME)
                data["text/html"] = pio.to_html(fig, include_plotlyjs=False, full_html=False, validate=False,
                                                div_id=f"{div_stem}-c{c}-o{o}")
                figures += 1
            elif WIDGET_MIME in data:
                data.pop(WIDGET_MIME)
                data.pop("text/plain", None)
                if "StepThrough(" in cell.get("source", ""):
                    # the step-through replays without a kernel: the same stages, precomputed (static_stepthrough)
                    from ..viz.static_stepthrough import stepthrough_div

                    note = ("The live step-through needs a Python kernel; here it is precomputed for a few batches "
                            "(seed 0, as in the widget): move the stage slider or press back / next, and switch "
                            "batches or flip a label with the buttons above the figure.")
                    data["text/html"] = (f'<div class="l2rw-widget-note">{note}</div>'
                                         + stepthrough_div(_replay_figure(), f"{div_stem}-c{c}-o{o}"))
                    figures += 1
                    continue
                note = "An interactive widget was here: it needs a running Python kernel (open the notebook in " \
                       "JupyterLab or Voila)."
                if explorer_link:
                    note += f' Without a kernel, use the <a href="{href(explorer_link)}">precomputed explorer</a>.'
                data["text/html"] = f'<div class="l2rw-widget-note">{note}</div>'
    nb.metadata.pop("widgets", None)
    return figures


# Markdown passes raw HTML through, so "seen <label given> / true <real label>" would become two unknown tags and
# vanish from the page. Only these tags (and autolinks, comments) stay HTML; every other "<" in prose is escaped.
_MARKDOWN_TAGS = ("a", "b", "br", "center", "code", "details", "div", "em", "font", "h1", "h2", "h3", "h4", "h5",
                  "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre", "s", "small", "span", "strong", "sub",
                  "summary", "sup", "table", "tbody", "td", "th", "thead", "tr", "u", "ul")
_PROTECTED = re.compile(r"(```.*?```|~~~.*?~~~|`[^`\n]*`|\$\$.*?\$\$|(?<![\\$])\$[^$\n]+\$)", re.S)
_ALLOWED_TAG = re.compile(r"</?(?:" + "|".join(_MARKDOWN_TAGS) + r")\b([^<>]*)>|<!--|<https?://|<mailto:", re.I)
_SCRIPTED = re.compile(r"\bon\w+\s*=|javascript:|<script", re.I)   # attributes that run code


def escape_stray_html(markdown: str) -> str:
    """``markdown`` with every ``<`` written as ``&lt;`` unless it opens an allowed HTML tag (:data:`_MARKDOWN_TAGS`,
    with no event-handler attribute or ``javascript:`` URL), an autolink or a comment; code spans, fenced code and
    ``$...$`` / ``$$...$$`` maths are left as they are (their ``<`` is already shown as text)."""
    def one(text: str) -> str:
        out, i = [], 0
        for m in re.finditer("<", text):
            tag = _ALLOWED_TAG.match(text, m.start())
            keep = tag is not None and not _SCRIPTED.search(tag.group(1) or "")
            out += [text[i:m.start()], "<" if keep else "&lt;"]
            i = m.start() + 1
        return "".join(out) + text[i:]

    parts = _PROTECTED.split(markdown)
    return "".join(part if i % 2 else one(part) for i, part in enumerate(parts))


def _escape_markdown_cells(nb) -> None:
    """In place: :func:`escape_stray_html` on every markdown cell."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = escape_stray_html(cell.source)


def href(path: str) -> str:
    """A site-relative file path as an ``href``/``src`` attribute value: percent-encoded (a file name may hold
    spaces, quotes or ``<``), then HTML-escaped."""
    from urllib.parse import quote

    return html.escape(quote(path, safe="/"), quote=True)


def html_id(text: str) -> str:
    """``text`` reduced to a safe HTML id / JavaScript string (letters, digits, ``_``, ``-``): plotly writes the id
    into a script as well as an attribute."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", text)


_REPLAY: dict = {}


def _replay_figure() -> dict:
    """The step-through replay figure (:mod:`l2rw_viz.viz.static_stepthrough`), computed once per process."""
    if "figure" not in _REPLAY:
        from ..viz.static_stepthrough import stepthrough_replay_figure

        _REPLAY["figure"] = stepthrough_replay_figure()
    return _REPLAY["figure"]


def _title_and_summary(nb, fallback: str) -> tuple[str, str]:
    """The first markdown heading (title) and the first sentence of prose after it (summary), as plain text."""
    title, summary = fallback, ""
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            text = line.strip()
            if not text:
                continue
            if text.startswith("#"):
                if title == fallback:
                    title = text.lstrip("#").strip()
                continue
            if not summary and title != fallback and not re.match(r"^[*_]?Course:", text):
                plain = re.sub(r"[*_`]|\[([^\]]*)\]\([^)]*\)", r"\1", text)
                summary = re.split(r"(?<=[.!?])\s", plain, maxsplit=1)[0]
        if summary:
            break
    return title, summary[:240]


def readme_questions(notebooks_dir: str | Path = NOTEBOOKS_DIR) -> dict[str, str]:
    """``{"01_weighted_loss.ipynb": "What does a per-example weight do ...?", ...}`` from the course table in
    ``notebooks/README.md`` (rows ``| n | `NN_name.ipynb` | the question | time |``); empty if there is none."""
    readme = Path(notebooks_dir) / "README.md"
    if not readme.is_file():
        return {}
    rows = re.findall(r"^\|\s*\d+\s*\|\s*`(\d\d_[^`]+\.ipynb)`\s*\|\s*([^|]+?)\s*\|", readme.read_text(), re.M)
    return {name: re.sub(r"[*_`]", "", text) for name, text in rows}


def render_page(nb, page_stem: str, nav_html: str, banner: str = "", explorer_link: str | None = EXPLORER_PAGE,
                title: str | None = None):
    """``(html, figures)``: the executed notebook as a page of the lab template, plotly figures drawn from the
    site's ``plotly.min.js`` (see :func:`_static_outputs`); ``title``: the page's ``<title>``."""
    import jinja2
    from nbconvert import HTMLExporter

    figures = _static_outputs(nb, page_stem, explorer_link)
    _escape_markdown_cells(nb)
    if title:
        nb.metadata["title"] = title
    exporter = HTMLExporter(template_name="lab",
                            extra_loaders=[jinja2.DictLoader({"l2rw_page.html.j2": _PAGE_TEMPLATE})],
                            template_file="l2rw_page.html.j2", mathjax_url=assets.MATHJAX_URL)
    resources = {"l2rw": {"plotly_js": PLOTLY_JS, "nav": nav_html, "banner": html.escape(banner),
                          "mathjax_config": assets.MATHJAX_CONFIG}}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    return body, figures


def _nav(records: Sequence[tuple[str, str]], i: int, with_explorer: bool, deck: str | None = None) -> str:
    """Navigation bar of page ``i`` of ``records`` = ``[(page file, title), ...]``; ``deck``: its slides."""
    links = ['<a href="index.html">&#8962; course index</a>']
    if deck:
        links.append(f'<a href="{href(deck)}">slides</a>')
    if i > 0:
        links.append(f'<a href="{href(records[i - 1][0])}">&larr; {html.escape(records[i - 1][1])}</a>')
    if i + 1 < len(records):
        links.append(f'<a href="{href(records[i + 1][0])}">{html.escape(records[i + 1][1])} &rarr;</a>')
    if with_explorer:
        links.append(f'<a href="{EXPLORER_PAGE}">explorer (no kernel)</a>')
    links.append(f'<a href="{STEPTHROUGH_PAGE}">step-through (no kernel)</a>')
    return "".join(links)


def index_html(records: Sequence[PageRecord], info: dict, with_explorer: bool) -> str:
    """The site's index page: one row per notebook page, the explorer link, how and when the site was built."""
    rows = "\n".join(
        f'<tr><td><a href="{href(r.page)}">{html.escape(r.title)}</a><br><small>'
        f'<a href="{href("notebooks/" + r.notebook)}">'
        f'{html.escape(r.notebook)}</a>'
        + (f' &middot; <a href="{href(r.deck)}">slides ({r.slides})</a>' if r.deck else "")
        + f'</small></td><td>{html.escape(r.summary)}</td><td>{r.figures}</td>'
        f'<td>{r.seconds:.0f} s</td></tr>' for r in records)
    explorer = (f'<p class="explorer"><a href="{EXPLORER_PAGE}"><b>The explorer, without a kernel</b></a>: toy runs of '
                f'plain training, class-proportion weights and L2RW, precomputed over a grid of settings and replayed '
                f'with plotly controls.</p>') if with_explorer else ""
    explorer += (f'<p class="explorer"><a href="{STEPTHROUGH_PAGE}"><b>One L2RW step, stage by stage, without a '
                 f'kernel</b></a>: the step-through of notebook 5 precomputed for a few batches (and one flipped '
                 f'label), replayed with plotly controls.</p>')
    banner = f'<div class="banner">{html.escape(SMOKE_BANNER)}</div>' if info["smoke"] else ""
    mode = "smoke (L2RW_SMOKE=1: short runs)" if info["smoke"] else "full"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Learning to Reweight Examples: the course</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 980px; margin: 2em auto; padding: 0 1em; color: #222; }}
table {{ border-collapse: collapse; width: 100%; }} td, th {{ border-bottom: 1px solid #ddd; padding: 6px 8px;
text-align: left; vertical-align: top; }} .banner {{ border: 2px solid #c82020; color: #a01010; padding: 8px 12px;
font-weight: bold; }} .explorer {{ background: #eef4fa; padding: 10px 12px; }} small {{ color: #666; }}
</style></head>
<body>
<h1>Learning to Reweight Examples for Robust Deep Learning</h1>
<p>The course of <code>l2rw-viz</code> on Ren, Zeng, Yang &amp; Urtasun (ICML 2018), rendered with every notebook
executed. Figures are interactive (zoom, hover) and need no Python: this folder works from disk or on any web
server.</p>
<p class="explorer"><a href="{LAB_PAGE}"><b>For seminars: the Reweight Lab, no Python needed</b></a>: plain SGD,
class-proportion weights and L2RW train live in the browser, side by side, on data you draw by clicking.</p>
{banner}
{explorer}
<table><thead><tr><th>notebook</th><th>what it is about</th><th>figures</th><th>run time</th></tr></thead>
<tbody>
{rows}
</tbody></table>
<p><small>Built {html.escape(info["built"])} in {mode} mode by <code>{html.escape(info["command"])}</code>;
l2rw-viz {html.escape(info["versions"]["l2rw_viz"])}, torch {html.escape(info["versions"]["torch"])},
plotly {html.escape(info["versions"]["plotly"])}, nbconvert {html.escape(info["versions"]["nbconvert"])};
{info["seconds"]:.0f} s in all ({info["cpu_seconds"]:.0f} CPU seconds).
The notebooks (without outputs) are under <code>notebooks/</code>.</small></p>
</body></html>
"""


# ----------------------------------------------------------------------------------------------------------------
# Build

def _is_site(path: Path) -> bool:
    return (path / MARKER).is_file()


def check_out_dir(out_dir: str | Path, force: bool = False, notebooks_dir: str | Path = NOTEBOOKS_DIR) -> Path:
    """The resolved ``out_dir`` if a build may write it: absent, empty, or a previous site (``--force``: any folder
    that does not hold the course sources). Raises ``ValueError`` otherwise, before any work is done."""
    out = Path(out_dir).resolve()
    sources = Path(notebooks_dir).resolve()
    if out.exists() and not out.is_dir():
        raise ValueError(f"out_dir={str(out_dir)!r} is a file; allowed: a new folder, an empty one or a previous site")
    if out == sources or out in sources.parents:
        raise ValueError(f"out_dir={str(out_dir)!r} holds the notebooks themselves; allowed: a folder outside "
                         f"{str(sources)!r}")
    if out.is_dir() and any(out.iterdir()) and not _is_site(out) and not force:
        raise ValueError(f"out_dir={str(out_dir)!r} exists and is not a site built by 'l2rw-viz course build' (no "
                         f"{MARKER}); allowed: a new or empty folder or a previous site, or pass --force to replace "
                         f"its contents")
    return out


def _versions() -> dict[str, str]:
    import nbconvert
    import plotly
    import torch

    from .. import __version__

    return {"l2rw_viz": __version__, "torch": torch.__version__, "plotly": plotly.__version__,
            "nbconvert": nbconvert.__version__, "python": sys.version.split()[0]}


def build_site(out_dir: str | Path, notebooks: Sequence[str] | None = None, *, smoke: bool = False,
               timeout: int = 1200, jobs: int = 1, force: bool = False, explorer: bool = True,
               explorer_grid: str | None = None, explorer_base=None, notebooks_dir: str | Path = NOTEBOOKS_DIR,
               progress: bool = True,
               command: str = "l2rw-viz course build", executed_dir: str | Path | None = None) -> dict:
    """Execute the notebooks, render the site into a temporary folder beside ``out_dir``, then move it into place.

    Args:
        out_dir: the site folder; must be new, empty or a previous site unless ``force`` (see
            :func:`check_out_dir`). A previous site is replaced only after the new one is complete.
        notebooks: a subset (numbers or names, see :func:`find_notebooks`); ``None``: every notebook.
        smoke: run the notebooks with ``L2RW_SMOKE=1`` (short runs; their figures carry the smoke stamp).
        timeout: seconds allowed per notebook cell (>= 1). jobs: notebooks executed at once (>= 1).
        explorer: also precompute and write ``explorer.html``; explorer_grid: ``"full"`` or ``"small"``
            (default: ``"small"`` in smoke mode, else ``"full"``), see :mod:`l2rw_viz.viz.static_explorer`;
            explorer_base: the :class:`~l2rw_viz.viz.state.ExplorerState` every explorer run starts from
            (default: the explorer's defaults; tests pass a shorter one).
        notebooks_dir: where the ``NN_*.ipynb`` live (default: the repository's ``notebooks/``).
        executed_dir: also write each executed notebook, outputs included, to this folder (the tests read them
            there, so one execution serves the notebook tests, the decks and the pages).
    Returns:
        The build record written to ``out_dir/.l2rw-course-site.json``: pages, per-notebook seconds, versions,
        mode, total wall seconds and CPU seconds (this process and the kernels).
    """
    from tqdm.auto import tqdm

    timeout = check_int("timeout", timeout, 1)
    jobs = check_int("jobs", jobs, 1)
    paths = find_notebooks(notebooks_dir, notebooks)
    out = check_out_dir(out_dir, force, notebooks_dir)
    if explorer:
        from ..viz.static_explorer import GRIDS

        explorer_grid = explorer_grid or ("small" if smoke else "full")
        if explorer_grid not in GRIDS:
            raise ValueError(f"explorer_grid={explorer_grid!r} is not allowed; allowed: {sorted(GRIDS)}")
    start, cpu_start = time.perf_counter(), _cpu_seconds()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp makes it private; a site is meant to be read by a web server
    try:
        with tempfile.TemporaryDirectory(prefix="l2rw-course-run-") as scratch:
            env = kernel_env(smoke, jobs)
            executed: dict[Path, tuple] = {}
            bar = tqdm(total=len(paths), desc="notebooks", unit="nb", disable=not progress)
            kernels = RunningKernels()
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                futures = {}
                for p in paths:
                    workdir = Path(scratch) / p.stem
                    workdir.mkdir()
                    futures[pool.submit(execute_notebook, p, workdir, env, timeout, kernels)] = p
                try:
                    for future in as_completed(futures):
                        p = futures[future]
                        executed[p] = future.result()
                        bar.set_postfix_str(f"{p.stem} {executed[p][1]:.0f} s")
                        bar.update()
                except BaseException:
                    for f in futures:
                        f.cancel()
                    # Ctrl-C or a failed notebook: stop the kernels still running instead of waiting for their
                    # cells (the pool's exit waits for its threads, which end once their kernel is gone)
                    kernels.stop()
                    raise
                finally:
                    bar.close()
        if executed_dir is not None:
            import nbformat

            Path(executed_dir).mkdir(parents=True, exist_ok=True)
            for p in paths:
                nbformat.write(executed[p][0], Path(executed_dir) / p.name)
        pages = [(f"{p.stem}.html", _title_and_summary(executed[p][0], p.stem)[0]) for p in paths]
        records = []
        questions = readme_questions(notebooks_dir)
        (tmp / SLIDES_DIR).mkdir()
        for i, p in enumerate(paths):
            nb, seconds = executed[p]
            title, summary = _title_and_summary(nb, p.stem)
            summary = questions.get(p.name, summary)
            # the deck first: render_page turns the plotly outputs into HTML in place
            deck = f"{SLIDES_DIR}/{p.stem}.html"
            n_slides = decks.write_deck(nb, tmp / deck, title, summary, page_link="../" + pages[i][0])
            body, figures = render_page(nb, p.stem, _nav(pages, i, explorer, deck), SMOKE_BANNER if smoke else "",
                                        EXPLORER_PAGE if explorer else None, title)
            (tmp / pages[i][0]).write_text(body, encoding="utf-8")
            records.append(PageRecord(p.name, pages[i][0], title, summary, round(seconds, 1), figures, deck,
                                      n_slides))
        (tmp / "notebooks").mkdir()
        for p in paths:
            shutil.copy2(p, tmp / "notebooks" / p.name)
        assets.copy_site_assets(tmp)
        from ..viz.static_stepthrough import stepthrough_html

        (tmp / STEPTHROUGH_PAGE).write_text(stepthrough_html(PLOTLY_JS, "index.html", _replay_figure()),
                                            encoding="utf-8")
        from ..lab import write_lab

        write_lab(tmp / LAB_PAGE, back_link="index.html")
        explorer_info = None
        if explorer:
            from ..viz.static_explorer import write_explorer

            options = {} if explorer_base is None else {"base": explorer_base}
            explorer_info = write_explorer(tmp / EXPLORER_PAGE, grid=explorer_grid, jobs=jobs, progress=progress,
                                           plotly_js=PLOTLY_JS, back_link="index.html", **options)
        info = {"generator": "l2rw-viz course build", "command": command, "smoke": smoke,
                "built": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "versions": _versions(),
                "pages": [r.__dict__ for r in records], "explorer": explorer_info,
                "seconds": round(time.perf_counter() - start, 1),
                "cpu_seconds": round(_cpu_seconds() - cpu_start, 1)}
        (tmp / "index.html").write_text(index_html(records, info, explorer), encoding="utf-8")
        (tmp / MARKER).write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
        _move_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return info


def _cpu_seconds() -> float:
    """CPU seconds of this process and of its finished children (the notebook kernels): unlike wall time, this
    hardly depends on what else runs on the machine. (Explorer workers in other processes count separately.)"""
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _move_into_place(tmp: Path, out: Path) -> None:
    """Swap the finished build ``tmp`` in as ``out`` (both in one folder, so each rename is atomic)."""
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        out.rename(old)
        try:
            tmp.rename(out)
        except BaseException:
            old.rename(out)  # put the previous site back
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(out)


def site_size(path: str | Path) -> int:
    """Total bytes of the files under ``path``."""
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


# ----------------------------------------------------------------------------------------------------------------
# Command line

def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="l2rw-viz course", description="The course as a static web site.")
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = sub.add_parser("build", help="execute every notebook and write a static site to OUT_DIR",
                       description="Execute the course notebooks (nbclient) and write a static site (nbconvert, "
                       "lab template): index.html, one page per notebook with interactive plotly figures, the "
                       "kernel-free explorer.html and a local plotly.min.js. Works from disk, offline.")
    p.add_argument("out_dir", metavar="OUT_DIR", help="the site folder: new, empty, or a previous site (replaced "
                   "only when the new build succeeded)")
    p.add_argument("--smoke", action="store_true", help="run the notebooks with L2RW_SMOKE=1 (short runs, stamped "
                   "figures); also on when L2RW_SMOKE=1 is set")
    p.add_argument("--notebooks", nargs="+", default=None, metavar="NB",
                   help="only these notebooks (numbers like 01 or names like 01_weighted_loss; default: all)")
    p.add_argument("--notebooks-dir", default=str(NOTEBOOKS_DIR),
                   help="where the NN_*.ipynb files are, e.g. a lecturer's edited copies (default: the "
                   "repository's notebooks/, or the installed course when there is no repository)")
    p.add_argument("--timeout", type=int, default=1200, help="seconds allowed per notebook cell (default: 1200)")
    p.add_argument("--jobs", type=int, default=1,
                   help="notebooks executed at once, and processes for the explorer's runs (default: 1)")
    p.add_argument("--force", action="store_true", help="replace OUT_DIR even if it is not a previous site")
    p.add_argument("--no-explorer", action="store_true", help="skip the precomputed explorer page")
    p.add_argument("--explorer-grid", choices=["small", "full"], default=None,
                   help="the explorer's grid of settings (default: small with --smoke, else full)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    sub.add_parser("copy", help="copy the notebooks into DIR (l2rw_viz.course.files)", add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``l2rw-viz course build OUT_DIR [options]`` (or ``course copy DIR``); returns the exit status (2: bad option,
    1: a notebook failed)."""
    from ..settings import smoke_mode

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["copy"]:   # `l2rw-viz course copy DIR`: its module owns its options
        from .files import main as copy_main

        return copy_main(argv[1:])
    parser = _parser()
    args = parser.parse_args(argv)
    smoke = args.smoke or smoke_mode()
    try:
        info = build_site(args.out_dir, args.notebooks, smoke=smoke, timeout=args.timeout, jobs=args.jobs,
                          force=args.force, explorer=not args.no_explorer, explorer_grid=args.explorer_grid,
                          notebooks_dir=args.notebooks_dir, progress=not args.no_progress,
                          command="l2rw-viz course " + " ".join(argv))
    except ValueError as error:
        parser.exit(2, f"l2rw-viz course: error: {error}\n")
    except NotebookBuildError as error:
        print(f"l2rw-viz course: {error}\n{args.out_dir} was left as it was", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\nl2rw-viz course: interrupted; the kernels were stopped, the temporary folder removed and "
              f"{args.out_dir} left as it was", file=sys.stderr)
        return 130
    size = site_size(args.out_dir)
    print(f"wrote {args.out_dir}: {len(info['pages'])} notebook page(s)"
          + (" + explorer.html" if info["explorer"] else "")
          + f", {size / 1e6:.1f} MB, {info['seconds']:.0f} s ({'smoke' if smoke else 'full'} mode); "
            f"open {Path(args.out_dir) / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
