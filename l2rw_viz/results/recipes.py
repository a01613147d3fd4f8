"""The two recipes side by side: a ``--recipe paper`` results table against the shipped (``ours``) one.

    l2rw-viz results compare-recipes PAPER.csv [--markdown]

Only paired runs are compared: the same method, setting and seed in both tables (the shipped tables hold seeds 0, 1
and 2; a paper sweep defaults to seeds 0-9). The run time columns are each table's own measurement (its machine and
its load), so they compare the recipes' cost only roughly.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .shipped import experiment_name, load_results, setting_text

_COLUMNS = ("method", "setting_value", "seed", "steps", "test_error", "recipe", "experiment")


def _paper_table(paper: Any, experiment: str):
    import pandas as pd

    from ..experiments import RECIPE_ON_ZERO_WEIGHTS, get_experiment, read_results, recipe_experiment

    if isinstance(paper, (str, os.PathLike)):
        if not os.path.exists(paper):
            raise FileNotFoundError(f"paper={str(paper)!r} does not exist; allowed: a results CSV of 'l2rw-viz sweep'")
        if not os.path.isfile(paper):
            raise ValueError(f"paper={str(paper)!r} is not a file; allowed: a results CSV of 'l2rw-viz sweep'")
        table = read_results(paper)   # the results reader: damaged rows left out, a run counted once
    else:
        table = paper
    missing = [c for c in _COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"paper lacks columns {missing}; allowed: a results table of 'l2rw-viz sweep'")
    recipes = sorted(table["recipe"].astype(str).unique())
    if recipes != ["paper"]:
        raise ValueError(f"paper holds recipe(s) {recipes}; allowed: only rows of --recipe paper")
    others = sorted(set(table["experiment"]) - {experiment})
    if others:
        raise ValueError(f"paper holds experiment(s) {others}; allowed: only {experiment}")
    for column in ("test_error", "steps", "seed"):   # text where a number belongs would make every mean garbage
        values = pd.to_numeric(table[column], errors="coerce")
        if values.isna().any():
            bad = table[column][values.isna()].iloc[0]
            raise ValueError(f"paper's column {column!r} holds {bad if isinstance(bad, str) else 'no value'!r}; "
                             "allowed: numbers (a results table of 'l2rw-viz sweep' holding finished runs)")
        table = table.assign(**{column: values})
    # the recipe as the paper ran it: its length and settings, or the comparison is not of the two recipes
    recipe = recipe_experiment(experiment, "paper")
    wanted = {"steps": recipe.steps, "lr": recipe.lr, "on_zero_weights": RECIPE_ON_ZERO_WEIGHTS["paper"]}
    if "method_args" in table.columns:   # each method with the settings the recipe gives it, and no other
        from ..experiments.run import run_plan
        from ..methods import resolve_method

        plan = run_plan(recipe, recipe.steps, recipe.lr, "paper")
        default = {m: resolve_method(m, None, plan).identity for m in set(table["method"].astype(str))}
        other = sorted({f"{m}: {a}" for m, a in zip(table["method"], table["method_args"])
                        if not pd.isna(a) and str(a) not in ("{}", default[str(m)])})
        if other:
            raise ValueError(f"paper holds runs with method settings {other}; allowed: each method's defaults under "
                             "the paper recipe (a variant is not the recipe)")
    for column, want in wanted.items():
        if column not in table.columns:
            continue
        have = sorted({str(v) for v in table[column] if not pd.isna(v) and not _same(v, want)})
        if have:
            raise ValueError(f"paper holds runs with {column} {have}; allowed: {want!r}, the paper recipe's "
                             f"(runs of other lengths or settings are not the recipe; the shipped 'ours' table ran "
                             f"{get_experiment(experiment).steps:,} steps)")
    return table


def _same(value, want) -> bool:
    """``value`` (a table cell) equals ``want`` (text compared as text, numbers as numbers)."""
    if isinstance(want, str):
        return str(value) == want
    try:
        return bool(np.isclose(float(value), want))
    except (TypeError, ValueError):
        return False


def _mean_of(frame, column: str) -> float:
    """The mean of ``column`` (NaN when the table has no such column)."""
    return float(frame[column].mean()) if column in frame else float("nan")


def recipe_comparison(paper: Any, name: str = "fig8", value: str = "test_error"):
    """One row per (method, setting) of ``paper``, compared over the seeds both tables ran.

    Args:
        paper: a results table (CSV path or DataFrame) of ``l2rw-viz sweep ... --recipe paper``.
        name: the shipped table to compare with (``"fig8"`` = ``mnist-imbalance``, the one experiment the paper
            recipe exists for).
        value: the column compared (a fraction, e.g. ``test_error``).
    Returns:
        A ``pandas.DataFrame`` with ``method``, ``setting`` (text), ``seeds`` (the paired seeds), ``paper_mean``,
        ``paper_std``, ``ours_mean``, ``ours_std`` (sample std over those seeds; NaN for one seed), ``paper_values``
        and ``ours_values`` (per seed, in seed order), ``paper_zero_steps`` and ``ours_zero_steps`` (mean fraction
        of steps whose weights were all zero), ``paper_run_s`` and ``ours_run_s`` (mean wall time of a run, s).
        Sorted by setting, then method. (method, setting) pairs with no seed in common are left out.
    """
    import pandas as pd

    exp = experiment_name(name)
    table = _paper_table(paper, exp)
    ours = load_results(exp)
    if "data_source" in table.columns:   # the shipped runs used the offline subset: compare like with like
        sources, shipped = sorted(set(table["data_source"].astype(str))), sorted(set(ours["data_source"].astype(str)))
        if sources != shipped:
            raise ValueError(f"paper was run on data_source {sources}; allowed: {shipped}, the shipped table's "
                             "(a full-MNIST table compares with a full-MNIST 'ours' sweep, not with the shipped one)")
    ours_setting = ours["setting_value"].map(setting_text)
    rows = []
    for (method, setting), part in table.groupby(["method", table["setting_value"].map(setting_text)]):
        mine = ours[(ours["method"] == method) & (ours_setting == setting)]
        seeds = sorted(set(part["seed"].astype(int)) & set(mine["seed"].astype(int)))
        if not seeds:
            continue
        a = part.drop_duplicates("seed", keep="last").set_index("seed").loc[seeds]
        b = mine.drop_duplicates("seed", keep="last").set_index("seed").loc[seeds]
        rows.append({"method": method, "setting": setting, "seeds": seeds,
                     "paper_mean": float(a[value].mean()), "paper_std": float(a[value].std()),
                     "ours_mean": float(b[value].mean()), "ours_std": float(b[value].std()),
                     "paper_values": [float(v) for v in a[value]], "ours_values": [float(v) for v in b[value]],
                     "paper_zero_steps": _mean_of(a, "zero_weight_fraction"),
                     "ours_zero_steps": _mean_of(b, "zero_weight_fraction"),
                     "paper_run_s": _mean_of(a, "wall_time_s"), "ours_run_s": _mean_of(b, "wall_time_s")})
    if not rows:
        raise ValueError(f"paper has no run whose method, setting and seed the shipped {exp} table also has")
    return pd.DataFrame(rows).sort_values(["setting", "method"], key=lambda c: c.map(str)).reset_index(drop=True)


def format_recipe_comparison(frame, markdown: bool = False) -> str:
    """:func:`recipe_comparison` as a table, in %: mean ± std over the paired seeds, then each seed's value."""

    def cell(mean, std):   # one seed has no spread to show
        return f"{100 * mean:.1f}" if np.isnan(std) else f"{100 * mean:.1f} ± {100 * std:.1f}"

    def each(values):
        return " / ".join(f"{100 * v:.1f}" for v in values)

    def zero(v):
        return "-" if np.isnan(v) else f"{100 * v:.0f}"

    head = ["p", "method", "seeds", "paper recipe", "ours", "paper, per seed", "ours, per seed",
            "all-zero steps % (paper / ours)", "run s (paper / ours)"]
    body = [[r.setting, r.method, " ".join(map(str, r.seeds)), cell(r.paper_mean, r.paper_std),
             cell(r.ours_mean, r.ours_std), each(r.paper_values), each(r.ours_values),
             f"{zero(r.paper_zero_steps)} / {zero(r.ours_zero_steps)}", f"{r.paper_run_s:.0f} / {r.ours_run_s:.0f}"]
            for r in frame.itertuples()]
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in body])
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
    return "\n".join("  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip() for row in [head, *body])
