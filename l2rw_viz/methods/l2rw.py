"""L2RW as a trainer method: Algorithm 1 of Ren et al. (2018), one look-ahead step per batch.

Lines 4-11 (the weights) are :func:`l2rw_viz.reweight.l2rw_weights`; this plug-in adds lines 12-13 — the weighted loss
of the batch with those weights, whose gradient the trainer's optimiser steps on (momentum included; the look-ahead
itself is plain SGD and never sees the optimiser). By default a step takes the fused fast path
(:mod:`l2rw_viz.reweight_fused`), which gets the weights and the weighted update from the training step's own
forward and backward; ``fused=False`` or ``weights_method="autodiff"`` takes the textbook order.
"""

from __future__ import annotations

from typing import Literal

import torch

from ..checks import check_choice, check_in_range
from ..reweight import WEIGHT_METHODS, l2rw_weights
from ..reweight_fused import L2RWStep, dual_step, layerwise_layers, layerwise_scores, layerwise_step
from .base import Method, StepContext, StepOutput, register
from .setting import Setting


@register
class L2RW(Method):
    """Learning to Reweight Examples (Ren et al., 2018, Algorithm 1): weights from one look-ahead step.

    Args:
        weights_method: ``"jvp"`` (default; the identity, forward mode) or ``"autodiff"`` (Algorithm 1 verbatim,
            reverse mode through the look-ahead step).
        lookahead_lr: step size ``alpha`` of the look-ahead (> 0); ``None`` (default) uses the step's learning rate.
            Plain SGD, never momentum. Changes the raw scores by a common factor only, not the normalised weights.
        fused: with ``weights_method="jvp"``, share the training forward (and, where it applies, the backward)
            between the weights and the weighted update (see :mod:`l2rw_viz.reweight_fused`). ``False``: the
            textbook order.
    """

    name = "l2rw"
    uses_validation = True
    addresses = ("imbalance", "noise")
    settings = (
        Setting("weights_method", Literal["jvp", "autodiff"], "jvp", "jvp: the identity in forward mode; autodiff: "
                "Algorithm 1 verbatim, reverse mode through the look-ahead"),
        Setting("lookahead_lr", float, None, "step size of the look-ahead (none: the step's learning rate)", low=0.0,
                low_open=True, optional=True),
        Setting("fused", bool, True, "with jvp, share the training forward between the weights and the update"),
    )

    def __init__(self, weights_method: str = "jvp", lookahead_lr: float | None = None, fused: bool = True):
        self.weights_method = check_choice("weights_method", weights_method, WEIGHT_METHODS)
        self.lookahead_lr = (None if lookahead_lr is None else
                             check_in_range("lookahead_lr", lookahead_lr, 0.0, float("inf"), low_open=True,
                                            high_open=True))
        self.fused = bool(check_choice("fused", fused, [True, False]))
        self.stepper = L2RWStep()   # the fast path's choice per step and its one-time layer-wise check

    @property
    def last_path(self) -> str:
        """``"layerwise"``, ``"dual"`` or ``"unfused"``: the path the last step took."""
        return self.stepper.last_path

    def _lr(self, ctx: StepContext) -> float:
        return ctx.lr if self.lookahead_lr is None else self.lookahead_lr

    def batch_weights(self, ctx: StepContext) -> torch.Tensor:
        """Algorithm 1, lines 4-11 for this batch: ``(b,)`` weights, summing to 1 or all zero."""
        return l2rw_weights(ctx.model, ctx.x, ctx.y, ctx.x_val, ctx.y_val, loss_fn=ctx.per_example_loss,
                            lr=self._lr(ctx), weights_method=self.weights_method)

    def step(self, ctx: StepContext) -> StepOutput:
        """Weights (lines 4-11) and the weighted loss (line 12) whose ``backward()`` gives line 13's gradient."""
        out = self.stepper.step(ctx.model, ctx.x, ctx.y, ctx.x_val, ctx.y_val, loss_fn=ctx.per_example_loss,
                                lr=self._lr(ctx), weights_method=self.weights_method, fused=self.fused)
        return StepOutput(*out)


# the fast path's functions, importable from here as before (notebook 5, the tests)
__all__ = ["L2RW", "dual_step", "layerwise_layers", "layerwise_scores", "layerwise_step"]
