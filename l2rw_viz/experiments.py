"""Named, seeded experiments and sweeps: every method on the same splits and seeds, one tidy row per run.

Experiments (``EXPERIMENTS``):

- ``mnist-imbalance``: MNIST 4-vs-9, 9 the majority, proportions 0.9 ... 0.995, LeNet, SGD lr 1e-3 momentum 0.9,
  batch 100, 10 balanced clean validation images (the paper's Fig. 8 set-up, Section 5.1).
- ``mnist-noise``: 10-class MNIST, 40% uniform or 40% background flips, 10 clean validation images per class.
- ``mnist-imbalance-noise``: 4-vs-9 imbalance and 20% uniform flips at once.
- ``toy-imbalance``, ``toy-noise``, ``toy-imbalance-noise``: the same on 2-D "moons" with a small MLP (about a
  second a run).

On the offline MNIST subset (5,000 images) the training sets are smaller than the paper's 5,000 images: 397
images for 4-vs-9 (2 fours at p = 0.995) and 3,900 for 10 classes (see ``l2rw_viz.data.corrupt``); every row
records its ``data_source``.

A run's seed fixes the data split (which images, which validation images, which flips), the network's
initialisation, the batch order and any method randomness — so method A and method B at the same seed see
exactly the same data.

Recipes (``RECIPES``): ``"ours"`` (default) runs the experiments as defined here. ``"paper"`` runs the protocol
of the paper's official code for Fig. 8 (``mnist-imbalance`` only): the official 3-convolution LeNet
(``make_model("lenet_official")``), 8,000 steps, learning rate halved for the second half, unnormalised
proportion weights (``Proportion(normalise=False)``), SGD still moving on all-zero weights
(``on_zero_weights="step"``), 10 seeds for a sweep, and 5,000 training images where the full MNIST is available
(on the offline subset: as many as it allows, 397-439). ``docs/departures.md`` lists what differs from the official
code and which recipe removes it. Every row records its ``recipe``; a results file holds one recipe only (writing
another into it is refused), so tables never mix them.

Results: :func:`run_one` returns one row (a dict with the columns of ``ROW_COLUMNS`` plus extras) and, given
``out``, appends it atomically to a CSV (the whole file is rewritten to a temporary file under a lock and moved
into place with ``os.replace``, so a crash never leaves half a row). :func:`sweep` skips runs whose key
``(experiment, method, setting_value, seed, steps, data_source)`` is already in the CSV, so an interrupted sweep
re-run loses nothing and repeats nothing. Rows carry ``results_version``: rows written by an older version of the
library (whose numbers a change may have altered) are not skipped but run again and replaced.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from .checks import check_choice, check_in_range, check_int, check_seed

# Columns every row has, in this order (figures and tables read these names).
ROW_COLUMNS = ("experiment", "method", "setting_name", "setting_value", "seed", "steps", "test_error",
               "test_accuracy", "wall_time_s", "device", "data_source", "mean_w_noisy", "mean_w_clean",
               "mean_w_minority", "mean_w_majority")
# Extra columns (may be NaN where they do not apply).
EXTRA_COLUMNS = ("results_version", "method_revision", "test_error_last5", "zero_weight_fraction", "n_train", "n_val",
                 "lr", "batch_size", "on_zero_weights", "data_seed", "noise_rate", "noise_mode", "proportion",
                 "history_path", "recipe")
KEY_COLUMNS = ("experiment", "method", "setting_value", "seed", "steps", "data_source")
# Bump when a change to the library changes what a run computes (data draw, a method, the trainer, defaults).
# Rows written by another version are stale: a sweep runs them again (replacing them) instead of skipping them.
RESULTS_VERSION = 2
# Bump one method's revision when a change alters only that method's runs: only its rows go stale.
# noise_layer_conf 1: pre-training lengthened from a quarter to half of the run (its confusion matrix was uniform).
# hard_mining 1: the official rule (all minority of the pool plus as many hardest majority), was: filled to the batch.
METHOD_REVISIONS: dict[str, int] = {"noise_layer_conf": 1, "hard_mining": 1}

ADABOOST = "adaboost"  # scikit-learn, not a torch Method: run_one dispatches it to l2rw_viz.adaboost

# How an experiment is run: "ours" (the definitions below) or "paper" (the official code's protocol, see the module
# docstring and docs/departures.md).
RECIPES = ("ours", "paper")
# The experiments the paper's protocol is defined for (the official code has only the MNIST imbalance experiment).
PAPER_RECIPE_EXPERIMENTS = ("mnist-imbalance",)
# Seeds of a sweep when none are given: 3 here, 10 as the official code (``nrun``).
RECIPE_SEEDS = {"ours": (0, 1, 2), "paper": tuple(range(10))}
# What the trainer does on all-zero weights by default: skip the update here; the official code still steps.
RECIPE_ON_ZERO_WEIGHTS = {"ours": "skip", "paper": "step"}


@dataclass(frozen=True)
class Experiment:
    """A named experiment: which data, which bias (swept along ``setting_name``), which network and optimiser.

    Attributes:
        name: e.g. ``"mnist-imbalance"``. data: ``"mnist"`` or a toy kind. bias: ``"imbalance"``, ``"noise"`` or
            ``"imbalance-noise"``. setting_name: the swept axis, ``"proportion"`` (majority share in (0, 1)) or
            ``"noise_mode"`` (``"uniform"``/``"background"``). settings: the default values of the sweep.
        noise_rate: fraction of flipped labels where the bias includes noise. model: a ``make_model`` name.
        lr, momentum, batch_size, steps: SGD settings; steps is the default length of a run.
        eval_every: test evaluation interval (steps). methods: what ``--methods all`` runs.
        adaboost_rounds: boosting rounds for the AdaBoost baseline.
        lr_decay_at: fractions of the run after which the learning rate is halved (empty: constant).
    """

    name: str
    data: str
    bias: str
    setting_name: str
    settings: tuple
    model: str
    lr: float
    steps: int
    methods: tuple[str, ...]
    noise_rate: float = 0.0
    momentum: float = 0.9
    batch_size: int = 100
    eval_every: int = 100
    adaboost_rounds: int = 200
    lr_decay_at: tuple[float, ...] = ()
    description: str = ""

    def default_setting(self):
        return self.settings[-1] if self.setting_name == "proportion" else self.settings[0]

    def check_setting(self, value) -> Any:
        """Validate a setting value (named error before any work); returns it normalised (float or str)."""
        if self.setting_name == "proportion":
            return check_in_range("proportion", value, 0.0, 1.0, low_open=True, high_open=True)
        return check_choice("noise_mode", value, ["uniform", "background"])

    def default_steps(self) -> int:
        """The run length when none is given: ``steps``, in smoke mode (``L2RW_SMOKE=1``) a tenth of it."""
        from .settings import pick

        return pick(self.steps, max(1, self.steps // 10))

    def lr_schedule(self, steps: int) -> Callable[[int], float] | None:
        """``step -> factor``: halve the learning rate after each fraction in ``lr_decay_at``."""
        if not self.lr_decay_at:
            return None
        bounds = [int(f * steps) for f in self.lr_decay_at]
        return lambda step: 0.5 ** sum(step >= b for b in bounds)


IMBALANCE_METHODS = ("plain", "proportion", "resample", "hard_mining", "random", "l2rw", "oversample",
                     "undersample", "smote", "clean_only", "finetune", ADABOOST, "adaboost_net", "meta_weight_net")
NOISE_METHODS = ("plain", "l2rw", "random", "clean_only", "finetune", "noise_layer", "noise_layer_conf",
                 "bootstrap_soft", "bootstrap_hard", ADABOOST, "adaboost_net", "meta_weight_net", "forward_correction",
                 "backward_correction", "forward_correction_clean", "self_training", "mentornet_pd", "mentornet_dd")
BOTH_METHODS = ("plain", "proportion", "resample", "hard_mining", "random", "l2rw", "smote", "clean_only",
                "finetune", "noise_layer", "bootstrap_soft", ADABOOST, "adaboost_net", "meta_weight_net",
                "forward_correction")
# The methods of the paper's Fig. 8 (MNIST class imbalance).
FIG8_METHODS = ("plain", "proportion", "resample", "hard_mining", "random", "l2rw")

PROPORTIONS = (0.9, 0.95, 0.98, 0.99, 0.995)

EXPERIMENTS: dict[str, Experiment] = {e.name: e for e in [
    Experiment("mnist-imbalance", "mnist", "imbalance", "proportion", PROPORTIONS, "lenet", 1e-3, 2000,
               IMBALANCE_METHODS,
               description="MNIST 4-vs-9 with 9 the majority; LeNet, SGD lr 1e-3 momentum 0.9, batch 100, "
                           "10 clean validation images (Ren et al. 2018, Fig. 8)"),
    Experiment("mnist-noise", "mnist", "noise", "noise_mode", ("uniform", "background"), "lenet", 1e-3, 2000,
               NOISE_METHODS, noise_rate=0.4,
               description="10-class MNIST with 40% flipped labels; LeNet; 10 clean validation images per class"),
    Experiment("mnist-imbalance-noise", "mnist", "imbalance-noise", "proportion", (0.9, 0.95, 0.98), "lenet",
               1e-3, 2000, BOTH_METHODS, noise_rate=0.2,
               description="MNIST 4-vs-9 imbalance and 20% uniform (swap) flips at once; LeNet"),
    Experiment("toy-imbalance", "moons", "imbalance", "proportion", PROPORTIONS, "toy_mlp", 0.05, 400,
               IMBALANCE_METHODS, batch_size=50, eval_every=50, adaboost_rounds=50,
               description="2-D moons, class 0 the minority; small MLP, SGD lr 0.05 momentum 0.9, batch 50"),
    Experiment("toy-noise", "moons", "noise", "noise_mode", ("uniform", "background"), "toy_mlp", 0.05, 400,
               NOISE_METHODS, noise_rate=0.4, batch_size=50, eval_every=50, adaboost_rounds=50,
               description="2-D moons with 40% flipped labels; small MLP"),
    Experiment("toy-imbalance-noise", "moons", "imbalance-noise", "proportion", (0.8, 0.9, 0.95), "toy_mlp",
               0.05, 400, BOTH_METHODS, noise_rate=0.2, batch_size=50, eval_every=50, adaboost_rounds=50,
               description="2-D moons, class 0 the minority, and 20% uniform flips; small MLP"),
]}


def get_experiment(experiment: str | Experiment) -> Experiment:
    """An ``Experiment`` by name (``ValueError`` listing the names otherwise)."""
    if isinstance(experiment, Experiment):
        return experiment
    check_choice("experiment", experiment, list(EXPERIMENTS))
    return EXPERIMENTS[experiment]


def check_recipe(recipe: str, experiment: str | Experiment | None = None) -> str:
    """``recipe`` if it is one of ``RECIPES`` (and, given ``experiment``, defined for it), else a named ValueError."""
    recipe = check_choice("recipe", recipe, RECIPES)
    if recipe == "paper" and experiment is not None:
        name = get_experiment(experiment).name
        if name not in PAPER_RECIPE_EXPERIMENTS:
            raise ValueError(f"recipe='paper' is not defined for experiment={name!r} (the official code has only the "
                             f"MNIST imbalance experiment); allowed: experiment in {PAPER_RECIPE_EXPERIMENTS}, or "
                             "recipe='ours'")
    return recipe


def recipe_experiment(experiment: str | Experiment, recipe: str = "ours") -> Experiment:
    """The experiment as ``recipe`` runs it: itself for ``"ours"``; for ``"paper"`` the official protocol's
    network (``"lenet_official"``), 8,000 steps and the learning rate halved after half of them. The method
    settings of the recipe (unnormalised proportion weights) are in :func:`method_for`, its seeds in
    ``RECIPE_SEEDS`` and its all-zero-weights policy in ``RECIPE_ON_ZERO_WEIGHTS``."""
    exp = get_experiment(experiment)
    if check_recipe(recipe, exp) == "ours":
        return exp
    return replace(exp, model="lenet_official", steps=8000, lr_decay_at=(0.5,),
                   description=exp.description + "; paper recipe: official 3-conv LeNet, 8,000 steps, lr halved for "
                               "the second half, unnormalised proportion weights")


def all_method_names() -> list[str]:
    """Every registered torch method plus ``"adaboost"``."""
    from .methods import available_methods

    return sorted(set(available_methods()) | {ADABOOST})


def check_method_name(method: str) -> str:
    """``method`` if it is a registered torch method, ``"adaboost"``, or a torch method with ``+es`` / ``+ft``
    suffixes (returned in the canonical order, ``+es`` before ``+ft``); a ``ValueError`` naming it otherwise."""
    if isinstance(method, str) and "+" in method:
        from .methods.modifiers import split_modifiers

        base, mods = split_modifiers(method)
        check_choice("method", base, [m for m in all_method_names() if m != ADABOOST])
        return base + "".join(f"+{m}" for m in mods)
    return check_choice("method", method, all_method_names())


def resolve_methods(experiment: str | Experiment, methods: str | Sequence[str]) -> list[str]:
    """Expand ``"all"`` (the experiment's list), ``"fig8"`` (the paper's Fig. 8 methods) or ``"every"`` (all
    registered); check every name. Methods that are not available (e.g. ``l2rw`` before it is installed) raise."""
    exp = get_experiment(experiment)
    if isinstance(methods, str):
        methods = [methods]
    names: list[str] = []
    known = all_method_names()
    for m in methods:
        if m == "all":
            names += list(exp.methods)
        elif m == "fig8":
            names += list(FIG8_METHODS)
        elif m == "every":
            names += known
        else:
            names.append(m)
    names = [m if m in known else check_method_name(m) for m in names]   # also "+es" / "+ft" suffixes
    return list(dict.fromkeys(names))


def resolve_data_source(experiment: str | Experiment, data_source: str = "auto") -> str:
    """``"toy"`` for toy experiments; for MNIST ``"subset"`` or ``"full"`` (``"auto"`` is resolved here once, by
    ``load_mnist``, so the rows of a sweep and its skip keys agree)."""
    exp = get_experiment(experiment)
    if exp.data != "mnist":
        return "toy"
    from .data.mnist import MNIST_SOURCES, load_mnist

    check_choice("data_source", data_source, MNIST_SOURCES + ("toy",))
    if data_source == "toy":
        raise ValueError(f"data_source='toy' is not allowed for {exp.name}; allowed: 'auto', 'subset', 'full'")
    if data_source != "auto":
        return data_source
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_mnist("auto", progress=False).source


def make_dataset(experiment: str | Experiment, setting, seed: int, data_source: str = "auto"):
    """The ``BiasedDataset`` of one (experiment, setting, seed); the seed fixes split, validation draw and flips."""
    from .data import make_imbalanced, make_imbalanced_noisy, make_noisy
    from .data.mnist import load_mnist

    exp = get_experiment(experiment)
    setting = exp.check_setting(setting)
    seed = check_seed("seed", seed)
    source = resolve_data_source(exp, data_source)
    kw: dict[str, Any] = {"seed": seed}
    if exp.data == "mnist":
        kw["pool"] = load_mnist(source, progress=False)
    if exp.bias == "imbalance":
        return make_imbalanced(exp.data, proportion=setting, **kw)
    if exp.bias == "noise":
        return make_noisy(exp.data, rate=exp.noise_rate, mode=setting, **kw)
    return make_imbalanced_noisy(exp.data, proportion=setting, rate=exp.noise_rate, mode="uniform", **kw)


def method_for(method: str, exp: Experiment, steps: int, batch_size: int, lr: float, recipe: str = "ours",
               **overrides):
    """The ``Method`` instance for ``method`` in this experiment (settings that depend on the run filled in).

    ``adaboost_net`` needs nothing here: it updates its example weights once per epoch, which it reads from the data
    and the batch size it is given. ``recipe="paper"``: proportion weights are not normalised per batch.
    """
    from .methods import get_method

    recipe = check_recipe(recipe)
    if "+" in method:   # +es / +ft: the base method with its own settings, then the modifiers'
        from .methods.modifiers import Modified, split_modifiers

        base, mods = split_modifiers(method)
        own: dict[str, Any] = {"es_every": min(exp.eval_every, steps)} if "es" in mods else {}
        if "ft" in mods:
            own["ft_switch_step"] = steps - max(1, steps // 10)  # the last 10% on the clean set, as "finetune"
        own.update({k: overrides.pop(k) for k in ("es_every", "ft_switch_step") if k in overrides})
        return Modified(method_for(base, exp, steps, batch_size, lr, recipe, **overrides), es="es" in mods,
                        ft="ft" in mods, **own)
    kw: dict[str, Any] = {}
    if method == "proportion" and recipe == "paper":
        kw["normalise"] = False  # the official code's (p, 1 - p) weights: a batch sums to about 200p(1-p)
    elif method == "finetune":
        kw["switch_step"] = steps - max(1, steps // 10)  # the last 10% of the steps on the clean set
    elif method == "hard_mining":
        kw["pool_size"] = 5 * batch_size  # the official code: pool 500 for batch 100
    elif method == "noise_layer_conf":
        # half the run: at lr 1e-3 LeNet spends its first ~500 steps on a plateau (22% accuracy on noisy MNIST),
        # and a confusion matrix taken there is near-uniform and makes the noise layer collapse
        kw.update(pretrain_steps=max(1, steps // 2), pretrain_lr=lr, pretrain_batch_size=batch_size)
    elif method in ("forward_correction", "backward_correction", "forward_correction_clean"):
        # T is read off a plain model: the same half-run pre-training as noise_layer_conf, for the same reason
        kw.update(pretrain_steps=max(1, steps // 2), pretrain_lr=lr, pretrain_batch_size=batch_size)
    elif method == "self_training":
        kw["round_steps"] = max(1, steps // 3)  # 3 rounds: relabel after the first and the second third
    elif method == "mentornet_pd":
        kw["total_steps"] = steps
    elif method == "mentornet_dd":
        # the mentor's student copy trains for half the run; about 40 snapshots of the validation set teach it
        kw.update(total_steps=steps, pretrain_steps=max(1, steps // 2), pretrain_lr=lr, pretrain_batch_size=batch_size,
                  snapshot_every=max(1, steps // 80))
    kw.update(overrides)
    return get_method(method, **kw)


def _fmt_setting(value) -> str:
    try:
        return f"{float(value):g}"
    except (TypeError, ValueError):
        return str(value)


def row_key(row: dict) -> tuple:
    """The identity of a run: ``(experiment, method, setting, seed, steps, data_source)`` as comparable strings."""
    return (str(row["experiment"]), str(row["method"]), _fmt_setting(row["setting_value"]), int(row["seed"]),
            int(row["steps"]), str(row["data_source"]))


def _recipe_of(row: dict) -> str:
    """A row's recipe; ``"ours"`` for rows written before recipes existed (missing or NaN)."""
    value = row.get("recipe")
    return value if isinstance(value, str) and value else "ours"


def history_filename(row: dict) -> str:
    exp, method, setting, seed, steps, source = row_key(row)
    recipe = _recipe_of(row)
    suffix = "" if recipe == "ours" else f"__{recipe}"
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


def _mean_weight(history, group: str) -> float:
    values = history.mean_weight(group)
    values = values[np.isfinite(values)]
    return float(values.mean()) if len(values) else float("nan")


def run_one(experiment: str | Experiment, method: str, setting=None, seed: int = 0, steps: int | None = None,
            device: str = "auto", data_source: str = "auto", *, out: str | os.PathLike | None = None,
            history_dir: str | os.PathLike | None = None, on_zero_weights: str | None = None,
            lr: float | None = None, data_seed: int | None = None, progress: bool = False,
            method_kwargs: dict | None = None, return_history: bool = False, threads: int | None = None,
            recipe: str = "ours"):
    """Train (or boost) one method on one setting of an experiment and return its tidy row.

    Args:
        experiment: a name from ``EXPERIMENTS``. method: a registered method name or ``"adaboost"``.
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
        method_kwargs: extra settings for the method's constructor. return_history: also return the History.
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
    method = check_method_name(method)
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
    from .device import cpu_threads, describe_device, resolve_device

    dev = resolve_device(device)
    source = resolve_data_source(exp, data_source)
    ds = make_dataset(exp, setting, data_seed, source)

    row: dict[str, Any] = {c: float("nan") for c in ROW_COLUMNS + EXTRA_COLUMNS}
    row.update(experiment=exp.name, method=method, setting_name=exp.setting_name, setting_value=setting,
               seed=seed, steps=steps, device=describe_device(dev) if method != ADABOOST else "cpu (scikit-learn)",
               data_source=source, n_train=ds.n, n_val=len(ds.y_val), data_seed=data_seed,
               noise_rate=exp.noise_rate if "noise" in exp.bias else 0.0,
               noise_mode=setting if exp.setting_name == "noise_mode" else ("uniform" if "noise" in exp.bias else ""),
               proportion=setting if exp.setting_name == "proportion" else float("nan"), history_path="",
               results_version=RESULTS_VERSION, method_revision=METHOD_REVISIONS.get(method, 0), recipe=recipe)
    keep: dict[str, Any] = {}
    start = time.perf_counter()
    with cpu_threads(dev, 1 if threads is None else threads):
        _train_or_boost(row, exp, method, ds, seed, steps, lr, dev, on_zero_weights, progress, method_kwargs,
                        history_dir, keep, recipe)
    history = keep.get("history")
    row["wall_time_s"] = time.perf_counter() - start
    if out is not None:
        append_row(out, row)
    return (row, history) if return_history else row


def _train_or_boost(row, exp, method, ds, seed, steps, lr, dev, on_zero_weights, progress, method_kwargs,
                    history_dir, keep, recipe="ours") -> None:
    if method == ADABOOST:
        from .adaboost import run_adaboost

        result = run_adaboost(ds, n_estimators=exp.adaboost_rounds, seed=seed)
        row.update(test_accuracy=result.test_accuracy, test_error=result.test_error,
                   test_error_last5=float(np.mean(result.staged_test_error[-5:])),
                   **{f"mean_w_{g}": result.mean_weight(g) for g in ("noisy", "clean", "minority", "majority")})
        history = result
        if history_dir is not None:
            path = Path(history_dir) / history_filename(row).replace(".npz", ".adaboost.npz")
            path.parent.mkdir(parents=True, exist_ok=True)
            np.savez_compressed(path, sample_weights=result.sample_weights.astype(np.float32),
                                staged_test_error=result.staged_test_error, estimator_weights=result.estimator_weights,
                                is_noisy=result.is_noisy, is_minority=result.is_minority)
            row["history_path"] = str(path)
    else:
        from .models import make_model
        from .train import train

        model = make_model(exp.model, ds.num_classes, ds.feature_shape, seed=seed)
        m = method_for(method, exp, steps, exp.batch_size, lr, recipe, **(method_kwargs or {}))
        history = train(model, ds, m, steps=steps, batch_size=exp.batch_size, lr=lr, momentum=exp.momentum,
                        device=dev, seed=seed, eval_every=min(exp.eval_every, steps),
                        lr_schedule=exp.lr_schedule(steps), on_zero_weights=on_zero_weights, progress=progress)
        history.meta.update(experiment=exp.name, setting_name=exp.setting_name, setting_value=row["setting_value"],
                            data_source=row["data_source"], data_seed=row["data_seed"], recipe=recipe)
        row.update(test_accuracy=history.final_test_accuracy, test_error=history.final_test_error,
                   test_error_last5=float(1.0 - np.mean(history.test_acc[-5:])),
                   zero_weight_fraction=history.zero_weight_fraction(), lr=lr, batch_size=exp.batch_size,
                   on_zero_weights=on_zero_weights,
                   **{f"mean_w_{g}": _mean_weight(history, g) for g in ("noisy", "clean", "minority", "majority")})
        if history_dir is not None:
            path = Path(history_dir)
            path.mkdir(parents=True, exist_ok=True)
            row["history_path"] = str(history.save(path / history_filename(row)))
    keep["history"] = history


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
    import csv
    import io

    import pandas as pd

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
    import pandas as pd

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
    import csv

    import pandas as pd

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
            and _int_or(row.get("method_revision"), 0) == METHOD_REVISIONS.get(row.get("method"), 0))


def _has_result(row: dict) -> bool:
    """A finished run has a finite test error (a NaN row is a failed or damaged run: it is run again)."""
    try:
        return bool(np.isfinite(float(row.get("test_error"))))
    except (TypeError, ValueError):
        return False


def finished_rows(path: str | os.PathLike) -> dict[tuple, dict]:
    """The runs already in the CSV at ``path`` and computed by this version of the library (``RESULTS_VERSION``
    and the method's ``METHOD_REVISIONS``), by key (see :func:`row_key`); older rows are stale and left out, and
    so are rows without a finite test error and damaged (cut) rows: a sweep runs those again."""
    table = read_results(path)
    return ({row_key(r): r for r in table.to_dict("records") if _is_current(r) and _has_result(r)}
            if len(table) else {})


def finished_keys(path: str | os.PathLike) -> set[tuple]:
    """Keys of :func:`finished_rows`: the runs a sweep into ``path`` skips."""
    return set(finished_rows(path))


def _check_same_options(spec: "RunSpec", row: dict, exp: Experiment, out) -> None:
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


def stale_rows(table) -> int:
    """How many rows of a results table were written by another version of the library or of their method."""
    return int(sum(not _is_current(r) for r in table.to_dict("records"))) if len(table) else 0


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

    def key(self) -> tuple:
        return row_key({"experiment": self.experiment, "method": self.method, "setting_value": self.setting,
                        "seed": self.seed, "steps": self.steps, "data_source": self.data_source})


_watching_parent = False


def _exit_with_parent(parent_pid: int, poll_s: float = 1.0) -> None:
    """In a sweep worker process: exit as soon as the sweep's process (``parent_pid``) is gone. After ``kill -9``
    of a sweep, joblib's workers otherwise live on for minutes, each holding a few hundred MB, and their results
    could not be saved anyway (the parent writes the rows). Started once per worker process."""
    global _watching_parent
    if _watching_parent or parent_pid == os.getpid():
        return
    _watching_parent = True
    import threading

    direct = os.getppid() == parent_pid

    def gone() -> bool:
        if direct:  # a dead parent's children are re-parented at once, even while it is a zombie
            return os.getppid() != parent_pid
        try:
            os.kill(parent_pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass
        return False

    def watch() -> None:
        while not gone():
            time.sleep(poll_s)
        os._exit(1)

    threading.Thread(target=watch, name="l2rw-exit-with-sweep", daemon=True).start()


def _run_spec(spec: RunSpec, threads: int | None, parent_pid: int | None = None) -> dict:
    """Worker entry point: run with ``threads`` torch threads (cores / jobs), without writing (the parent writes).
    ``parent_pid``: the sweep's process; a worker exits when it dies."""
    if parent_pid is not None:
        _exit_with_parent(parent_pid)
    return run_one(spec.experiment, spec.method, spec.setting, spec.seed, spec.steps, spec.device,
                   spec.data_source, threads=threads, **spec.options)


def plan_sweep(experiment: str | Experiment, methods: str | Sequence[str] = "all", settings: Iterable | None = None,
               seeds: Iterable[int] | None = None, steps: int | None = None, device: str = "auto",
               data_source: str = "auto", out: str | os.PathLike | None = None, recipe: str = "ours",
               **options) -> list[RunSpec]:
    """The runs a sweep would do, finished ones (already in ``out``) left out. Validates every argument.

    ``seeds=None``: the recipe's (``RECIPE_SEEDS``: 0, 1, 2 for ``"ours"``, 0..9 for ``"paper"``). ``recipe``: see
    :func:`run_one`; a results file ``out`` holding rows of another recipe is refused.
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
    from .device import resolve_device

    resolve_device(device)
    source = resolve_data_source(exp, data_source)
    done = finished_rows(out) if out is not None else {}
    specs = [RunSpec(exp.name, m, v, s, steps, device, source, dict(options))
             for v in values for s in seeds for m in names]
    for spec in specs:
        if spec.key() in done:
            _check_same_options(spec, done[spec.key()], exp, out)
    return [s for s in specs if s.key() not in done]


def sweep(experiment: str | Experiment, methods: str | Sequence[str] = "all", settings: Iterable | None = None,
          seeds: Iterable[int] | None = None, out: str | os.PathLike | None = None, jobs: int = 1,
          steps: int | None = None, device: str = "auto", data_source: str = "auto", progress: bool = True,
          recipe: str = "ours", **options):
    """Run every (setting, seed, method) of an experiment that is not yet in ``out``; return the whole table.

    Args:
        methods: names, or ``"all"`` (the experiment's list), ``"fig8"``, ``"every"``.
        settings: values of the experiment's axis (``None``: its defaults). seeds: run seeds (``None``: the
            recipe's, 0, 1, 2 for ``"ours"`` and 0..9 for ``"paper"``).
        out: results CSV; each finished run is appended at once (atomically) and finished runs are skipped, so an
            interrupted sweep can simply be started again. ``None``: keep rows in memory only.
        jobs: parallel worker processes (joblib); each gets ``max(1, cores // jobs)`` torch threads (``jobs=1``
            runs in this process with ``run_one``'s default, 1 thread on the CPU).
        recipe: ``"ours"`` or ``"paper"`` (see :func:`run_one`); one results file holds one recipe.
        options: passed to :func:`run_one` (``history_dir``, ``on_zero_weights``, ``lr``, ...).

    Returns:
        A ``pandas.DataFrame``: the CSV's rows for this experiment (all of it, old and new), or the new rows when
        ``out`` is ``None``.
    """
    import pandas as pd
    from tqdm.auto import tqdm

    jobs = check_int("jobs", jobs, 1)
    specs = plan_sweep(experiment, methods, settings, seeds, steps, device, data_source, out, recipe, **options)
    rows: list[dict] = []
    bar = tqdm(total=len(specs), desc=f"sweep {get_experiment(experiment).name}", unit="run", disable=not progress)

    def collect(row: dict) -> None:
        rows.append(row)
        if out is not None:
            append_row(out, row)
        bar.set_postfix(last=f"{row['method']} {row['setting_value']} s{row['seed']}: err {row['test_error']:.3f}")
        bar.update(1)

    try:
        if jobs == 1 or len(specs) <= 1:
            for spec in specs:
                collect(_run_spec(spec, None))
        else:
            from joblib import Parallel, delayed

            threads = max(1, (os.cpu_count() or 1) // jobs)
            parallel = Parallel(n_jobs=jobs, return_as="generator_unordered")
            for row in parallel(delayed(_run_spec)(spec, threads, os.getpid()) for spec in specs):
                collect(row)
    finally:
        bar.close()
    if out is None:
        return pd.DataFrame(rows, columns=None).reindex(
            columns=list(dict.fromkeys(list(ROW_COLUMNS + EXTRA_COLUMNS) + [k for r in rows for k in r])))
    table = read_results(out)
    return table[table["experiment"] == get_experiment(experiment).name].reset_index(drop=True)


def summarize(table, by: Sequence[str] = ("experiment", "setting_value", "method"), value: str = "test_error"):
    """Mean, std and count of ``value`` over seeds, per ``by`` group (a ``pandas.DataFrame``). A run that appears
    twice (same key, e.g. two tables concatenated) is counted once: its last row."""
    if len(table) and all(c in table.columns for c in KEY_COLUMNS):
        table = table[~table.apply(lambda r: row_key(r), axis=1).duplicated(keep="last")]
    return (table.groupby(list(by))[value].agg(["mean", "std", "count"]).reset_index())


__all__ = ["ADABOOST", "EXPERIMENTS", "Experiment", "FIG8_METHODS", "KEY_COLUMNS", "ROW_COLUMNS", "EXTRA_COLUMNS",
           "METHOD_REVISIONS", "RECIPES", "RESULTS_VERSION", "RunSpec", "append_row", "check_output_dir",
           "check_recipe", "check_recipe_of_table", "check_results_path", "finished_keys", "finished_rows",
           "get_experiment", "make_dataset", "plan_sweep", "read_results", "recipe_experiment", "resolve_data_source",
           "resolve_methods", "row_key", "run_one", "stale_rows", "summarize", "sweep"]
