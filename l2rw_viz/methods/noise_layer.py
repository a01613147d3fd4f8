"""The noise-adaptation layer (Sukhbaatar & Fergus, 2014, bottom-up linear noise layer; Goldberger &
Ben-Reuven's "S-Model" in the paper's Table 2).

The base network estimates ``p(true class | x)``; a learned row-stochastic matrix ``Q`` with
``Q[i, j] = p(observed label j | true class i)`` turns it into ``p(observed | x) = p_base(x) @ Q``, which is what
the noisy labels are fitted to (negative log-likelihood). The noise is absorbed by ``Q``, and the base network —
evaluated alone, without ``Q`` — stays closer to the clean labels.

``Q`` is parameterised by row-wise softmax of free logits, so it is row-stochastic by construction; it starts
near the identity (``init_diag`` on the diagonal), or, for ``"noise_layer_conf"`` ("+Conf"), from the confusion
matrix of a plain-trained copy of the network on the noisy training set (and the base network starts from that
plain-trained copy, as in Goldberger & Ben-Reuven). The pre-training steps are *extra* budget on top of the
run's ``steps``; tables should say so.

The pre-trained copy must have *learned* something: a network still on its initial plateau predicts almost at
random, its confusion matrix is close to uniform, and a near-uniform ``Q`` makes ``p_base @ Q`` almost independent
of the base network, which then gets no gradient and never learns (measured on MNIST: 500 pre-training steps at lr
1e-3 left LeNet at 22% accuracy, and the "+Conf" run ended *below* that). So the pre-training is checked, and a
warning says when it fell short.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import cohen_kappa_score
from torch import nn

from ..checks import check_in_range, check_int
from .base import Method, RunPlan, StepContext, StepOutput, register
from .setting import Setting


def _logits_for(matrix: torch.Tensor) -> torch.Tensor:
    """Free logits whose row-softmax is ``matrix`` (rows are renormalised; zeros are floored at 1e-4)."""
    m = matrix.clamp(min=1e-4)
    return (m / m.sum(dim=1, keepdim=True)).log()


class NoiseAdaptedModel(nn.Module):
    """``base`` followed by a noise layer: ``forward(x) = log(softmax(base(x)) @ Q)``, ``(b, C)`` log-probabilities
    of the *observed* label.

    Attributes:
        base: the wrapped network (logits ``(b, C)``), trained in place.
        transition_logits: ``(C, C)`` free parameters; ``transition`` = the row-softmax of
            ``transition_logits * sqrt(lr_multiplier)`` (so SGD moves Q's logits ``lr_multiplier`` times faster).
    """

    def __init__(self, base: nn.Module, num_classes: int, init_diag: float = 0.9,
                 init_matrix: torch.Tensor | None = None, lr_multiplier: float = 10.0):
        super().__init__()
        self.base = base
        if init_matrix is None:
            off = (1.0 - init_diag) / max(num_classes - 1, 1)
            init_matrix = torch.full((num_classes, num_classes), off)
            init_matrix.fill_diagonal_(init_diag)
        # The trainer has one learning rate; Q must move much faster than the network's weights (its C*C numbers
        # summarise the whole data set). Storing logits / s and multiplying by s scales SGD's step on the logits
        # by s**2 = lr_multiplier.
        self.scale = float(lr_multiplier) ** 0.5
        logits = _logits_for(torch.as_tensor(init_matrix, dtype=torch.float32))
        self.transition_logits = nn.Parameter(logits / self.scale)

    @property
    def transition(self) -> torch.Tensor:
        """``(C, C)`` row-stochastic ``Q``: row ``i`` is the distribution of the observed label for true class ``i``."""
        return torch.softmax(self.transition_logits * self.scale, dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p_base = torch.softmax(self.base(x), dim=1)
        q = self.transition.to(p_base.dtype)
        return torch.log((p_base @ q).clamp(min=1e-12))


@torch.no_grad()
def predictions_of(model: nn.Module, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """``(n,)`` int64 (CPU) ``model``'s predicted class for each row of ``x`` (``(n, *F)``), in eval mode."""
    was = model.training
    model.eval()
    device = next(model.parameters()).device
    pred = torch.cat([model(x[s:s + batch_size].to(device)).argmax(1).cpu() for s in range(0, len(x), batch_size)])
    model.train(was)
    return pred


def confusion_matrix_of(model: nn.Module, x: torch.Tensor, y: torch.Tensor, num_classes: int,
                        batch_size: int = 1000) -> torch.Tensor:
    """``(C, C)`` float row-stochastic estimate of ``p(observed j | predicted i)`` from ``model``'s predictions on
    ``(x, y)`` (add-one smoothing so no row is empty)."""
    return confusion_from_predictions(predictions_of(model, x, batch_size), y, num_classes)


def confusion_from_predictions(pred: torch.Tensor, y: torch.Tensor, num_classes: int) -> torch.Tensor:
    """``(C, C)`` row-stochastic ``p(observed j | predicted i)`` from ``(n,)`` predictions and ``(n,)`` labels."""
    counts = torch.ones(num_classes, num_classes)
    counts.index_put_((pred.cpu(), y.cpu()), torch.ones(len(y)), accumulate=True)
    return counts / counts.sum(dim=1, keepdim=True)


# Below this Cohen's kappa between a pre-trained model's predictions and the training labels, "+Conf" warns.
MIN_PRETRAIN_KAPPA = 0.2


def pretraining_fell_short(kappa: float) -> bool:
    """Whether a pre-trained model whose predictions agree with the (noisy) training labels with Cohen's ``kappa``
    (agreement beyond what its and the labels' class frequencies give by chance: 0 for a model that predicts at
    random or always the same class, 1 for perfect agreement) has learned too little for its confusion matrix to
    mean anything."""
    return not kappa >= MIN_PRETRAIN_KAPPA


@register
class NoiseLayer(Method):
    """Train ``base -> Q`` on the noisy labels; evaluate ``base`` alone.

    Args:
        init_diag: diagonal of the initial ``Q`` (identity-like start), in ``(0, 1]``.
        lr_multiplier: how much faster than the network SGD moves ``Q``'s logits (default 10).
        trace_penalty: weight of ``mean(diag(Q))`` added to the loss (default 0.1; 0: off). Without it
            the fit is ambiguous and Q drifts back to the identity while the network learns the noise.
        init: ``"identity"`` or ``"confusion"`` (+Conf: pre-train a plain copy for ``pretrain_steps`` steps with
            ``pretrain_lr``/``pretrain_batch_size``, start ``Q`` from its confusion matrix and ``base`` from its
            weights). Give the pre-training enough steps to leave the initial plateau (LeNet at lr 1e-3 on
            MNIST needs about 1,000; the experiments use half the run's steps); a ``RuntimeWarning`` says when it
            fell short (see :func:`pretraining_fell_short`); ``pretrain_agreement`` and ``pretrain_kappa`` hold
            what was measured.
    """

    name = "noise_layer"
    addresses = ("noise",)
    init = "identity"
    settings = (
        Setting("init_diag", float, 0.9, "diagonal of the initial Q (identity-like start)", low=0.0, high=1.0,
                low_open=True),
        Setting("lr_multiplier", float, 10.0, "how much faster than the network SGD moves Q's logits", low=0.0,
                high=1e6, low_open=True),
        Setting("trace_penalty", float, 0.1, "weight of mean(diag(Q)) added to the loss (0: off)", low=0.0),
        Setting("pretrain_steps", int, 1000, "steps of the plain pre-training (the experiments: half the run)", low=1),
        Setting("pretrain_lr", float, 1e-3, "its learning rate (the experiments: the run's)", low=0.0, low_open=True),
        Setting("pretrain_batch_size", int, 100, "its batch size (the experiments: the run's)", low=1),
    )

    def __init__(self, init_diag: float = 0.9, lr_multiplier: float = 10.0, trace_penalty: float = 0.1,
                 pretrain_steps: int = 1000, pretrain_lr: float = 1e-3, pretrain_batch_size: int = 100):
        self.trace_penalty = check_in_range("trace_penalty", trace_penalty, 0.0, float("inf"), high_open=True)
        self.init_diag = check_in_range("init_diag", init_diag, 0.0, 1.0, low_open=True)
        self.lr_multiplier = check_in_range("lr_multiplier", lr_multiplier, 0.0, 1e6, low_open=True)
        self.pretrain_steps = check_int("pretrain_steps", pretrain_steps, 1)
        self.pretrain_lr = check_in_range("pretrain_lr", pretrain_lr, 0.0, float("inf"), low_open=True)
        self.pretrain_batch_size = check_int("pretrain_batch_size", pretrain_batch_size, 1)
        self.wrapped: NoiseAdaptedModel | None = None
        self.pretrain_agreement = float("nan")  # fraction of training labels the pre-trained model predicts
        self.pretrain_kappa = float("nan")      # the same, as Cohen's kappa (0: chance)

    def wrap_model(self, model: nn.Module) -> nn.Module:
        run = self._require_setup("wrap_model")
        data = run.dataset
        num_classes = data.num_classes
        init_matrix = None
        if self.init == "confusion":
            device = next(model.parameters()).device
            pre = copy.deepcopy(model)
            run.train(pre, data, "plain", steps=self.pretrain_steps, batch_size=self.pretrain_batch_size,
                      lr=self.pretrain_lr, device=device, seed=run.seed, eval_every=self.pretrain_steps,
                      record_every=self.pretrain_steps, progress=False)
            y = data.y.cpu()
            pred = predictions_of(pre, data.x)
            init_matrix = confusion_from_predictions(pred, y, num_classes)
            self.pretrain_agreement = float((pred == y).float().mean())
            self.pretrain_kappa = float(cohen_kappa_score(y.numpy(), pred.numpy()))
            if pretraining_fell_short(self.pretrain_kappa):
                warnings.warn(
                    f"noise_layer_conf: after pretrain_steps={self.pretrain_steps} the plain model agrees with the "
                    f"training labels barely more than chance (Cohen's kappa={self.pretrain_kappa:.2f}, allowed: >= "
                    f"{MIN_PRETRAIN_KAPPA}; it agrees with {self.pretrain_agreement:.0%} of them), so its confusion "
                    f"matrix is close to uniform and the noise layer will starve the base network of gradient: "
                    f"raise pretrain_steps or pretrain_lr", RuntimeWarning, stacklevel=2)
            model.load_state_dict(pre.state_dict())
        self.wrapped = NoiseAdaptedModel(model, num_classes, self.init_diag, init_matrix, self.lr_multiplier)
        return self.wrapped

    def step(self, ctx: StepContext) -> StepOutput:
        out = super().step(ctx)
        if self.trace_penalty and self.wrapped is not None:
            # Sukhbaatar & Fergus's remedy for the ambiguity "noise in Q or in the network?": push Q away from the
            # identity (penalise its mean diagonal), so the noise is explained by Q rather than learnt by the net.
            penalty = self.trace_penalty * torch.diagonal(self.wrapped.transition).mean()
            out = StepOutput(out.loss + penalty.to(out.loss.dtype), out.weights, out.per_example_losses)
        return out

    def per_example_loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        # the wrapped model already returns log p(observed label | x): negative log-likelihood, not cross-entropy
        return F.nll_loss(logits, y, reduction="none")

    def transition_matrix(self) -> np.ndarray:
        """``(C, C)`` the learned ``Q`` of the last run (after training)."""
        if self.wrapped is None:
            raise ValueError("no run yet: transition_matrix() is available after train(..., method=this)")
        return self.wrapped.transition.detach().cpu().numpy()

    def describe(self):
        d = {"method": self.name, "init": self.init, "init_diag": self.init_diag, "lr_multiplier": self.lr_multiplier,
             "trace_penalty": self.trace_penalty}
        if self.init == "confusion":
            d.update(pretrain_steps=self.pretrain_steps, pretrain_lr=self.pretrain_lr,
                     pretrain_agreement=self.pretrain_agreement, pretrain_kappa=self.pretrain_kappa)
        return d


@register
class NoiseLayerConf(NoiseLayer):
    """The noise layer started from a plain-trained model's confusion matrix ("+Conf")."""

    name = "noise_layer_conf"
    init = "confusion"
    revision = 1   # pre-training lengthened from a quarter to half of the run (its confusion matrix was uniform)

    @classmethod
    def run_settings(cls, plan: RunPlan) -> dict:
        # half the run: at lr 1e-3 LeNet spends its first ~500 steps on a plateau (22% accuracy on noisy
        # MNIST), and a confusion matrix taken there is near-uniform and makes the noise layer collapse
        return {"pretrain_steps": max(1, plan.steps // 2), "pretrain_lr": plan.lr,
                "pretrain_batch_size": plan.batch_size}
