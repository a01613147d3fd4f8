"""A method's settings, declared once as data (in the spirit of scikit-learn's ``_parameter_constraints``).

A method class lists its settings as :class:`Setting` objects (``settings = (Setting("gamma", float, 2.0, "...",
low=0.0), ...)``): name, type, range or choices, default and one line of help. Everything that touches a setting
reads that one declaration: ``--method-arg KEY=VALUE`` parsing and its error messages (:meth:`Setting.parse`),
``describe()``, ``l2rw-viz list``, the explorer's controls for the method and the run's identity (every setting,
defaults included, as canonical JSON, :func:`canonical_settings`).

Types (``kind``): ``bool``, ``int``, ``float``, ``str``, ``Literal["a", "b"]`` (one of the choices), and lists of
those (``list[int]``: ``"3,5,7"`` on the command line). ``optional=True``: ``None`` is allowed too (the help says
what it means, e.g. "the step's learning rate"). ``cli=False``: a setting only Python code can give (a matrix),
not the command line or the explorer.
"""

from __future__ import annotations

import json
import math
import typing
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")
_SCALARS = (bool, int, float, str)


@dataclass(frozen=True)
class Setting:
    """One setting of a method.

    Attributes:
        name: the constructor keyword (and ``--method-arg`` key). kind: ``bool``, ``int``, ``float``, ``str``,
            ``Literal[...]`` or ``list[...]`` of a scalar kind. default: the value when none is given (checked
            against the declaration when the method is registered). help: one line for ``list`` and the explorer.
        low, high: the allowed interval of a number (or of each list element), ``None`` for no bound;
            ``low_open``/``high_open`` exclude the end points. optional: ``None`` is allowed. cli: settable from the
            command line and the explorer (``False`` for values only Python code can give, e.g. a matrix).
    """

    name: str
    kind: Any
    default: Any
    help: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    optional: bool = False
    cli: bool = True

    # --- what the declaration says ------------------------------------------------------------------------------
    @property
    def choices(self) -> tuple | None:
        """The allowed values of a ``Literal`` kind (of its elements for a list of them), else ``None``."""
        kind = self.element_kind
        return typing.get_args(kind) if typing.get_origin(kind) is Literal else None

    @property
    def is_list(self) -> bool:
        return typing.get_origin(self.kind) is list

    @property
    def element_kind(self) -> Any:
        """The kind of one value (of one element, for a list)."""
        return typing.get_args(self.kind)[0] if self.is_list else self.kind

    @property
    def base_type(self) -> type:
        """The Python type of one value: ``bool``, ``int``, ``float`` or ``str`` (a ``Literal``'s choices' type)."""
        choices = self.choices
        return type(choices[0]) if choices else self.element_kind

    def allowed(self) -> str:
        """What is allowed, in words, for error messages and ``l2rw-viz list`` (e.g. ``"a number in [0, inf)"``)."""
        if self.choices:
            one = "one of " + ", ".join(map(repr, self.choices))
        elif self.base_type is bool:
            one = "true or false"
        elif self.base_type is str:
            one = "a text"
        else:
            noun = "an integer" if self.base_type is int else "a number"
            one = f"{noun} in {self.interval()}" if (self.low, self.high) != (None, None) else noun
        text = f"a comma-separated list, each {one}" if self.is_list else one
        return text + (", or none" if self.optional else "")

    def interval(self) -> str:
        lo = "-inf" if self.low is None else _num(self.low)
        hi = "inf" if self.high is None else _num(self.high)
        left = "(" if self.low_open or self.low is None else "["
        right = ")" if self.high_open or self.high is None else "]"
        return f"{left}{lo}, {hi}{right}"

    def describe(self) -> str:
        """One line: ``name: allowed (default ...): help``."""
        return f"{self.name}: {self.allowed()} (default {_show(self.default)}): {self.help}"

    # --- parsing and checking ------------------------------------------------------------------------------------
    def parse(self, value: Any, method: str = "") -> Any:
        """``value`` (text from ``--method-arg``/a widget, or already typed) as this setting's type, checked.

        Raises ``ValueError`` naming the method, the setting, the value and what is allowed."""
        try:
            if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "null")):
                if self.optional:
                    return None
                raise ValueError
            if self.is_list:
                items = ([v for v in value.split(",") if v.strip()] if isinstance(value, str)
                         else list(value) if isinstance(value, (list, tuple)) else [value])
                if not items:
                    raise ValueError
                return [self._one(v) for v in items]
            return self._one(value)
        except (ValueError, TypeError):
            where = f" for method {method!r}" if method else ""
            raise ValueError(f"method argument {self.name}={value!r} is not allowed{where}; allowed: "
                             f"{self.allowed()}") from None

    def _one(self, value: Any) -> Any:
        kind = self.base_type
        text = value.strip() if isinstance(value, str) else None
        if kind is bool:
            if isinstance(value, bool):
                return value
            if text is not None and text.lower() in _TRUE + _FALSE:
                return text.lower() in _TRUE
            raise ValueError
        if kind is str:
            if not isinstance(value, str):
                raise ValueError
            out = text
        elif kind is int:
            if isinstance(value, bool):
                raise ValueError
            if text is not None:
                out = int(text)
            elif isinstance(value, float):
                if not value.is_integer():
                    raise ValueError
                out = int(value)
            else:
                out = int(value.__index__())
        else:   # float
            if isinstance(value, bool):
                raise ValueError
            out = float(text if text is not None else value)
            if math.isnan(out):
                raise ValueError
        if self.choices is not None and out not in self.choices:
            raise ValueError
        if kind in (int, float):
            too_low = self.low is not None and (out <= self.low if self.low_open else out < self.low)
            too_high = self.high is not None and (out >= self.high if self.high_open else out > self.high)
            if too_low or too_high:
                raise ValueError
        return out

    def with_default(self, default: Any) -> Setting:
        """The same setting with another default (a subclass's variant, e.g. ``bootstrap_hard``'s beta 0.8)."""
        return replace(self, default=default)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"


def _show(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return ",".join(map(_show, value))
    return str(value)


def with_defaults(settings: tuple[Setting, ...], **defaults: Any) -> tuple[Setting, ...]:
    """``settings`` with some defaults replaced (a subclass's variant); an unknown name raises ``ValueError``."""
    names = {s.name for s in settings}
    unknown = sorted(set(defaults) - names)
    if unknown:
        raise ValueError(f"settings {unknown} are not declared; allowed: {sorted(names)}")
    return tuple(s.with_default(defaults[s.name]) if s.name in defaults else s for s in settings)


def canonical_settings(settings: Mapping[str, Any] | None) -> str:
    """Settings as canonical JSON (sorted keys, no spaces): the text of a run's identity; ``"{}"`` for none."""
    return json.dumps(dict(settings or {}), sort_keys=True, separators=(",", ":"), default=_jsonable)


def _jsonable(value: Any) -> Any:
    """An array or tensor given to a Python-only setting (``cli=False``, e.g. a transition matrix) as nested lists."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"setting value {value!r} is not JSON; allowed: numbers, text, booleans, lists, arrays")


__all__ = ["Setting", "canonical_settings", "with_defaults"]
