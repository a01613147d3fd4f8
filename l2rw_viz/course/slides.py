"""Slide metadata for the course notebooks, so that ``jupyter nbconvert --to slides NB.ipynb`` gives a reveal.js deck.

One rule for every notebook (so a deck follows the notebook's own headings, and re-running after an edit keeps
it in step):

- the title cell and every ``## `` heading start a new slide (left to right);
- a ``### `` heading, and any other markdown cell, starts a sub-slide (downwards): one paragraph of the story
  with the code and figure that follow it;
- code cells stay on the slide of the markdown above them (``"-"``), except the first code cell (imports and the
  smoke switch), which is skipped;
- cells whose metadata says ``"tags": ["no-slides"]`` are skipped too.

Use it on any notebook (``python -m l2rw_viz.course.slides notebooks/06_*.ipynb``; ``--check`` only reports notebooks
whose metadata is out of date, with exit status 1). Outputs are not touched, so it is safe on a stripped notebook.
Then, e.g.::

    PLOTLY_RENDERER=plotly_mimetype+notebook L2RW_SMOKE=1 \
        jupyter nbconvert --to slides --execute notebooks/05_online_approximation.ipynb

(``PLOTLY_RENDERER``: a kernel without a front end stores figures only as plotly JSON, which the deck cannot show.)
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

SKIP_TAG = "no-slides"


def slide_type(cell, index_among_code: int | None, is_first: bool) -> str:
    """The ``slideshow.slide_type`` the rule gives ``cell`` (an nbformat cell): ``slide``, ``subslide``, ``-`` or
    ``skip``. ``index_among_code`` is the cell's position among code cells (``None`` for markdown)."""
    if SKIP_TAG in cell.get("metadata", {}).get("tags", []):
        return "skip"
    if cell.cell_type == "code":
        return "skip" if index_among_code == 0 else "-"
    first_line = cell.source.lstrip().split("\n", 1)[0]
    if is_first or first_line.startswith("# ") or first_line.startswith("## "):
        return "slide"
    return "subslide"


def apply_slide_metadata(nb) -> int:
    """Set every cell's ``metadata.slideshow.slide_type`` by the rule (in place); returns how many changed."""
    changed, code_seen = 0, 0
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "raw":
            continue
        kind = slide_type(cell, code_seen if cell.cell_type == "code" else None, i == 0)
        if cell.cell_type == "code":
            code_seen += 1
        if cell.metadata.get("slideshow", {}).get("slide_type") != kind:
            cell.metadata["slideshow"] = {"slide_type": kind}
            changed += 1
    return changed


def has_slide_metadata(nb) -> bool:
    """Whether any cell of ``nb`` carries slideshow metadata."""
    return any("slideshow" in c.get("metadata", {}) for c in nb.cells)


def set_slide_metadata(path: str | Path, check_only: bool = False) -> int:
    """Apply the rule to the notebook file at ``path`` (written back unless ``check_only``); returns the number of
    cells whose metadata changed (or would change)."""
    import nbformat

    path = Path(path)
    if path.suffix != ".ipynb" or not path.exists():
        raise ValueError(f"path={str(path)!r}; allowed: an existing .ipynb file")
    nb = nbformat.read(path, as_version=4)
    changed = apply_slide_metadata(nb)
    if changed and not check_only:
        nbformat.write(nb, path)
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m l2rw_viz.course.slides",
                                     description="Set reveal.js slide metadata on course notebooks.")
    parser.add_argument("notebooks", nargs="+")
    parser.add_argument("--check", action="store_true", help="report out-of-date notebooks, change nothing")
    args = parser.parse_args(argv)
    stale = 0
    for p in args.notebooks:
        n = set_slide_metadata(p, check_only=args.check)
        if n:
            stale += 1
            print(f"{p}: {n} cells {'would change' if args.check else 'updated'}")
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    raise SystemExit(main())
