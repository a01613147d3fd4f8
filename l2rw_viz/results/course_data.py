"""What the MNIST notebooks (6, 7) draw from: the shipped full results by default, a recomputation on request.

One call gives a notebook its table, its Histories and an honest label::

    fig8 = experiment_results("fig8", methods=FIG8_METHODS)       # shipped: instant, 3 seeds, 2,000 steps
    fig8 = experiment_results("fig8", recompute=True, out=CSV)    # re-run (smoke mode: a tenth of the steps)
    fig8.note          # "shipped full results: ..." or "recomputed ...; 12 row(s) DIFFER from the shipped table"
    fig8.stamp(fig)    # stamps the figure "SMOKE RUN: not the result" when it comes from a short recomputation
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..settings import recompute_mode
from .shipped import (
    compare_with_shipped,
    describe_comparison,
    experiment_name,
    history_path,
    load_history,
    load_results,
    setting_text,
)


@dataclass
class ResultSet:
    """A notebook's results: ``table`` (one row per run), where it came from, and how to get its Histories.

    Attributes:
        name: the experiment. table: ``pandas.DataFrame`` (see ``experiments.ROW_COLUMNS``).
        shipped: True when drawn from the package's shipped full results. steps: the runs' length;
        full_steps: the experiment's full length. note: one sentence saying what the table is.
    """

    name: str
    table: Any
    shipped: bool
    steps: int
    full_steps: int
    note: str

    @property
    def is_short(self) -> bool:
        return self.steps < self.full_steps

    def history(self, method: str, setting, seed: int = 0):
        """The History of one run: the shipped one, or the one the recomputation saved (``history_dir``)."""
        if self.shipped:
            return load_history(self.name, method, setting, seed)
        from ..history import History

        t = self.table
        row = t[(t.method == method) & (t.setting_value.map(setting_text) == setting_text(setting)) & (t.seed == seed)]
        if not len(row) or not isinstance(row.history_path.iloc[0], str) or not row.history_path.iloc[0]:
            raise ValueError(f"method={method!r}, setting={setting!r}, seed={seed!r}: no History saved by this "
                             "recomputation (pass history_dir)")
        return History.load(row.history_path.iloc[0])

    def has_history(self, method: str, setting, seed: int = 0) -> bool:
        """Whether :meth:`history` can give this run's History (shipped, or saved by the recomputation)."""
        if self.shipped:
            return history_path(self.name, method, setting, seed).is_file()
        t = self.table
        row = t[(t.method == method) & (t.setting_value.map(setting_text) == setting_text(setting)) & (t.seed == seed)]
        return bool(len(row)) and isinstance(row.history_path.iloc[0], str) and Path(row.history_path.iloc[0]).is_file()

    def stamp(self, fig):
        """Stamp ``fig`` when it is drawn from a short recomputation (returns ``fig``)."""
        from .stamp import stamp_if_short

        return fig if self.shipped else stamp_if_short(fig, self.steps, self.full_steps)


def experiment_results(name: str, methods: Sequence[str] | None = None, settings: Sequence | None = None,
                       seeds: Sequence[int] = (0, 1, 2), *, recompute: bool | None = None,
                       out: str | Path | None = None, history_dir: str | Path | None = None,
                       steps: int | None = None, device: str = "auto", data_source: str = "subset",
                       progress: bool = True) -> ResultSet:
    """The results of experiment ``name`` for a notebook.

    Args:
        name: ``"fig8"``, ``"noise"``, ``"both"`` or an experiment name. methods/settings/seeds: which runs.
        recompute: re-run the sweep instead of loading the shipped table (``None``: the ``L2RW_RECOMPUTE``
            environment variable, off by default). out, history_dir, steps, device, data_source: passed to
            :func:`l2rw_viz.experiments.sweep` when recomputing (steps ``None``: the experiment's default, a
            tenth of it in smoke mode).
    """
    from ..experiments import get_experiment, seeds_text, sweep

    exp = get_experiment(experiment_name(name))
    recompute = recompute_mode() if recompute is None else bool(recompute)
    if not recompute:
        table = load_results(name, methods, settings, seeds)
        # the seeds each cell holds (a table being re-made has cells of fewer seeds than the table's largest)
        note = (f"shipped full results: {len(table)} runs of {exp.name} ({seeds_text(table, per='cell')}, "
                f"{exp.steps:,} steps, offline MNIST subset); set L2RW_RECOMPUTE=1 to re-run them")
        return ResultSet(exp.name, table, True, exp.steps, exp.steps, note)
    table = sweep(exp, methods or "all", settings, seeds, out=out, steps=steps, device=device,
                  data_source=data_source, history_dir=history_dir, progress=progress)
    if methods is not None:
        table = table[table["method"].isin(list(methods))].reset_index(drop=True)
    run_steps = int(table["steps"].min()) if len(table) else exp.default_steps()
    diff = compare_with_shipped(table, name)
    return ResultSet(exp.name, table, False, run_steps, exp.steps, describe_comparison(diff, len(table), name))


__all__ = ["ResultSet", "experiment_results"]
