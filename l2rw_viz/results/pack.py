"""Making the shipped results: run the full sweep of an experiment, then pack its table, sparse Histories and
provenance into ``l2rw_viz/results/data`` (see :mod:`l2rw_viz.results.shipped`).

    l2rw-viz results list                        what ships, with its size and whether it is current
    l2rw-viz results show fig8                   the table (mean +- std over seeds) and its provenance
    l2rw-viz results make fig8 --jobs 2          sweep (pinned, resumable, in --work-dir) + pack: refreshes the table
    l2rw-viz results make all --hours 2          every table, seed 0 of every method first; packs what 2 hours made
    l2rw-viz results pack fig8 --from CSV --histories DIR [--command "..."]   pack a finished sweep
    l2rw-viz results compare-recipes PAPER.csv   a --recipe paper table against the shipped Fig. 8 one

``make`` is the one command that refreshes a stale table: its sweep skips rows already in the work CSV that are
current, so after a change to one method only that method's runs are repeated.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
import json
import os
import platform
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..command_errors import reported_errors
from .shipped import (
    DATA_DIR,
    HISTORY_DIR,
    SHIPPED,
    experiment_name,
    history_path,
    load_results,
    provenance,
    setting_text,
    table_path,
)

SEEDS = (0, 1, 2)
DATA_SOURCE = "subset"  # the offline 5,000-image subset: every user (and CI) has it
# Histories shipped (seed 0, every setting): L2RW and the baselines whose weights or curves the course draws.
HISTORY_METHODS = {
    "mnist-imbalance": ("plain", "proportion", "resample", "hard_mining", "random", "l2rw"),
    "mnist-noise": ("plain", "random", "noise_layer_conf", "bootstrap_hard", "finetune", "meta_weight_net", "l2rw"),
    "mnist-imbalance-noise": ("plain", "proportion", "finetune", "l2rw"),
}
# Record every k-th step of a shipped History (the figures smooth over tens of steps; every evaluation is kept).
# The noisy-label set is ten times larger, so its L2RW History keeps every step: the per-image ranking of notebook
# 7 needs each image seen often enough.
HISTORY_EVERY = {"mnist-imbalance": 5, "mnist-noise": 1, "mnist-imbalance-noise": 5}
HISTORY_EVERY_NOT_L2RW = 10


def thin_history(history, every: int):
    """A copy of ``history`` keeping every ``every``-th recorded step (evaluations and masks kept whole);
    indices stored as int32. ``meta['recorded_every']`` says so."""
    keep = slice(None, None, every)
    per_step = {k: getattr(history, k)[keep] for k in ("steps", "weights", "train_loss", "weighted_loss", "val_loss")}
    meta = dict(history.meta, recorded_every=int(every) * int(history.meta.get("recorded_every", 1)))
    return dataclasses.replace(history, indices=history.indices[keep].astype(np.int32), meta=meta, **per_step)


def _versions() -> dict:
    import pandas
    import sklearn
    import torch

    from .. import __version__

    return {"l2rw_viz": __version__, "torch": torch.__version__, "numpy": np.__version__,
            "scikit_learn": sklearn.__version__, "pandas": pandas.__version__, "python": platform.python_version()}


def expected_runs(name: str) -> set[tuple[str, str, int]]:
    """``(method, setting, seed)`` of every run the shipped table must hold: ``--methods all`` x settings x seeds."""
    from ..experiments import get_experiment, resolve_methods

    exp = get_experiment(experiment_name(name))
    return {(m, setting_text(s), seed) for m in resolve_methods(exp, "all") for s in exp.settings for seed in SEEDS}


def pack(name: str, csv: str | os.PathLike, history_dir: str | os.PathLike | None, *, commands: Sequence[str] = (),
         wall_time_s: float | None = None, git_commit: str | None = None, out_dir: Path = DATA_DIR,
         allow_missing: bool = False, earlier_git_commits: Sequence[str] = (),
         diverged_runs: Sequence[Sequence] = (), require_pinned: bool = True) -> dict:
    """Write the shipped table, Histories and provenance of ``name`` from a finished sweep.

    Args:
        csv: the sweep's results table. history_dir: where the sweep saved Histories (rows' ``history_path``).
        commands: the command lines that produced ``csv`` (recorded verbatim). wall_time_s: their elapsed time, in
            seconds (:func:`make_tables` sums it over the makes a table was resumed through; when several tables
            share one make's queue, each gets that make's whole time: ``sum_of_run_wall_times_s`` is per table).
        allow_missing: pack even if some expected runs are missing (the provenance lists them); default: refuse.
        diverged_runs: ``[method, setting, seed, message]`` of runs whose loss became NaN (a result in itself: they
            are listed in the provenance, and they do not count as unfinished for ``allow_missing``).
        git_commit: the commit of the code that ran the newest runs. earlier_git_commits: the commits of earlier
            packs whose rows were carried over (``make`` resumes from the shipped table).
        require_pinned: refuse rows not computed with pinned numerics (:mod:`l2rw_viz.numerics`): a shipped row
            must be what the shipped code computes on any machine. The provenance records the per-method numerics
            fingerprints (:mod:`~l2rw_viz.results.fingerprints`), computed here, pinned.

    Returns:
        The provenance dict (also written next to the table).
    """
    from ..experiments import RESULTS_VERSION, current_revision, finished_rows, get_experiment
    from ..history import History
    from ..outputs import atomic_write, same_file

    exp = get_experiment(experiment_name(name))
    out_dir = Path(out_dir)
    if not Path(csv).is_file():
        raise ValueError(f"csv={str(csv)!r} is not a file; allowed: the results CSV of a finished sweep")
    # csv may be the shipped table itself (every row is read before the table is replaced, atomically); the
    # Histories may not: each is thinned on the way in, and thinning the shipped ones again would lose steps
    if history_dir is not None and same_file(history_dir, out_dir / "histories"):
        raise ValueError(f"history_dir={str(history_dir)!r} is the shipped Histories' folder; allowed: the folder "
                         "where the sweep saved its full Histories (packing thins them: thinning the shipped ones "
                         "again would lose steps)")
    rows = [r for r in finished_rows(csv).values() if r["experiment"] == exp.name]
    if not rows:
        raise ValueError(f"csv={str(csv)!r} holds no current rows of {exp.name}")
    have = {(r["method"], setting_text(r["setting_value"]), int(r["seed"])) for r in rows}
    missing = sorted(expected_runs(exp.name) - have)
    diverged_keys = {(str(m), setting_text(st), int(sd)) for m, st, sd, *_ in diverged_runs}
    unfinished = [m for m in missing if m not in diverged_keys]
    if unfinished and not allow_missing:
        raise ValueError(f"csv={str(csv)!r} lacks {len(unfinished)} run(s) of {exp.name}, e.g. {unfinished[:3]}; "
                         "finish the "
                         f"sweep ('l2rw-viz results make {exp.name}') or pass allow_missing")
    from ..numerics import PINNED_LABEL, PINS, cpu_model

    unpinned = [r for r in rows if r.get("numerics") != PINNED_LABEL]
    if unpinned and require_pinned:
        r = unpinned[0]
        raise ValueError(f"csv={str(csv)!r} holds {len(unpinned)} row(s) not computed with pinned numerics, e.g. "
                         f"{r['method']} {r['setting_value']} seed {r['seed']} ({r.get('numerics')!r}); allowed: rows "
                         f"of 'l2rw-viz results make {exp.name}' (its runs are pinned)")
    import pandas as pd

    from .fingerprints import fingerprints

    methods = sorted({r["method"] for r in rows})
    current = fingerprints(exp.name, methods)
    sweep_prints = _fingerprint_file(csv)
    if sweep_prints.exists():   # written by make before its sweep: the rows' code must still compute the same
        made = json.loads(sweep_prints.read_text())
        moved = sorted(m for m in methods if m in made and made[m] != current[m])
        if moved:
            raise ValueError(f"the numerics of {moved} changed since the sweep in {str(csv)!r} started (their "
                             f"fingerprints differ, see {sweep_prints}): its rows are not what this code computes; "
                             f"allowed: a new sweep (delete the work folder, then 'l2rw-viz results make {exp.name}')")
    table = pd.DataFrame(rows).sort_values(["setting_value", "method", "seed"], key=lambda c: c.map(str))
    hist_out = out_dir / "histories"
    hist_out.mkdir(parents=True, exist_ok=True)
    shipped_hist = []
    paths = []
    for r in table.to_dict("records"):
        path = ""
        if r["method"] in HISTORY_METHODS.get(exp.name, ()) and int(r["seed"]) == 0:
            target = hist_out / history_path(exp.name, r["method"], r["setting_value"], 0).name
            source = (Path(history_dir) / Path(str(r.get("history_path") or "none")).name
                      if history_dir is not None else None)
            every = HISTORY_EVERY[exp.name] if r["method"] == "l2rw" else HISTORY_EVERY_NOT_L2RW
            if source is not None and source.is_file():
                thin_history(History.load(source), every).save(target)
            elif str(r.get("history_path")) == f"histories/{target.name}" and (out_dir / "histories" / target.name) \
                    .is_file():
                # a row carried over from the shipped table (see make): its thinned History ships already
                every = History.load(target).meta.get("recorded_every", every)
            else:
                raise ValueError(f"history_dir={str(history_dir)!r} lacks the History of {r['method']} at "
                                 f"{r['setting_value']} seed 0 ({r.get('history_path')!r})")
            path = f"histories/{target.name}"
            shipped_hist.append({"file": path, "recorded_every": int(every)})
        paths.append(path)
    table["history_path"] = paths
    target_csv = out_dir / f"{exp.name}.csv"
    atomic_write(target_csv, table.to_csv(index=False))

    prov = {
        "experiment": exp.name,
        "description": exp.description,
        "made_with": commands or [f"l2rw-viz results make {exp.name} --jobs 2"],
        "refresh_with": f"l2rw-viz results make {exp.name} --jobs 2",
        "git_commit": git_commit,
        "earlier_git_commits": [c for c in dict.fromkeys(earlier_git_commits) if c != git_commit],
        "versions": _versions(),
        # the package version(s) that computed the rows (rows from before the column existed are not counted)
        "row_l2rw_viz_versions": sorted(table["l2rw_viz_version"].dropna().astype(str).unique())
        if "l2rw_viz_version" in table.columns else [],
        "results_version": RESULTS_VERSION,
        "method_revisions": {m: current_revision(m) for m in methods},
        "numerics": sorted(table["numerics"].astype(str).unique()),
        "numerics_pins": PINS,
        "numerics_fingerprints": current,
        "devices": sorted(table["device"].astype(str).unique()),
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "platform": platform.platform()},
        "date_packed_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "wall_time_s": wall_time_s,
        "sum_of_run_wall_times_s": round(float(table["wall_time_s"].sum()), 1),
        "rows": len(table),
        "methods": methods,
        "settings": sorted({setting_text(s) for s in table["setting_value"]}),
        "seeds": sorted(int(s) for s in table["seed"].unique()),
        "steps": sorted(int(s) for s in table["steps"].unique()),
        "data_source": sorted(table["data_source"].astype(str).unique()),
        "missing_runs": [list(m) for m in missing],
        "diverged_runs": [[str(m), setting_text(st), int(sd), *rest[:1]] for m, st, sd, *rest in diverged_runs],
        "histories": shipped_hist,
    }
    atomic_write(out_dir / f"{exp.name}.provenance.json", json.dumps(prov, indent=1) + "\n")
    return prov


def make(name: str, jobs: int = 2, work_dir: str | os.PathLike = "results-work", device: str = "cpu",
         progress: bool = True, hours: float | None = None) -> dict:
    """Run (or resume) the full sweep of ``name`` into ``work_dir`` and pack it into the package's data; see
    :func:`make_tables` (this is it for one table). Returns the provenance."""
    return make_tables([name], jobs, work_dir, device, progress, hours)[experiment_name(name)]


def make_order(experiment: str, method: str, seed: int) -> tuple[int, int]:
    """Where a run of the shipped sweeps goes in ``make``'s queue: seed first, then L2RW and plain training (0), the
    other methods whose Histories ship (1), the rest (2)."""
    tier = 0 if method in ("l2rw", "plain") else 1 if method in HISTORY_METHODS.get(experiment, ()) else 2
    return int(seed), tier


def make_tables(names: Sequence[str], jobs: int = 2, work_dir: str | os.PathLike = "results-work",
                device: str = "cpu", progress: bool = True, hours: float | None = None) -> dict[str, dict]:
    """Run (or resume) the full sweeps of ``names`` into ``work_dir`` and pack each into the package's data.

    Every run is pinned (:mod:`l2rw_viz.numerics`), ``jobs`` at a time. The runs of all the tables share one queue
    in :func:`make_order`: seed 0 of every method of every table before any seed 1, so a make that stops early has
    each table whole at one seed before any cell has three. The sweeps resume from the shipped rows (and from the
    work CSVs): only missing or stale runs are computed.

    Args:
        names: shipped table names (``"fig8"``, ``"noise"``, ``"both"`` or the experiments' names).
        hours: start no run after this many hours (the running ones finish); the tables are then packed with the
            runs not made listed as missing in their provenance, and the same command resumes. ``None``: no limit.

    Returns:
        ``{experiment: provenance}``.
    """
    from tqdm.auto import tqdm

    from ..checks import check_in_range, check_int
    from ..experiments import append_row, get_experiment, plan_sweep, resolve_methods
    from ..experiments.sweeps import run_pinned_sweep
    from .fingerprints import fingerprints

    jobs = check_int("jobs", jobs, 1)
    if hours is not None:
        hours = check_in_range("hours", hours, 0.0, float("inf"), low_open=True, high_open=True)
    exps = list(dict.fromkeys(experiment_name(n) for n in names))
    if not exps:
        raise ValueError(f"names={list(names)!r} is empty; allowed: one or more of {', '.join(SHIPPED)}")
    work = Path(work_dir)
    tables: dict[str, dict] = {}
    queue = []
    for index, exp in enumerate(exps):
        csv, hist = work / f"{exp}.csv", work / "histories" / exp
        commands: list[str] = []
        shipped = provenance(exp) if table_path(exp).exists() else {}
        if not csv.exists() and shipped:
            # resume from what ships: its current rows are skipped by the sweep, so only missing or stale runs are
            # computed, and their shipped Histories are kept by pack
            for row in load_results(exp).to_dict("records"):
                append_row(csv, row)
            commands = list(shipped.get("made_with", []))
        prints = fingerprints(exp, resolve_methods(get_experiment(exp), "all"))
        prints_file = _fingerprint_file(csv)
        if prints_file.exists() and json.loads(prints_file.read_text()) != prints:
            raise ValueError(f"work_dir={str(work)!r} holds a sweep made by code with other numerics ({prints_file}); "
                             "allowed: an empty work folder (delete it) or the code that started it")
        prints_file.parent.mkdir(parents=True, exist_ok=True)
        prints_file.write_text(json.dumps(prints, indent=1, sort_keys=True) + "\n")
        earlier = [c for c in [*shipped.get("earlier_git_commits", []), shipped.get("git_commit")] if c]
        # a make resumed from the shipped table continues its commands, so its wall time continues theirs
        before = float(shipped.get("wall_time_s") or 0.0) if commands else 0.0
        tables[exp] = {"csv": csv, "hist": hist, "commands": commands, "earlier": earlier, "diverged": [],
                       "wall_before": before}
        for spec in plan_sweep(exp, "all", seeds=SEEDS, out=csv, device=device, data_source=DATA_SOURCE,
                               history_dir=hist):
            queue.append((make_order(exp, spec.method, spec.seed), index, spec))
    queue.sort(key=lambda q: q[:2])   # stable: within a tier, each sweep's own order
    specs = [spec for *_, spec in queue]
    bar = tqdm(total=len(specs), desc="results make", unit="run", disable=not progress)

    def collect(row: dict, spec) -> None:
        table = tables[spec.experiment]
        if "diverged" in row:   # no row: listed as diverged in the provenance, tried again by the next make
            table["diverged"].append([spec.method, str(spec.setting), int(spec.seed), row["diverged"]])
        else:
            append_row(table["csv"], row)
        bar.set_postfix(last=f"{spec.experiment} {spec.method} {spec.setting} s{spec.seed}: "
                             + ("DIVERGED" if "diverged" in row else f"err {row['test_error']:.3f}"))
        bar.update(1)

    start = time.perf_counter()
    stop_at = None if hours is None else time.monotonic() + 3600 * hours
    try:
        left = run_pinned_sweep(specs, jobs, collect, stop_at)
    finally:
        bar.close()
    wall = round(time.perf_counter() - start, 1)
    argv = ["l2rw-viz", "results", "make", *exps, "--jobs", str(jobs), "--work-dir", str(work), "--device", device]
    if hours is not None:
        argv += ["--hours", f"{hours:g}"]
    stopped = f"  # stopped after {hours:g} h with {len(left)} run(s) not started" if left else ""
    return {exp: pack(exp, t["csv"], t["hist"], commands=t["commands"] + [shlex.join(argv) + stopped],
                      wall_time_s=round(t["wall_before"] + wall, 1), git_commit=_git_commit(),
                      earlier_git_commits=t["earlier"],
                      diverged_runs=t["diverged"], allow_missing=bool(left))
            for exp, t in tables.items()}


def _fingerprint_file(csv: str | os.PathLike) -> Path:
    """Where ``make`` keeps the numerics fingerprints of the code that runs its sweep into ``csv``."""
    return Path(csv).with_suffix(".fingerprints.json")


def _git_commit() -> str | None:
    """The short commit of the checkout this package runs from, or None (an installed wheel has no git)."""
    import subprocess

    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                             text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() or None


def summary_table(name: str, markdown: bool = False) -> str:
    """The shipped table as text: methods x settings, mean ± std over seeds in % (test accuracy for the noisy-label
    experiment, test error otherwise), the lowest error / highest accuracy per setting in bold (markdown)."""
    from ..experiments import summarize

    table = load_results(name)
    value = "test_accuracy" if experiment_name(name) == "mnist-noise" else "test_error"
    s = summarize(table, value=value)
    # a cell whose every run did nothing beyond plain training (the rows' 'inert' reason) is marked, not ranked
    inert = {(m, setting_text(v)) for (m, v), group in table.groupby(["method", "setting_value"])
             if "inert" in group and group["inert"].map(lambda x: isinstance(x, str) and bool(x)).all()}
    s["inert"] = [(m, setting_text(v)) in inert for m, v in zip(s["method"], s["setting_value"])]
    # one seed has no spread: no "± 0.0" that would read as a perfectly repeatable result
    s["cell"] = [f"{100 * m:.1f}" + (f" ± {100 * d:.1f}" if c >= 2 else "") + ("" if c == 3 else f" (n={c})")
                 + (" †" if i else "") for m, d, c, i in zip(s["mean"], s["std"], s["count"], s["inert"])]
    ranked = s[~s["inert"]]
    best = ranked.loc[(ranked.groupby("setting_value")["mean"].idxmax() if value == "test_accuracy"
                       else ranked.groupby("setting_value")["mean"].idxmin())]
    note = ("\n\n† inert: the method did nothing beyond plain training on this setting in every run (its rows' "
            "'inert' column says why); not a result of the method, and not ranked." if s["inert"].any() else "")
    if markdown:
        s.loc[best.index, "cell"] = "**" + s.loc[best.index, "cell"] + "**"
    pivot = s.pivot(index="method", columns="setting_value", values="cell")
    # a run that stopped (e.g. loss correction refusing an unusable T) has no row: its cell says so, never a bare gap
    stopped = {(m, st) for m, st, *_ in table.attrs["diverged_runs"]}   # (load_results: from the provenance)
    columns = {setting_text(c): c for c in pivot.columns}
    stopped = {(m, st) for m, st in stopped if st in columns}   # (a setting no method has a row of is not drawn)
    for method, setting in sorted(stopped):
        if method not in pivot.index:
            pivot.loc[method] = None
        cell = pivot.at[method, columns[setting]]
        pivot.at[method, columns[setting]] = f"{cell} ‡" if isinstance(cell, str) else "stopped ‡"
    pivot = pivot.sort_index()
    if stopped:
        note += ("\n\n‡ stopped: a run of this cell ended with a message instead of a result (the provenance's "
                 "'diverged_runs' says why); it has no row.")
    if pivot.isna().any(axis=None):
        note += "\n\n-: not made yet (the provenance's 'missing_runs')."
    what = "test accuracy" if value == "test_accuracy" else "test error"
    head = f"{experiment_name(name)}: {what} in %, mean ± std over seeds 0, 1, 2 ((n=k): only k seeds made yet)"
    if not markdown:
        return f"{head}\n{pivot.fillna('-').to_string()}{note}"
    cols = [setting_text(c) for c in pivot.columns]
    lines = [f"| method | {' | '.join(cols)} |", "|---" * (len(cols) + 1) + "|"]
    lines += [f"| {m} | {' | '.join(str(v) if isinstance(v, str) else '-' for v in row)} |"
              for m, row in zip(pivot.index, pivot.values)]
    return f"{head}\n\n" + "\n".join(lines) + note


def main(argv: Sequence[str] | None = None) -> int:
    """``l2rw-viz results ...`` (see the module docstring)."""
    from .shipped import shipped_names, stale_methods

    parser = argparse.ArgumentParser(prog="l2rw-viz results", description="The full results shipped with the package")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="what ships, its size and whether it is current")
    p = sub.add_parser("show", help="a shipped table (mean ± std over seeds) and its provenance")
    p.add_argument("name", choices=sorted(set(SHIPPED) | {"fig8", "noise", "both"}))
    p.add_argument("--markdown", action="store_true", help="the table as markdown, best per setting in bold")
    p = sub.add_parser("make", help="run the full sweeps (pinned, resumable) and pack them into the package")
    p.add_argument("name", nargs="+", choices=sorted(set(SHIPPED) | {"fig8", "noise", "both", "all"}),
                   help="the tables ('all': every shipped table); their runs share one queue, seed 0 first")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--work-dir", default="results-work")
    p.add_argument("--device", default="cpu")
    p.add_argument("--hours", type=float, default=None,
                   help="start no run after this many hours, then pack what was made (the rest listed as missing; "
                        "the same command resumes)")
    p = sub.add_parser("pack", help="pack a finished sweep's CSV and Histories into the package")
    p.add_argument("name", choices=sorted(set(SHIPPED) | {"fig8", "noise", "both"}))
    p.add_argument("--from", dest="csv", required=True)
    p.add_argument("--histories", default=None)
    p.add_argument("--command", action="append", default=[], help="a command line that made the CSV (repeatable)")
    p.add_argument("--wall-time", type=float, default=None)
    p.add_argument("--git-commit", default=None)
    p.add_argument("--allow-missing", action="store_true")
    p = sub.add_parser("compare-recipes", help="a --recipe paper results table against the shipped Fig. 8 table "
                                               "(paired seeds)")
    p.add_argument("csv", help="the results CSV of 'l2rw-viz sweep mnist-imbalance --recipe paper ...'")
    p.add_argument("--markdown", action="store_true", help="the table as markdown")
    args = parser.parse_args(argv)
    # a bad value or file (exit 2), an input or output path the system refuses (exit 2, the path and the reason)
    which = args.command if isinstance(args.command, str) else "pack"   # pack's --command option shares the name
    with reported_errors(f"l2rw-viz results {which}", path=getattr(args, "csv", None)):
        if args.command == "compare-recipes":
            from .recipes import format_recipe_comparison, recipe_comparison

            print(format_recipe_comparison(recipe_comparison(args.csv), markdown=args.markdown))
            return 0
        if args.command == "list":
            for name in SHIPPED:
                if name not in shipped_names():
                    print(f"{name:24s} not shipped (make it: l2rw-viz results make {name} --jobs 2)")
                    continue
                stale = stale_methods(name)
                size = table_path(name).stat().st_size + sum(p.stat().st_size
                                                              for p in HISTORY_DIR.glob(f"{name}__*.npz"))
                state = "current" if not stale else f"STALE for {sorted(stale)} (refresh: l2rw-viz results make {name})"
                print(f"{name:24s} {len(load_results(name)):4d} rows, {size / 1e6:5.1f} MB, {state}")
            return 0
        if args.command == "show":
            print(summary_table(args.name, args.markdown))
            if not args.markdown:
                print(json.dumps(provenance(args.name), indent=1))
            return 0
        if args.command == "make":
            names = SHIPPED if "all" in args.name else args.name
            provs = list(make_tables(names, args.jobs, args.work_dir, args.device, hours=args.hours).values())
        else:
            provs = [pack(args.name, args.csv, args.histories, commands=args.command, wall_time_s=args.wall_time,
                          git_commit=args.git_commit, allow_missing=args.allow_missing)]
        for prov in provs:
            print(f"packed {prov['rows']} rows of {prov['experiment']} and {len(prov['histories'])} Histories into "
                  f"{DATA_DIR}" + (f"; {len(prov['missing_runs'])} run(s) still missing" if prov["missing_runs"]
                                   else ""))
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
