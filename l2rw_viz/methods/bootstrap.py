"""Bootstrapping (Reed et al., 2015, "Training deep neural networks on noisy labels with bootstrapping").

The target is a mix of the observed label and the model's own belief, so a confidently contradicted label
matters less:

- soft: ``loss_i = -sum_k (beta * t_ik + (1 - beta) * q_ik) * log q_ik``, ``beta = 0.95``;
- hard: ``loss_i = -sum_k (beta * t_ik + (1 - beta) * z_ik) * log q_ik``, ``z_i = onehot(argmax_k q_ik)``,
  ``beta = 0.8``;

with ``t_i`` the one-hot observed label and ``q_i = softmax(logits_i)``. As in Reed et al., the soft target's
``q`` is not detached (the soft variant equals cross-entropy plus ``(1 - beta)`` times an entropy penalty); the
hard target's ``z`` is an argmax and carries no gradient.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..checks import check_choice, check_in_range
from .base import Method, register
from .setting import Setting, with_defaults


def bootstrap_loss(logits: torch.Tensor, y: torch.Tensor, beta: float, mode: str = "soft") -> torch.Tensor:
    """``(b, C), (b,) -> (b,)`` Reed et al.'s bootstrapping loss per example (nats)."""
    check_choice("mode", mode, ["soft", "hard"])
    log_q = F.log_softmax(logits, dim=1)
    t = F.one_hot(y, logits.shape[1]).to(log_q.dtype)
    if mode == "soft":
        belief = log_q.exp()
    else:
        belief = F.one_hot(log_q.argmax(dim=1), logits.shape[1]).to(log_q.dtype)
    return -((beta * t + (1.0 - beta) * belief) * log_q).sum(dim=1)


class _Bootstrap(Method):
    addresses = ("noise",)
    settings = (Setting("beta", float, 0.95, "weight of the observed label in the target (1: plain cross-entropy)",
                        low=0.0, high=1.0),)
    mode = "soft"
    default_beta = 0.95

    def __init__(self, beta: float | None = None):
        self.beta = check_in_range("beta", self.default_beta if beta is None else beta, 0.0, 1.0)

    def per_example_loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return bootstrap_loss(logits, y, self.beta, self.mode)


@register
class BootstrapSoft(_Bootstrap):
    """Soft bootstrapping, ``beta = 0.95`` (Reed et al.'s setting)."""

    name = "bootstrap_soft"
    mode = "soft"
    default_beta = 0.95


@register
class BootstrapHard(_Bootstrap):
    """Hard bootstrapping, ``beta = 0.8`` (Reed et al.'s setting)."""

    name = "bootstrap_hard"
    mode = "hard"
    default_beta = 0.8
    settings = with_defaults(_Bootstrap.settings, beta=0.8)
