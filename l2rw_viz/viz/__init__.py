"""Figures, explorers and slide export, all drawn from a :class:`~l2rw_viz.history.History`.

- ``plots``: ``History -> plotly Figure`` (weight trajectories and distributions, toy points with decision
  boundaries, MNIST gallery, "why this weight", result comparisons). Nothing there trains.
- ``widgets``: :class:`WeightAnimator` (replay), :class:`ToyExplorer` (live toy retraining),
  :class:`MethodComparison` (several methods on the same biased data).
- ``state``: :class:`ExplorerState`, the explorer's whole set-up as one JSON-serialisable dataclass.
- ``live``: toy training with decision-boundary snapshots and a cancelling background trainer.
- ``stepthrough``: :class:`StepThrough`, one L2RW step stage by stage (gradients, look-ahead, slopes, clip,
  normalise, update) on a toy batch, with :class:`StepThroughProblem` holding its numbers.
- ``export``: :func:`export_html`, a self-contained HTML animation for slides (and ``main`` for the CLI).
- ``screenshot``: the browser harness (JupyterLab/Voila + headless Chromium) behind the browser test and
  ``docs/explorer.png``.
"""

from .comparison import beats_reference, comparison_frame, missing_cells, mwn_vs_l2rw_figure, table2_figure
from .export import animation_figure, export_html
from .live import BackgroundTrainer, ToyRun, toy_dataset, train_toy
from .plots import (BoundaryGrid, auto_groups, boundary_grid, error_vs_proportion_figure, example_weights_at,
                    explain_weight_figure, gallery_figure, moving_average, noise_accuracy_figure, toy_comparison_figure, toy_weights_figure,
                    weight_distribution_figure, weight_trajectory_figure, why_this_weight_figure)
from .state import ExplorerState
from .stepthrough import STAGES, StepThrough, StepThroughProblem, stepthrough_figure
from .widgets import MethodComparison, ToyExplorer, WeightAnimator

__all__ = ["BackgroundTrainer", "BoundaryGrid", "ExplorerState", "MethodComparison", "STAGES", "StepThrough",
           "StepThroughProblem", "stepthrough_figure", "ToyExplorer", "ToyRun",
           "WeightAnimator", "animation_figure", "auto_groups", "boundary_grid", "error_vs_proportion_figure",
           "example_weights_at", "explain_weight_figure", "export_html", "gallery_figure", "moving_average", "noise_accuracy_figure",
           "toy_comparison_figure", "toy_dataset", "toy_weights_figure", "train_toy", "weight_distribution_figure",
           "weight_trajectory_figure", "why_this_weight_figure"]
