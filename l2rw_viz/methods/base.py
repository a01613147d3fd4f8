"""What a training method is: one object that answers, each step, "what loss do I minimise on this batch?".

Weighting methods (L2RW, proportion, random, hard mining) only override :meth:`Method.batch_weights`;
data methods (resampling, SMOTE, clean-only) override :meth:`Method.prepare` or :meth:`Method.make_sampler`;
model methods (noise-adaptation layer) override :meth:`Method.wrap_model`; loss methods (bootstrapping) override
:meth:`Method.per_example_loss`. One trainer (``l2rw_viz.train.train``) runs them all.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data.dataset import BiasedDataset
from ..reweight import weighted_loss


@dataclass
class StepContext:
    """Everything a method may look at in one training step (tensors already on the training device).

    Attributes:
        model: the module being trained (the wrapped one if the method wraps the model), in train mode.
        x: ``(b, *F)`` the training batch; y: ``(b,)`` int64 its observed labels.
        idx: ``(b,)`` int64 numpy array, the batch's indices into ``dataset.x``.
        x_val, y_val: the clean validation set ``(m, *F)``, ``(m,)``.
        step: 0-based step number; lr: the learning rate of this step (after any schedule).
        dataset: the (prepared) dataset on the CPU, masks included — a method must not use the truth masks.
        generator: a ``torch.Generator`` seeded from the run's seed, for methods that draw random numbers.
        per_example_loss: ``(logits, y) -> (b,)`` the method's loss per example.
    """

    model: nn.Module
    x: torch.Tensor
    y: torch.Tensor
    idx: np.ndarray
    x_val: torch.Tensor
    y_val: torch.Tensor
    step: int
    lr: float
    dataset: BiasedDataset
    generator: torch.Generator
    per_example_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class StepOutput:
    """What one step produced: ``loss`` (scalar, with graph) to back-propagate, ``weights`` ``(b,)`` detached
    (they sum to 1, or are all zero when the method found nothing worth learning from), and
    ``per_example_losses`` ``(b,)`` detached."""

    loss: torch.Tensor
    weights: torch.Tensor
    per_example_losses: torch.Tensor


def epoch_sampler(n: int, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Endless batches of ``batch_size`` indices from ``range(n)``: shuffle, walk through, reshuffle.

    When ``batch_size > n`` each batch is drawn with replacement (tiny data sets such as "clean only").
    """
    if batch_size > n:
        while True:
            yield rng.integers(0, n, size=batch_size)
    order = rng.permutation(n)
    pos = 0
    while True:
        if pos + batch_size > n:
            # carry the unused tail into the next epoch so every example is seen once per epoch
            order = np.concatenate([order[pos:], rng.permutation(n)])
            pos = 0
        yield order[pos:pos + batch_size]
        pos += batch_size


@dataclass(frozen=True)
class RunPlan:
    """What a run will be, known before it starts (what :meth:`Method.run_settings` may read).

    Attributes:
        steps: SGD steps of the run. batch_size: examples per step. lr: the base learning rate.
        eval_every: the experiment's evaluation interval (steps). recipe: ``"ours"`` or ``"paper"`` (the official
            code's protocol, see :mod:`l2rw_viz.experiments`). boost_rounds: the experiment's boosting rounds (for
            the AdaBoost baseline).
    """

    steps: int
    batch_size: int
    lr: float
    eval_every: int = 100
    recipe: str = "ours"
    boost_rounds: int = 200


@dataclass(frozen=True)
class MethodSetup:
    """What a method is told once, before its run starts (:meth:`Method.setup`), instead of picking it up from
    one hook to use in another.

    Attributes:
        dataset: the training data as given to the trainer (before :meth:`Method.prepare`), on the CPU.
        model: the network that is trained and evaluated, already on ``device``.
        batch_size: examples per step. steps: SGD steps of the run. seed: the run's seed. lr: the base learning rate.
        device: the training device.
        train: the trainer's ``train`` (``l2rw_viz.train.train``), for methods that pre-train a copy of the network.
        evaluate: the trainer's ``evaluate(model, x, y) -> (accuracy, mean cross-entropy)``.
    """

    dataset: BiasedDataset
    model: nn.Module
    batch_size: int
    steps: int
    seed: int
    lr: float
    device: torch.device
    train: Callable[..., Any]
    evaluate: Callable[..., tuple[float, float]]


BIASES = ("imbalance", "noise")

_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


def _parse_value(key: str, text: str, annotation: str, default: Any) -> Any:
    """One ``--method-arg KEY=VALUE`` value, converted by the constructor's annotation (or its default's type)."""
    kinds = str(annotation) if annotation is not inspect.Parameter.empty else type(default).__name__
    lowered = text.strip().lower()
    if lowered in ("none", "null") and ("None" in kinds or default is None):
        return None
    if "bool" in kinds:
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError(f"method argument {key}={text!r} is not allowed; allowed: true or false")
    for kind, noun in ((int, "an integer"), (float, "a number")):
        if kind.__name__ in kinds:
            try:
                return kind(text)
            except ValueError:
                if kind is int and "float" in kinds:
                    continue
                raise ValueError(f"method argument {key}={text!r} is not allowed; allowed: {noun}") from None
    return text


def canonical_args(args: Mapping[str, Any] | None) -> str:
    """Method settings as canonical JSON (sorted keys, no spaces): ``"{}"`` for none (the method's defaults)."""
    return json.dumps(dict(args or {}), sort_keys=True, separators=(",", ":"))


class Method:
    """Plain training with uniform weights ``1/b``; the base class of every method.

    Subclasses set ``name`` and override the hooks they need. ``uses_validation`` says whether the method looks
    at the clean validation set (L2RW does; plain training does not), which tables report. ``addresses``: the
    biases (``BIASES``) the method is designed against, ``()`` for controls such as plain training (shown by
    ``l2rw-viz list``). A method's settings are its constructor's keyword arguments: the command line sets them
    with ``--method-arg KEY=VALUE`` (:meth:`parse_args`), and settings that depend on the run (steps, batch size)
    come from :meth:`run_settings`.
    """

    name: str = "plain"
    uses_validation: bool = False
    addresses: tuple[str, ...] = ()

    @classmethod
    def run_settings(cls, plan: RunPlan) -> dict[str, Any]:
        """Constructor settings that depend on the run (``plan``: steps, batch size, lr, recipe), e.g. fine-tuning's
        switch step. The experiments call it for every run; settings given by the user win. Default: none."""
        return {}

    @classmethod
    def arg_names(cls) -> list[str]:
        """The settings ``--method-arg`` accepts: the constructor's keyword arguments."""
        params = inspect.signature(cls.__init__).parameters.values()
        return [p.name for p in params if p.name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]

    @classmethod
    def parse_args(cls, args: Mapping[str, Any]) -> dict[str, Any]:
        """``{key: value}`` settings (strings from the command line, or already typed) converted to the
        constructor's types; an unknown key or a value of the wrong kind raises a ``ValueError`` naming the key,
        the value and what is allowed. The constructor then checks the ranges."""
        params = inspect.signature(cls.__init__).parameters
        allowed = cls.arg_names()
        out: dict[str, Any] = {}
        for key, value in dict(args).items():
            if key not in allowed:
                raise ValueError(f"method argument {key}={value!r} is not allowed for method {cls.name!r}; allowed "
                                 f"keys: {', '.join(allowed) if allowed else 'none (it has no settings)'}")
            p = params[key]
            out[key] = _parse_value(key, value, p.annotation, p.default) if isinstance(value, str) else value
        return out

    run: MethodSetup | None = None   # what setup() was told about the current run

    def setup(self, run: MethodSetup) -> None:
        """Called once by the trainer before the other hooks, with everything about the run a method may need
        (data, network, batch size, steps, seed, the trainer's API). Default: keep it as ``self.run``; a method
        that keeps state per run resets it here."""
        self.run = run

    def _require_setup(self, hook: str) -> MethodSetup:
        if self.run is None:
            raise ValueError(f"{self.name}.{hook} was called before setup(); allowed: the trainer's order (setup, "
                             "prepare, wrap_model, make_sampler, step), e.g. l2rw_viz.train.setup_method first")
        return self.run

    def prepare(self, dataset: BiasedDataset, seed: int) -> BiasedDataset:
        """Change the training data before training (SMOTE, clean-only). Default: unchanged."""
        return dataset

    def wrap_model(self, model: nn.Module) -> nn.Module:
        """The module trained on the (noisy) labels; ``model`` itself is evaluated. Default: ``model``."""
        return model

    def make_sampler(self, dataset: BiasedDataset, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
        """Endless iterator of ``(batch_size,)`` index arrays. Default: shuffled epochs."""
        return epoch_sampler(dataset.n, batch_size, rng)

    def per_example_loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``(b, C), (b,) -> (b,)`` loss per example. Default: cross-entropy."""
        return F.cross_entropy(logits, y, reduction="none")

    def batch_weights(self, ctx: StepContext) -> torch.Tensor:
        """``(b,)`` non-negative weights for the batch, summing to 1 (or all zero). Default: uniform ``1/b``."""
        b = len(ctx.y)
        return torch.full((b,), 1.0 / b, device=ctx.x.device, dtype=ctx.x.dtype)

    def step(self, ctx: StepContext) -> StepOutput:
        """One step's loss: weights first (they may look ahead), then the weighted loss of a fresh forward."""
        weights = self.batch_weights(ctx).detach()
        losses = ctx.per_example_loss(ctx.model(ctx.x), ctx.y)
        return StepOutput(weighted_loss(losses, weights), weights, losses.detach())

    def end_of_training(self, model: nn.Module) -> bool:
        """Called once after the last step with the evaluated ``model``; return True if it changed the parameters
        (e.g. +ES restores the best ones), so the trainer evaluates them again. Default: nothing, False."""
        return False

    def inert_reason(self) -> str:
        """After a run: ``""``, or a sentence saying why the method provably did nothing beyond plain training on
        it (e.g. self-training that relabelled no example). Such a row measures nothing about the method: tables
        and figures mark it instead of ranking it (the row's ``inert`` column)."""
        return ""

    def describe(self) -> dict[str, Any]:
        """Settings for tables and History metadata (JSON-serialisable)."""
        return {"method": self.name}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.describe()})"


METHODS: dict[str, type[Method]] = {}


def register(cls: type[Method]) -> type[Method]:
    """Class decorator: make a method available by its ``name`` to ``get_method``, the trainer and the CLI."""
    METHODS[cls.name] = cls
    return cls


register(Method)


def get_method(method: str | Method, **kwargs: Any) -> Method:
    """A method instance from a registered name (``"plain"``, ``"l2rw"``, ...), optionally with ``+es`` / ``+ft``
    suffixes (``"plain+es"``, see :mod:`l2rw_viz.methods.modifiers`), or an instance (returned as is)."""
    if isinstance(method, Method):
        if kwargs:
            raise ValueError(f"method={method!r} is an instance; keyword settings {sorted(kwargs)} are only allowed "
                             "with a method name")
        return method
    from . import available_methods  # noqa: F401  (imports every method module so all are registered)

    if isinstance(method, str) and "+" in method:   # "+es" / "+ft" suffixes: a modified method
        from .modifiers import with_modifiers

        return with_modifiers(method, **kwargs)
    if method not in METHODS:
        raise ValueError(f"method={method!r} is not allowed; allowed: {', '.join(sorted(METHODS))}")
    return METHODS[method](**kwargs)
