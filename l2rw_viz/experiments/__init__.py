"""Named, seeded experiments and sweeps: every method on the same splits and seeds, one tidy row per run.

Experiments (``EXPERIMENTS``):

- ``mnist-imbalance``: MNIST 4-vs-9, 9 the majority, proportions 0.9 ... 0.995, LeNet, SGD lr 1e-3 momentum 0.9,
  batch 100, 10 balanced clean validation images (the paper's Fig. 8 set-up, Section 5.1).
- ``mnist-noise``: 10-class MNIST, 40% uniform or 40% background flips, 10 clean validation images per class.
- ``mnist-imbalance-noise``: 4-vs-9 imbalance and 20% uniform flips at once.
- ``toy-imbalance``, ``toy-noise``, ``toy-imbalance-noise``: the same on 2-D "moons" with a small MLP (about a
  second a run).

On the offline MNIST subset (5,000 images) the training sets are smaller than the paper's 5,000 images: 397
images for 4-vs-9 (2 fours at p = 0.995) and 3,900 for 10 classes (see ``l2rw_viz.data.corrupt``); every row
records its ``data_source``.

A run's seed fixes the data split (which images, which validation images, which flips), the network's
initialisation, the batch order and any method randomness — so method A and method B at the same seed see
exactly the same data.

Recipes (``RECIPES``): ``"ours"`` (default) runs the experiments as defined here. ``"paper"`` runs the protocol
of the paper's official code for Fig. 8 (``mnist-imbalance`` only): the official 3-convolution LeNet
(``make_model("lenet_official")``), 8,000 steps for every method, a constant learning rate (the official loop's
halved lr reaches no operation), unnormalised proportion weights (``Proportion(normalise=False)``), SGD still
moving on all-zero weights (``on_zero_weights="step"``), 10 seeds for a sweep, and 5,000 training images where the
full MNIST is available (on the offline subset: as many as it allows, 397-439). ``docs/departures.md`` lists what
differs from the official code and which recipe removes it. Every row records its ``recipe``; a results file holds
one recipe only (writing another into it is refused), so tables never mix them.

Results: :func:`run_one` returns one row (a dict with the columns of ``ROW_COLUMNS`` plus extras) and, given
``out``, appends it atomically to a CSV (the whole file is rewritten to a temporary file under a lock and moved
into place with ``os.replace``, so a crash never leaves half a row). :func:`sweep` skips runs whose key
``(experiment, method, setting_value, seed, steps, data_source, method_args)`` is already in the CSV, so an
interrupted sweep re-run loses nothing and repeats nothing. ``method_args`` holds every setting of the method as the
run resolved it (defaults included; ``--method-arg KEY=VALUE`` changes some), as canonical JSON: a default spelled
out is the same run. Rows written before that (older tables, the shipped ones: ``"{}"`` or no column) are migrated
on read (:mod:`.identity`). Runs of one method with other settings are kept apart (other keys; :func:`summarize`
groups them separately). Rows carry ``results_version``: rows written by an older version of the library (whose
numbers a change may have altered) are not skipped but run again and replaced.

The package is split by job: :mod:`.registry` (experiments, recipes, method lists), :mod:`.build` (data sources,
datasets, methods), :mod:`.run` (one run), :mod:`.store` (the results table) and :mod:`.sweeps` (many runs). Every
name is re-exported here.
"""

from __future__ import annotations

from .build import make_dataset, method_for, parse_method_args, resolve_data_source
from .identity import current_revision, row_identity, row_variant
from .registry import (
                       ADABOOST,
                       BOTH_METHODS,
                       EXPERIMENTS,
                       FIG8_METHODS,
                       IMBALANCE_METHODS,
                       NOISE_METHODS,
                       PAPER_RECIPE_EXPERIMENTS,
                       PROPORTIONS,
                       RECIPE_ON_ZERO_WEIGHTS,
                       RECIPE_SEEDS,
                       RECIPES,
                       Experiment,
                       all_method_names,
                       check_method_name,
                       check_recipe,
                       get_experiment,
                       method_class,
                       recipe_experiment,
                       resolve_methods,
)
from .run import run_one
from .store import (
                       EXTRA_COLUMNS,
                       KEY_COLUMNS,
                       RESULTS_VERSION,
                       ROW_COLUMNS,
                       append_row,
                       args_of,
                       check_output_dir,
                       check_recipe_of_table,
                       check_results_path,
                       finished_keys,
                       finished_rows,
                       history_filename,
                       method_variant,
                       read_results,
                       row_key,
                       seeds_text,
                       stale_rows,
                       summarize,
)
from .sweeps import RunSpec, plan_sweep, sweep

__all__ = ["ADABOOST", "BOTH_METHODS", "EXPERIMENTS", "EXTRA_COLUMNS", "Experiment", "FIG8_METHODS",
           "IMBALANCE_METHODS", "KEY_COLUMNS", "NOISE_METHODS", "PAPER_RECIPE_EXPERIMENTS", "PROPORTIONS", "RECIPES",
           "RECIPE_ON_ZERO_WEIGHTS", "RECIPE_SEEDS", "RESULTS_VERSION", "ROW_COLUMNS", "RunSpec", "all_method_names",
           "append_row", "args_of", "check_method_name", "check_output_dir", "check_recipe", "check_recipe_of_table",
           "check_results_path", "current_revision", "finished_keys", "finished_rows", "get_experiment",
           "history_filename", "make_dataset", "method_class", "method_for", "method_variant", "parse_method_args",
           "plan_sweep", "read_results", "recipe_experiment", "resolve_data_source", "resolve_methods", "row_identity",
           "row_key", "row_variant", "run_one", "seeds_text", "stale_rows", "summarize", "sweep"]
