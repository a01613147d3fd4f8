"""Shipped results: the full experiments' tables, Histories and provenance, and the commands that make them.

See :mod:`l2rw_viz.results.shipped` (loading) and :mod:`l2rw_viz.results.pack` (making).
"""

from .course_data import ResultSet, experiment_results
from .shipped import (
                      ALIASES,
                      SHIPPED,
                      compare_with_shipped,
                      describe_comparison,
                      experiment_name,
                      load_history,
                      load_results,
                      provenance,
                      shipped_histories,
                      shipped_names,
                      stale_methods,
)

__all__ = ["ALIASES", "ResultSet", "SHIPPED", "experiment_results", "compare_with_shipped", "describe_comparison",
           "experiment_name", "load_history", "load_results", "provenance", "shipped_histories", "shipped_names",
           "stale_methods"]
