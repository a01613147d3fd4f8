"""Resolve once, at the edge: "name+modifiers + settings" -> one :class:`ResolvedMethod`.

The command line, :func:`~l2rw_viz.experiments.run_one`, sweeps and the explorer call :func:`resolve_method` once;
everything below them takes the resolved object. It holds the method's class, its modifiers (``+es``/``+ft``) and
every setting with its value — the user's, else the run's (:meth:`~l2rw_viz.methods.Method.run_settings`), else
the declared default — typed and checked by the declaration (:mod:`~l2rw_viz.methods.setting`).

A run's identity is the method's name, its ``revision`` and every resolved setting: ``focal`` and ``focal`` with
``gamma=2.0`` (its default) spelled out are the same run (:attr:`ResolvedMethod.identity` is the same text).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .base import METHODS, Method, RunPlan
from .modifiers import MODIFIER_SETTINGS, Modified, modifier_settings, split_modifiers
from .setting import Setting, canonical_settings


@dataclass(frozen=True)
class ResolvedMethod:
    """A method with every setting decided: what a run trains with, and its identity.

    Attributes:
        name: the canonical name, modifiers in canonical order (``"noise_layer_conf+es+ft"``).
        base: the registered method's name. modifiers: ``()``, ``("es",)``, ``("ft",)`` or ``("es", "ft")``.
        settings: every setting (the base method's and the modifiers'), typed, defaults included.
        run_defaults: the settings a run of this plan gets when the user gives none (declared defaults, then the
            run's); ``settings`` differs from it only where the user chose another value.
        revision: the method's numerics revision (its class's ``revision``).
    """

    name: str
    base: str
    modifiers: tuple[str, ...]
    settings: dict[str, Any] = field(hash=False)
    run_defaults: dict[str, Any] = field(hash=False)
    revision: int = 0

    @property
    def method_class(self) -> type[Method]:
        return METHODS[self.base]

    @property
    def identity(self) -> str:
        """Every resolved setting as canonical JSON (sorted keys): the ``method_args`` of the run's row and key."""
        return canonical_settings(self.settings)

    def changed(self) -> dict[str, Any]:
        """The settings that differ from what this run would get by default (what names a variant in tables)."""
        return {k: v for k, v in self.settings.items() if k not in self.run_defaults or self.run_defaults[k] != v}

    def specs(self) -> dict[str, Setting]:
        """The declarations of every setting (the base method's, then the modifiers')."""
        return setting_specs(self.base, self.modifiers)

    def build(self) -> Method:
        """A fresh instance (the base method built from its settings, wrapped by :class:`Modified` for ``+es/+ft``)."""
        own = {MODIFIER_SETTINGS[m].name for m in self.modifiers}
        method = self.method_class(**{k: v for k, v in self.settings.items() if k not in own})
        if not self.modifiers:
            return method
        return Modified(method, es="es" in self.modifiers, ft="ft" in self.modifiers,
                        **{k: v for k, v in self.settings.items() if k in own})


def check_method_name(method: Any) -> tuple[str, tuple[str, ...]]:
    """``(base, modifiers)`` of a method name: a registered method, optionally with ``+es`` / ``+ft`` (a method that
    is not uses_trainer takes none); a ``ValueError`` naming the name and what is allowed otherwise."""
    base, mods = split_modifiers(method)
    if base not in METHODS:
        allowed = sorted(METHODS) if not mods else sorted(n for n, c in METHODS.items() if c.uses_trainer)
        raise ValueError(f"method={method!r} is not allowed; allowed: {', '.join(allowed)}"
                         + (" (with +es / +ft suffixes)" if mods else ""))
    if mods and not METHODS[base].uses_trainer:
        raise ValueError(f"method={method!r}: {base} takes no +es / +ft (it is not trained step by step); allowed: "
                         f"{base} alone")
    return base, mods


def setting_specs(base: str, modifiers: tuple[str, ...] = ()) -> dict[str, Setting]:
    """The declared settings of ``base`` with ``modifiers`` (each modifier adds its own)."""
    specs = dict(METHODS[base].setting_specs())
    specs.update({MODIFIER_SETTINGS[m].name: MODIFIER_SETTINGS[m] for m in modifiers})
    return specs


def resolve_method(method: str | ResolvedMethod, args: Mapping[str, Any] | None = None,
                   plan: RunPlan | None = None) -> ResolvedMethod:
    """``method`` (a name with optional ``+es``/``+ft``) with ``args`` (``{key: value}``, text from
    ``--method-arg KEY=VALUE`` or typed) for a run of ``plan`` (``None``: no run-dependent settings), resolved once.

    Every value is checked by its declaration: an unknown key or a value that is not allowed raises a
    ``ValueError`` naming the method, the key, the value and what is allowed. A resolved method is returned as is
    (with no ``args``)."""
    if isinstance(method, ResolvedMethod):
        if args:
            raise ValueError(f"method={method.name!r} is already resolved; settings {sorted(args)} are only allowed "
                             "with a method name")
        return method
    base, mods = check_method_name(method)
    name = base + "".join(f"+{m}" for m in mods)
    cls = METHODS[base]
    specs = setting_specs(base, mods)
    given = dict(args or {})
    unknown = [k for k in given if k not in specs or (not specs[k].cli and isinstance(given[k], str))]
    if unknown:
        allowed = [k for k, s in specs.items() if s.cli]
        key = unknown[0]
        raise ValueError(f"method argument {key}={given[key]!r} is not allowed for method {name!r}; allowed keys: "
                         f"{', '.join(allowed) if allowed else 'none (it has no settings)'}")
    user = {k: (specs[k].parse(v, name) if specs[k].cli else v) for k, v in given.items()}
    run: dict[str, Any] = {}
    if plan is not None:
        for key, value in {**cls.run_settings(plan), **modifier_settings(mods, plan)}.items():
            if key not in specs:
                raise ValueError(f"method {name!r}: run_settings gives {key}={value!r}, which is not a declared "
                                 f"setting; allowed: {', '.join(specs)}")
            run[key] = specs[key].parse(value, name) if specs[key].cli else value
    run_defaults = {**{k: s.default for k, s in specs.items()}, **run}
    return ResolvedMethod(name, base, mods, {**run_defaults, **user}, run_defaults, cls.revision)


def get_method(method: str | Method, **kwargs: Any) -> Method:
    """A method instance from a registered name (``"plain"``, ``"l2rw"``, ...), optionally with ``+es`` / ``+ft``
    suffixes (``"plain+es"``, see :mod:`l2rw_viz.methods.modifiers`), its keyword settings checked by their
    declaration; or an instance (returned as is)."""
    if isinstance(method, Method):
        if kwargs:
            raise ValueError(f"method={method!r} is an instance; keyword settings {sorted(kwargs)} are only allowed "
                             "with a method name")
        return method
    return resolve_method(method, kwargs).build()


__all__ = ["ResolvedMethod", "check_method_name", "get_method", "resolve_method", "setting_specs"]
