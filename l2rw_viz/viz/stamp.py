"""The short-run stamp for figures: :mod:`l2rw_viz.results.stamp` (the results layer says whether data is the full
result; the figures, notebooks and this name import it from there)."""

from ..results.stamp import SMOKE_TEXT, STAMP_NAME, is_stamped, stamp_if_short, stamp_short_run

__all__ = ["SMOKE_TEXT", "STAMP_NAME", "is_stamped", "stamp_if_short", "stamp_short_run"]
