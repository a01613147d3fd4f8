"""A results row's identity: the method's name, its revision and every resolved setting — and the migration, applied
on read, of rows written before identities were resolved.

Since settings are declared (:mod:`l2rw_viz.methods.setting`), a run's ``method_args`` column holds *every*
setting of the method as the run resolved it (defaults and run-dependent ones included), as canonical JSON
(:attr:`l2rw_viz.methods.ResolvedMethod.identity`): ``focal`` and ``focal`` with ``gamma=2.0`` spelled out are one
row. Rows written earlier (the shipped tables among them) hold only what the user typed (``"{}"``, or no column at
all, for the defaults). :func:`row_identity` migrates such a row's key on read, idempotently: the settings it holds
stay; a missing one is what that run used — a run-dependent one from the method's ``run_settings`` for the row's
plan (experiment, recipe, steps, lr), a constant one from ``LEGACY_DEFAULTS`` (the declared defaults when the
migration was written, frozen here so that a later change of a default does not reinterpret old rows), and a setting
declared after that from its current default. A fully resolved row is left as it is.

Revisions: ``method_revision`` is the method class's ``revision``. Rows of a modified method (``noise_layer_conf+es``)
written before this module recorded 0 whatever the base's revision was, and were always read as current; such a
legacy row (its ``method_args`` lacks the modifier's own setting) still reads as current (:func:`row_revision`).
"""

from __future__ import annotations

import functools
import json
import math
from typing import Any

from ..methods import METHODS, RunPlan
from ..methods.modifiers import MODIFIER_SETTINGS, modifier_settings
from ..methods.resolve import check_method_name, setting_specs
from ..methods.setting import canonical_settings
from .registry import recipe_experiment

# The constant defaults of every method when identities became resolved (the rows written before then mean these).
# Frozen on purpose: do not edit when a default changes (that change must make new rows, not re-read old ones).
LEGACY_DEFAULTS: dict[str, dict[str, Any]] = {
    "adaboost": {"learning_rate": 1.0, "max_depth": 1, "n_estimators": 200},
    "adaboost_net": {"update_every": None},
    "backward_correction": {"anchor_quantile": 0.97, "estimator": "anchor", "pretrain_batch_size": 100,
                            "pretrain_lr": 0.001, "pretrain_steps": 1000, "transition": None},
    "bootstrap_hard": {"beta": 0.8},
    "bootstrap_soft": {"beta": 0.95},
    "clean_only": {},
    "finetune": {"switch_step": None},
    "focal": {"gamma": 2.0},
    "forward_correction": {"anchor_quantile": 0.97, "estimator": "anchor", "pretrain_batch_size": 100,
                           "pretrain_lr": 0.001, "pretrain_steps": 1000, "transition": None},
    "forward_correction_clean": {"anchor_quantile": 0.97, "estimator": "clean", "pretrain_batch_size": 100,
                                 "pretrain_lr": 0.001, "pretrain_steps": 1000, "transition": None},
    "hard_mining": {"pool_size": 500},
    "l2rw": {"fused": True, "lookahead_lr": None, "weights_method": "jvp"},
    "mentornet_dd": {"burn_in": 0.2, "decay": 0.9, "mentor_iters": 500, "mentor_lr": 0.01, "percentile": 0.7,
                     "pretrain_batch_size": 100, "pretrain_lr": 0.001, "pretrain_steps": 1000,
                     "snapshot_every": 25, "synthetic_rate": 0.4, "total_steps": None},
    "mentornet_pd": {"burn_in": 0.1, "decay": 0.9, "percentile_end": 0.8, "percentile_start": 0.5,
                     "total_steps": None},
    "meta_weight_net": {"curve_every": 50, "grid_points": 81, "hidden": 100, "lookahead_lr": None,
                        "loss_grid_max": 8.0, "meta_lr": 0.001, "meta_weight_decay": 0.0001},
    "noise_layer": {"init_diag": 0.9, "lr_multiplier": 10.0, "pretrain_batch_size": 100, "pretrain_lr": 0.001,
                    "pretrain_steps": 1000, "trace_penalty": 0.1},
    "noise_layer_conf": {"init_diag": 0.9, "lr_multiplier": 10.0, "pretrain_batch_size": 100, "pretrain_lr": 0.001,
                         "pretrain_steps": 1000, "trace_penalty": 0.1},
    "oversample": {},
    "plain": {},
    "proportion": {"normalise": True},
    "random": {},
    "resample": {},
    "self_training": {"round_steps": None, "rounds": 3, "threshold": 0.9},
    "smote": {"k_neighbors": 5},
    "undersample": {},
}
LEGACY_MODIFIER_DEFAULTS: dict[str, Any] = {"es_every": 100, "ft_switch_step": None}


def _number(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def _recipe(row: dict) -> str:
    value = row.get("recipe")
    return value if isinstance(value, str) and value else "ours"


def _args_text(row: dict) -> str:
    value = row.get("method_args")
    return value if isinstance(value, str) and value.strip() else "{}"


@functools.lru_cache(maxsize=4096)
def _resolve_row(method: str, experiment: str, steps: int | None, recipe: str, lr: float | None, args_text: str,
                 declaration: tuple) -> tuple[str, str, bool]:
    """``(identity, changed settings as canonical JSON, legacy)`` of one row's method; see the module docstring.
    ``declaration`` only keys the cache (a method's declaration changed at run time, in a test, is seen)."""
    try:
        args = json.loads(args_text)
    except ValueError:
        return args_text, args_text, False    # not JSON: kept as written, so it matches only itself
    if not isinstance(args, dict):
        return args_text, args_text, False
    try:
        base, mods = check_method_name(method)
    except ValueError:                        # a method this library does not have: kept as written
        return canonical_settings(args), canonical_settings(args), False
    specs = setting_specs(base, mods)
    held: dict[str, Any] = {}
    for key, value in args.items():
        spec = specs.get(key)
        try:
            held[key] = spec.parse(value, method) if spec is not None and spec.cli else value
        except ValueError:
            held[key] = value
    run: dict[str, Any] = {}
    try:
        exp = recipe_experiment(experiment, recipe)
        plan = RunPlan(steps=int(steps), batch_size=exp.batch_size, lr=exp.lr if lr is None else lr,
                       eval_every=exp.eval_every, recipe=recipe, boost_rounds=exp.adaboost_rounds)
        run = {**METHODS[base].run_settings(plan), **modifier_settings(mods, plan)}
        run = {k: specs[k].parse(v, method) if k in specs and specs[k].cli else v for k, v in run.items()}
    except (ValueError, TypeError, KeyError):
        pass                                  # no plan (a partial row): run-dependent settings cannot be filled
    legacy = {**LEGACY_MODIFIER_DEFAULTS, **LEGACY_DEFAULTS.get(base, {})}
    missing = [k for k in specs if k not in held]
    full = dict(held)
    for key in missing:
        full[key] = run[key] if key in run else legacy[key] if key in legacy else specs[key].default
    now = {**{k: s.default for k, s in specs.items()}, **run}
    changed = {k: v for k, v in full.items() if k not in now or now[k] != v}
    modifier_keys = {MODIFIER_SETTINGS[m].name for m in mods}
    return canonical_settings(full), canonical_settings(changed), bool(modifier_keys & set(missing))


def _declaration(method: str) -> tuple:
    cls = METHODS.get(method.split("+")[0])
    if cls is None:
        return ()
    return (id(cls), id(cls.settings), id(getattr(cls.run_settings, "__func__", cls.run_settings)), cls.revision)


def _resolved(row: dict) -> tuple[str, str, bool]:
    steps = _number(row.get("steps"))
    method = str(row.get("method"))
    return _resolve_row(method, str(row.get("experiment")), None if steps is None else int(steps), _recipe(row),
                        _number(row.get("lr")), _args_text(row), _declaration(method))


def row_identity(row: dict) -> str:
    """A row's ``method_args`` as its identity: every resolved setting as canonical JSON (a row written before
    identities were resolved is migrated, see the module docstring). Idempotent."""
    return _resolved(row)[0]


def row_variant(row: dict) -> dict[str, Any]:
    """The settings of a row's run that differ from what the method gives that run by default today (``{}``: the
    defaults; a changed default makes old rows a variant)."""
    return json.loads(_resolved(row)[1]) if _resolved(row)[1].startswith("{") else {"method_args": _resolved(row)[1]}


def current_revision(method: str) -> int:
    """The library's revision of a method's numerics (its base class's ``revision``; 0 for unknown names)."""
    try:
        return METHODS[check_method_name(method)[0]].revision
    except ValueError:
        return 0


def row_revision(row: dict) -> int:
    """The revision a row was computed with (its ``method_revision``, 0 where missing); a legacy row of a modified
    method, whose writer recorded 0 whatever the base's revision, reads as the current one."""
    method = str(row.get("method"))
    value = _number(row.get("method_revision"))
    if "+" in method and _resolved(row)[2] and (value is None or value == 0):
        return current_revision(method)
    return 0 if value is None else int(value)


__all__ = ["LEGACY_DEFAULTS", "current_revision", "row_identity", "row_revision", "row_variant"]
