"""The Reweight Lab: one self-contained HTML page that trains a small MLP live in the browser with plain SGD,
class-proportion weights and L2RW side by side, on data the audience draws (no Python, no network).

The page is plain JavaScript kept in this package as data (``static/l2rw_core.js``: data, MLP, Algorithm 1;
``static/lab_ui.js``: views, controls, URL state, ``window.l2rwLab``; ``static/lab.css``; the ``lab.html``
template). :func:`write_lab` inlines them into one file, so ``l2rw-viz lab OUT.html`` and ``l2rw-viz course build``
need no Node. The JavaScript is linted with the pinned eslint of ``lab/`` at the repository root, and
``tests/test_lab.py`` holds ``l2rwLab.l2rwWeights`` equal to :func:`l2rw_viz.reweight.l2rw_weights` in Chromium.
"""

from __future__ import annotations

import html
import os
import tempfile
from importlib import resources
from pathlib import Path

GENERATOR = '<meta name="generator" content="l2rw-viz lab">'
"""The mark of a page written here: :func:`write_lab` replaces a file only if it carries it (or with force)."""

_PLACEHOLDERS = {"/*__LAB_CSS__*/": "lab.css", "/*__LAB_CORE_JS__*/": "l2rw_core.js", "/*__LAB_UI_JS__*/": "lab_ui.js"}


def _read(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def lab_html(back_link: str | None = None) -> str:
    """The page as one string: the template with the CSS and both scripts inlined.

    Args:
        back_link: a relative URL shown as "course index" in the header (the site passes ``"index.html"``), escaped.
    """
    page = _read("lab.html")
    for placeholder, name in _PLACEHOLDERS.items():
        source = _read(f"static/{name}")
        # a literal "</script" or "</style" would end the inlined block early and break the page
        if "</script" in source.lower() or "</style" in source.lower():
            raise ValueError(f"static/{name} contains '</script' or '</style'; allowed: neither (it is inlined)")
        if page.count(placeholder) != 1:
            raise ValueError(f"the lab template holds {placeholder} {page.count(placeholder)} times; allowed: once")
        page = page.replace(placeholder, source)
    if back_link is not None:
        page = page.replace('<span id="back"></span>',
                            f'<span id="back"><a href="{html.escape(back_link, quote=True)}">&larr; course index</a>'
                            '</span>')
    return page


def is_lab_page(path: str | Path) -> bool:
    """True if ``path`` is a file written by :func:`write_lab` (it carries the generator mark in its head)."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return GENERATOR in f.read(4096)
    except OSError:
        return False


def write_lab(out_path: str | Path, *, force: bool = False, back_link: str | None = None) -> Path:
    """Write the Reweight Lab to ``out_path`` (one self-contained HTML file, about 70 kB) and return its path.

    The file is written to a temporary file beside it and moved into place (``os.replace``), so a reader never sees
    half a page. An existing file is replaced only if it is a lab page written here, or with ``force=True``.

    Raises:
        ValueError: ``out_path`` is a folder, its folder does not exist, it does not end in ``.html``/``.htm``, or it
            is an existing file that is not a lab page (and ``force`` is false).
    """
    out = Path(out_path)
    if out.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"out_path={str(out_path)!r} is not allowed; allowed: a file name ending in .html")
    if out.is_dir():
        raise ValueError(f"out_path={str(out_path)!r} is a folder; allowed: a file name ending in .html")
    if not out.parent.is_dir():
        raise ValueError(f"out_path={str(out_path)!r}: its folder {str(out.parent)!r} does not exist; allowed: a file "
                         "in an existing folder")
    if out.exists() and not force and not is_lab_page(out):
        raise ValueError(f"out_path={str(out_path)!r} exists and is not a Reweight Lab page; allowed: a new file or a "
                         "lab page written by l2rw-viz (force=True / --force replaces any file)")
    page = lab_html(back_link)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(page)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out
