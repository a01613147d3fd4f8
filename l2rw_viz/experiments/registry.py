"""The registry: named experiments, their recipes, and which methods a sweep of each runs.

An :class:`Experiment` says which data, which bias (swept along ``setting_name``), which network and optimiser, and
which methods its standard comparison runs (``methods``: what ``--methods all`` runs and what the shipped tables
are checked complete against). What a method needs from a run (its run-dependent settings) and which biases it
addresses are told by the method itself (:meth:`l2rw_viz.methods.Method.run_settings`, ``Method.addresses``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..checks import check_choice, check_in_range
from ..methods import METHODS, all_methods
from ..methods.resolve import check_method_name as _split_checked
from ..settings import pick

ADABOOST = "adaboost"  # scikit-learn on the pixels behind the method interface: l2rw_viz.methods.adaboost

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


def setting_text(value) -> str:
    """An experiment's setting value as text, the one spelling of row keys, file names and table columns:
    ``0.995`` -> ``"0.995"``, ``0.9`` -> ``"0.9"``, ``"uniform"`` as is."""
    try:
        return f"{float(value):g}"
    except (TypeError, ValueError):
        return str(value)


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
    network (``"lenet_official"``), 8,000 steps for every method (the paper's text; the official code runs L2RW for
    4,000) and a constant learning rate (the official code computes a halved lr for the second half but feeds it to
    a placeholder no operation reads: its optimiser is ``MomentumOptimizer(config.lr, 0.9)``). The method
    settings of the recipe (unnormalised proportion weights) come from the methods (``Proportion.run_settings``),
    its seeds from ``RECIPE_SEEDS`` and its all-zero-weights policy from ``RECIPE_ON_ZERO_WEIGHTS``."""
    exp = get_experiment(experiment)
    if check_recipe(recipe, exp) == "ours":
        return exp
    return replace(exp, model="lenet_official", steps=8000, lr_decay_at=(),
                   description=exp.description + "; paper recipe: official 3-conv LeNet, 8,000 steps, constant lr, "
                               "unnormalised proportion weights")


def all_method_names() -> list[str]:
    """Every registered method (``"adaboost"`` included)."""
    return all_methods()


def method_class(method: str):
    """The registered :class:`~l2rw_viz.methods.Method` class behind a method name (``+es`` / ``+ft`` suffixes:
    its base method's); it tells ``addresses``, ``settings`` and its docstring."""
    return METHODS[_split_checked(method)[0]]


def check_method_name(method: str) -> str:
    """``method`` if it is a registered method, optionally with ``+es`` / ``+ft`` suffixes (returned in the canonical
    order, ``+es`` before ``+ft``); a ``ValueError`` naming it otherwise."""
    base, mods = _split_checked(method)
    return base + "".join(f"+{m}" for m in mods)


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
