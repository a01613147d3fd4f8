"""The course around the library: what its notebooks share, its files, and how it is published.

- :mod:`~l2rw_viz.course.notebooks`: small helpers two or more notebooks call (the device line, the hand-written
  weighted fit, decision boundaries, ...). They are also importable from here, as the notebooks do
  (``from l2rw_viz.course import announce_device``); loaded on first use, so that ``course.files`` alone stays
  light (it imports neither torch nor plotly).
- :mod:`~l2rw_viz.course.files`: where the notebooks are and ``l2rw-viz course copy DIR``.
- :mod:`~l2rw_viz.course.site`: ``l2rw-viz course build``, the offline static site;
  :mod:`~l2rw_viz.course.assets` the JavaScript it carries; :mod:`~l2rw_viz.course.decks` its reveal.js decks;
  :mod:`~l2rw_viz.course.slides` the slide metadata for ``jupyter nbconvert --to slides``.
"""

from __future__ import annotations

from typing import Any

NOTEBOOK_HELPERS = ("add_shape_legend", "announce_device", "boundary_figure", "fit_weighted", "layerwise_score_parts",
                    "per_class_accuracy", "rule_weights", "toy_weights_over_seeds", "train_weight_rule",
                    "wide_markdown")


def __getattr__(name: str) -> Any:
    # PEP 562: the helpers come from course.notebooks (torch, plotly) only when a notebook asks for one
    if name in NOTEBOOK_HELPERS:
        from . import notebooks

        return getattr(notebooks, name)
    raise AttributeError(f"module 'l2rw_viz.course' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *NOTEBOOK_HELPERS])


__all__ = list(NOTEBOOK_HELPERS)
