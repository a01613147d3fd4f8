"""Sweeps: every (setting, seed, method) of an experiment not yet in the results table, in this process or in
parallel worker processes; an interrupted sweep started again repeats nothing (finished rows are skipped by key,
see :func:`~l2rw_viz.experiments.store.row_key`)."""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from tqdm.auto import tqdm

from ..checks import check_int, check_seed
from ..device import resolve_device
from ..methods import resolve_method
from ..sweep_cluster import check_backend
from ..sweep_worker import run_in_worker
from .build import resolve_data_source
from .registry import (
    RECIPE_ON_ZERO_WEIGHTS,
    RECIPE_SEEDS,
    Experiment,
    get_experiment,
    recipe_experiment,
    resolve_methods,
)
from .run import run_plan as _run_plan
from .store import (
    EXTRA_COLUMNS,
    ROW_COLUMNS,
    append_row,
    check_output_dir,
    check_recipe_of_table,
    check_results_path,
    finished_rows,
    read_results,
    row_key,
)


def _check_same_options(spec: RunSpec, row: dict, exp: Experiment, out) -> None:
    """A finished row is only reused if it was run with the options asked for now (they are not in the key):
    otherwise a sweep with, say, another ``lr`` would silently return the old numbers."""
    o = spec.options
    recipe = o.get("recipe", "ours")
    wanted = {"lr": o.get("lr") if o.get("lr") is not None else exp.lr,
              "on_zero_weights": o.get("on_zero_weights") or RECIPE_ON_ZERO_WEIGHTS[recipe],
              "data_seed": o.get("data_seed") if o.get("data_seed") is not None else spec.seed}
    for name, value in wanted.items():
        have = row.get(name)
        if have is None or (isinstance(have, float) and np.isnan(have)):
            continue   # not recorded for this method (AdaBoost has no lr) or an older table
        same = np.isclose(float(have), float(value)) if name != "on_zero_weights" else str(have) == str(value)
        if not same:
            raise ValueError(
                f"{name}={value!r}: {out} already holds {spec.method} at {spec.setting} seed {spec.seed} run with "
                f"{name}={have!r}, and a sweep skips finished runs; allowed: the same {name}, or another out file "
                f"for this variant")



@dataclass
class RunSpec:
    """One pending run of a sweep (what a worker process needs)."""

    experiment: str
    method: str
    setting: Any
    seed: int
    steps: int
    device: str
    data_source: str
    options: dict = field(default_factory=dict)
    identity: str = ""   # the resolved method's identity (every setting): the row's method_args

    def key(self) -> tuple:
        return row_key({"experiment": self.experiment, "method": self.method, "setting_value": self.setting,
                        "seed": self.seed, "steps": self.steps, "data_source": self.data_source,
                        "recipe": self.options.get("recipe", "ours"), "lr": self.options.get("lr"),
                        "method_args": self.identity})


def plan_sweep(experiment: str | Experiment, methods: str | Sequence[str] = "all", settings: Iterable | None = None,
               seeds: Iterable[int] | None = None, steps: int | None = None, device: str = "auto",
               data_source: str = "auto", out: str | os.PathLike | None = None, recipe: str = "ours",
               method_args: Mapping[str, Any] | None = None, **options) -> list[RunSpec]:
    """The runs a sweep would do, finished ones (already in ``out``) left out. Validates every argument.

    ``seeds=None``: the recipe's (``RECIPE_SEEDS``: 0, 1, 2 for ``"ours"``, 0..9 for ``"paper"``). ``recipe``: see
    :func:`~l2rw_viz.experiments.run.run_one`; a results file ``out`` holding rows of another recipe is refused.
    ``method_args``: settings given to every method of the sweep (each must accept them; see ``run_one``); runs
    with other settings are other runs (their rows are kept apart, never skipped for these).
    """
    exp = recipe_experiment(experiment, recipe)
    names = resolve_methods(exp, methods)
    values = [exp.check_setting(s) for s in (exp.settings if settings is None else settings)]
    seeds = [check_seed("seed", s) for s in (RECIPE_SEEDS[recipe] if seeds is None else seeds)]
    if out is not None:
        check_results_path(out, "out")
    if options.get("history_dir") is not None:
        check_output_dir(options["history_dir"], "history_dir")
    steps = check_int("steps", exp.default_steps() if steps is None else steps, 1)
    check_recipe_of_table(out, recipe)
    if recipe != "ours":
        options = {**options, "recipe": recipe}   # only then, so default specs (and their options) are unchanged
    # each method resolved once (its declaration checks the settings; every setting, defaults included, is the
    # run's identity): the specs' keys are the rows' keys, and a bad value is refused before any run
    lr = exp.lr if options.get("lr") is None else options["lr"]
    plan = _run_plan(exp, steps, lr, recipe)
    resolved = {m: resolve_method(m, method_args, plan) for m in names}
    for r in resolved.values():   # values every constructor accepts
        r.build()
    resolve_device(device)
    source = resolve_data_source(exp, data_source)
    done = finished_rows(out) if out is not None else {}
    given = {m: {k: resolved[m].settings[k] for k in method_args} for m in names} if method_args else {}
    specs = [RunSpec(exp.name, m, v, s, steps, device, source,
                     {**options, "method_args": given[m]} if m in given else dict(options), resolved[m].identity)
             for s in seeds for v in values for m in names]   # seed-major: a cut sweep has every cell once
    for spec in specs:
        if spec.key() in done:
            _check_same_options(spec, done[spec.key()], exp, out)
    return [s for s in specs if s.key() not in done]


def sweep(experiment: str | Experiment, methods: str | Sequence[str] = "all", settings: Iterable | None = None,
          seeds: Iterable[int] | None = None, out: str | os.PathLike | None = None, jobs: int = 1,
          steps: int | None = None, device: str = "auto", data_source: str = "auto", progress: bool = True,
          recipe: str = "ours", pinned: bool = False, backend: str = "local", scheduler: str | None = None,
          **options):
    """Run every (setting, seed, method) of an experiment that is not yet in ``out``; return the whole table.

    Args:
        methods: names, or ``"all"`` (the experiment's list), ``"fig8"``, ``"every"``.
        settings: values of the experiment's axis (``None``: its defaults). seeds: run seeds (``None``: the
            recipe's, 0, 1, 2 for ``"ours"`` and 0..9 for ``"paper"``).
        out: results CSV; each finished run is appended at once (atomically) and finished runs are skipped, so an
            interrupted sweep can simply be started again. ``None``: keep rows in memory only.
        jobs: parallel worker processes (joblib); each gets ``max(1, cores // jobs)`` torch threads (``jobs=1``
            runs in this process with ``run_one``'s default, 1 thread on the CPU).
        recipe: ``"ours"`` or ``"paper"`` (see :func:`~l2rw_viz.experiments.run.run_one`); one results file holds one
            recipe.
        pinned: run each run in a fresh process with pinned numerics (:mod:`l2rw_viz.numerics`: the same bits on
            any x86-64 CPU; one thread), ``jobs`` of them at a time. ``results make`` does this for the shipped
            tables; the rows' ``numerics`` column says so.
        backend: ``"local"`` (this machine: ``jobs`` processes) or ``"dask"`` (the runs as tasks of the Dask cluster
            at ``scheduler``, e.g. ``"tcp://10.0.0.5:8786"``, through joblib's Dask backend; ``jobs`` must stay 1:
            the cluster's workers decide how many runs run at once; see :mod:`l2rw_viz.sweep_cluster`).
        options: passed to :func:`~l2rw_viz.experiments.run.run_one` (``history_dir``, ``on_zero_weights``, ``lr``,
            ...); ``method_args`` goes to every method of the sweep (see :func:`plan_sweep`).

    Returns:
        A ``pandas.DataFrame``: the CSV's rows for this experiment (all of it, old and new), or the new rows when
        ``out`` is ``None``.
    """
    jobs = check_int("jobs", jobs, 1)
    check_backend(backend, scheduler, jobs)
    check_pinned_backend(pinned, backend)
    specs = plan_sweep(experiment, methods, settings, seeds, steps, device, data_source, out, recipe, **options)
    rows: list[dict] = []
    diverged: list[list] = []
    bar = tqdm(total=len(specs), desc=f"sweep {get_experiment(experiment).name}", unit="run", disable=not progress)

    def collect(row: dict, spec: RunSpec | None) -> None:
        if "diverged" in row:   # no row: the run is missing from the table and is tried again by the next sweep
            diverged.append([spec.method, str(spec.setting), int(spec.seed), row["diverged"]])
            bar.set_postfix(last=f"{spec.method} {spec.setting} s{spec.seed}: DIVERGED")
            bar.update(1)
            return
        rows.append(row)
        if out is not None:
            append_row(out, row)
        bar.set_postfix(last=f"{row['method']} {row['setting_value']} s{row['seed']}: err {row['test_error']:.3f}")
        bar.update(1)

    try:
        if pinned:
            run_pinned_sweep(specs, jobs, collect)
        elif backend == "dask" and specs:
            from ..sweep_cluster import dask_parallel  # Dask is imported only for a Dask sweep

            with dask_parallel(scheduler) as parallel:
                # one torch thread per run (workers run one run at a time); no parent watchdog: the sweeping process
                # may be on another machine, and the scheduler releases its tasks when its connection closes
                for row in parallel(delayed(run_in_worker)(asdict(spec), 1, None) for spec in specs):
                    collect(row, RunSpec(**row["spec"]) if "diverged" in row else None)
        elif jobs == 1 or len(specs) <= 1:
            for spec in specs:   # in this process, through the workers' entry point (it reports a diverged run)
                collect(run_in_worker(asdict(spec), None), spec)
        else:
            threads = max(1, (os.cpu_count() or 1) // jobs)
            parallel = Parallel(n_jobs=jobs, return_as="generator_unordered")
            # the workers get plain dicts and a light entry point: their watchdog is up before the heavy imports
            for row in parallel(delayed(run_in_worker)(asdict(spec), threads, os.getpid()) for spec in specs):
                collect(row, RunSpec(**row["spec"]) if "diverged" in row else None)
    finally:
        bar.close()
    if diverged:
        warnings.warn(f"{len(diverged)} run(s) diverged (see train.DivergenceRule) and have no row: "
                      + "; ".join(f"{m} {s} seed {d}: {e}" for m, s, d, e in diverged), RuntimeWarning, stacklevel=2)
    if out is None:
        table = pd.DataFrame(rows, columns=None).reindex(
            columns=list(dict.fromkeys(list(ROW_COLUMNS + EXTRA_COLUMNS) + [k for r in rows for k in r])))
    else:
        table = read_results(out)
        table = table[table["experiment"] == get_experiment(experiment).name].reset_index(drop=True)
    table.attrs["diverged_runs"] = diverged   # [method, setting text, seed, message] per diverged run
    return table




def check_pinned_backend(pinned: bool, backend: str) -> None:
    """A pinned sweep runs here: the pins are set on the processes this machine starts."""
    if pinned and backend != "local":
        raise ValueError(f"backend={backend!r} with pinned=True; allowed: backend='local' (a pinned run starts its "
                         "own process on this machine)")


def run_pinned_sweep(specs: Sequence[RunSpec], jobs: int, collect, stop_at: float | None = None) -> list[RunSpec]:
    """Each spec in its own pinned process (:func:`~l2rw_viz.sweep_worker.run_pinned`), ``jobs`` at a time, in the
    given order; ``collect(row, spec)`` gets each result here, in the sweeping process, as it finishes (a row, or
    ``{"diverged": message, ...}``). ``stop_at``: a ``time.monotonic()`` after which no run starts (the running ones
    finish). Returns the specs that were not started."""
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    from ..sweep_worker import run_pinned

    pending = list(specs)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        running = {}
        try:
            while pending or running:
                while pending and len(running) < jobs and (stop_at is None or time.monotonic() < stop_at):
                    spec = pending.pop(0)
                    running[pool.submit(run_pinned, asdict(spec), os.getpid())] = spec
                if not running:
                    break
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    spec = running.pop(future)
                    collect(future.result(), spec)
        except BaseException:   # Ctrl-C or a failed run: start nothing more (running children end with the parent)
            pending.clear()
            raise
    return pending


__all__ = ["RunSpec", "check_pinned_backend", "plan_sweep", "run_pinned_sweep", "sweep"]
