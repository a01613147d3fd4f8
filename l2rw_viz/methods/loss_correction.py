"""The top-down noise model: correct the *loss* for a known label-flip matrix, leave the network alone
(Patrini et al., 2017, "Making deep neural networks robust to label noise: a loss correction approach").

With ``T[i, j] = p(observed label j | true class i)`` (rows sum to 1) and ``p = softmax(f(x))`` the network's
estimate of ``p(true class | x)``:

- forward correction: ``loss_i = -log (p_i^T T)[y_i]``, the cross-entropy of the *observed* label under the noise
  model (Patrini et al., Theorem 2); the network inside still predicts the clean class and is evaluated alone;
- backward correction: ``loss_i = (T^{-1} l(p_i))[y_i]`` with ``l(p) = (-log p_1, ..., -log p_C)``: an unbiased
  estimate of the clean loss (Theorem 1); it can be negative and is known to train less stably.

Where this differs from the bottom-up noise layer (``noise_layer``, Sukhbaatar & Fergus): ``T`` is estimated
once, before training, and then held fixed; nothing about the noise is learned during training.

How ``T`` is estimated (``estimator``): a plain copy of the network is first trained on the noisy labels
(``pretrain_steps``, *extra* budget on top of the run's ``steps``, as for ``noise_layer_conf``; the run itself then
starts again from the initial weights, as in Patrini et al.), and its softmax ``p^(noisy label | x)`` gives

- ``"anchor"`` (Patrini et al.'s anchor-point estimator): for each class ``i`` the training example with the
  ``anchor_quantile`` quantile (their 97%) of ``p^(i | x)`` is taken as an anchor point of class ``i``, and
  ``T[i, :] = p^(. | x_anchor)``. Uses the noisy training set only.
- ``"clean"``: ``T[i, :]`` = the mean of ``p^(. | x)`` over the *clean validation* examples of class ``i`` (the
  estimator of Hendrycks et al., 2018, "gold loss correction"): it uses the same clean set L2RW uses.
"""

from __future__ import annotations

import copy
import warnings
from typing import Any, Literal

import numpy as np
import torch
from sklearn.metrics import cohen_kappa_score
from torch import nn

from ..checks import check_choice, check_in_range, check_int
from ..data.dataset import BiasedDataset
from ..divergence import TrainingDivergedError
from .base import Method, RunPlan, register
from .noise_layer import MIN_PRETRAIN_KAPPA, pretraining_fell_short
from .setting import Setting, with_defaults


@torch.no_grad()
def softmax_of(model: nn.Module, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """``(n, C)`` float64 (CPU) ``softmax(model(x))`` for ``(n, *F)`` inputs, in eval mode (mode restored)."""
    was = model.training
    model.eval()
    device = next(model.parameters()).device
    out = torch.cat([torch.softmax(model(x[s:s + batch_size].to(device)).double(), 1).cpu()
                     for s in range(0, len(x), batch_size)])
    model.train(was)
    return out


def anchor_transition(probs: torch.Tensor, quantile: float = 0.97) -> torch.Tensor:
    """Patrini et al.'s anchor-point estimate of ``T`` from ``(n, C)`` noisy-class probabilities: row ``i`` is
    ``probs[a_i]`` with ``a_i`` the example at the ``quantile`` quantile of ``probs[:, i]`` (``1.0``: the arg max;
    the paper uses 0.97 to be robust to outliers). Returns ``(C, C)`` float64, rows summing to 1."""
    quantile = check_in_range("quantile", quantile, 0.0, 1.0)
    if probs.ndim != 2 or len(probs) < 1:
        raise ValueError(f"probs has shape {tuple(probs.shape)}; allowed: (n >= 1, C)")
    rows = []
    for i in range(probs.shape[1]):
        col = probs[:, i]
        threshold = torch.quantile(col, quantile)
        # the example whose p(i | x) is closest to the quantile from above (the arg max when quantile = 1)
        candidates = torch.nonzero(col >= threshold).flatten()
        a = candidates[torch.argmin(col[candidates])]
        rows.append(probs[a])
    t = torch.stack(rows).double()
    return t / t.sum(1, keepdim=True)


def clean_set_transition(probs: torch.Tensor, y_true: torch.Tensor, num_classes: int) -> torch.Tensor:
    """``T[i, :]`` = mean of ``(m, C)`` ``probs`` over the examples whose true label ``y_true`` is ``i`` (a class
    with no clean example gets the identity row). Returns ``(C, C)`` float64, rows summing to 1."""
    if len(probs) != len(y_true):
        raise ValueError(f"y_true has length {len(y_true)}; allowed: the length of probs ({len(probs)})")
    t = torch.eye(num_classes, dtype=torch.float64)
    for i in range(num_classes):
        sel = y_true == i
        if sel.any():
            t[i] = probs[sel].double().mean(0)
    return t / t.sum(1, keepdim=True)


def forward_corrected_loss(logits: torch.Tensor, y: torch.Tensor, transition: torch.Tensor) -> torch.Tensor:
    """``(b, C), (b,), (C, C) -> (b,)``: ``-log (softmax(logits) @ T)[y]`` (nats)."""
    p = torch.softmax(logits, 1) @ transition.to(logits.dtype)
    return -torch.log(p.gather(1, y[:, None]).squeeze(1).clamp(min=1e-12))


#: Patrini et al.'s code clips the probabilities to [CLIP, 1 - CLIP] (Keras' epsilon) before the log in the
#: backward loss: without it the corrected loss is unbounded below (a row of T^{-1} has negative entries, and
#: -log p -> infinity on the class it multiplies), and a run drives it to -55,540 and predicts one class.
BACKWARD_CLIP = 1e-7


def backward_corrected_loss(logits: torch.Tensor, y: torch.Tensor, inverse: torch.Tensor) -> torch.Tensor:
    """``(b, C), (b,), (C, C) -> (b,)``: ``(T^{-1} l)[y]`` with ``l = -log clip(softmax(logits))`` per class, the
    probabilities clipped to ``[BACKWARD_CLIP, 1 - BACKWARD_CLIP]`` as in Patrini et al.'s code (nats; may be
    negative, bounded below)."""
    p = torch.softmax(logits, 1).clamp(BACKWARD_CLIP, 1.0 - BACKWARD_CLIP)
    per_class = -torch.log(p)                                           # (b, C): loss if the label were c
    return (per_class @ inverse.to(logits.dtype).T).gather(1, y[:, None]).squeeze(1)


#: A usable estimate of T: each row's largest entry on the diagonal (the observed label is most often the true
#: one, as for every noise the experiments make), and a condition number at most this. The true T of the
#: experiments has 1.8 (10 classes, 40% uniform flips), 4.4 (10 classes, 40% background flips), 5.0 (2 classes, 40%
#: flips); the estimate the audit found unusable had diagonal entries 0.14-0.40 and 241.
MAX_TRANSITION_CONDITION = 20.0


def transition_problem(t: torch.Tensor, kappa: float | None = None) -> str:
    """``""`` when the ``(C, C)`` estimate ``t`` is usable (see :data:`MAX_TRANSITION_CONDITION`), else why not.
    ``kappa``: Cohen's kappa of the model it was read from against the training labels; below
    ``MIN_PRETRAIN_KAPPA`` the model is still on its initial plateau and its T near uniform."""
    if kappa is not None and pretraining_fell_short(kappa):
        return (f"the plain model agrees with the training labels barely more than chance (Cohen's kappa "
                f"{kappa:.2f}, allowed: >= {MIN_PRETRAIN_KAPPA})")
    off = t.clone()
    off.fill_diagonal_(-1.0)
    weak = torch.nonzero(t.diagonal() <= off.max(1).values).flatten().tolist()
    if weak:
        return (f"rows {weak} are not diagonally dominant (diagonal {np.round(t.diagonal().numpy(), 2).tolist()})")
    cond = float(torch.linalg.cond(t))
    if not np.isfinite(cond) or cond > MAX_TRANSITION_CONDITION:
        return f"its condition number is {cond:.3g} (allowed: <= {MAX_TRANSITION_CONDITION:g})"
    return ""


class _LossCorrection(Method):
    addresses = ("noise",)
    correction = "forward"
    default_estimator = "anchor"
    settings = (
        Setting("estimator", Literal["anchor", "clean"], "anchor", "where T comes from: anchor points of the noisy "
                "training set, or the clean validation set"),
        Setting("anchor_quantile", float, 0.97, "the anchor's quantile of p(i | x) (Patrini et al.: 0.97)", low=0.0,
                high=1.0),
        Setting("pretrain_steps", int, 1000, "steps of the plain pre-training (the experiments: half the run)", low=1),
        Setting("pretrain_lr", float, 1e-3, "its learning rate (the experiments: the run's)", low=0.0, low_open=True),
        Setting("pretrain_batch_size", int, 100, "its batch size (the experiments: the run's)", low=1),
        Setting("transition", object, None, "a (C, C) row-stochastic T to use as is (Python only)", optional=True,
                cli=False),
        Setting("pretrain_rounds", int, 4, "at most this many rounds of pre-training while the estimated T is "
                "unusable (not diagonally dominant, or ill-conditioned); then the run stops and says why", low=1),
    )

    def __init__(self, estimator: str | None = None, anchor_quantile: float = 0.97, pretrain_steps: int = 1000,
                 pretrain_lr: float = 1e-3, pretrain_batch_size: int = 100, transition: Any = None,
                 pretrain_rounds: int = 4):
        self.estimator = ("given" if transition is not None else
                          check_choice("estimator", self.default_estimator if estimator is None else estimator,
                                       ["anchor", "clean"]))
        self.uses_validation = self.estimator == "clean"
        self.anchor_quantile = check_in_range("anchor_quantile", anchor_quantile, 0.0, 1.0)
        self.pretrain_steps = check_int("pretrain_steps", pretrain_steps, 1)
        self.pretrain_lr = check_in_range("pretrain_lr", pretrain_lr, 0.0, float("inf"), low_open=True)
        self.pretrain_batch_size = check_int("pretrain_batch_size", pretrain_batch_size, 1)
        self.pretrain_rounds = check_int("pretrain_rounds", pretrain_rounds, 1)
        self.pretrain_rounds_used = 0
        self.transition: torch.Tensor | None = None
        if transition is not None:
            t = torch.as_tensor(np.asarray(transition), dtype=torch.float64)
            if (t.ndim != 2 or t.shape[0] != t.shape[1] or (t < 0).any()
                    or not torch.allclose(t.sum(1), torch.ones(len(t), dtype=t.dtype))):
                raise ValueError(f"transition has shape {tuple(t.shape)}; allowed: a square non-negative matrix whose "
                                 "rows sum to 1")
            self.transition = t
        self._inverse: torch.Tensor | None = None
        if self.transition is not None:
            self._set_inverse()     # a given T is known now: the loss is usable before any run (and probed so)
        self.pretrain_kappa = float("nan")   # Cohen's kappa of the pre-trained model against the training labels

    @classmethod
    def run_settings(cls, plan: RunPlan) -> dict:
        # T is read off a plain model: the same half-run pre-training as noise_layer_conf, for the same reason
        return {"pretrain_steps": max(1, plan.steps // 2), "pretrain_lr": plan.lr,
                "pretrain_batch_size": plan.batch_size}

    def wrap_model(self, model: nn.Module) -> nn.Module:
        run = self._require_setup("wrap_model")
        c = run.dataset.num_classes
        if self.transition is not None and self.estimator == "given":
            if self.transition.shape != (c, c):
                raise ValueError(f"transition has shape {tuple(self.transition.shape)}; allowed: ({c}, {c})")
        else:
            self.transition = self.estimate_transition(model, run.dataset, run.seed)
            self._set_inverse()
        return model

    def estimate_transition(self, model: nn.Module, data: BiasedDataset, seed: int) -> torch.Tensor:
        """Pre-train a plain copy of ``model`` (``model`` itself is not changed; the trainer's ``train`` from
        :meth:`setup`) and estimate ``(C, C)`` ``T``. An unusable estimate (:func:`transition_problem`) gets
        another ``pretrain_steps`` of pre-training, up to ``pretrain_rounds`` rounds in all; then the run stops
        with :class:`~l2rw_viz.train.TrainingDivergedError` rather than train on it (measured: a near-uniform T
        keeps forward correction at ln 10 for the whole run)."""
        pre = copy.deepcopy(model)
        train = self._require_setup("estimate_transition").train
        problem = ""
        for round_ in range(self.pretrain_rounds):
            # rounds after the first continue the same model with the next seeds' batches
            train(pre, data, "plain", steps=self.pretrain_steps, batch_size=self.pretrain_batch_size,
                  lr=self.pretrain_lr, device=next(model.parameters()).device, seed=seed + round_,
                  eval_every=self.pretrain_steps, record_every=self.pretrain_steps, progress=False)
            self.pretrain_rounds_used = round_ + 1
            probs = softmax_of(pre, data.x)
            y = data.y.cpu().numpy()
            self.pretrain_kappa = float(cohen_kappa_score(y, probs.argmax(1).numpy()))
            if self.estimator == "anchor":
                t = anchor_transition(probs, self.anchor_quantile)
            else:
                t = clean_set_transition(softmax_of(pre, data.x_val), data.y_val.cpu(), data.num_classes)
            problem = transition_problem(t, self.pretrain_kappa)
            if not problem:
                return t
        raise TrainingDivergedError(
            f"{self.name}: the estimated transition matrix is unusable after {self.pretrain_rounds} x "
            f"{self.pretrain_steps} pre-training steps: {problem}; raise pretrain_steps, pretrain_rounds or "
            "pretrain_lr, or pass the transition")

    def _set_inverse(self) -> None:
        if self.correction != "backward":
            return
        cond = float(torch.linalg.cond(self.transition))
        if not np.isfinite(cond) or cond > 1e6:
            which = "given" if self.estimator == "given" else "estimated"
            warnings.warn(f"{self.name}: the {which} transition matrix is nearly singular (condition number "
                          f"{cond:.3g}); its inverse amplifies the loss: try forward_correction", RuntimeWarning,
                          stacklevel=3)
        self._inverse = torch.linalg.pinv(self.transition)

    def per_example_loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.transition is None:
            raise ValueError(f"{self.name} has no transition matrix yet; allowed: train(..., method=this) estimates "
                             "it before the first step")
        if self.correction == "forward":
            return forward_corrected_loss(logits, y, self.transition.to(logits.device))
        return backward_corrected_loss(logits, y, self._inverse.to(logits.device))

    def transition_matrix(self) -> np.ndarray:
        """``(C, C)`` the ``T`` used (after training starts)."""
        if self.transition is None:
            raise ValueError("no run yet: transition_matrix() is available after train(..., method=this)")
        return self.transition.numpy().copy()

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {"method": self.name, "correction": self.correction, "estimator": self.estimator}
        if self.estimator == "anchor":
            d["anchor_quantile"] = self.anchor_quantile
        if self.estimator != "given":
            d.update(pretrain_steps=self.pretrain_steps, pretrain_lr=self.pretrain_lr,
                     pretrain_batch_size=self.pretrain_batch_size, pretrain_rounds=self.pretrain_rounds,
                     pretrain_rounds_used=self.pretrain_rounds_used, pretrain_kappa=self.pretrain_kappa)
        if self.transition is not None:
            d["transition"] = np.round(self.transition.numpy(), 4).tolist()
        return d


@register
class ForwardCorrection(_LossCorrection):
    """Forward loss correction (Patrini et al., 2017) with ``T`` from the anchor-point estimator.

    Args:
        estimator: ``"anchor"`` (default) or ``"clean"`` (see the module docstring); ignored when ``transition``
            is given (then ``"given"``: no pre-training, e.g. the true flip matrix for a check).
        anchor_quantile: the anchor's quantile of ``p(i | x)`` (Patrini et al.: 0.97).
        pretrain_steps, pretrain_lr, pretrain_batch_size: the plain pre-training that ``T`` is read from (extra
            budget; the experiments use half the run's steps, as for ``noise_layer_conf``).
        pretrain_rounds: at most this many rounds of ``pretrain_steps`` while the estimate is unusable
            (:func:`transition_problem`); then the run stops with a ``TrainingDivergedError`` that says why.
        transition: optional ``(C, C)`` row-stochastic matrix to use as is.
    """

    name = "forward_correction"
    correction = "forward"


@register
class BackwardCorrection(_LossCorrection):
    """Backward loss correction (Patrini et al., 2017), ``T^{-1}`` applied to the per-class losses; same
    arguments as ``forward_correction``."""

    name = "backward_correction"
    correction = "backward"


@register
class ForwardCorrectionClean(_LossCorrection):
    """Forward loss correction with ``T`` read off the clean validation set (Hendrycks et al., 2018's estimator);
    same arguments as ``forward_correction``."""

    name = "forward_correction_clean"
    correction = "forward"
    default_estimator = "clean"
    settings = with_defaults(_LossCorrection.settings, estimator="clean")
