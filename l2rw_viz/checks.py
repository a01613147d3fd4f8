"""Argument validation shared by the whole package.

Every public function validates its inputs up front (as scikit-learn does) and raises a ``ValueError`` that
names the argument, the value it got and what is allowed, before any work starts.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

from torch import nn


def check_in_range(name: str, value: Any, low: float, high: float, *, low_open: bool = False,
                   high_open: bool = False) -> float:
    """Return ``float(value)`` if it lies in the interval, else raise ``ValueError`` naming ``name``.

    ``low_open``/``high_open`` exclude the end points: ``(0, 1)`` is ``low_open=high_open=True``.
    """
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r} is not a number; allowed: {_interval(low, high, low_open, high_open)}") from None
    too_low = v <= low if low_open else v < low
    too_high = v >= high if high_open else v > high
    if math.isnan(v) or too_low or too_high:
        raise ValueError(f"{name}={value!r} is out of range; allowed: {_interval(low, high, low_open, high_open)}")
    return v


def check_int(name: str, value: Any, low: int, high: int | None = None) -> int:
    """Return ``int(value)`` if it is an integer in ``[low, high]`` (``high=None``: no upper bound)."""
    if isinstance(value, bool) or not isinstance(value, (int,)) and not (hasattr(value, "__index__")):
        raise ValueError(f"{name}={value!r} is not an integer; allowed: integers in {_interval(low, high)}")
    v = int(value)
    if v < low or (high is not None and v > high):
        raise ValueError(f"{name}={value!r} is out of range; allowed: integers in {_interval(low, high)}")
    return v


def check_choice(name: str, value: Any, allowed: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``allowed``, else raise ``ValueError`` listing the choices."""
    allowed = list(allowed)
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not allowed; allowed: {', '.join(repr(a) for a in allowed)}")
    return value


def _interval(low, high, low_open=False, high_open=False) -> str:
    lo = "(" if low_open else "["
    hi = ")" if high_open else "]"
    return f"{lo}{low}, {'inf' if high is None else high}{hi}"


def check_model(model: Any) -> nn.Module:
    """Return ``model`` if it is an ``nn.Module`` with trainable parameters, else raise ``ValueError`` naming it."""
    if not isinstance(model, nn.Module) or not any(p.requires_grad for p in model.parameters()):
        raise ValueError(f"model={type(model).__name__} has no trainable parameters; allowed: an nn.Module with "
                         "parameters that maps (b, *F) to logits (b, C)")
    return model
