"""Figures, explorers and slide export, all drawn from a :class:`~l2rw_viz.history.History`.

Figures (``History -> plotly Figure``; nothing there trains), one module per subject:

- ``weight_figures``: mean weight per group over training, weight distributions, weight by true class and label.
- ``toy_figures``: toy 2-D points sized and coloured by weight, with the decision boundary; methods side by side.
- ``gallery``: the MNIST images weighted highest and lowest.
- ``why_weight``: "why this weight", an example's gradient agreement with the clean validation gradient.
- ``results_figures``: results tables as the paper's comparisons (error vs imbalance, accuracy under noise).
- ``weighting_function``: Meta-Weight-Net's loss -> weight curve.

Their building blocks: ``style`` (template, group colours and labels, colour scale, point style, toy layout),
``weights`` (the numbers behind the figures: moving averages, each example's weight at a step, frames),
``boundary`` (a model's ``P(y=1)`` on a grid).

Interactive and exported views:

- ``widgets``: :class:`WeightAnimator` (replay), :class:`ToyExplorer` (live toy retraining),
  :class:`MethodComparison` (several methods on the same biased data).
- ``state``: :class:`ExplorerState`, the explorer's whole set-up as one JSON-serialisable dataclass.
- ``live``: toy training with decision-boundary snapshots and a cancelling background trainer.
- ``stepthrough``: :class:`StepThrough`, one L2RW step stage by stage (gradients, look-ahead, slopes, clip,
  normalise, update) on a toy batch, with :class:`StepThroughProblem` holding its numbers.
- ``export``: :func:`export_html`, a self-contained HTML animation for slides (and ``main`` for the CLI).
- ``static_explorer``: the course site's kernel-free explorer page (precomputed runs replayed by plotly.js).
- ``stamp``: the "short run" stamp on figures from smoke runs.

The browser harness behind the browser tests and ``docs/explorer.png`` lives with the tests
(``tests/browser_harness.py``), not in the package.
"""

from .boundary import BoundaryGrid, boundary_grid, grid_bounds
from .comparison import beats_reference, comparison_frame, missing_cells, mwn_vs_l2rw_figure, table2_figure
from .export import animation_figure, export_html
from .gallery import gallery_figure
from .live import BackgroundTrainer, ToyRun, toy_dataset, train_toy
from .results_figures import error_vs_proportion_figure, noise_accuracy_figure, summarise_results
from .state import ExplorerState
from .static_explorer import explorer_figure
from .static_stepthrough import stepthrough_replay_figure
from .stepthrough import STAGES, StepThrough, StepThroughProblem, empty_stepthrough_figure, stepthrough_figure
from .toy_figures import add_toy_traces, toy_comparison_figure, toy_weights_figure
from .weight_figures import weight_by_label_figure, weight_distribution_figure, weight_trajectory_figure
from .weighting_function import weighting_function_figure
from .weights import auto_groups, example_weights_at, frame_indices, moving_average, weight_ranking
from .why_weight import explain_weight_figure, why_this_weight_figure
from .widgets import MethodComparison, ToyExplorer, WeightAnimator

__all__ = ["BackgroundTrainer", "BoundaryGrid", "ExplorerState", "MethodComparison", "STAGES", "StepThrough",
           "StepThroughProblem", "ToyExplorer", "ToyRun", "WeightAnimator", "add_toy_traces", "animation_figure",
           "auto_groups", "beats_reference", "boundary_grid", "comparison_frame", "missing_cells",
           "mwn_vs_l2rw_figure", "table2_figure", "empty_stepthrough_figure", "error_vs_proportion_figure",
           "example_weights_at", "explain_weight_figure", "explorer_figure", "export_html", "frame_indices",
           "gallery_figure", "grid_bounds", "moving_average", "noise_accuracy_figure", "stepthrough_figure",
           "stepthrough_replay_figure",
           "summarise_results", "toy_comparison_figure", "toy_dataset", "toy_weights_figure", "train_toy",
           "weight_by_label_figure", "weight_distribution_figure", "weight_ranking", "weight_trajectory_figure",
           "weighting_function_figure", "why_this_weight_figure"]
