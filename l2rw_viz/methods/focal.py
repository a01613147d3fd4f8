"""Focal loss (Lin et al., 2017, "Focal Loss for Dense Object Detection"): cross-entropy scaled down on examples
the network already classifies well, so the hard ones (often of the minority class) dominate the gradient.

With ``p_t`` the predicted probability of the observed label, the loss of one example is

    FL(p_t) = -(1 - p_t) ** gamma * log(p_t)

``gamma = 0`` is plain cross-entropy; the paper's default is ``gamma = 2``. Like bootstrapping it changes only the
per-example loss (:meth:`Method.per_example_loss`); the batch weights stay uniform. Lin et al. also weight the
classes (their ``alpha``); that is the ``proportion`` method's job here, so this file keeps the focusing term alone.

This method is the worked example of "a method is one file": nothing else in the package names it, yet it is in
``l2rw-viz list``, ``run``, ``sweep --methods every``, the explorer's method menu and the figures (``gamma`` is set
with ``--method-arg gamma=...``). It is in no experiment's standard list (``--methods all``), so the shipped tables
stay complete without it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..checks import check_in_range
from .base import Method, register
from .setting import Setting


def focal_loss(logits: torch.Tensor, y: torch.Tensor, gamma: float = 2.0) -> torch.Tensor:
    """``(b, C)`` logits, ``(b,)`` int64 labels -> ``(b,)`` focal loss in nats, ``-(1 - p_t)**gamma * log p_t``."""
    log_pt = F.log_softmax(logits, dim=1).gather(1, y[:, None]).squeeze(1)
    return -((1.0 - log_pt.exp()) ** gamma) * log_pt


@register
class Focal(Method):
    """Focal loss (Lin et al., 2017): cross-entropy down-weighted on well-classified examples, ``gamma`` >= 0.

    Args:
        gamma: the focusing exponent (>= 0; 0 is cross-entropy, 2 Lin et al.'s default).
    """

    name = "focal"
    addresses = ("imbalance",)
    settings = (Setting("gamma", float, 2.0, "the focusing exponent (0: cross-entropy; 2: Lin et al.'s default)",
                        low=0.0),)

    def __init__(self, gamma: float = 2.0):
        self.gamma = check_in_range("gamma", gamma, 0.0, float("inf"), high_open=True)

    def per_example_loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return focal_loss(logits, y, self.gamma)
