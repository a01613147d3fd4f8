"""The JavaScript the course site carries, so that every page and deck works from disk with no network.

Each comes from a package installed with the project (declared in ``pyproject.toml``), never from a CDN and never
from a copy committed to the repository:

==============  ==========================  ===========================================================
what            PyPI package                files copied into the site
==============  ==========================  ===========================================================
plotly.js       ``plotly``                  ``plotly/package_data/plotly.min.js`` -> ``plotly.min.js``
MathJax 2.7     ``jupyter-server-mathjax``  ``jupyter_server_mathjax/static/`` -> ``mathjax/`` (TeX input,
                                            HTML-CSS output with the STIX-Web fonts it ships; no SVG
                                            output, no translations)
reveal.js 5     ``sphinx-revealjs``         ``sphinx_revealjs/_static/revealjs/`` -> ``reveal.js/`` (the
                                            ``dist/`` build, the white theme and its fonts, the notes plugin)
==============  ==========================  ===========================================================

``jupyter-server-mathjax`` is the MathJax that Jupyter's own servers serve offline. reveal.js has no PyPI package
of its own; ``sphinx-revealjs`` (maintained, reveal.js 5.2) ships the upstream ``dist/`` files as package data.
(JupyterLab's RISE extension bundles reveal.js into webpack chunks that cannot be loaded on their own.)

:func:`copy_site_assets` copies all three into a site; :data:`MATHJAX_URL` and :data:`MATHJAX_CONFIG` are what a page
puts in its head (nbconvert's ``mathjax_url`` and one extra configuration block: the shipped MathJax has the
STIX-Web fonts only, so HTML-CSS output is told to use them instead of its default TeX fonts; and its placeholder
font ``url('about:blank')``, which Chromium reports as a CORS error on a page opened from disk, becomes a local()
font).
"""

from __future__ import annotations

import shutil
from pathlib import Path

PLOTLY_JS = "plotly.min.js"
MATHJAX_DIR = "mathjax"
REVEAL_DIR = "reveal.js"
# nbconvert's default configuration (TeX-AMS_CHTML-full) is not in the package: this one is, with the same TeX input
MATHJAX_URL = f"{MATHJAX_DIR}/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"
MATHJAX_CONFIG = """<script type="text/x-mathjax-config">
MathJax.Hub.Config({
  "HTML-CSS": {availableFonts: [], preferredFont: null, webFont: "STIX-Web", imageFont: null,
               linebreaks: {automatic: true},
               styles: {"@font-face": {"font-family": "MathJax_Blank", src: "local('MathJax_Blank')"}}},
  menuSettings: {zoom: "None"}, showMathMenu: false, messageStyle: "none"
});
</script>"""
# what a deck needs from reveal.js (paths under REVEAL_DIR)
_REVEAL_FILES = ("dist/reveal.js", "dist/reveal.css", "dist/reset.css", "dist/theme/white.css",
                 "dist/theme/fonts/source-sans-pro", "plugin/notes/notes.js", "LICENSE")
# MathJax parts that no page uses (translations of its menus; the SVG output)
_MATHJAX_SKIP = ("localization", "jax/output/SVG")


def _package_dir(module: str, sub: str, install: str) -> Path:
    import importlib

    try:
        root = Path(importlib.import_module(module).__file__).parent
    except ImportError as error:
        raise FileNotFoundError(f"the package {install!r} is not installed (pip install {install}); the course site "
                                f"needs it to work offline") from error
    path = root / sub
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: the installed {install!r} does not ship it")
    return path


def plotly_js_path() -> Path:
    """``plotly.min.js`` of the installed ``plotly``."""
    return _package_dir("plotly", f"package_data/{PLOTLY_JS}", "plotly")


def mathjax_dir() -> Path:
    """MathJax 2's static folder shipped by ``jupyter-server-mathjax``."""
    return _package_dir("jupyter_server_mathjax", "static", "jupyter-server-mathjax")


def reveal_dir() -> Path:
    """reveal.js (``dist/``, ``plugin/``) shipped by ``sphinx-revealjs``."""
    return _package_dir("sphinx_revealjs", "_static/revealjs", "sphinx-revealjs")


def copy_site_assets(site: str | Path, reveal: bool = True) -> dict[str, str]:
    """Copy plotly.js, MathJax and (``reveal``) reveal.js into ``site``; returns ``{asset: version or path}``."""
    site = Path(site)
    shutil.copy2(plotly_js_path(), site / PLOTLY_JS)
    src = mathjax_dir()
    skip = {src / s for s in _MATHJAX_SKIP}
    shutil.copytree(src, site / MATHJAX_DIR, ignore=lambda d, names: [n for n in names if Path(d) / n in skip])
    out = {"plotly.js": PLOTLY_JS, "MathJax": MATHJAX_DIR}
    if reveal:
        r = reveal_dir()
        for rel in _REVEAL_FILES:
            source, target = r / rel, site / REVEAL_DIR / rel
            if not source.exists():
                raise FileNotFoundError(f"{source} is missing: the installed 'sphinx-revealjs' does not ship it")
            target.parent.mkdir(parents=True, exist_ok=True)
            (shutil.copytree if source.is_dir() else shutil.copy2)(source, target)
        out["reveal.js"] = REVEAL_DIR
    return out

