"""The L2RW algorithm (Ren et al., 2018, Algorithm 1) and the weighted loss it plugs into.

This module is the heart of the package; see ``methods/l2rw.py`` for the trainer plug-in.
"""

from __future__ import annotations

import torch


def weighted_loss(per_example_losses: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """The paper's weighted training objective ``sum_i w_i * f_i`` (Eq. 1 with fixed weights).

    Args:
        per_example_losses: ``(b,)`` float, e.g. ``F.cross_entropy(logits, y, reduction="none")``.
        weights: ``(b,)`` float, non-negative; uniform training uses ``1/b`` so this is the ordinary mean.
    Returns:
        A scalar tensor that keeps the graph of ``per_example_losses`` (weights are treated as constants only if
        the caller detached them).
    """
    if per_example_losses.shape != weights.shape:
        raise ValueError(f"weights has shape {tuple(weights.shape)}; allowed: the shape of per_example_losses "
                         f"{tuple(per_example_losses.shape)}")
    return (weights * per_example_losses).sum()
