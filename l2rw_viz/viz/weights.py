"""The numbers behind the weight figures, computed from a :class:`~l2rw_viz.history.History` (no plotting here,
public so that tests, notebooks and widgets can check or reuse them).

Weights are ``weight * B`` (``B`` the batch size), so 1.0 is what uniform training gives every example.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..checks import check_choice, check_int
from ..history import History
from .style import GROUPS

# How an example's weight "as of a step" is read: ``"mean"`` of all its weights so far, or its ``"last"`` one.
WEIGHT_MODES = ("mean", "last")


def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average of a ``(R,)`` float array that ignores NaNs; ``window=1`` returns a copy.

    Each output is the mean of the non-NaN values among the ``window`` neighbours (NaN if there are none), so a
    step whose batch held no example of a group does not drag the curve to zero.
    """
    window = check_int("window", window, 1)
    v = np.asarray(values, dtype=np.float64)
    if window == 1 or len(v) == 0:
        return v.copy()
    ok = np.isfinite(v)
    kernel = np.ones(window)
    total = np.convolve(np.where(ok, v, 0.0), kernel, mode="same")
    count = np.convolve(ok.astype(np.float64), kernel, mode="same")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def weight_quantiles(history: History, group: str, q: Sequence[float] = (0.25, 0.75)) -> np.ndarray:
    """``(len(q), R)`` quantiles of ``weight * B`` over the batch entries in ``group`` at each recorded step (NaN
    where the batch held none) — the spread band around :meth:`History.mean_weight`."""
    mask = history.group_mask(group)
    scaled = np.where(mask, history.weights * history.batch_size, np.nan)
    out = np.full((len(q), len(scaled)), np.nan)
    rows = mask.any(axis=1)
    if rows.any():
        out[:, rows] = np.nanquantile(scaled[rows], q, axis=1)
    return out


def auto_groups(history: History) -> list[str]:
    """The groups worth drawing for this run: noisy/clean if any label is flipped, minority/majority if one class
    really is a minority (fewer than half the examples); clean/majority alone are never informative."""
    groups: list[str] = []
    if history.is_noisy.any():
        groups += ["noisy", "clean"]
    if 0 < history.is_minority.mean() < 0.5:
        groups += ["minority", "majority"]
    return groups or ["clean"]


def check_groups(groups: Sequence[str] | str | None, history: History) -> list[str]:
    """The groups a figure draws: ``"auto"``/``None`` gives :func:`auto_groups`, a name or a list of names from
    ``GROUPS`` is checked and returned as a list (``ValueError`` naming ``groups`` otherwise)."""
    if groups is None or groups == "auto":
        return auto_groups(history)
    if isinstance(groups, str):
        groups = [groups]
    for g in groups:
        check_choice("groups", g, GROUPS)
    return list(groups)


def example_weights_at(history: History, frames: Sequence[int] | np.ndarray, mode: str = "last",
                       default: float = 1.0) -> np.ndarray:
    """``(F, n)`` float32 each training example's weight (``* B``) as of recorded step ``frames[f]`` (inclusive).

    Args:
        frames: increasing indices into the recorded steps (``0..R-1``), e.g. ``np.linspace(0, R-1, 60)``.
        mode: ``"last"``: the weight the example got the last time it was drawn; ``"mean"``: the mean of all
            its weights so far (smoother, what :meth:`History.example_mean_weight` gives at the end).
        default: the value shown for an example not drawn yet (1.0: the uniform weight).

    One pass over the History, ``O(R * B + F * n)``: cheap enough to precompute every frame of an animation.
    """
    check_choice("mode", mode, WEIGHT_MODES)
    frames = np.asarray(frames, dtype=np.int64)
    r = len(history.steps)
    if len(frames) and (frames.min() < 0 or frames.max() >= r or np.any(np.diff(frames) < 0)):
        raise ValueError(f"frames={frames.tolist()[:5]}... is not allowed; allowed: increasing indices in [0, {r - 1}]")
    n = len(history.y)
    scaled = history.weights.astype(np.float64) * history.batch_size
    out = np.empty((len(frames), n), dtype=np.float32)
    last = np.full(n, default)
    total = np.zeros(n)
    count = np.zeros(n)
    done = 0
    for f, upto in enumerate(frames):
        for row in range(done, upto + 1):
            idx = history.indices[row]
            last[idx] = scaled[row]
            np.add.at(total, idx, scaled[row])
            np.add.at(count, idx, 1.0)
        done = upto + 1
        if mode == "last":
            out[f] = last
        else:
            out[f] = np.where(count > 0, total / np.maximum(count, 1), default)
    return out


def frame_indices(history: History, n_frames: int) -> np.ndarray:
    """``(F,)`` up to ``n_frames`` evenly spaced recorded-step indices, always ending at the last one."""
    n_frames = check_int("n_frames", n_frames, 1)
    r = len(history.steps)
    if r == 0:
        raise ValueError("history has no recorded steps; allowed: a History with at least one step")
    return np.unique(np.linspace(0, r - 1, min(n_frames, r)).round().astype(np.int64))


def step_windows(history: History, windows: int) -> list[tuple[int, int]]:
    """Split the recorded steps into ``windows`` consecutive ``(start_row, stop_row)`` ranges of equal length."""
    windows = check_int("windows", windows, 1)
    edges = np.linspace(0, len(history.steps), min(windows, max(len(history.steps), 1)) + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def weight_ranking(history: History) -> tuple[np.ndarray, np.ndarray]:
    """``(order, mean_weight)``: indices of the examples drawn at least once, sorted by their mean weight (``* B``)
    from highest to lowest (ties broken by index, so the order is reproducible), and every example's mean."""
    mean = history.example_mean_weight()
    seen = np.flatnonzero(np.isfinite(mean))
    order = seen[np.lexsort((seen, -mean[seen]))]
    return order, mean
