"""The paper's Table 2, drawn from a results table: every method against L2RW, grouped as the paper groups them.

Ren et al. (2018), Table 2 compares L2RW on noisy labels with the baselines (plain training, Reed's bootstrapping,
the S-Model noise layer, random weights), the same systems with early stopping (+ES) and fine-tuning on the clean
images (+FT), and MentorNet. Here the rows are the methods a results table holds (e.g. the shipped
``load_results("noise")``), in the paper's groups plus the successors this course adds (loss correction,
self-training, Meta-Weight-Net); the columns are the settings (uniform / background flips); each cell is
mean ± std over seeds. Nothing here is hard-coded but the grouping and the names: which methods, settings and seeds
appear, and which cells are missing, come from the table.

- :func:`comparison_frame` -> the numbers (a ``pandas.DataFrame``, one row per method, in Table 2 order);
- :func:`beats_reference`, :func:`missing_cells`, :func:`describe_vs_reference` -> what the prose beside the table
  may say, computed;
- :func:`table2_figure` -> the table as a plotly figure (cells that beat L2RW shaded, the best per column bold);
- :func:`weight_separation`, :func:`mwn_vs_l2rw_figure` -> Meta-Weight-Net's learned loss -> weight function beside
  L2RW's per-example weights (taught in notebook 7).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..checks import check_choice, check_in_range
from ..experiments.registry import setting_text
from .style import GROUP_COLORS, GROUP_LABELS, TEMPLATE

# The row groups, in the order of the paper's Table 2 (its baselines, then the systems that also use the clean
# images through +ES / +FT, then MentorNet and L2RW), with the successors of issue 15 in between. A method with
# +es / +ft suffixes joins the "+ES / +FT" group, except L2RW's own variants, which stay beside L2RW.
TABLE2_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Baselines", ("plain", "random", "adaboost", "adaboost_net", "bootstrap_soft", "bootstrap_hard", "noise_layer",
                   "noise_layer_conf", "proportion", "resample", "hard_mining", "oversample", "undersample",
                   "smote")),
    ("+ES / +FT and the clean images", ("clean_only", "finetune")),
    ("Loss correction (top-down noise model)", ("forward_correction", "backward_correction",
                                                "forward_correction_clean")),
    ("Self-training", ("self_training",)),
    ("MentorNet", ("mentornet_pd", "mentornet_dd")),
    ("Meta-Weight-Net", ("meta_weight_net",)),
    ("L2RW", ("l2rw",)),
)
MODIFIED_GROUP = "+ES / +FT and the clean images"
OTHER_GROUP = "Other"
# The names the paper (and the seminar report) give these systems; the method name is kept beside them.
METHOD_LABELS = {
    "plain": "Baseline", "random": "Random weights", "adaboost": "AdaBoost (stumps)",
    "adaboost_net": "AdaBoost (LeNet)",
    "bootstrap_soft": "Reed soft", "bootstrap_hard": "Reed hard", "noise_layer": "S-Model",
    "noise_layer_conf": "S-Model +Conf", "proportion": "Proportion weights", "resample": "Resampling",
    "hard_mining": "Hard mining", "oversample": "Oversampling", "undersample": "Undersampling", "smote": "SMOTE",
    "clean_only": "Clean only", "finetune": "Baseline +FT (finetune)",
    "forward_correction": "Forward correction", "backward_correction": "Backward correction",
    "forward_correction_clean": "Forward correction, T from clean", "self_training": "Self-training",
    "mentornet_pd": "MentorNet PD (self-paced)", "mentornet_dd": "MentorNet DD (data-driven)",
    "meta_weight_net": "Meta-Weight-Net", "l2rw": "Ours (L2RW)",
}
VALUES = ("test_accuracy", "test_error")
# Weight bins of the per-example figure, in units of weight x B (1 = the uniform weight 1/B).
WEIGHT_BIN_EDGES = (0.0, 0.5, 1.0, 2.0)
WEIGHT_BIN_NAMES = ("0 (ignored)", "(0, 0.5]", "(0.5, 1]", "(1, 2]", "> 2")


def _split(method: str) -> tuple[str, tuple[str, ...]]:
    base, *mods = str(method).split("+")
    return base, tuple(mods)


def method_group(method: str) -> str:
    """The Table 2 group of ``method`` (see ``TABLE2_GROUPS``); ``"Other"`` for a method the grouping does not know."""
    base, mods = _split(method)
    if mods and base != "l2rw":
        return MODIFIED_GROUP
    for title, names in TABLE2_GROUPS:
        if base in names:
            return title
    return OTHER_GROUP


def method_label(method: str) -> str:
    """The paper's name for ``method`` (suffixes as the paper writes them: ``"plain+es"`` -> ``"Baseline +ES"``)."""
    base, mods = _split(method)
    label = METHOD_LABELS.get(base, base)
    if base == "finetune" and mods:
        label = "finetune"
    return label + "".join(f" +{m.upper()}" for m in mods)


def _order_key(method: str) -> tuple:
    base, mods = _split(method)
    titles = [t for t, _ in TABLE2_GROUPS] + [OTHER_GROUP]
    group = method_group(method)
    known = [m for _, names in TABLE2_GROUPS for m in names]
    position = known.index(base) if base in known else len(known)
    # within the +ES / +FT group: the clean-set methods first, then the variants by their base's position
    return (titles.index(group) if group in titles else len(titles), bool(mods), position, len(mods), method)


_setting_text = setting_text   # the one formatter of a setting value (experiments.registry)


def _setting_order(table) -> list[str]:
    """The settings of ``table`` in its experiment's declared order (uniform before background, proportions
    rising), falling back to the order of appearance."""
    present = list(dict.fromkeys(_setting_text(v) for v in table["setting_value"]))
    declared: list[str] = []
    if "experiment" in table.columns and len(table):
        from ..experiments import EXPERIMENTS

        for name in dict.fromkeys(table["experiment"]):
            if name in EXPERIMENTS:
                declared += [_setting_text(s) for s in EXPERIMENTS[name].settings]
    ordered = [s for s in dict.fromkeys(declared) if s in present]
    return ordered + [s for s in present if s not in ordered]


def comparison_frame(table: Any, value: str = "test_accuracy", methods: Sequence[str] | None = None,
                     settings: Sequence | None = None):
    """Mean, std and count over seeds of ``value`` per method and setting, one row per method in Table 2 order.

    Args:
        table: a results table (``pandas.DataFrame`` with columns ``method``, ``setting_value``, ``seed`` and
            ``value``), e.g. ``load_results("noise")``. A run listed twice (same method, setting, seed) counts once.
        value: ``"test_accuracy"`` or ``"test_error"`` (fractions in [0, 1]).
        methods: the rows; a method absent from ``table`` keeps its row with NaN and count 0, so a missing method
            shows as missing. ``None``: every method in ``table``.
        settings: the setting columns (``None``: every setting in ``table``, in the experiment's order).

    Returns:
        ``pandas.DataFrame`` indexed by method with columns ``group``, ``label``, and for each setting ``s`` (as
        text, e.g. ``"uniform"``, ``"0.9"``): ``s`` (the mean), ``f"{s} std"`` (sample std over seeds; NaN for one
        seed), ``f"{s} n"`` (how many seeds) and ``f"{s} inert"`` (True when every run of the cell did nothing
        beyond plain training, the rows' ``inert`` column: such a cell is shown marked, never ranked) and
        ``f"{s} stopped"`` (how many of the cell's runs stopped with a message instead of a result and have no row:
        ``table.attrs["diverged_runs"]``, as a sweep or :func:`l2rw_viz.results.load_results` gives it).
        ``frame.attrs``: ``value`` and ``settings``.
    """
    import pandas as pd

    check_choice("value", value, VALUES)
    if not isinstance(table, pd.DataFrame):
        raise ValueError(f"table={type(table).__name__} is not allowed; allowed: a pandas.DataFrame of result rows")
    need = {"method", "setting_value", "seed", value}
    if not need <= set(table.columns):
        raise ValueError(f"table lacks the column(s) {sorted(need - set(table.columns))}; allowed: a results table "
                         f"with {sorted(need)}")
    t = table.assign(setting=table["setting_value"].map(_setting_text))
    t = t.drop_duplicates(["method", "setting", "seed"], keep="last")
    cols = _setting_order(table) if settings is None else list(dict.fromkeys(_setting_text(s) for s in settings))
    names = list(dict.fromkeys(t["method"])) if methods is None else list(dict.fromkeys(methods))
    stats = t.groupby(["method", "setting"])[value].agg(["mean", "std", "count"])
    said = t["inert"].map(lambda x: isinstance(x, str) and bool(x)) if "inert" in t else t["method"].map(lambda _: 0)
    inert = t.assign(_inert=said).groupby(["method", "setting"])["_inert"].all()
    stopped = Counter((str(m), _setting_text(st)) for m, st, *_ in table.attrs.get("diverged_runs", []))
    rows = []
    for m in sorted(names, key=_order_key):
        row: dict[str, Any] = {"method": m, "group": method_group(m), "label": method_label(m)}
        for s in cols:
            mean, std, n = stats.loc[(m, s)] if (m, s) in stats.index else (np.nan, np.nan, 0)
            row.update({s: float(mean), f"{s} std": float(std), f"{s} n": int(n),
                        f"{s} inert": bool(inert.get((m, s), False)), f"{s} stopped": stopped.get((m, s), 0)})
        rows.append(row)
    frame = pd.DataFrame(rows, columns=["method", "group", "label"]
                         + [c for s in cols for c in (s, f"{s} std", f"{s} n", f"{s} inert", f"{s} stopped")])
    frame = frame.set_index("method")
    frame.attrs.update(value=value, settings=cols)
    return frame


def frame_settings(frame) -> list[str]:
    """The setting columns of a :func:`comparison_frame` (those with a ``" std"`` twin)."""
    return [c for c in frame.columns if f"{c} std" in frame.columns and f"{c} n" in frame.columns]


def _stopped(frame, method: str, setting: str) -> int:
    """How many runs of a cell of a :func:`comparison_frame` stopped with a message instead of a result."""
    return int(frame.at[method, f"{setting} stopped"]) if f"{setting} stopped" in frame.columns else 0


def _footnotes(frame, settings) -> str:
    """The title's footnotes for the marks :func:`table2_figure` puts in its cells (none when no cell has one)."""
    notes = []
    if any(_inert(frame, m, s) for m in frame.index for s in settings):
        notes.append("†: did nothing beyond plain training here (not ranked)")
    if any(_stopped(frame, m, s) for m in frame.index for s in settings):
        notes.append("‡: a run stopped with a message instead of a result (the provenance's diverged_runs)")
    return "".join(f"<br><sup>{n}</sup>" for n in notes)


def _inert(frame, method: str, setting: str) -> bool:
    """Whether a cell of a :func:`comparison_frame` did nothing beyond plain training (not ranked)."""
    return bool(frame.at[method, f"{setting} inert"]) if f"{setting} inert" in frame.columns else False


def _higher_is_better(frame, higher_is_better: bool | None) -> bool:
    if higher_is_better is not None:
        return bool(higher_is_better)
    return frame.attrs.get("value", "test_accuracy") != "test_error"


def beats_reference(frame, reference: str = "l2rw", higher_is_better: bool | None = None):
    """The methods whose mean beats ``reference``'s mean, per setting.

    Args:
        frame: a :func:`comparison_frame`. reference: the row to beat (default L2RW).
        higher_is_better: ``None``: from the frame's value (accuracy: higher; error: lower).

    Returns:
        ``pandas.DataFrame`` with columns ``setting, method, label, mean, reference_mean, margin`` (how much better,
        in the value's units, > 0), ``seeds`` (the fewer seeds of the two cells) and ``beyond_spread`` (True when
        both cells have at least 2 seeds and the margin exceeds the two stds over seeds combined,
        ``sqrt(std^2 + std_ref^2)``: seed noise alone is then an unlikely explanation). Settings where
        ``reference`` has no result are left out, and so are inert cells; the rows are sorted by setting, then by
        margin.
    """
    import pandas as pd

    if reference not in frame.index:
        raise ValueError(f"reference={reference!r} is not a row of the frame; allowed: {list(frame.index)}")
    sign = 1.0 if _higher_is_better(frame, higher_is_better) else -1.0
    out = []
    for s in frame_settings(frame):
        ref, ref_std = frame.at[reference, s], frame.at[reference, f"{s} std"]
        if np.isnan(ref):
            continue
        for m, row in frame.iterrows():
            margin = sign * (row[s] - ref)
            if m == reference or not margin > 1e-12 or _inert(frame, m, s):   # float noise of a mean is no win
                continue
            spread = float(np.sqrt(np.nan_to_num(row[f"{s} std"]) ** 2 + np.nan_to_num(ref_std) ** 2))
            seeds = min(int(row[f"{s} n"]), int(frame.at[reference, f"{s} n"]))
            out.append({"setting": s, "method": m, "label": row["label"], "mean": float(row[s]),
                        "reference_mean": float(ref), "margin": float(margin), "seeds": seeds,
                        # one seed has no spread to compare with: never "beyond" it
                        "beyond_spread": bool(seeds >= 2 and margin > spread)})
    result = pd.DataFrame(out, columns=["setting", "method", "label", "mean", "reference_mean", "margin", "seeds",
                                        "beyond_spread"])
    order = {s: i for i, s in enumerate(frame_settings(frame))}
    return result.sort_values(["setting", "margin"], key=lambda c: c.map(order) if c.name == "setting" else -c,
                              ).reset_index(drop=True)


def missing_cells(frame, seeds: int | None = None):
    """Cells with fewer than ``seeds`` seeds (``None``: the most any cell has): ``pandas.DataFrame`` with columns
    ``method, setting, n`` (``n == 0``: no result at all)."""
    import pandas as pd

    settings = frame_settings(frame)
    counts = frame[[f"{s} n" for s in settings]].to_numpy() if settings else np.zeros((len(frame), 0), int)
    want = int(counts.max(initial=0)) if seeds is None else int(seeds)
    out = [{"method": m, "setting": s, "n": int(frame.at[m, f"{s} n"])}
           for m in frame.index for s in settings if frame.at[m, f"{s} n"] < want]
    return pd.DataFrame(out, columns=["method", "setting", "n"])


def describe_vs_reference(frame, reference: str = "l2rw", seeds: int | None = None, percent: bool = True,
                          higher_is_better: bool | None = None) -> str:
    """What a notebook may say beside the table, computed: per setting, ``reference``'s mean ± std and rank, the
    methods with a better mean (margin, and whether it is beyond the seed spread, see :func:`beats_reference`),
    and then the cells with fewer than ``seeds`` seeds (``None``: the fullest cell's count). Lines of text."""
    better = _higher_is_better(frame, higher_is_better)
    wins = beats_reference(frame, reference, better)
    k, unit = (100.0, " %") if percent else (1.0, "")
    lines = []
    for s in frame_settings(frame):
        mean, std = frame.at[reference, s], frame.at[reference, f"{s} std"]
        if np.isnan(mean):
            lines.append(f"{s}: no result for {reference}")
            continue
        w = wins[wins.setting == s]
        inert = [m for m in frame.index if _inert(frame, m, s)]
        n_ranked = int(frame[s].notna().sum()) - len(inert)
        rank = 1 + len(w)   # ties count in the reference's favour
        value = (f"{k * mean:.1f} ± {k * std:.1f}{unit}" if frame.at[reference, f"{s} n"] >= 2
                 else f"{k * mean:.1f}{unit} (one seed)")
        head = (f"{s}: {reference} {value}, rank {rank} of {n_ranked} "
                f"({'higher' if better else 'lower'} is better)")
        if inert:
            head += f"; not ranked, as they did nothing beyond plain training here: {', '.join(inert)}"
        if not len(w):
            lines.append(head + "; no method has a better mean")
            continue
        lines.append(head + f"; a better mean than {reference}:")
        lines += [f"    {r.method} {k * r.mean:.1f} ({'+' if better else '-'}{k * r.margin:.1f}, "
                  + ("one seed: no spread to judge it by)" if r.seeds < 2 else
                     f"{'beyond' if r.beyond_spread else 'within'} the seed spread)") for r in w.itertuples()]
    gaps = missing_cells(frame, seeds)
    settings = frame_settings(frame)
    full = int(frame[[f"{s} n" for s in settings]].to_numpy().max(initial=0)) if seeds is None else int(seeds)
    if not len(gaps):
        lines.append(f"missing cells: none (every cell has {full} seed{'s' if full != 1 else ''})")
        return "\n".join(lines)
    # a whole setting or a whole method without runs is said once; the other gaps cell by cell
    empty_settings = [s for s in settings if (frame[f"{s} n"] == 0).all()]
    empty_methods = [m for m in frame.index if all(frame.at[m, f"{s} n"] == 0 for s in settings)]
    lines.append(f"missing or incomplete cells (a full cell has {full} seeds):")
    if empty_settings:
        lines.append(f"    no runs at all at {', '.join(empty_settings)}")
    if empty_methods:
        lines.append(f"    no runs at all of {', '.join(empty_methods)}")
    rest = gaps[~gaps.setting.isin(empty_settings) & ~gaps.method.isin(empty_methods)]
    for m, part in rest.groupby("method", sort=False):
        lines.append(f"    {m}: " + ", ".join(f"{r.setting} {r.n} seed(s)" for r in part.itertuples()))
    return "\n".join(lines)


def _cell_text(mean: float, std: float, n: int, percent: bool, full: int) -> str:
    if n == 0 or np.isnan(mean):
        return "—"
    k, digits = (100.0, 1) if percent else (1.0, 3)
    # one seed has no std: no "± 0.0" that would read as a perfectly repeatable result
    text = f"{k * mean:.{digits}f}" + (f" ± {k * np.nan_to_num(std):.{digits}f}" if n >= 2 else "")
    return text + ("" if n >= full else f" (n={n})")


def table2_figure(frame, reference: str = "l2rw", higher_is_better: bool | None = None, percent: bool = True,
                  title: str | None = None, width: int | None = None, height: int | None = None) -> go.Figure:
    """The comparison as a Table 2-shaped plotly table.

    Rows: the frame's methods, grouped (the group named on its first row); columns: the paper's name, the method
    name, one column per setting with ``mean ± std`` (in % when ``percent``) over seeds, ``(n=k)`` where a cell has
    fewer seeds than the fullest cell, ``—`` where it has none, ``†`` on an inert cell (the method did nothing
    beyond plain training there: never bold or shaded), ``‡`` on a cell with a run that stopped with a message
    instead of a result (``stopped ‡`` where no run of it gave one). The best mean per column is bold; cells that beat
    ``reference`` are shaded green, the reference row blue.

    Args:
        frame: a :func:`comparison_frame`. reference: the row others are compared with (``None``: no shading).
        higher_is_better: ``None``: from the frame's value.
    """
    settings = frame_settings(frame)
    if not settings or not len(frame):
        raise ValueError(f"frame has {len(frame)} rows and settings {settings}; allowed: a comparison_frame with at "
                         "least one method and one setting")
    if reference is not None and reference not in frame.index:
        raise ValueError(f"reference={reference!r} is not a row of the frame; allowed: None or one of "
                         f"{list(frame.index)}")
    better = _higher_is_better(frame, higher_is_better)
    full = int(frame[[f"{s} n" for s in settings]].to_numpy().max(initial=0))
    previous, shade = None, True
    groups, base = [], []
    for g in frame["group"]:
        shade = shade if g == previous else not shade   # groups alternate white / light grey, as a table's bands
        groups.append(f"<b>{g}</b>" if g != previous else "")
        base.append("#f4f4f4" if shade else "white")
        previous = g
    columns = [groups, list(frame["label"]), list(frame.index)]
    fills = [base] * 3
    for s in settings:
        means = frame[s].to_numpy(dtype=float)
        inert = np.array([_inert(frame, m, s) for m in frame.index], dtype=bool)
        finite = means[np.isfinite(means) & ~inert]
        best = (finite.max() if better else finite.min()) if len(finite) else np.nan
        ref = frame.at[reference, s] if reference is not None else np.nan
        texts, fill = [], []
        for m, mean, dead in zip(frame.index, means, inert):
            text = _cell_text(mean, frame.at[m, f"{s} std"], int(frame.at[m, f"{s} n"]), percent, full)
            if _stopped(frame, m, s):   # a gap that has a reason says it
                text = "stopped ‡" if text == "—" else f"{text} ‡"
            texts.append(f"{text} †" if dead else f"<b>{text}</b>" if mean == best else text)
            wins = (not dead and np.isfinite(ref) and m != reference
                    and ((mean > ref) if better else (mean < ref)))
            fill.append("#dbeafe" if m == reference else "#c8ecc8" if wins else base[len(fill)])
        columns.append(texts)
        fills.append(fill)
    value = frame.attrs.get("value", "test_accuracy").replace("test_", "test ")
    unit = " (%)" if percent else ""
    header = ["group", "system (paper's name)", "method"] + [f"{s}{unit}" for s in settings]
    fig = go.Figure(go.Table(
        columnwidth=[2.4, 2.4, 2.2] + [1.6] * len(settings),
        header=dict(values=[f"<b>{h}</b>" for h in header], fill_color="#eeeeee", align="left"),
        cells=dict(values=columns, fill_color=fills, align=["left"] * 3 + ["right"] * len(settings), height=24)))
    n_rows = len(frame)
    # a row with a (wrapped) group name is taller than the others: room for about 31 px a row
    notes = _footnotes(frame, settings)
    top = 45 + 18 * notes.count("<br>")     # room for the title's footnote lines above the header
    fig.update_layout(template=TEMPLATE, width=width, height=height or 135 + top + 31 * n_rows,
                      margin=dict(l=10, r=10, t=top + 15, b=10),
                      title=title or f"{value} per method, mean ± std over seeds"
                                     + (f"; green: beats {method_label(reference)}" if reference else "")
                                     + notes)
    return fig


def _scaled_weights(history, start: float) -> tuple[np.ndarray, np.ndarray]:
    """``(weight * B, is_noisy)`` of every batch entry recorded from ``start`` (a fraction of the recorded steps)
    on, flattened."""
    check_in_range("start", start, 0.0, 1.0, high_open=True)
    first = int(np.floor(start * len(history.steps)))
    w = history.weights[first:] * history.batch_size
    noisy = history.is_noisy[history.indices[first:]]
    return w.ravel().astype(np.float64), noisy.ravel().astype(bool)


def weight_separation(history, start: float = 0.5) -> dict[str, float]:
    """How well a run's per-example weights tell flipped labels from clean ones, over the recorded steps from
    ``start`` (a fraction of training) on.

    Returns:
        ``{"mean_clean", "mean_flipped"}``: mean weight x B (1 = uniform); ``{"zero_clean", "zero_flipped"}``: the
        share of those batch entries given weight exactly 0; ``"auc"``: the probability that a random flipped entry
        gets a lower weight than a random clean one (ties count half; 0.5 = no separation, 1 = perfect).
    """
    from sklearn.metrics import roc_auc_score

    w, noisy = _scaled_weights(history, start)
    if noisy.all() or not noisy.any():
        raise ValueError(f"history has {int(noisy.sum())} flipped of {len(noisy)} recorded entries after "
                         f"start={start}; allowed: a run on data with both flipped and clean labels")
    return {"mean_clean": float(w[~noisy].mean()), "mean_flipped": float(w[noisy].mean()),
            "zero_clean": float((w[~noisy] == 0).mean()), "zero_flipped": float((w[noisy] == 0).mean()),
            "auc": float(roc_auc_score(noisy, -w))}


def weight_bin_shares(history, start: float = 0.5) -> dict[str, np.ndarray]:
    """``{"clean": (5,), "noisy": (5,)}``: the share of each group's batch entries (from ``start`` on) whose weight
    x B falls in each bin of ``WEIGHT_BIN_NAMES`` (exactly 0, (0, 0.5], (0.5, 1], (1, 2], above 2); sums to 1."""
    w, noisy = _scaled_weights(history, start)
    out = {}
    for group, sel in (("clean", ~noisy), ("noisy", noisy)):
        x = w[sel]
        zero = x == 0
        # bins (0, 0.5], (0.5, 1], (1, 2], (2, inf): right-closed, so that weight exactly 1 (uniform) is "(0.5, 1]"
        idx = np.searchsorted(np.asarray(WEIGHT_BIN_EDGES[1:]), x[~zero], side="left")
        counts = np.concatenate([[zero.sum()], np.bincount(idx, minlength=len(WEIGHT_BIN_NAMES) - 1)])
        out[group] = counts / max(len(x), 1)
    return out


def mwn_vs_l2rw_figure(mwn_history, l2rw_history, n_curves: int = 5, start: float = 0.5,
                       title: str | None = None, width: int | None = None, height: int = 440) -> go.Figure:
    """Meta-Weight-Net's learned weighting function beside L2RW's per-example weights, on the same experiment.

    Left: ``V(loss)`` of Meta-Weight-Net at ``n_curves`` moments of training (one function shared by all examples,
    from ``mwn_history.meta["method_settings"]["weight_curve"]``). Right: for both runs, the share of clean and of
    flipped batch entries (from ``start`` on) in each weight bin (weight x B; 0 = ignored, 1 = uniform).

    Args:
        mwn_history: a ``meta_weight_net`` History with its recorded weight curve. l2rw_history: an ``l2rw`` History
            of the same experiment and setting. Both need flipped and clean labels.
    """
    from .weighting_function import weighting_function_figure

    fig = make_subplots(rows=1, cols=2, column_widths=[0.45, 0.55], horizontal_spacing=0.1,
                        # two short lines each: one-line titles run into each other at notebook widths
                        subplot_titles=("Meta-Weight-Net: one function<br>V(loss) for every example",
                                        "per-example weights (x B),<br>second half of training"))
    for trace in weighting_function_figure(mwn_history, n_curves=n_curves).data:
        fig.add_trace(trace.update(legendgroup="curve"), row=1, col=1)
    for method, history, pattern in (("Meta-Weight-Net", mwn_history, "/"), ("L2RW", l2rw_history, "")):
        shares = weight_bin_shares(history, start)
        for group in ("clean", "noisy"):
            fig.add_trace(go.Bar(x=list(WEIGHT_BIN_NAMES), y=100 * shares[group],
                                 name=f"{method}: {GROUP_LABELS[group]}",
                                 marker=dict(color=GROUP_COLORS[group], pattern=dict(shape=pattern)),
                                 opacity=1.0 if method == "L2RW" else 0.55, meta={"method": method, "group": group},
                                 hovertemplate="%{y:.1f}% of the entries<extra>" + f"{method}, {group}</extra>"),
                          row=1, col=2)
    fig.update_xaxes(title_text="training loss of the example (nats)", row=1, col=1)
    fig.update_yaxes(title_text="V(loss), before normalising", range=[0, 1.02], row=1, col=1)
    fig.update_xaxes(title_text="weight x B (1 = uniform)", type="category", row=1, col=2)
    fig.update_yaxes(title_text="% of the group's batch entries", row=1, col=2)
    fig.update_layout(template=TEMPLATE, barmode="group", height=height, width=width,
                      title=title or "A learned weighting function vs weights recomputed for each example",
                      margin=dict(l=60, r=20, t=110, b=50))
    return fig


__all__ = ["METHOD_LABELS", "TABLE2_GROUPS", "WEIGHT_BIN_NAMES", "beats_reference", "comparison_frame",
           "describe_vs_reference",
           "frame_settings", "method_group", "method_label", "missing_cells", "mwn_vs_l2rw_figure", "table2_figure",
           "weight_bin_shares", "weight_separation"]
