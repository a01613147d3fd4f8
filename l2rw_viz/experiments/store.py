"""The results table: a locked, versioned CSV, one row per run, appended atomically; and what a sweep skips.

A run's identity (its key, :func:`row_key`) is ``(experiment, method, setting_value, seed, steps, data_source,
method_args)``; ``method_args`` holds every setting of the method as the run resolved it (defaults included), as
canonical JSON, so a default spelled out is the same run. Rows written before settings were resolved (the shipped
tables among them: ``"{}"`` or no column for the defaults) are migrated on read (:mod:`.identity`). Runs of one
method with other settings are kept apart: a sweep skips only rows with the same settings, and :func:`summarize`
groups them separately (its ``method`` column then names the settings that differ, see :func:`method_variant`).

:func:`append_row` rewrites the whole table to a temporary file under a lock and moves it into place with
``os.replace``, so a crash never leaves half a row. Rows carry ``results_version`` and ``method_revision``: rows
written by an older version of the library or of their method are stale (a sweep runs them again), and
``l2rw_viz_version``, the package version that computed them (``l2rw_viz.__version__``).
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import stat
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..methods.setting import canonical_settings
from .identity import current_revision, row_identity, row_revision, row_variant
from .registry import setting_text

# Columns every row has, in this order (figures and tables read these names).
ROW_COLUMNS = ("experiment", "method", "setting_name", "setting_value", "seed", "steps", "test_error",
               "test_accuracy", "wall_time_s", "device", "data_source", "mean_w_noisy", "mean_w_clean",
               "mean_w_minority", "mean_w_majority")
# Extra columns (may be NaN where they do not apply).
EXTRA_COLUMNS = ("results_version", "method_revision", "test_error_last5", "zero_weight_fraction", "n_train", "n_val",
                 "lr", "batch_size", "on_zero_weights", "data_seed", "noise_rate", "noise_mode", "proportion",
                 "history_path", "recipe", "method_args", "method_settings", "trajectory", "numerics",
                 "inert", "l2rw_viz_version")
KEY_COLUMNS = ("experiment", "method", "setting_value", "seed", "steps", "data_source", "method_args")
# Bump when a change to the library changes what a run computes (data draw, a method, the trainer, defaults).
# Rows written by another version are stale: a sweep runs them again (replacing them) instead of skipping them.
# 3: runs that make shipped rows run with pinned numerics (l2rw_viz.numerics); backward loss correction clips its
# probabilities; loss correction re-estimates an unusable T; rows carry their trajectory digest.
RESULTS_VERSION = 3
# A change that alters only one method's runs bumps that method class's ``revision`` (only its rows go stale).



_fmt_setting = setting_text   # the one formatter of a setting value (experiments.registry)


def args_of(row: dict) -> str:
    """A row's ``method_args`` as its identity: every resolved setting as canonical JSON; a row written before
    settings were resolved (missing or partial column) is migrated (:func:`.identity.row_identity`)."""
    return row_identity(row)


def row_key(row: dict) -> tuple:
    """The identity of a run: ``(experiment, method, setting, seed, steps, data_source, method_args)`` as comparable
    values (``method_args`` canonical JSON, ``"{}"`` for the defaults and for rows without the column)."""
    return (str(row["experiment"]), str(row["method"]), _fmt_setting(row["setting_value"]), int(row["seed"]),
            int(row["steps"]), str(row["data_source"]), args_of(row))


def method_variant(row: dict) -> str:
    """The method variant a row belongs to, as summaries group and name it (not the paper's display name, which is
    :func:`l2rw_viz.viz.comparison.method_label`): ``"l2rw"`` for the defaults,
    ``"l2rw {"weights_method":"autodiff"}"`` for a run with other settings — only those that differ from the
    defaults (so a summary never averages two variants of one method)."""
    changed = row_variant(row)
    return str(row["method"]) if not changed else f"{row['method']} {canonical_settings(changed)}"


def _recipe_of(row: dict) -> str:
    """A row's recipe; ``"ours"`` for rows written before recipes existed (missing or NaN)."""
    value = row.get("recipe")
    return value if isinstance(value, str) and value else "ours"


def history_filename(row: dict) -> str:
    """The History file name of a row's run: its key, the recipe (other than ``"ours"``) and, for settings other
    than the defaults, a short hash of them (file names stay short and portable)."""
    import hashlib

    exp, method, setting, seed, steps, source, _ = row_key(row)
    recipe = _recipe_of(row)
    suffix = "" if recipe == "ours" else f"__{recipe}"
    changed = row_variant(row)
    if changed:   # the settings that differ from the defaults, as canonical JSON (a default run has no hash)
        suffix += "__args" + hashlib.sha1(canonical_settings(changed).encode()).hexdigest()[:10]
    return f"{exp}__{method}__{setting}__seed{seed}__steps{steps}__{source}{suffix}.npz"


def check_recipe_of_table(out: str | os.PathLike | None, recipe: str) -> None:
    """Refuse to add ``recipe`` rows to a results file that holds rows of another recipe (tables, sweeps and their
    skip keys would mix them): a ``ValueError`` naming the file, both recipes and what is allowed."""
    if out is None:
        return
    table = read_results(out)
    if not len(table):
        return
    others = sorted({_recipe_of(r) for r in table.to_dict("records")} - {recipe})
    if others:
        raise ValueError(f"recipe={recipe!r}: {out} already holds rows of recipe {', '.join(map(repr, others))}, and "
                         f"one results file holds one recipe; allowed: recipe={others[0]!r} for this file, or another "
                         "out file")


# ---------------------------------------------------------------------------------------------------------------
# The results table: atomic appends, resumable sweeps

@contextlib.contextmanager
def _locked(path: Path):
    """An exclusive advisory lock on ``path + ".lock"`` (POSIX ``fcntl``; a no-op where it does not exist)."""
    lock_path = path.with_name(path.name + ".lock")
    with open(lock_path, "a") as handle:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def check_results_path(path: str | os.PathLike, name: str = "out") -> Path:
    """Before any training: ``path`` can take a results row, and if it exists it is a results table of this package.

    Refuses (``ValueError`` naming ``name`` and the file) a directory, a path under a regular file, a folder or
    file that cannot be written, a file that is not UTF-8 text or whose header lacks the row columns (an
    unrelated CSV is never touched), and a table with a bad key cell. Returns the path the rows go to (a symlink's
    target).
    """
    given = str(path)
    p = Path(path).expanduser()
    if p.is_dir():
        raise ValueError(f"{name}={given!r} is a directory; allowed: a CSV file path such as results.csv")
    real = Path(os.path.realpath(p))
    folder = real.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise ValueError(f"{name}={given!r} lies under {str(folder)!r}, which is a file, not a folder; allowed: a "
                         "path whose folders are folders")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"{name}={given!r}: the folder {str(folder)!r} cannot be written (permissions); allowed: a "
                         "path in a writable folder")
    if real.exists():
        if not real.is_file():
            raise ValueError(f"{name}={given!r} is not a regular file; allowed: a CSV file path")
        if not os.access(real, os.R_OK | os.W_OK):
            raise ValueError(f"{name}={given!r} cannot be read and written (permissions); allowed: a writable "
                             "results CSV or a new file name")
        _load_table(real, name=name)  # schema, encoding and key cells: refuse before the first step
    return real


def check_output_dir(path: str | os.PathLike, name: str = "history_dir") -> Path:
    """Before any training: ``path`` is (or can be created as) a writable folder; ``ValueError`` naming ``name``."""
    given = str(path)
    p = Path(path).expanduser()
    folder = p
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        where = "is a file" if folder == p else f"lies under {str(folder)!r}, which is a file"
        raise ValueError(f"{name}={given!r} {where}, not a folder; allowed: a folder (created if missing)")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"{name}={given!r}: the folder {str(folder)!r} cannot be written (permissions); allowed: a "
                         "writable folder")
    return p


def _load_table(path: Path, name: str = "path"):
    """``(header, good rows as a DataFrame with their CSV line numbers in ``_line``, damaged records)``.

    A record with another number of fields than the header (cut by a crash or a careless copy) is damaged: it is
    not a finished run (a sweep runs it again and the new row replaces it), and it is reported, never dropped
    silently. A key cell that is not a number where one belongs raises ``ValueError`` naming file, line and column.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{name}={str(path)!r} is not UTF-8 text, so not a results table of l2rw-viz; allowed: a "
                         "new file name or a CSV written by l2rw-viz (this file is left untouched)") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] = []
    good: list[list[str]] = []
    lines: list[int] = []
    damaged: list[tuple[int, list[str]]] = []
    try:
        for record in reader:
            if not record or record == [""]:
                continue
            if not header:
                header = record
                missing = [c for c in ROW_COLUMNS if c not in header]
                if missing:
                    raise ValueError(
                        f"{name}={str(path)!r} is not a results table of l2rw-viz: its header lacks the columns "
                        f"{missing}; allowed: a new file name or a CSV written by l2rw-viz (this file is left "
                        "untouched)")
                continue
            if len(record) != len(header):
                damaged.append((reader.line_num, record))
            else:
                good.append(record)
                lines.append(reader.line_num)
    except csv.Error as error:
        raise ValueError(f"{name}={str(path)!r} line {reader.line_num} is not CSV ({error}); allowed: a CSV written "
                         "by l2rw-viz") from None
    if not header:
        return [], pd.DataFrame(columns=list(ROW_COLUMNS + EXTRA_COLUMNS)), []
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(good)
    buffer.seek(0)
    table = pd.read_csv(buffer, keep_default_na=True)
    table["_line"] = lines
    for line, record in zip(lines, table.to_dict("records")):
        _checked_key(record, path, line)
    return header, table, damaged


def _checked_key(record: dict, path, line) -> tuple:
    """``row_key(record)``, or a ``ValueError`` naming the file, the line and the bad cell."""
    for column, kind in (("seed", int), ("steps", int)):
        value = record.get(column)
        try:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            kind(value)
        except (TypeError, ValueError, OverflowError):
            raise ValueError(f"{path} line {line}: column {column!r} holds {value!r}; allowed: an integer (fix or "
                             "delete that row)") from None
    return row_key(record)


def read_results(path: str | os.PathLike):
    """The results CSV as a ``pandas.DataFrame`` (empty with ``ROW_COLUMNS`` if the file does not exist).

    Damaged rows (cut short) are left out with a warning; of duplicate rows of one run the last is kept (with a
    warning), so a summary never counts a run twice. Raises ``ValueError`` naming file and line for a bad cell.
    """
    path = Path(path)
    if not path.exists() or path.stat().st_size == 0:
        return pd.DataFrame(columns=list(ROW_COLUMNS + EXTRA_COLUMNS))
    _, table, damaged = _load_table(path)
    if damaged:
        warnings.warn(f"{path}: {len(damaged)} damaged row(s) (lines {[d[0] for d in damaged][:10]}: cut short or "
                      "garbled) are not counted as finished runs; a sweep runs them again and replaces them",
                      stacklevel=2)
    if len(table):
        keys = table.apply(lambda r: row_key(r), axis=1)
        dup = keys.duplicated(keep="last")
        if dup.any():
            warnings.warn(f"{path}: {int(dup.sum())} duplicate row(s) of the same run (lines "
                          f"{table['_line'][dup].tolist()[:10]}); only the last row of each run is used", stacklevel=2)
            table = table[~dup]
    return table.drop(columns="_line").reset_index(drop=True)


def _matches_damaged(record: list[str], header: list[str], key: tuple) -> bool:
    """Whether a damaged (cut) record could be ``key``'s run: every key cell it still holds agrees, the last
    (possibly cut) cell as a prefix."""
    cells = dict(zip(header, record))
    names = dict(zip(KEY_COLUMNS, key))
    last = header[len(record) - 1] if 0 < len(record) <= len(header) else None
    for column, want in names.items():
        if column not in cells:
            continue
        have = cells[column]
        want_text = _fmt_setting(want) if column == "setting_value" else str(want)
        if column == "method_args" and column != last:
            have = args_of({**cells, "method_args": have})
        if column == last:
            if not want_text.startswith(have):
                return False
            continue
        try:
            have = _fmt_setting(have) if column == "setting_value" else str(int(float(have))) if column in (
                "seed", "steps") else have
        except ValueError:
            return False
        if have != want_text:
            return False
    return True


def _new_file_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def append_row(path: str | os.PathLike, row: dict) -> None:
    """Add one row to the CSV at ``path`` atomically: under a lock, the whole table is written to a temporary file
    in the same directory, flushed to disk and moved over the old one with ``os.replace``. A crash at any point
    leaves either the old table or the new one, never half a row. Later rows with the same key replace earlier
    ones (a re-run of a finished run updates it), and so do damaged (cut) rows of the same run.

    The file keeps its permission bits (and, where allowed, its owner); a symlink stays a symlink and its target
    gets the row. A file that is not a results table of this package raises ``ValueError`` and is not touched.
    """
    real = check_results_path(path, "path")
    real.parent.mkdir(parents=True, exist_ok=True)
    with _locked(real):
        if real.exists() and real.stat().st_size:
            header, table, damaged = _load_table(real)
            table = table.drop(columns="_line")
        else:
            header, table, damaged = [], pd.DataFrame(), []
        key = row_key(row)
        new = pd.DataFrame([row])
        if len(table):
            keys = table.apply(lambda r: row_key(r), axis=1)
            table = table[keys != key]
        damaged = [d for d in damaged if not _matches_damaged(d[1], header, key)]
        cols = list(dict.fromkeys(list(ROW_COLUMNS + EXTRA_COLUMNS) + list(table.columns) + list(new.columns)))
        table = pd.concat([table.astype(object), new.astype(object)], ignore_index=True).reindex(columns=cols)
        mode = stat.S_IMODE(real.stat().st_mode) if real.exists() else _new_file_mode()
        owner = (real.stat().st_uid, real.stat().st_gid) if real.exists() else None
        fd, tmp = tempfile.mkstemp(prefix=real.name + ".", suffix=".tmp", dir=real.parent)
        try:
            with os.fdopen(fd, "w", newline="") as handle:
                table.to_csv(handle, index=False)
                if damaged:  # kept (still damaged) until a run replaces them: nothing is dropped unseen
                    csv.writer(handle).writerows(record for _, record in damaged)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, mode)
            if owner is not None:
                with contextlib.suppress(OSError):
                    os.chown(tmp, *owner)
            os.replace(tmp, real)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise


def _int_or(value, default):
    """``int(value)``, or ``default`` where the column is missing or NaN (a table written before it existed)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _is_current(row: dict) -> bool:
    return (_int_or(row.get("results_version"), None) == RESULTS_VERSION
            and row_revision(row) == current_revision(str(row.get("method"))))


def _has_result(row: dict) -> bool:
    """A finished run has a finite test error (a NaN row is a failed or damaged run: it is run again)."""
    try:
        return bool(np.isfinite(float(row.get("test_error"))))
    except (TypeError, ValueError):
        return False


def finished_rows(path: str | os.PathLike) -> dict[tuple, dict]:
    """The runs already in the CSV at ``path`` and computed by this version of the library (``RESULTS_VERSION``
    and the method class's ``revision``), by key (see :func:`row_key`); older rows are stale and left out, and
    so are rows without a finite test error and damaged (cut) rows: a sweep runs those again."""
    table = read_results(path)
    return ({row_key(r): r for r in table.to_dict("records") if _is_current(r) and _has_result(r)}
            if len(table) else {})


def finished_keys(path: str | os.PathLike) -> set[tuple]:
    """Keys of :func:`finished_rows`: the runs a sweep into ``path`` skips."""
    return set(finished_rows(path))


def stale_rows(table) -> int:
    """How many rows of a results table were written by another version of the library or of their method."""
    return int(sum(not _is_current(r) for r in table.to_dict("records"))) if len(table) else 0


def seeds_text(table, by: Sequence[str] = ("experiment", "setting_value", "method"), per: str = "point") -> str:
    """How many seeds the cells of a results table hold, for a figure's title: ``"3 seeds"``, ``"1 seed"``, or
    ``"1-2 seeds per point"`` (``per``) when the cells differ (a table being made), so a title never claims more
    seeds than a point has. Counts come from :func:`summarize` (a run listed twice counts once)."""
    if not len(table):
        return "no runs"
    n = summarize(table, by)["count"]
    lo, hi = int(n.min()), int(n.max())
    return (f"{lo} seed" + ("s" if lo > 1 else "")) if lo == hi else f"{lo}-{hi} seeds per {per}"


def summarize(table, by: Sequence[str] = ("experiment", "setting_value", "method"), value: str = "test_error"):
    """Mean, std and count of ``value`` over seeds, per ``by`` group (a ``pandas.DataFrame``). A run that appears
    twice (same key, e.g. two tables concatenated) is counted once: its last row. Runs of a method with settings
    other than its defaults (``method_args``) form their own group, named by :func:`method_variant`."""
    if len(table) and all(c in table.columns for c in KEY_COLUMNS[:-1]):
        table = table[~table.apply(lambda r: row_key(r), axis=1).duplicated(keep="last")]
    if len(table) and "method" in by and "method_args" in table.columns:
        table = table.assign(method=[method_variant(r) for r in table.to_dict("records")])
    return (table.groupby(list(by))[value].agg(["mean", "std", "count"]).reset_index())
