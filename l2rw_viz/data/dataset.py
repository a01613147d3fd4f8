"""The biased dataset: what the learner sees, and the truth the teacher keeps.

Every figure that separates "noisy" from "clean" or "minority" from "majority" reads the masks stored here;
nothing downstream recomputes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch


@dataclass
class BiasedDataset:
    """A training set with bias injected, plus a small clean validation set and a balanced test set.

    Attributes (``n`` training examples, ``m`` validation, ``t`` test; ``*F`` the feature shape, e.g. ``(2,)`` for
    toy data or ``(1, 28, 28)`` for MNIST):
        x: ``(n, *F)`` float32 training inputs.
        y: ``(n,)`` int64 labels the learner sees (possibly flipped).
        y_clean: ``(n,)`` int64 true labels.
        is_noisy: ``(n,)`` bool, ``y != y_clean``.
        is_minority: ``(n,)`` bool, true label belongs to a minority class (all False when balanced).
        x_val, y_val: ``(m, *F)``, ``(m,)`` the small clean, class-balanced validation set, disjoint from ``x``.
        x_test, y_test: ``(t, *F)``, ``(t,)`` a balanced clean test set.
        num_classes: number of classes ``C``; labels lie in ``0..C-1``.
        class_names: display name per label, e.g. ``["4", "9"]`` for MNIST 4-vs-9.
        info: how it was made (source, proportion, noise rate/mode, seed, ...), for tables and titles.
    """

    x: torch.Tensor
    y: torch.Tensor
    y_clean: torch.Tensor
    is_noisy: torch.Tensor
    is_minority: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    class_names: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.x)
        for name in ("y", "y_clean", "is_noisy", "is_minority"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name} has length {len(getattr(self, name))}; allowed: the length of x ({n})")
        if len(self.y_val) != len(self.x_val):
            raise ValueError(f"y_val has length {len(self.y_val)}; allowed: the length of x_val ({len(self.x_val)})")
        if len(self.y_test) != len(self.x_test):
            raise ValueError(f"y_test has length {len(self.y_test)}; allowed: the length of x_test "
                             f"({len(self.x_test)})")
        if self.is_noisy.dtype != torch.bool or self.is_minority.dtype != torch.bool:
            raise ValueError("is_noisy and is_minority must be bool tensors")
        if not self.class_names:
            self.class_names = [str(c) for c in range(self.num_classes)]

    @property
    def n(self) -> int:
        """Number of training examples."""
        return len(self.x)

    @property
    def feature_shape(self) -> tuple[int, ...]:
        """Shape of one input, e.g. ``(2,)`` or ``(1, 28, 28)``."""
        return tuple(self.x.shape[1:])

    def class_counts(self, which: str = "y") -> np.ndarray:
        """``(C,)`` int counts of ``y``, ``y_clean``, ``y_val`` or ``y_test``."""
        return np.bincount(getattr(self, which).numpy(), minlength=self.num_classes)

    def with_training_set(self, x: torch.Tensor, y: torch.Tensor, y_clean: torch.Tensor, is_noisy: torch.Tensor,
                          is_minority: torch.Tensor, **info: Any) -> BiasedDataset:
        """A copy with another training set (same validation/test sets), e.g. after SMOTE adds examples."""
        return replace(self, x=x, y=y, y_clean=y_clean, is_noisy=is_noisy, is_minority=is_minority,
                       info={**self.info, **info})

    def summary(self) -> str:
        """One line for logs and notebook output."""
        return (f"{self.info.get('name', 'dataset')}: n={self.n} (noisy {int(self.is_noisy.sum())}, "
                f"minority {int(self.is_minority.sum())}), val={len(self.y_val)}, test={len(self.y_test)}, "
                f"classes={self.num_classes}, train counts={self.class_counts().tolist()}")
