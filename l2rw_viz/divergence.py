"""The error a run ends with when it leaves a sane range. Its own module, below the trainer and the methods: the
trainer raises it (its divergence rule, :mod:`l2rw_viz.train`) and so may a method that cannot start (loss
correction with an unusable transition matrix), without the methods importing the trainer."""

from __future__ import annotations


class TrainingDivergedError(FloatingPointError):
    """The run left a sane range (see :class:`l2rw_viz.train.DivergenceRule`), or a method found it could not train
    meaningfully: training stopped instead of recording garbage."""


__all__ = ["TrainingDivergedError"]
