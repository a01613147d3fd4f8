"""Random weights: the paper's control experiment (Ren et al., 2018, Fig. 8, "Random").

Each step draws ``w_i = max(z_i, 0)`` with ``z_i ~ N(0, 1)`` (a rectified Gaussian, as in the official code) and
normalises them to sum to 1. If L2RW only helped because its weights are sparse and noisy, random weights of the
same shape would help too; they do not.
"""

from __future__ import annotations

import torch

from ..reweight import normalize_weights
from .base import Method, StepContext, register


@register
class RandomWeights(Method):
    """Rectified-Gaussian random weights, normalised per batch (all zero only if every draw is negative)."""

    name = "random"

    def batch_weights(self, ctx: StepContext) -> torch.Tensor:
        z = torch.randn(len(ctx.y), generator=ctx.generator, device=ctx.generator.device, dtype=torch.float32)
        return normalize_weights(z.clamp(min=0).to(device=ctx.x.device, dtype=ctx.x.dtype))
