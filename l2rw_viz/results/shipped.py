"""The full experiments' results, shipped with the package: load them instead of waiting for a sweep.

A class should see the paper's story without first spending an hour of CPU. The full sweeps (every method of
``--methods all``, every setting, 3 seeds, 2,000 steps, offline MNIST subset) were run once with the package's own
commands (:mod:`l2rw_viz.results.pack` says which) and their tables ship in ``l2rw_viz/results/data``:

- ``<experiment>.csv``: one row per run, the columns of :data:`l2rw_viz.experiments.ROW_COLUMNS` and extras;
- ``<experiment>.provenance.json``: the exact commands, library/torch/numpy/scikit-learn versions, the results
  version and per-method revisions, the device, date and wall time;
- ``histories/<experiment>__<method>__<setting>__seed<seed>.npz``: the :class:`~l2rw_viz.history.History` of
  seed 0 of L2RW and the main baselines at each setting, recorded every ``history_every`` steps (see the
  provenance) to keep the package small.

Names: an experiment name (``"mnist-imbalance"``) or its course alias (``"fig8"``, ``"noise"``, ``"both"``).

Example::

    from l2rw_viz.results import load_results, load_history
    table = load_results("fig8")                    # pandas.DataFrame, 3 seeds x methods x proportions
    h = load_history("fig8", "l2rw", 0.995)         # seed 0, a History ready for the figures
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from ..checks import check_choice
from ..experiments.registry import setting_text

DATA_DIR = Path(__file__).resolve().parent / "data"
HISTORY_DIR = DATA_DIR / "histories"
SHIPPED = ("mnist-imbalance", "mnist-noise", "mnist-imbalance-noise")
ALIASES = {"fig8": "mnist-imbalance", "noise": "mnist-noise", "both": "mnist-imbalance-noise"}


def experiment_name(name: str) -> str:
    """The experiment behind ``name`` (an alias such as ``"fig8"`` or an experiment name); ``ValueError`` naming the
    allowed names otherwise."""
    check_choice("name", name, list(ALIASES) + list(SHIPPED))
    return ALIASES.get(name, name)


def table_path(name: str) -> Path:
    return DATA_DIR / f"{experiment_name(name)}.csv"


def provenance_path(name: str) -> Path:
    return DATA_DIR / f"{experiment_name(name)}.provenance.json"


# setting_text: the setting as it appears in file names and row keys (``0.995``, ``"uniform"``), the one formatter


def history_path(name: str, method: str, setting, seed: int = 0) -> Path:
    return HISTORY_DIR / f"{experiment_name(name)}__{method}__{setting_text(setting)}__seed{int(seed)}.npz"


def shipped_names() -> list[str]:
    """The experiments whose table ships with this copy of the package."""
    return [n for n in SHIPPED if table_path(n).exists()]


# Columns of a shipped table that hold numbers (a damaged cell there would silently turn a mean into garbage).
NUMERIC_COLUMNS = ("seed", "steps", "test_error", "test_accuracy")


def refresh_command(name: str) -> str:
    return f"l2rw-viz results make {experiment_name(name)} --jobs 2"


@cache
def _read(path: Path, mtime: float):
    """The shipped table at ``path``, read by the project's results reader and checked; a damaged table raises
    ``ValueError`` naming the file and the command that makes it again."""
    import warnings

    import pandas as pd

    from ..experiments import read_results

    name = path.stem
    again = f"the shipped table {str(path)!r} is damaged; make it again with '{refresh_command(name)}' (or reinstall"\
            " the package)"
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            table = read_results(path)
    except (ValueError, OSError) as error:
        raise ValueError(f"{again}: {error}") from None
    if caught:   # damaged or duplicate rows: a shipped table has neither
        raise ValueError(f"{again}: {caught[0].message}")
    if not len(table):
        raise ValueError(f"{again}: it holds no rows")
    for column in NUMERIC_COLUMNS:
        values = pd.to_numeric(table[column], errors="coerce")
        bad = values.isna() & table[column].notna()   # text where a number belongs
        if bad.any():
            line = int(bad.to_numpy().nonzero()[0][0]) + 2
            raise ValueError(f"{again}: line {line}, column {column!r} holds {table[column][bad].iloc[0]!r}; "
                             "allowed: a number")
        table[column] = values
    return table


def _names(name: str, what: str, values, kind, have) -> list:
    """``values`` as a list of ``kind`` (a string is one name, not its letters), each one of ``have``; a
    ``ValueError`` naming the argument, the value and what exists otherwise."""
    if isinstance(values, (str, int, float)) and not isinstance(values, bool):
        values = [values]
    try:
        values = list(values)
    except TypeError:
        raise ValueError(f"{what}={values!r} is not a list; allowed: a list of {kind}") from None
    have = sorted(have, key=str)
    out = []
    for v in values:
        ok = isinstance(v, str) if kind == "names" else (
            not isinstance(v, bool) and isinstance(v, (int, float)) or hasattr(v, "__index__")
            or (kind == "settings" and isinstance(v, str)))
        if kind == "seeds" and ok and not float(v).is_integer():
            ok = False
        if not ok:
            raise ValueError(f"{what}={values!r}: {v!r} is not one of the {kind}; allowed: {have}")
        key = setting_text(v) if kind == "settings" else (int(v) if kind == "seeds" else v)
        if key not in have:
            raise ValueError(f"{what}={values!r}: {v!r} is not in the shipped {experiment_name(name)} table (nor "
                             f"among its runs still to be made); allowed: {have}")
        out.append(key)
    return out


def load_results(name: str, methods=None, settings=None, seeds=None):
    """The shipped results table of an experiment (a ``pandas.DataFrame``, one row per run), optionally filtered.

    Args:
        name: ``"fig8"``/``"mnist-imbalance"``, ``"noise"``/``"mnist-noise"``, ``"both"``/``"mnist-imbalance-noise"``.
        methods, settings, seeds: keep only these (``None``: all); a single name or value, or a list. A setting is a
            proportion or a noise mode.

    Returns:
        The rows; ``table.attrs["diverged_runs"]``: ``[method, setting text, seed, message]`` of each selected run that
        stopped with a message instead of a result (it has no row), as a sweep's table carries them.

    Raises:
        FileNotFoundError: this copy of the package ships no table for ``name`` (with the command that makes it).
        ValueError: a method, setting or seed the table does not hold (the message lists those it holds), or the
            shipped table is damaged (the message names the file and the command that makes it again).
    """
    path = table_path(name)
    if not path.exists():
        raise FileNotFoundError(f"no shipped results for {name!r} at {path}; make them with "
                                f"'{refresh_command(name)}'")
    table = _read(path, path.stat().st_mtime).copy()
    made = provenance(name) if provenance_path(name).exists() else {}
    # a run the provenance declares missing (a table being re-made) is a known name that selects no row yet
    pending = made.get("missing_runs", [])
    keep_methods = keep_settings = keep_seeds = None
    if methods is not None:
        have = set(table["method"]) | {m for m, _, _ in pending}
        keep_methods = _names(name, "methods", methods, "names", have)
        table = table[table["method"].isin(keep_methods)]
    if settings is not None:
        texts = table["setting_value"].map(setting_text)
        keep_settings = _names(name, "settings", settings, "settings",
                               set(texts) | {setting_text(s) for _, s, _ in pending})
        table = table[texts.isin(keep_settings)]
    if seeds is not None:
        have = {int(s) for s in table["seed"]} | {int(d) for _, _, d in pending}
        keep_seeds = _names(name, "seeds", seeds, "seeds", have)
        table = table[table["seed"].isin(keep_seeds)]
    table = table.reset_index(drop=True)
    # a run that stopped with a message has no row: the table carries [method, setting, seed, message] of each, so
    # a figure can say "stopped" where it would otherwise show a bare gap
    table.attrs["diverged_runs"] = [
        [str(m), setting_text(st), int(d), str(msg)] for m, st, d, msg in made.get("diverged_runs", [])
        if (keep_methods is None or m in keep_methods) and (keep_settings is None or setting_text(st) in keep_settings)
        and (keep_seeds is None or int(d) in keep_seeds)]
    return table


def provenance(name: str) -> dict:
    """How the shipped table was made: commands, versions, revisions, device, date, wall time (a dict)."""
    path = provenance_path(name)
    if not path.exists():
        raise FileNotFoundError(f"no provenance for {name!r} at {path}")
    return json.loads(path.read_text())


def shipped_histories(name: str) -> list[tuple[str, str, int]]:
    """``(method, setting, seed)`` of every History shipped for ``name``."""
    exp = experiment_name(name)
    found = []
    for p in sorted(HISTORY_DIR.glob(f"{exp}__*.npz")):
        _, method, setting, seed = p.stem.split("__")
        found.append((method, setting, int(seed.removeprefix("seed"))))
    return found


def load_history(name: str, method: str, setting, seed: int = 0):
    """The shipped :class:`~l2rw_viz.history.History` of one run (seed 0 of L2RW and the main baselines).

    Raises:
        ValueError: no History ships for this (method, setting, seed); the message lists those that do.
    """
    from ..checks import check_seed
    from ..history import History

    if not isinstance(method, str):
        raise ValueError(f"method={method!r} is not a method name; allowed: a string such as 'l2rw'")
    if isinstance(seed, float) and seed.is_integer():
        seed = int(seed)
    seed = check_seed("seed", seed)   # 0.7 is not seed 0
    path = history_path(name, method, setting, seed)
    if not path.exists():
        have = ", ".join(f"{m} {s} seed {d}" for m, s, d in shipped_histories(name)) or "none"
        raise ValueError(f"method={method!r}, setting={setting!r}, seed={seed!r}: no History ships for "
                         f"{experiment_name(name)}; shipped: {have}")
    return History.load(path)


def stale_methods(name: str) -> dict[str, tuple[int, int]]:
    """Methods whose shipped rows no longer match this library: ``{method: (shipped revision, library revision)}``.

    A method is stale when its rows were computed by another revision of it (its class's ``revision``), by another
    results version (shipped revision -1 then), or with settings that are no longer its defaults (a changed
    default: the rows are now a variant, the revisions may agree). ``l2rw-viz results list`` names them with the
    refresh command."""
    from ..experiments import RESULTS_VERSION
    from ..experiments.identity import current_revision, row_revision, row_variant

    table = load_results(name)
    stale = {}
    for method, rows in table.groupby("method"):
        records = rows.to_dict("records")
        now = current_revision(method)
        revisions = [row_revision(r) for r in records]
        other_version = (rows["results_version"] != RESULTS_VERSION).any()
        if other_version or any(v != now for v in revisions) or any(row_variant(r) for r in records):
            stale[method] = (-1 if other_version else min(revisions), now)
    return stale


def compare_with_shipped(table, name: str, value: str = "test_error", tolerance: float = 0.0):
    """Rows of a recomputed ``table`` whose ``value`` differs from the shipped row with the same key
    (experiment, method, setting, seed, steps, data source), as a ``pandas.DataFrame`` with both values; rows the
    package does not ship (other steps, seeds or data) are listed with ``shipped`` NaN.

    A notebook that recomputes prints this, so a student sees when (and by how much) their run differs.
    """
    import pandas as pd

    from ..experiments import row_key

    shipped = {row_key(r): r[value] for r in load_results(name).to_dict("records")}
    out = []
    for r in table.to_dict("records"):
        theirs = shipped.get(row_key(r), float("nan"))
        if not (abs(float(r[value]) - float(theirs)) <= tolerance):
            out.append({"method": r["method"], "setting": setting_text(r["setting_value"]), "seed": int(r["seed"]),
                        "steps": int(r["steps"]), "recomputed": float(r[value]), "shipped": float(theirs)})
    return pd.DataFrame(out, columns=["method", "setting", "seed", "steps", "recomputed", "shipped"])


def describe_comparison(diff, n_rows: int, name: str) -> str:
    """One sentence for a notebook: does the recomputation agree with the shipped table?"""
    if not len(diff):
        return f"all {n_rows} recomputed rows equal the shipped {experiment_name(name)} table"
    unshipped = int(diff["shipped"].isna().sum())
    parts = []
    if unshipped:
        parts.append(f"{unshipped} row(s) have no shipped twin (other steps, seeds or data: a short run is not the "
                     "shipped experiment)")
    if len(diff) - unshipped:
        parts.append(f"{len(diff) - unshipped} row(s) DIFFER from the shipped table")
    return f"recomputed {n_rows} rows: " + "; ".join(parts)
