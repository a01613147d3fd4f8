"""Building a run's pieces: its data source, its dataset and its method (settings that depend on the run filled in
by the method itself, then the user's ``--method-arg`` settings)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

from ..checks import check_choice, check_seed
from ..data import make_imbalanced, make_imbalanced_noisy, make_noisy
from ..data.mnist import MNIST_SOURCES, load_mnist
from ..methods import Method, RunPlan, resolve_method
from .registry import Experiment, check_recipe, get_experiment


def resolve_data_source(experiment: str | Experiment, data_source: str = "auto") -> str:
    """``"toy"`` for toy experiments; for MNIST ``"subset"`` or ``"full"`` (``"auto"`` is resolved here once, by
    ``load_mnist``, so the rows of a sweep and its skip keys agree)."""
    exp = get_experiment(experiment)
    if exp.data != "mnist":
        return "toy"
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
    exp = get_experiment(experiment)
    setting = exp.check_setting(setting)
    seed = check_seed("seed", seed)
    source = resolve_data_source(exp, data_source)
    kw: dict[str, Any] = {"seed": seed}
    if exp.data == "mnist":
        # "full" downloads once (about 11 MB): its progress bar shows, so a slow mirror is not a silent wait
        kw["pool"] = load_mnist(source, progress=source == "full")
    if exp.bias == "imbalance":
        return make_imbalanced(exp.data, proportion=setting, **kw)
    if exp.bias == "noise":
        return make_noisy(exp.data, noise_rate=exp.noise_rate, noise_mode=setting, **kw)
    return make_imbalanced_noisy(exp.data, proportion=setting, noise_rate=exp.noise_rate, noise_mode="uniform", **kw)


def parse_method_args(method: str, args: Mapping[str, Any] | None) -> dict[str, Any]:
    """A method's settings (``{key: value}``, values strings from ``--method-arg KEY=VALUE`` or already typed)
    checked and converted by the method's declaration (a ``+es`` / ``+ft`` method also takes its modifiers'
    ``es_every`` / ``ft_switch_step``): only the given ones. ``ValueError`` naming the key, the value and what is
    allowed. (The run's full settings: :func:`~l2rw_viz.methods.resolve_method`.)"""
    resolved = resolve_method(method, args)
    return {k: resolved.settings[k] for k in dict(args or {})}


def method_for(method: str, exp: Experiment, steps: int, batch_size: int, lr: float, recipe: str = "ours",
               **overrides) -> Method:
    """The ``Method`` instance for ``method`` in this experiment: the settings that depend on the run from the
    method's :meth:`~l2rw_viz.methods.Method.run_settings` (and, for ``+es`` / ``+ft``, the modifiers'), then
    ``overrides`` (the user's settings, which win). ``recipe="paper"``: e.g. proportion weights are not normalised
    per batch."""
    recipe = check_recipe(recipe)
    plan = RunPlan(steps=steps, batch_size=batch_size, lr=lr, eval_every=exp.eval_every, recipe=recipe,
                   boost_rounds=exp.adaboost_rounds)
    return resolve_method(method, overrides, plan).build()


__all__ = ["make_dataset", "method_for", "parse_method_args", "resolve_data_source"]
