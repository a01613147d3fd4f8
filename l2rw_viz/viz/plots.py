"""Deprecated: the figures that lived here are now split by subject; import them from :mod:`l2rw_viz.viz`.

Kept so that notebooks written before the split (``from l2rw_viz.viz.plots import gallery_figure``) still run;
importing it warns once. Where each name went: :mod:`~l2rw_viz.viz.style` (colours, template, point style),
:mod:`~l2rw_viz.viz.weights` (the numbers behind the figures), :mod:`~l2rw_viz.viz.boundary`,
:mod:`~l2rw_viz.viz.weight_figures`, :mod:`~l2rw_viz.viz.toy_figures`, :mod:`~l2rw_viz.viz.gallery`,
:mod:`~l2rw_viz.viz.why_weight` and :mod:`~l2rw_viz.viz.results_figures`.
"""

from __future__ import annotations

import warnings

from .boundary import BoundaryGrid, boundary_grid, grid_bounds
from .gallery import gallery_figure
from .results_figures import RESULT_COLUMNS, error_vs_proportion_figure, noise_accuracy_figure, summarise_results
from .style import GROUP_COLORS, GROUP_LABELS, GROUPS, TEMPLATE, WEIGHT_COLORSCALE, marker_sizes
from .toy_figures import add_toy_traces, toy_comparison_figure, toy_weights_figure
from .weight_figures import weight_by_label_figure, weight_distribution_figure, weight_trajectory_figure
from .weights import (
                      auto_groups,
                      example_weights_at,
                      frame_indices,
                      moving_average,
                      step_windows,
                      weight_quantiles,
                      weight_ranking,
)
from .why_weight import explain_weight_figure, similarity_arrays, why_this_weight_figure

warnings.warn("l2rw_viz.viz.plots is deprecated; import the figures from l2rw_viz.viz", DeprecationWarning,
              stacklevel=2)

__all__ = ["BoundaryGrid", "GROUPS", "GROUP_COLORS", "GROUP_LABELS", "RESULT_COLUMNS", "TEMPLATE", "WEIGHT_COLORSCALE",
           "add_toy_traces", "auto_groups", "boundary_grid", "error_vs_proportion_figure", "example_weights_at",
           "explain_weight_figure", "frame_indices", "gallery_figure", "grid_bounds", "marker_sizes",
           "moving_average", "noise_accuracy_figure", "similarity_arrays", "step_windows", "summarise_results",
           "toy_comparison_figure", "toy_weights_figure", "weight_by_label_figure", "weight_distribution_figure",
           "weight_quantiles", "weight_ranking", "weight_trajectory_figure", "why_this_weight_figure"]
