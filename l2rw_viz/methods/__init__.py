"""Training methods: L2RW and the baselines, each a :class:`~l2rw_viz.methods.base.Method`.

Every module in this package registers its methods with ``@register``; importing the package imports them all,
so a new method is one new file (``focal.py`` is the worked example). In that file, the class says:

- ``name`` and its hooks (usually ``batch_weights`` or ``per_example_loss``; ``setup`` receives the run once);
- its settings as constructor keyword arguments, checked there: ``l2rw-viz run/sweep --method-arg KEY=VALUE`` sets
  them (``Method.parse_args`` converts the text by the argument's annotation);
- ``run_settings(plan)`` for settings that depend on the run (steps, batch size, lr, recipe);
- ``addresses``: the biases it is designed against (shown by ``l2rw-viz list``).

It then appears in ``l2rw-viz list``, ``run``, ``sweep --methods every``, the explorer's method menu and the
figures. An experiment's standard comparison (``--methods all``, which the shipped tables are checked complete
against) is the experiment's list in :mod:`l2rw_viz.experiments.registry`, and changes only there.
"""

from __future__ import annotations

import importlib
import pkgutil

from .base import (
    BIASES,
    METHODS,
    Method,
    MethodSetup,
    RunPlan,
    StepContext,
    StepOutput,
    canonical_args,
    epoch_sampler,
    get_method,
    register,
)

for _mod in pkgutil.iter_modules(__path__):
    if _mod.name != "base":
        importlib.import_module(f"{__name__}.{_mod.name}")


def available_methods() -> list[str]:
    """Names accepted by ``get_method``, the trainer and the CLI."""
    return sorted(METHODS)


__all__ = ["BIASES", "METHODS", "Method", "MethodSetup", "RunPlan", "StepContext", "StepOutput", "available_methods",
           "canonical_args", "epoch_sampler", "get_method", "register"]
