"""Running one experiment: :func:`run_one` resolves the method once, builds the data, lets the method fit (the one
trainer, or AdaBoost's boosting: :meth:`~l2rw_viz.methods.Method.fit`) and returns one tidy row, optionally
appended to a results table (:mod:`~l2rw_viz.experiments.store`)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import __version__
from .. import train as trainer
from ..checks import check_choice, check_in_range, check_int, check_seed
from ..device import cpu_threads, describe_device, resolve_device
from ..methods import FitRequest, ResolvedMethod, RunPlan, resolve_method
from ..models import make_model
from ..numerics import numerics_label, trajectory_digest
from .build import make_dataset, resolve_data_source
from .registry import RECIPE_ON_ZERO_WEIGHTS, Experiment, recipe_experiment
from .store import (
    EXTRA_COLUMNS,
    RESULTS_VERSION,
    ROW_COLUMNS,
    append_row,
    check_output_dir,
    check_recipe_of_table,
    check_results_path,
    history_filename,
)


def run_plan(exp: Experiment, steps: int, lr: float, recipe: str = "ours") -> RunPlan:
    """What a run of ``exp`` will be (for the methods' run-dependent settings)."""
    return RunPlan(steps=steps, batch_size=exp.batch_size, lr=lr, eval_every=exp.eval_every, recipe=recipe,
                   boost_rounds=exp.adaboost_rounds)


def run_one(experiment: str | Experiment, method: str | ResolvedMethod, setting=None, seed: int = 0,
            steps: int | None = None, device: str = "auto", data_source: str = "auto", *,
            out: str | os.PathLike | None = None, history_dir: str | os.PathLike | None = None,
            on_zero_weights: str | None = None, lr: float | None = None, data_seed: int | None = None,
            progress: bool = False, method_args: Mapping[str, Any] | None = None, return_history: bool = False,
            threads: int | None = None, recipe: str = "ours"):
    """Train (or boost) one method on one setting of an experiment and return its tidy row.

    Args:
        experiment: a name from ``EXPERIMENTS``. method: a registered method name (``"adaboost"`` included,
            ``+es``/``+ft`` suffixes allowed), or a :class:`~l2rw_viz.methods.ResolvedMethod` (then no
            ``method_args``).
        setting: the swept value (a proportion in (0, 1), or ``"uniform"``/``"background"``);
            ``None``: the experiment's default (its hardest proportion / uniform flips).
        seed: seeds data split, initialisation, batch order and the method. steps: SGD steps (``None``: the
            experiment's default; in smoke mode ``L2RW_SMOKE=1`` a tenth of it). For AdaBoost ``steps`` only
            labels the row; the rounds are ``experiment.adaboost_rounds``.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``... data_source: ``"auto"``, ``"subset"``, ``"full"`` (MNIST only).
        out: CSV path to append the row to (atomically). history_dir: save the run's History ``.npz`` there.
        on_zero_weights: the trainer's policy for all-zero weights (``"skip"`` or ``"step"``; ``None``: the
            recipe's, ``"skip"`` for ``"ours"``, ``"step"`` for ``"paper"``).
        lr: override the experiment's learning rate. data_seed: draw the data with another seed than the rest
            (``None``: ``seed``), to separate data variance from training variance.
        method_args: the method's settings, ``{key: value}`` (values typed, or strings as ``--method-arg KEY=VALUE``
            gives them; checked by the method's declaration before any work). They win over the settings the method
            derives from the run. The run's identity is every resolved setting, defaults included (the row's
            ``method_args`` column, canonical JSON, :attr:`~l2rw_viz.methods.ResolvedMethod.identity`), so a default
            spelled out is the same run; the row's ``method_settings`` is the method's ``describe()`` before the run.
        return_history: also return the History.
        threads: torch CPU threads for this run (restored afterwards). ``None``: 1 on the CPU — on a shared 2-core
            machine LeNet took 35 ms/step with 1 thread and 345 ms/step with 2 (threads spinning against other
            processes); on an idle machine 2 threads gain far less than that. Ignored on GPUs.
        recipe: ``"ours"`` (default) or ``"paper"`` (the official protocol, ``mnist-imbalance`` only; see the
            module docstring): sets the network, the default steps, the lr schedule, the proportion weights and the
            all-zero-weights policy; recorded in the row's ``recipe`` column.

    Returns:
        The row (``dict``; keys ``ROW_COLUMNS`` + ``EXTRA_COLUMNS``), or ``(row, history)`` with
        ``return_history`` (an ``AdaBoostResult`` for AdaBoost).
    """
    exp = recipe_experiment(experiment, recipe)
    setting = exp.check_setting(exp.default_setting() if setting is None else setting)
    seed = check_seed("seed", seed)
    steps = check_int("steps", exp.default_steps() if steps is None else steps, 1)
    data_seed = seed if data_seed is None else check_seed("data_seed", data_seed)
    # every output before the first step: a run must never be lost to a path that cannot take its result
    if out is not None:
        check_results_path(out, "out")
    if history_dir is not None:
        check_output_dir(history_dir, "history_dir")
    lr = exp.lr if lr is None else check_in_range("lr", lr, 0.0, float("inf"), low_open=True, high_open=True)
    on_zero_weights = RECIPE_ON_ZERO_WEIGHTS[recipe] if on_zero_weights is None else on_zero_weights
    check_choice("on_zero_weights", on_zero_weights, ["skip", "step"])
    check_recipe_of_table(out, recipe)
    resolved = resolve_method(method, method_args, run_plan(exp, steps, lr, recipe))   # once, before any work
    runner = resolved.build()
    dev = resolve_device(device)
    source = resolve_data_source(exp, data_source)
    ds = make_dataset(exp, setting, data_seed, source)

    row: dict[str, Any] = {c: float("nan") for c in ROW_COLUMNS + EXTRA_COLUMNS}
    row.update(experiment=exp.name, method=resolved.name, setting_name=exp.setting_name, setting_value=setting,
               seed=seed, steps=steps, device=describe_device(dev),
               data_source=source, n_train=ds.n, n_val=len(ds.y_val), data_seed=data_seed,
               noise_rate=exp.noise_rate if "noise" in exp.bias else 0.0,
               noise_mode=setting if exp.setting_name == "noise_mode" else ("uniform" if "noise" in exp.bias else ""),
               proportion=setting if exp.setting_name == "proportion" else float("nan"), history_path="",
               results_version=RESULTS_VERSION, method_revision=resolved.revision, recipe=recipe,
               method_args=resolved.identity, method_settings=json.dumps(runner.describe(), sort_keys=True),
               l2rw_viz_version=__version__)
    request = FitRequest(dataset=ds, make_model=lambda: make_model(exp.model, ds.num_classes, ds.feature_shape,
                                                                   seed=seed),
                         steps=steps, batch_size=exp.batch_size, lr=lr, momentum=exp.momentum, device=dev, seed=seed,
                         eval_every=min(exp.eval_every, steps), lr_schedule=exp.lr_schedule(steps),
                         on_zero_weights=on_zero_weights, progress=progress, train=trainer.train)
    start = time.perf_counter()
    with cpu_threads(dev, 1 if threads is None else threads):
        label = numerics_label() if dev.type == "cpu" else f"{describe_device(dev)} (not pinned)"
        history = runner.fit(request)   # a History, or the AdaBoost baseline's record: the same three uses below
    history.meta.update(experiment=exp.name, setting_name=exp.setting_name, setting_value=setting,
                        data_source=source, data_seed=data_seed, recipe=recipe)
    row.update(history.row_fields())
    if history_dir is not None:
        path = Path(history_dir) / history_filename(row).replace(".npz", history.FILE_SUFFIX)
        path.parent.mkdir(parents=True, exist_ok=True)
        row["history_path"] = str(history.save(path))
    row["wall_time_s"] = time.perf_counter() - start
    # what a re-run must match step by step, and how the numbers were computed (pinned: the same on any x86-64 CPU)
    row["trajectory"] = trajectory_digest(history)
    row["numerics"] = label
    row["inert"] = runner.inert_reason() if hasattr(runner, "inert_reason") else ""
    if out is not None:
        append_row(out, row)
    return (row, history) if return_history else row


def runner_for(method: str, exp: Experiment, steps: int, lr: float, recipe: str, args: dict):
    """The method's instance for a run of ``exp`` (its run-dependent settings from the run, then ``args``)."""
    return resolve_method(method, args, run_plan(exp, steps, lr, recipe)).build()


__all__ = ["run_one", "run_plan", "runner_for"]
