"""What a training method is: one object that answers, each step, "what loss do I minimise on this batch?".

Weighting methods (L2RW, proportion, random, hard mining) only override :meth:`Method.batch_weights`;
data methods (resampling, SMOTE, clean-only) override :meth:`Method.prepare` or :meth:`Method.make_sampler`;
model methods (noise-adaptation layer) override :meth:`Method.wrap_model`; loss methods (bootstrapping) override
:meth:`Method.per_example_loss`. One trainer (``l2rw_viz.train.train``) runs them all.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data.dataset import BiasedDataset
from ..reweight import weighted_loss
from .setting import Setting, canonical_settings


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


@dataclass(frozen=True)
class FitRequest:
    """Everything one experiment run hands a method to train (or fit) with (:meth:`Method.fit`).

    Attributes:
        dataset: the biased data set (CPU). make_model: ``() -> nn.Module``, the experiment's network with the run's
            initial weights (called only by methods that train a network). steps, batch_size, lr, momentum: SGD.
        device: the training device. seed: the run's seed. eval_every: evaluation interval (steps).
        lr_schedule: ``step -> factor`` or ``None``. on_zero_weights: the trainer's all-zero-weights policy.
        progress: show a progress bar. train: the one trainer, ``l2rw_viz.train.train`` (passed in, so that this
        module does not import the trainer, which imports it).
    """

    dataset: BiasedDataset
    make_model: Callable[[], nn.Module]
    steps: int
    batch_size: int
    lr: float
    momentum: float
    device: torch.device
    seed: int
    eval_every: int
    lr_schedule: Callable[[int], float] | None = None
    on_zero_weights: str = "skip"
    progress: bool = False
    train: Callable[..., Any] | None = None


def canonical_args(args: Mapping[str, Any] | None) -> str:
    """Method settings as canonical JSON (sorted keys, no spaces); see :func:`.setting.canonical_settings`."""
    return canonical_settings(args)


class Method:
    """Plain training with uniform weights ``1/b``; the base class of every method.

    Subclasses set ``name`` and override the hooks they need. The class says, as data:

    - ``settings``: its settings, a tuple of :class:`~l2rw_viz.methods.setting.Setting` (name, type or choices,
      range, default, one line of help) — the constructor's keyword arguments, declared once. The command line
      (``--method-arg KEY=VALUE``, :meth:`parse_args`), ``describe()``, ``l2rw-viz list``, the explorer's controls
      and the run's identity all read it; ``register`` checks it against the constructor.
    - ``revision``: the revision of the method's numerics; bump it when a change alters what a run computes (rows of
      another revision are stale and a sweep runs them again).
    - ``uses_validation``: whether the method looks at the clean validation set (L2RW does; plain training does
      not), which tables report. ``addresses``: the biases (``BIASES``) it is designed against, ``()`` for controls.
    - ``uses_trainer``: whether ``+es`` / ``+ft`` apply (they need the trainer's steps; AdaBoost has none).

    Settings that depend on the run (steps, batch size) come from :meth:`run_settings`.
    """

    name: str = "plain"
    settings: tuple[Setting, ...] = ()
    revision: int = 0
    uses_validation: bool = False
    addresses: tuple[str, ...] = ()
    uses_trainer: bool = True

    @classmethod
    def run_settings(cls, plan: RunPlan) -> dict[str, Any]:
        """Constructor settings that depend on the run (``plan``: steps, batch size, lr, recipe), e.g. fine-tuning's
        switch step. The experiments call it for every run; settings given by the user win. Default: none."""
        return {}

    @classmethod
    def setting_specs(cls) -> dict[str, Setting]:
        """The declared settings by name."""
        return {s.name: s for s in cls.settings}

    @classmethod
    def arg_names(cls) -> list[str]:
        """The settings ``--method-arg`` accepts (the declared ones the command line may set)."""
        return [s.name for s in cls.settings if s.cli]

    @classmethod
    def default_settings(cls) -> dict[str, Any]:
        """``{name: default}`` of every declared setting."""
        return {s.name: s.default for s in cls.settings}

    @classmethod
    def parse_args(cls, args: Mapping[str, Any]) -> dict[str, Any]:
        """``{key: value}`` settings (strings from the command line, or already typed) converted and checked by the
        declaration; an unknown key or a value that is not allowed raises a ``ValueError`` naming the key, the value
        and what is allowed. A setting only Python code can give (``cli=False``) is passed as it is."""
        specs = cls.setting_specs()
        allowed = cls.arg_names()
        out: dict[str, Any] = {}
        for key, value in dict(args).items():
            spec = specs.get(key)
            if spec is None or (not spec.cli and isinstance(value, str)):
                raise ValueError(f"method argument {key}={value!r} is not allowed for method {cls.name!r}; allowed "
                                 f"keys: {', '.join(allowed) if allowed else 'none (it has no settings)'}")
            out[key] = spec.parse(value, cls.name) if spec.cli else value
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

    def fit(self, request: FitRequest):
        """Train (or fit) for one experiment run and return its record. Default: the one trainer
        (:func:`l2rw_viz.train.train`) on a fresh network, returning its :class:`~l2rw_viz.history.History`. A method
        that is not trained by SGD (AdaBoost on pixels) overrides it; its record offers the same ``row_fields()``,
        ``meta`` and ``save(path)``."""
        if request.train is None:
            raise ValueError(f"{self.name}.fit: request.train is None; allowed: the trainer, l2rw_viz.train.train")
        return request.train(request.make_model(), request.dataset, self, steps=request.steps,
                     batch_size=request.batch_size, lr=request.lr, momentum=request.momentum, device=request.device,
                     seed=request.seed, eval_every=request.eval_every, lr_schedule=request.lr_schedule,
                     on_zero_weights=request.on_zero_weights, progress=request.progress)

    def describe(self) -> dict[str, Any]:
        """Settings for tables and History metadata (JSON-serialisable): the name and every declared setting's
        current value. Methods that learn something worth recording add it (``{**super().describe(), ...}``)."""
        return {"method": self.name, **{s.name: getattr(self, s.name) for s in self.settings if s.cli}}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.describe()})"


METHODS: dict[str, type[Method]] = {}


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def check_declaration(cls: type[Method]) -> None:
    """The declared ``settings`` of ``cls`` are its constructor's keyword arguments, with the same defaults (a
    constructor default ``None`` may stand for a declared one, e.g. a variant's ``default_beta``), and each default
    is allowed by its own declaration; a ``ValueError`` naming the method and what disagrees otherwise."""
    params = inspect.signature(cls.__init__).parameters.values()
    keywords = {p.name: p.default for p in params
                if p.name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    declared = cls.setting_specs()
    if len(declared) != len(cls.settings):
        raise ValueError(f"method {cls.name!r} ({_qualname(cls)}) declares a setting twice; allowed: each once")
    undeclared, unknown = sorted(set(keywords) - set(declared)), sorted(set(declared) - set(keywords))
    if undeclared or unknown:
        raise ValueError(f"method {cls.name!r} ({_qualname(cls)}): constructor keywords {undeclared} are not declared "
                         f"in its settings, declared settings {unknown} are not constructor keywords; allowed: "
                         "settings = (Setting(...), ...) with one Setting per constructor keyword")
    for name, spec in declared.items():
        given = keywords[name]
        if given is inspect.Parameter.empty:
            raise ValueError(f"method {cls.name!r}: constructor keyword {name} has no default; allowed: a default, "
                             "declared in its Setting")
        if given is not None and given != spec.default:
            raise ValueError(f"method {cls.name!r}: setting {name} declares default {spec.default!r} but the "
                             f"constructor's is {given!r}; allowed: the same default in both")
        if spec.cli:
            spec.parse(spec.default, cls.name)


def register(cls: type[Method]) -> type[Method]:
    """Class decorator: make a method available by its ``name`` to ``get_method``, the trainer and the CLI.

    Its declared settings are checked against its constructor (:func:`check_declaration`). A name that another
    class already holds is refused (a ``ValueError`` naming the name and both classes): a dropped-in file must not
    silently replace a method. The same class registered again (a module reloaded) replaces itself."""
    have = METHODS.get(cls.name)
    if have is not None and have is not cls and _qualname(have) != _qualname(cls):
        raise ValueError(f"method name {cls.name!r} is already registered by {_qualname(have)}; {_qualname(cls)} "
                         "cannot take it; allowed: another name")
    check_declaration(cls)
    METHODS[cls.name] = cls
    return cls


register(Method)
