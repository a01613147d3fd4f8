"""Self-training, Yarowsky's bootstrapping (Yarowsky, 1995; the seminar report's Section 2.2.1): train, relabel what
the model is confident about, retrain on the new labels, repeat.

The run is cut into ``rounds`` rounds of ``round_steps`` steps. Round 0 trains on the observed (noisy) labels. At the
start of each later round the current network labels every training example; where its softmax confidence is at
least ``threshold`` (default 0.9) the example takes the predicted class as its training label, elsewhere it keeps
its *observed* label (each round relabels from the observed labels, so an example the model stops being sure about
falls back to what was observed, not to an older guess). The next round trains on these labels.

"Retrain" continues from the current network (warm start) instead of a fresh initialisation: the trainer owns the
optimiser, and a fresh network under the old momentum would not be a clean restart either. The rounds' relabelled
sets are compared with the truth masks *after* the decision, for the record only (``rounds_log``,
``relabelled_masks``): the method never uses them to decide.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..checks import check_in_range, check_int
from ..data.dataset import BiasedDataset
from ..reweight import weighted_loss
from .base import Method, RunPlan, StepContext, StepOutput, register
from .loss_correction import softmax_of
from .setting import Setting


def relabel(probs: torch.Tensor, observed: torch.Tensor, threshold: float) -> tuple[torch.Tensor, torch.Tensor]:
    """One bootstrapping round's labels: ``(n, C)`` class probabilities and ``(n,)`` observed labels ->
    ``(labels (n,) int64, confident (n,) bool)``, the arg max where ``max prob >= threshold``, else the observed
    label."""
    threshold = check_in_range("threshold", threshold, 0.0, 1.0)
    if probs.ndim != 2 or len(probs) != len(observed):
        raise ValueError(f"probs has shape {tuple(probs.shape)}; allowed: (len(observed)={len(observed)}, C)")
    conf, pred = probs.max(1)
    confident = conf >= threshold
    return torch.where(confident, pred, observed.to(pred.dtype)), confident


def round_record(labels: torch.Tensor, confident: torch.Tensor, observed: torch.Tensor,
                 y_clean: torch.Tensor) -> dict[str, int]:
    """How one round's labels compare with the truth (all counts of training examples):

    ``confident`` relabelled by the model; ``changed`` whose label now differs from the observed one;
    ``corrected`` changed from a wrong observed label to the true one; ``corrupted`` changed from a correct observed
    label to a wrong one; ``confident_correct`` confident examples whose new label is the true one;
    ``wrong_observed`` / ``wrong_now`` labels that differ from the truth before / after the round."""
    changed = labels != observed
    return {"confident": int(confident.sum()), "changed": int(changed.sum()),
            "corrected": int((changed & (labels == y_clean)).sum()),
            "corrupted": int((changed & (observed == y_clean)).sum()),
            "confident_correct": int((confident & (labels == y_clean)).sum()),
            "wrong_observed": int((observed != y_clean).sum()), "wrong_now": int((labels != y_clean).sum())}


@register
class SelfTraining(Method):
    """Yarowsky-style self-training on the noisy labels (see the module docstring).

    Args:
        round_steps: steps per round (required before training; the experiments use ``steps // rounds``).
        rounds: number of rounds (>= 1; 1 is plain training); relabelling happens at steps ``r * round_steps``
            for ``r = 1 .. rounds - 1``.
        threshold: softmax confidence at or above which the model's prediction replaces the label (default 0.9).
    """

    name = "self_training"
    addresses = ("noise",)
    settings = (
        Setting("round_steps", int, None, "steps per round (required; the experiments: a third of the run)", low=1,
                optional=True),
        Setting("rounds", int, 3, "rounds (1: plain training); relabelling after each but the last", low=1),
        Setting("threshold", float, 0.9, "softmax confidence at or above which the prediction replaces the label",
                low=0.0, high=1.0),
    )

    @classmethod
    def run_settings(cls, plan: RunPlan) -> dict:
        return {"round_steps": max(1, plan.steps // 3)}  # 3 rounds: relabel after the first and the second third

    def __init__(self, round_steps: int | None = None, rounds: int = 3, threshold: float = 0.9):
        self.round_steps = None if round_steps is None else check_int("round_steps", round_steps, 1)
        self.rounds = check_int("rounds", rounds, 1)
        self.threshold = check_in_range("threshold", threshold, 0.0, 1.0)
        self.labels: torch.Tensor | None = None
        self.rounds_log: list[dict[str, int]] = []
        self.relabelled_masks: list[np.ndarray] = []

    def prepare(self, dataset: BiasedDataset, seed: int) -> BiasedDataset:
        if self.round_steps is None:
            raise ValueError("round_steps=None is not allowed for method 'self_training'; allowed: an integer >= 1, "
                             "the steps of one round (e.g. steps // rounds)")
        self.labels = dataset.y.clone()
        self.rounds_log, self.relabelled_masks = [], []
        return dataset

    def _maybe_relabel(self, ctx: StepContext) -> None:
        r = ctx.step // self.round_steps
        if ctx.step == 0 or ctx.step % self.round_steps or r >= self.rounds:
            return
        data = ctx.dataset
        labels, confident = relabel(softmax_of(ctx.model, data.x), data.y, self.threshold)
        self.labels = labels
        self.relabelled_masks.append(confident.numpy().copy())
        # the truth is looked at only here, after the decision, to record what the round did
        self.rounds_log.append({"round": r, "step": int(ctx.step),
                                **round_record(labels, confident, data.y, data.y_clean)})

    def step(self, ctx: StepContext) -> StepOutput:
        if self.labels is None:
            self.prepare(ctx.dataset, 0)
        self._maybe_relabel(ctx)
        targets = self.labels[torch.from_numpy(ctx.idx)].to(ctx.y.device)
        losses = ctx.per_example_loss(ctx.model(ctx.x), targets)
        b = len(targets)
        weights = torch.full((b,), 1.0 / b, device=losses.device, dtype=losses.dtype)
        return StepOutput(weighted_loss(losses, weights), weights, losses.detach())

    def inert_reason(self) -> str:
        if self.rounds_log and not any(r["changed"] for r in self.rounds_log):
            return (f"no example reached the confidence threshold {self.threshold:g} in {len(self.rounds_log)} "
                    "relabelling round(s): nothing was relabelled, so the run was plain training")
        return ""

    def describe(self) -> dict[str, Any]:
        return {"method": self.name, "round_steps": self.round_steps, "rounds": self.rounds,
                "threshold": self.threshold, "rounds_log": [dict(r) for r in self.rounds_log]}
