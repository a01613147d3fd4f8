"""MentorNet (Jiang et al., 2018, "MentorNet: Learning Data-Driven Curriculum for Very Deep Neural Networks on
Corrupted Labels"): a curriculum decides each example's weight from its loss; the paper's Table 2 row
"MentorNet" (76.6 / 56.9 on CIFAR-10 / 100 with 40% uniform flips).

Both variants track ``lambda_t``, an exponential moving average (``decay``, the paper's 0.9) of the ``p``-th
percentile of the batch's losses, so "high loss" is measured against what is typical *now*.

- ``mentornet_pd``, the predefined curriculum (self-paced learning, Kumar et al. 2010; MentorNet-PD):
  ``v_i = 1`` if ``loss_i <= lambda_t`` else 0, with the percentile ``p`` rising linearly from ``percentile_start``
  to ``percentile_end`` over the run (easy examples first, more of the harder ones later), after a burn-in
  (``burn_in``, a fraction of the run) in which every example counts. Optionally (``linear_after``) a last phase
  of linear weights ``v_i = clip(1 - (loss_i - lambda_t) / linear_gamma, 0, 1)`` (self-paced curriculum learning,
  linear). The official schedule of google/mentornet is :data:`OFFICIAL_PD_ARGS`; the defaults here are our own
  (``docs/departures.md``, second table).
- ``mentornet_dd``, the data-driven MentorNet (MentorNet-DD): a small network ``v = g(loss, loss - lambda_t, label,
  progress)`` (label embedding of 2 numbers, 20 tanh hidden units, sigmoid output; the paper's LSTM over the loss
  history is left out: one step of history is the loss difference) is *learned* where the truth is known, then
  weights the student's batches. As in the paper, the truth comes from synthetic corruption: the clean validation
  set's labels are flipped (``synthetic_rate`` of each class, uniformly to another class), a copy of the student is
  trained plain on the training set plus these corrupted validation examples (``pretrain_steps``, *extra* budget on
  top of the run's ``steps``), and every ``snapshot_every`` steps the features of the validation examples are
  recorded with target 1 (label kept) or 0 (label flipped). The mentor is fitted to these by binary
  cross-entropy (Adam), then frozen; the run starts the student again from its initial weights, with uniform
  weights for a burn-in (``burn_in``, 20% of the run) before the mentor takes over. The label is one of the
  mentor's features here; the official code feeds 0 for every label (``label_feature=False``, and
  :data:`OFFICIAL_DD_ARGS` for its other settings).

The weights ``v`` of a batch are normalised to sum 1 (the project's convention, also L2RW's); the paper divides by
the batch size, which only rescales the step.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..checks import check_choice, check_in_range, check_int
from ..data.dataset import BiasedDataset
from ..reweight import normalize_weights, weighted_loss
from .base import Method, RunPlan, StepContext, StepOutput, register
from .setting import Setting

#: ``--method-arg`` settings of ``mentornet_pd`` that follow the official schedule (google/mentornet; file and line
#: in docs/departures.md): every example counts while ``floor(100 * progress) <= 18`` (``models.py``
#: ``vstar_mentornet_pd``), so ``burn_in=0.19``; then the self-paced rule with a fixed percentile, 0.75 at 20% and
#: 40% noise (``commands/train_studentnet_inception.sh``); the linear rule (gamma 1) from 90% of the run on; and a
#: moving-average decay of 0.5 (the training script's flag default, which the commands do not change).
OFFICIAL_PD_ARGS: dict[str, float] = {"percentile_start": 0.75, "percentile_end": 0.75, "burn_in": 0.19,
                                      "linear_after": 0.9, "linear_gamma": 1.0, "decay": 0.5}

#: ``--method-arg`` settings of ``mentornet_dd`` that follow the official student runs at 40% noise where this
#: implementation has the setting: every label fed as 0, percentile 0.6, the first 17% of the run with every
#: example weight 1, decay 0.5. The official mentor itself (a bidirectional LSTM trained on a CIFAR-10 dump) is not
#: reproduced (docs/departures.md, second table).
OFFICIAL_DD_ARGS: dict[str, float | bool] = {"label_feature": False, "percentile": 0.6, "burn_in": 0.17,
                                             "decay": 0.5}


class LossPercentileAverage:
    """``lambda_t``: exponential moving average of the ``p``-th percentile of batch losses (the first update sets it).

    Args:
        decay: weight of the old value (MentorNet: 0.9).
    """

    def __init__(self, decay: float = 0.9):
        self.decay = check_in_range("decay", decay, 0.0, 1.0, high_open=True)
        self.value: float | None = None

    def update(self, losses: torch.Tensor, p: float) -> float:
        """Fold in the ``p`` quantile (in [0, 1], interpolated) of ``(b,)`` ``losses``; returns the new value."""
        q = float(torch.quantile(losses.detach().double(), check_in_range("p", p, 0.0, 1.0)))
        self.value = q if self.value is None else self.decay * self.value + (1.0 - self.decay) * q
        return self.value


def self_paced_weights(losses: torch.Tensor, threshold: float) -> torch.Tensor:
    """The self-paced rule: ``(b,)`` losses -> ``(b,)`` ``1`` where ``loss <= threshold`` else ``0``, normalised
    to sum 1 (all zero when no example is below the threshold)."""
    return normalize_weights((losses.detach() <= threshold).to(losses.dtype))


def linear_weights(losses: torch.Tensor, threshold: float, gamma: float = 1.0) -> torch.Tensor:
    """The linear rule of self-paced curriculum learning (MentorNet's ``vstar_spcl_linear``): ``(b,)`` losses ->
    ``(b,)`` ``clip(1 - (loss - threshold) / gamma, 0, 1)``, normalised to sum 1 (all zero when every loss is at
    least ``threshold + gamma``)."""
    return normalize_weights((1.0 - (losses.detach() - threshold) / gamma).clamp(0.0, 1.0))


def corrupt_labels(y: torch.Tensor, num_classes: int, rate: float, generator: torch.Generator
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Flip ``round(rate * m_c)`` of the ``m_c`` labels of each class ``c`` in ``(m,)`` ``y``, each to a different
    class drawn uniformly; returns ``(labels, flipped (m,) bool)``.

    Per class, not over the whole set: on a clean set of a few examples per class, an unstratified draw can flip
    mostly one class, and the mentor then learns "this *label* is flipped" instead of "this *loss* looks flipped"
    (measured on toy moons, 20 clean examples: the mentor weighted one label down and the student predicted the
    other class everywhere, 50% error)."""
    rate = check_in_range("rate", rate, 0.0, 1.0)
    flipped = torch.zeros(len(y), dtype=torch.bool)
    for c in torch.unique(y).tolist():
        members = torch.nonzero(y == c).flatten()
        k = round(rate * len(members))
        flipped[members[torch.randperm(len(members), generator=generator)[:k]]] = True
    shift = torch.randint(1, max(num_classes, 2), (len(y),), generator=generator)   # never 0: the class changes
    labels = torch.where(flipped, (y + shift) % num_classes, y)
    return labels, flipped


class MentorNetwork(nn.Module):
    """``g(loss, loss - lambda, label, progress) -> v in (0, 1)``, all inputs ``(b,)`` (label int64, progress in
    [0, 1]); a label embedding of ``label_dim`` numbers, one ``hidden``-unit tanh layer, a sigmoid output."""

    def __init__(self, num_classes: int, label_dim: int = 2, hidden: int = 20):
        super().__init__()
        self.label_embedding = nn.Embedding(num_classes, label_dim)
        self.net = nn.Sequential(nn.Linear(3 + label_dim, hidden), nn.Tanh(), nn.Linear(hidden, 1))

    def forward(self, loss: torch.Tensor, loss_diff: torch.Tensor, label: torch.Tensor,
                progress: torch.Tensor) -> torch.Tensor:
        dtype = self.net[0].weight.dtype
        z = torch.cat([loss[:, None].to(dtype), loss_diff[:, None].to(dtype), progress[:, None].to(dtype),
                       self.label_embedding(label)], dim=1)
        return torch.sigmoid(self.net(z)).squeeze(1)


def fit_mentor(mentor: MentorNetwork, features: dict[str, torch.Tensor], target: torch.Tensor, *, iters: int = 500,
               lr: float = 1e-2) -> list[float]:
    """Fit ``mentor`` by full-batch Adam on binary cross-entropy to ``target`` (1 keep, 0 drop); ``features`` holds
    ``loss``, ``loss_diff``, ``label``, ``progress`` (each ``(N,)``). Returns the loss per iteration."""
    opt = torch.optim.Adam(mentor.parameters(), lr=lr)
    target = target.to(mentor.net[0].weight.dtype)
    # the data are imbalanced when synthetic_rate != 0.5: weigh the classes equally
    pos = target.mean().clamp(1e-3, 1 - 1e-3)
    sample_w = torch.where(target > 0.5, 0.5 / pos, 0.5 / (1 - pos))
    curve = []
    for _ in range(iters):
        opt.zero_grad()
        v = mentor(features["loss"], features["loss_diff"], features["label"], features["progress"])
        loss = (sample_w * F.binary_cross_entropy(v.clamp(1e-6, 1 - 1e-6), target, reduction="none")).mean()
        loss.backward()
        opt.step()
        curve.append(float(loss.detach()))
    return curve


class _Curriculum(Method):
    def __init__(self, total_steps: int | None, percentile: float, decay: float):
        self.total_steps = None if total_steps is None else check_int("total_steps", total_steps, 1)
        self.percentile = check_in_range("percentile", percentile, 0.0, 1.0)
        self.decay = check_in_range("decay", decay, 0.0, 1.0, high_open=True)
        self.tracker = LossPercentileAverage(decay)

    def prepare(self, dataset: BiasedDataset, seed: int) -> BiasedDataset:
        if self.total_steps is None:
            raise ValueError(f"total_steps=None is not allowed for method {self.name!r}; allowed: an integer >= 1, "
                             "the run's steps (the curriculum follows the training progress)")
        self.tracker = LossPercentileAverage(self.decay)
        return dataset

    def progress(self, step: int) -> float:
        return min(1.0, step / self.total_steps)

    def step(self, ctx: StepContext) -> StepOutput:
        if self.total_steps is None:
            self.prepare(ctx.dataset, 0)
        losses = ctx.per_example_loss(ctx.model(ctx.x), ctx.y)
        weights = self.curriculum_weights(losses.detach(), ctx)
        return StepOutput(weighted_loss(losses, weights), weights, losses.detach())

    def curriculum_weights(self, losses: torch.Tensor, ctx: StepContext) -> torch.Tensor:
        raise NotImplementedError


@register
class MentorNetPD(_Curriculum):
    """MentorNet-PD: the predefined self-paced curriculum (see the module docstring).

    Args:
        total_steps: the run's steps (required before training; the experiments fill it in).
        percentile_start, percentile_end: the loss percentile below which examples count, at the end of the
            burn-in and at the end of the run (linear in between); defaults 0.5 -> 0.8.
        burn_in: fraction of the run during which every example counts (default 0.1).
        decay: of the moving average ``lambda_t`` (0.9).
        linear_after: ``None`` (default): the self-paced rule to the end. A fraction of the run: from there on
            the linear rule ``v = clip(1 - (loss - lambda_t) / linear_gamma, 0, 1)`` (the official schedule: 0.9).
        linear_gamma: the linear rule's width in nats (> 0; the official 1).
    """

    name = "mentornet_pd"
    addresses = ("noise",)
    settings = (
        Setting("total_steps", int, None, "the run's steps (required; the experiments fill it in)", low=1,
                optional=True),
        Setting("percentile_start", float, 0.5, "loss percentile below which examples count, after the burn-in",
                low=0.0, high=1.0),
        Setting("percentile_end", float, 0.8, "the same at the end of the run (linear in between)", low=0.0, high=1.0),
        Setting("burn_in", float, 0.1, "fraction of the run during which every example counts", low=0.0, high=1.0,
                high_open=True),
        Setting("decay", float, 0.9, "of the moving average lambda_t", low=0.0, high=1.0, high_open=True),
        Setting("linear_after", float, None, "fraction of the run after which weights follow the linear rule (the "
                "official schedule: 0.9); unset: the self-paced rule to the end", low=0.0, high=1.0, optional=True),
        Setting("linear_gamma", float, 1.0, "the linear rule's width in nats (the official: 1)", low=0.0,
                low_open=True),
    )

    @classmethod
    def run_settings(cls, plan: RunPlan) -> dict:
        return {"total_steps": plan.steps}

    def __init__(self, total_steps: int | None = None, percentile_start: float = 0.5, percentile_end: float = 0.8,
                 burn_in: float = 0.1, decay: float = 0.9, linear_after: float | None = None,
                 linear_gamma: float = 1.0):
        super().__init__(total_steps, percentile_start, decay)
        self.percentile_start = self.percentile
        self.percentile_end = check_in_range("percentile_end", percentile_end, 0.0, 1.0)
        self.burn_in = check_in_range("burn_in", burn_in, 0.0, 1.0, high_open=True)
        self.linear_after = None if linear_after is None else check_in_range("linear_after", linear_after, 0.0, 1.0)
        self.linear_gamma = check_in_range("linear_gamma", linear_gamma, 0.0, float("inf"), low_open=True,
                                           high_open=True)

    def percentile_at(self, step: int) -> float:
        """The loss percentile used at ``step``: start value after the burn-in, rising linearly to the end value."""
        t = self.progress(step)
        if t <= self.burn_in:
            return self.percentile_start
        return self.percentile_start + (self.percentile_end - self.percentile_start) * (t - self.burn_in) / (
            1.0 - self.burn_in)

    def curriculum_weights(self, losses: torch.Tensor, ctx: StepContext) -> torch.Tensor:
        lam = self.tracker.update(losses, self.percentile_at(ctx.step))
        t = self.progress(ctx.step)
        if t < self.burn_in:
            return torch.full_like(losses, 1.0 / len(losses))
        if self.linear_after is not None and t >= self.linear_after:
            return linear_weights(losses, lam, self.linear_gamma)
        return self_paced_weights(losses, lam)

    def describe(self) -> dict[str, Any]:
        return {"method": self.name, "total_steps": self.total_steps, "percentile_start": self.percentile_start,
                "percentile_end": self.percentile_end, "burn_in": self.burn_in, "decay": self.decay,
                "linear_after": self.linear_after, "linear_gamma": self.linear_gamma}


@register
class MentorNetDD(_Curriculum):
    """MentorNet-DD: a mentor network learned on the clean validation set with synthetic corruption.

    Args:
        total_steps: the run's steps (required before training; the experiments fill it in).
        percentile: of the batch losses tracked by ``lambda_t`` (default 0.7, as MentorNet's CIFAR set-ups).
        decay: of ``lambda_t`` (0.9).
        burn_in: fraction of the run during which every example counts before the mentor takes over (default
            0.2). Without it a loss-driven mentor can lock in the untrained student's first bias: on two toy
            classes, the examples of the label the student happened to disfavour got high losses, weight ~0, and
            the student ended up predicting the other class everywhere (50% error).
        synthetic_rate: fraction of the validation labels flipped to teach the mentor (default 0.4).
        pretrain_steps, pretrain_lr, pretrain_batch_size: the plain run of a student copy whose losses on the
            corrupted validation examples teach the mentor (extra budget; the experiments use half the run).
        snapshot_every: record the validation examples' features every this many pre-training steps.
        mentor_iters, mentor_lr: the Adam fit of the mentor.
        label_feature: ``True`` (default): the example's (observed) label is one of the mentor's features.
            ``False``: every label is fed as 0, for the mentor's training data and for the student's batches, as
            the official code does (it zeroes the label feature).
    """

    name = "mentornet_dd"
    uses_validation = True
    addresses = ("noise",)
    settings = (
        Setting("total_steps", int, None, "the run's steps (required; the experiments fill it in)", low=1,
                optional=True),
        Setting("percentile", float, 0.7, "of the batch losses tracked by lambda_t", low=0.0, high=1.0),
        Setting("decay", float, 0.9, "of lambda_t", low=0.0, high=1.0, high_open=True),
        Setting("burn_in", float, 0.2, "fraction of the run during which every example counts", low=0.0, high=1.0,
                high_open=True),
        Setting("synthetic_rate", float, 0.4, "fraction of the validation labels flipped to teach the mentor",
                low=0.0, high=1.0, low_open=True, high_open=True),
        Setting("pretrain_steps", int, 1000, "steps of the plain pre-training (the experiments: half the run)", low=1),
        Setting("pretrain_lr", float, 1e-3, "its learning rate (the experiments: the run's)", low=0.0, low_open=True),
        Setting("pretrain_batch_size", int, 100, "its batch size (the experiments: the run's)", low=1),
        Setting("snapshot_every", int, 25, "record the validation features every this many pre-training steps",
                low=1),
        Setting("mentor_iters", int, 500, "Adam iterations of the mentor's fit", low=1),
        Setting("mentor_lr", float, 1e-2, "Adam learning rate of the mentor", low=0.0, low_open=True),
        Setting("label_feature", bool, True, "feed the observed label to the mentor (the official code feeds 0: "
                "false)"),
    )

    @classmethod
    def run_settings(cls, plan: RunPlan) -> dict:
        # the mentor's student copy trains for half the run; about 40 snapshots of the validation set teach it
        return {"total_steps": plan.steps, "pretrain_steps": max(1, plan.steps // 2), "pretrain_lr": plan.lr,
                "pretrain_batch_size": plan.batch_size, "snapshot_every": max(1, plan.steps // 80)}

    def __init__(self, total_steps: int | None = None, percentile: float = 0.7, decay: float = 0.9,
                 burn_in: float = 0.2, synthetic_rate: float = 0.4, pretrain_steps: int = 1000,
                 pretrain_lr: float = 1e-3,
                 pretrain_batch_size: int = 100, snapshot_every: int = 25, mentor_iters: int = 500,
                 mentor_lr: float = 1e-2, label_feature: bool = True):
        super().__init__(total_steps, percentile, decay)
        self.label_feature = bool(check_choice("label_feature", label_feature, [True, False]))
        self.burn_in = check_in_range("burn_in", burn_in, 0.0, 1.0, high_open=True)
        self.synthetic_rate = check_in_range("synthetic_rate", synthetic_rate, 0.0, 1.0, low_open=True,
                                             high_open=True)
        self.pretrain_steps = check_int("pretrain_steps", pretrain_steps, 1)
        self.pretrain_lr = check_in_range("pretrain_lr", pretrain_lr, 0.0, float("inf"), low_open=True)
        self.pretrain_batch_size = check_int("pretrain_batch_size", pretrain_batch_size, 1)
        self.snapshot_every = check_int("snapshot_every", snapshot_every, 1)
        self.mentor_iters = check_int("mentor_iters", mentor_iters, 1)
        self.mentor_lr = check_in_range("mentor_lr", mentor_lr, 0.0, float("inf"), low_open=True)
        self.mentor: MentorNetwork | None = None
        self.mentor_data: dict[str, torch.Tensor] = {}
        self.mentor_fit: list[float] = []

    def wrap_model(self, model: nn.Module) -> nn.Module:
        run = self._require_setup("wrap_model")
        self.train_mentor(model, run.dataset, run.seed)
        return model

    def collect_mentor_data(self, model: nn.Module, data: BiasedDataset, seed: int) -> dict[str, torch.Tensor]:
        """Train a plain copy of ``model`` on the training set plus the synthetically corrupted validation set and
        record the validation examples' features and targets every ``snapshot_every`` steps (``model`` itself is
        not changed; the trainer's ``train`` from :meth:`setup`). Returns ``loss, loss_diff, label, progress, target``
        (each ``(N,)``, CPU)."""
        train = self._require_setup("collect_mentor_data").train
        gen = torch.Generator().manual_seed(seed)
        m = len(data.y_val)
        labels, flipped = corrupt_labels(data.y_val, data.num_classes, self.synthetic_rate, gen)
        n = data.n
        mixed = data.with_training_set(torch.cat([data.x, data.x_val]), torch.cat([data.y, labels]),
                                       torch.cat([data.y_clean, data.y_val]), torch.cat([data.is_noisy, flipped]),
                                       torch.cat([data.is_minority, torch.zeros(m, dtype=torch.bool)]))
        sample = torch.randperm(n, generator=gen)[:500]          # the training losses that set lambda
        pre = copy.deepcopy(model)
        device = next(model.parameters()).device
        x_val, lab = data.x_val.to(device), labels.to(device)
        x_sample, y_sample = data.x[sample].to(device), data.y[sample].to(device)
        rows: list[dict[str, torch.Tensor]] = []

        def snapshot(_recorder, step: int) -> None:
            was = pre.training
            pre.eval()
            with torch.no_grad():
                lam = float(torch.quantile(F.cross_entropy(pre(x_sample), y_sample, reduction="none").double(),
                                           self.percentile))
                loss = F.cross_entropy(pre(x_val), lab, reduction="none").double().cpu()
            pre.train(was)
            rows.append({"loss": loss, "loss_diff": loss - lam, "label": self.label_input(labels),
                         "progress": torch.full((m,), min(1.0, (step + 1) / self.pretrain_steps),
                                                dtype=torch.float64),
                         "target": (~flipped).double()})

        train(pre, mixed, "plain", steps=self.pretrain_steps, batch_size=self.pretrain_batch_size,
              lr=self.pretrain_lr, device=device, seed=seed, eval_every=self.pretrain_steps,
              record_every=self.snapshot_every, progress=False, callback=snapshot)
        return {k: torch.cat([r[k] for r in rows]) for k in rows[0]}

    def train_mentor(self, model: nn.Module, data: BiasedDataset, seed: int) -> None:
        """Collect the mentor's training data (see :meth:`collect_mentor_data`) and fit the mentor to it."""
        self.mentor_data = self.collect_mentor_data(model, data, seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.mentor = MentorNetwork(data.num_classes).double()
        features = {k: v for k, v in self.mentor_data.items() if k != "target"}
        self.mentor_fit = fit_mentor(self.mentor, features, self.mentor_data["target"], iters=self.mentor_iters,
                                     lr=self.mentor_lr)
        self.mentor.requires_grad_(False)

    def label_input(self, labels: torch.Tensor) -> torch.Tensor:
        """The mentor's label feature for ``(b,)`` int64 ``labels``: themselves, or zeros (``label_feature=False``)."""
        return labels.clone() if self.label_feature else torch.zeros_like(labels)

    def mentor_weights(self, losses: torch.Tensor, loss_diff: torch.Tensor, labels: torch.Tensor,
                       progress: float) -> torch.Tensor:
        """``(b,)`` the frozen mentor's ``v`` in (0, 1) (unnormalised) for a batch."""
        if self.mentor is None:
            raise ValueError("mentornet_dd has no mentor yet; allowed: train(..., method=this) trains it first")
        dev = next(self.mentor.parameters()).device
        with torch.no_grad():
            return self.mentor(losses.to(dev), loss_diff.to(dev), labels.to(dev),
                               torch.full((len(losses),), progress, dtype=torch.float64, device=dev))

    def curriculum_weights(self, losses: torch.Tensor, ctx: StepContext) -> torch.Tensor:
        lam = self.tracker.update(losses, self.percentile)
        if self.progress(ctx.step) < self.burn_in:
            return torch.full_like(losses, 1.0 / len(losses))
        self.mentor.to(losses.device)
        v = self.mentor_weights(losses, losses - lam, self.label_input(ctx.y), self.progress(ctx.step))
        return normalize_weights(v.to(losses.dtype))

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {"method": self.name, "total_steps": self.total_steps, "percentile": self.percentile,
                             "decay": self.decay, "burn_in": self.burn_in, "synthetic_rate": self.synthetic_rate,
                             "pretrain_steps": self.pretrain_steps, "pretrain_lr": self.pretrain_lr,
                             "snapshot_every": self.snapshot_every, "mentor_iters": self.mentor_iters,
                             "label_feature": self.label_feature}
        if self.mentor_fit:
            d["mentor_final_bce"] = self.mentor_fit[-1]
            d["mentor_examples"] = len(self.mentor_data["target"])
        return d


__all__ = ["OFFICIAL_DD_ARGS", "OFFICIAL_PD_ARGS", "LossPercentileAverage", "MentorNetDD", "MentorNetPD",
           "MentorNetwork", "corrupt_labels", "fit_mentor", "linear_weights", "self_paced_weights"]
