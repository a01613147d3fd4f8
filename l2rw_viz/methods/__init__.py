"""Training methods: L2RW and the baselines, each a :class:`~l2rw_viz.methods.base.Method`.

Every module in this package registers its methods with ``@register``; importing the package imports them all,
so a new method is one new file (``focal.py`` is the worked example). In that file, the class says:

- ``name`` and its hooks (usually ``batch_weights`` or ``per_example_loss``; ``setup`` receives the run once);
- its settings, declared once as data (``settings = (Setting("gamma", float, 2.0, "one line of help", low=0.0),)``,
  see :mod:`.setting`), one per constructor keyword: ``l2rw-viz run/sweep --method-arg KEY=VALUE`` sets them, and
  ``list``, ``describe()``, the explorer's controls and the run's identity read the same declaration;
- ``revision``: bump it when a change alters the method's numbers (its old rows become stale);
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
    FitRequest,
    Method,
    MethodSetup,
    RunPlan,
    StepContext,
    StepOutput,
    canonical_args,
    epoch_sampler,
    register,
)
from .resolve import ResolvedMethod, get_method, resolve_method
from .setting import Setting, canonical_settings

_NOT_METHODS = ("base", "modifiers", "resolve", "setting")
for _mod in pkgutil.iter_modules(__path__):
    if _mod.name not in _NOT_METHODS:
        importlib.import_module(f"{__name__}.{_mod.name}")


def all_methods() -> list[str]:
    """Every registered method's name (the command line, sweeps and tables accept them all)."""
    return sorted(METHODS)


def available_methods() -> list[str]:
    """The methods the one trainer runs step by step (``get_method``, ``train``, the explorer): every registered
    method except those that fit otherwise (AdaBoost on pixels, ``uses_trainer = False``)."""
    return sorted(n for n, c in METHODS.items() if c.uses_trainer)


__all__ = ["BIASES", "METHODS", "FitRequest", "Method", "MethodSetup", "ResolvedMethod", "RunPlan", "Setting",
           "StepContext", "StepOutput", "all_methods", "available_methods", "canonical_args", "canonical_settings",
           "epoch_sampler", "get_method", "register", "resolve_method"]
