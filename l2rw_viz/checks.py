"""Argument validation shared by the whole package.

Every public function validates its inputs up front (as scikit-learn does) and raises a ``ValueError`` that
names the argument, the value it got and what is allowed, before any work starts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from torch import nn


def check_in_range(name: str, value: Any, low: float, high: float, *, low_open: bool = False,
                   high_open: bool = False) -> float:
    """Return ``float(value)`` if it lies in the interval, else raise ``ValueError`` naming ``name``.

    ``low_open``/``high_open`` exclude the end points: ``(0, 1)`` is ``low_open=high_open=True``. A bool is not a
    number here (``True`` would pass as 1.0: a setting such as ``lr=true`` is a mistake, not a learning rate).
    """
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        raise ValueError(f"{name}={value!r} is not a number; allowed: {_interval(low, high, low_open, high_open)}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        allowed = _interval(low, high, low_open, high_open)
        raise ValueError(f"{name}={value!r} is not a number; allowed: {allowed}") from None
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


# Seeds reach numpy's legacy RNG and scikit-learn, which accept only 32-bit seeds: one bound for every seed.
SEED_MAX = 2**32 - 1


def check_seed(name: str, value: Any) -> int:
    """Return ``int(value)`` if it is a seed in ``[0, 2**32 - 1]`` (what numpy and scikit-learn accept)."""
    return check_int(name, value, 0, SEED_MAX)


def _count_bad(t) -> int:
    import torch

    return int((~torch.isfinite(t)).sum()) if t.is_floating_point() else 0


def check_dataset_sets(dataset: Any, *, needs_validation: bool, method: str = "") -> None:
    """Refuse, before training, a dataset whose sets cannot give real numbers (names the set and what is wrong).

    Training inputs must be finite floats; labels int64 in ``0..num_classes-1``; the test set non-empty and
    finite (its accuracy is the result); the validation set finite, and non-empty when ``needs_validation``
    (methods such as L2RW learn from it: with none, every weight is 0 and the parameters never move).
    """
    import torch

    c = int(dataset.num_classes)
    if c < 2:
        raise ValueError(f"dataset.num_classes={c} is out of range; allowed: at least 2 classes")
    sets = {"training": (dataset.x, dataset.y), "validation": (dataset.x_val, dataset.y_val),
            "test": (dataset.x_test, dataset.y_test)}
    for role, (x, y) in sets.items():
        short = {"training": "", "validation": "_val", "test": "_test"}[role]
        if role == "test" and len(y) == 0:
            raise ValueError("the test set (dataset.x_test) is empty; allowed: at least 1 test example (its "
                             "accuracy is the run's result)")
        if role == "validation" and len(y) == 0 and needs_validation:
            raise ValueError(f"the validation set (dataset.x_val) is empty, and method={method!r} learns from it; "
                             "allowed: at least 1 clean validation example (e.g. n_val=10)")
        if len(y) == 0:
            continue
        if not x.is_floating_point():
            raise ValueError(f"dataset.x{short} has dtype {x.dtype} ({role} set); allowed: a floating dtype "
                             "(e.g. torch.float32)")
        bad = _count_bad(x)
        if bad:
            raise ValueError(f"dataset.x{short} ({role} set) holds {bad} NaN or infinite value(s); allowed: finite "
                             "inputs (the data is damaged; no learning rate fixes that)")
        if y.dtype != torch.int64:
            raise ValueError(f"dataset.y{short} has dtype {y.dtype} ({role} set); allowed: torch.int64 class labels")
        low, high = int(y.min()), int(y.max())
        if low < 0 or high >= c:
            raise ValueError(f"dataset.y{short} ({role} set) holds labels in [{low}, {high}]; allowed: 0..{c - 1} "
                             f"(dataset.num_classes={c})")


def check_model_output(model: nn.Module, x: Any, num_classes: int) -> None:
    """One forward pass on a probe batch ``x`` (``(b, *F)``, already on the model's device) before training:
    the model must map it to logits ``(b, num_classes)``. Raises ``ValueError`` naming the output and the classes.

    Changes nothing a run computes: no gradients, eval mode (BatchNorm running statistics and dropout untouched),
    every RNG state restored (``torch.random.fork_rng``), and the model's train/eval mode put back.
    """
    import torch

    was_training = model.training
    devices = [x.device.index or 0] if x.device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=devices), torch.no_grad():
            model.eval()
            try:
                out = model(x)
            except Exception as error:  # a shape or dtype mismatch inside the model: say which input it got
                raise ValueError(f"model={type(model).__name__} fails on a probe batch of input shape "
                                 f"{tuple(x.shape)} ({x.dtype}): {type(error).__name__}: {error}; allowed: a model "
                                 f"that maps (b, {', '.join(map(str, x.shape[1:]))}) to logits (b, {num_classes})"
                                 ) from error
    finally:
        model.train(was_training)
    b = len(x)
    what = (f"a {type(out).__name__}" if not isinstance(out, torch.Tensor)
            else f"shape {tuple(out.shape)} ({out.dtype})")
    ok = (isinstance(out, torch.Tensor) and out.is_floating_point() and out.ndim == 2
          and tuple(out.shape) == (b, num_classes))
    if not ok:
        raise ValueError(f"model={type(model).__name__} returns {what} for a probe batch of {b} example(s), but the "
                         f"dataset has num_classes={num_classes}; allowed: float logits of shape ({b}, {num_classes})")
