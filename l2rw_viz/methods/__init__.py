"""Training methods: L2RW and the baselines, each a :class:`~l2rw_viz.methods.base.Method`.

Every module in this package registers its methods with ``@register``; importing the package imports them all,
so a new method is one new file.
"""

from __future__ import annotations

import importlib
import pkgutil

from .base import METHODS, Method, StepContext, StepOutput, epoch_sampler, get_method, register

for _mod in pkgutil.iter_modules(__path__):
    if _mod.name != "base":
        importlib.import_module(f"{__name__}.{_mod.name}")


def available_methods() -> list[str]:
    """Names accepted by ``get_method``, the trainer and the CLI."""
    return sorted(METHODS)


__all__ = ["METHODS", "Method", "StepContext", "StepOutput", "available_methods", "epoch_sampler", "get_method",
           "register"]
