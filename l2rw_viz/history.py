"""History: the plain-data record of one training run, replayable without retraining.

Figures and widgets read a History; they never re-run training to draw. It carries the truth masks of the training
set so that a saved ``.npz`` file alone can be animated (noisy vs clean, minority vs majority).
"""

from __future__ import annotations

import json
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

# Version of the file layout written by History.save (stored as the array "format_version"; files written before
# it existed have none and are version 1). Bump when the layout changes in a way older readers cannot follow.
FORMAT_VERSION = 1


def group_masks(is_noisy: np.ndarray, is_minority: np.ndarray) -> dict[str, np.ndarray]:
    """The four groups the course compares, as ``(n,)`` bool masks over the training examples: ``"noisy"``,
    ``"clean"`` (= not noisy), ``"minority"``, ``"majority"`` (= not minority). The one definition History and the
    AdaBoost baseline share."""
    return {"noisy": is_noisy, "clean": ~is_noisy, "minority": is_minority, "majority": ~is_minority}


def group_mask_of(group: str, is_noisy: np.ndarray, is_minority: np.ndarray) -> np.ndarray:
    """``(n,)`` bool: :func:`group_masks`'s mask of ``group``; a ``ValueError`` naming the allowed groups."""
    masks = group_masks(is_noisy, is_minority)
    if group not in masks:
        raise ValueError(f"group={group!r} is not allowed; allowed: {', '.join(map(repr, masks))}")
    return masks[group]


class HistoryFileError(ValueError):
    """A file is not a readable History: missing, damaged, not a History, another version, or inconsistent arrays.
    The message names the file and what is wrong."""


_ARRAYS = ("steps", "indices", "weights", "train_loss", "weighted_loss", "val_loss", "eval_steps", "test_acc",
           "val_acc", "test_loss", "y", "y_clean", "is_noisy", "is_minority")


@dataclass
class History:
    """Per-step, per-example record of a run (``R`` recorded steps, batch size ``B``, ``E`` evaluations, ``n``
    training examples).

    Attributes:
        steps: ``(R,)`` int64 step numbers that were recorded (0-based).
        indices: ``(R, B)`` int64 dataset indices of the batch at each recorded step.
        weights: ``(R, B)`` float32 weights used for those examples; each row sums to 1 or is all zero.
            Multiply by ``B`` to compare with uniform training (where every weight is then 1).
        train_loss: ``(R,)`` unweighted mean per-example training loss of the batch (nats).
        weighted_loss: ``(R,)`` the loss actually minimised, ``sum_i w_i f_i``.
        val_loss: ``(R,)`` mean loss on the clean validation set before the step.
        eval_steps: ``(E,)`` steps after which the model was evaluated; test_acc, val_acc: ``(E,)`` accuracy in
            [0, 1]; test_loss: ``(E,)`` mean test cross-entropy.
        y, y_clean, is_noisy, is_minority: ``(n,)`` the training set's observed/true labels and truth masks.
        meta: JSON-serialisable settings (method, seed, lr, device, dataset info, wall time, ...).
    """

    steps: np.ndarray
    indices: np.ndarray
    weights: np.ndarray
    train_loss: np.ndarray
    weighted_loss: np.ndarray
    val_loss: np.ndarray
    eval_steps: np.ndarray
    test_acc: np.ndarray
    val_acc: np.ndarray
    test_loss: np.ndarray
    y: np.ndarray
    y_clean: np.ndarray
    is_noisy: np.ndarray
    is_minority: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    # --- derived views ---------------------------------------------------------------------------------------
    @property
    def batch_size(self) -> int:
        return int(self.indices.shape[1]) if self.indices.ndim == 2 and len(self.indices) else 0

    @property
    def final_test_accuracy(self) -> float:
        """Test accuracy at the last evaluation (NaN if the run never evaluated)."""
        return float(self.test_acc[-1]) if len(self.test_acc) else float("nan")

    @property
    def final_test_error(self) -> float:
        return 1.0 - self.final_test_accuracy

    def row_fields(self) -> dict[str, Any]:
        """The results-table columns a run fills (:func:`l2rw_viz.experiments.run_one`): final and last-5 test
        error, the share of all-zero steps, the SGD settings from ``meta`` and each group's mean weight x B."""
        def mean_weight(group: str) -> float:
            values = self.mean_weight(group)
            values = values[np.isfinite(values)]
            return float(values.mean()) if len(values) else float("nan")

        return {"test_accuracy": self.final_test_accuracy, "test_error": self.final_test_error,
                "test_error_last5": float(1.0 - np.mean(self.test_acc[-5:])),
                "zero_weight_fraction": self.zero_weight_fraction(), "lr": self.meta.get("lr"),
                "batch_size": self.meta.get("batch_size"), "on_zero_weights": self.meta.get("on_zero_weights"),
                **{f"mean_w_{g}": mean_weight(g) for g in ("noisy", "clean", "minority", "majority")}}

    # what run_one saves with history_dir: this file ending (the AdaBoost baseline's record has its own)
    FILE_SUFFIX = ".npz"

    def zero_weight_fraction(self) -> float:
        """Share of recorded steps whose weights were all zero (L2RW found no helpful example in the batch)."""
        if not len(self.weights):
            return 0.0
        return float((self.weights.sum(axis=1) == 0).mean())

    def group_mask(self, group: str) -> np.ndarray:
        """``(R, B)`` bool: which batch entries belong to ``group`` ("noisy", "clean", "minority", "majority")."""
        return group_mask_of(group, self.is_noisy, self.is_minority)[self.indices]

    def mean_weight(self, group: str) -> np.ndarray:
        """``(R,)`` mean of ``weight * B`` over the batch entries in ``group`` at each recorded step (NaN where the
        batch held none). 1.0 is the uniform weight; the paper's story is noisy < 1 < minority."""
        mask = self.group_mask(group)
        scaled = self.weights * self.batch_size
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(mask.any(axis=1), (scaled * mask).sum(axis=1) / mask.sum(axis=1), np.nan)

    def mean_weight_by_labels(self) -> tuple[np.ndarray, np.ndarray]:
        """Weight by (true label, observed label): the diagonal holds clean examples, the rest flipped ones.

        Returns:
            ``(C, C)`` float: entry ``[i, j]`` is the mean of ``weight * B`` over every recorded batch entry whose
            example has true label ``i`` and observed label ``j`` (NaN where no such entry was drawn); and
            ``(C, C)`` int: how many training examples have that pair. ``C`` is one more than the largest label.
            When imbalance and flips meet, a single "flipped vs clean" mean can mislead (most flipped examples
            may carry the minority's label, which is up-weighted as a whole); this table separates the two.
        """
        c = int(max(self.y.max(initial=0), self.y_clean.max(initial=0))) + 1
        pair = self.y_clean.astype(np.int64) * c + self.y.astype(np.int64)        # (n,) flat (true, observed) id
        entry = pair[self.indices].ravel()                                          # (R * B,)
        total = np.bincount(entry, weights=(self.weights * self.batch_size).ravel(), minlength=c * c)
        drawn = np.bincount(entry, minlength=c * c)
        with np.errstate(invalid="ignore", divide="ignore"):
            means = np.where(drawn > 0, total / np.maximum(drawn, 1), np.nan)
        counts = np.bincount(pair, minlength=c * c)
        return means.reshape(c, c), counts.reshape(c, c)

    def example_mean_weight(self) -> np.ndarray:
        """``(n,)`` each training example's mean of ``weight * B`` over the steps it was drawn (NaN if never)."""
        n = len(self.y)
        total = np.bincount(self.indices.ravel(), weights=(self.weights * self.batch_size).ravel(), minlength=n)
        count = np.bincount(self.indices.ravel(), minlength=n)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, total / np.maximum(count, 1), np.nan)

    # --- persistence ---------------------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write a compressed ``.npz`` (arrays + JSON meta) atomically; returns the path.

        Raises ``ValueError`` naming ``path`` if it is a directory, lies in a folder that does not exist, or the
        meta is not JSON (or nested too deeply); a failed write leaves no temporary file, and an ``OSError``
        names ``path``.
        """
        from .outputs import atomic_write

        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_suffix(".npz")
        if path.is_dir():
            raise ValueError(f"path={str(path)!r} is a directory; allowed: a file name ending in .npz")
        if not path.parent.is_dir():
            raise ValueError(f"path={str(path)!r}: the folder {str(path.parent)!r} does not exist (or is not a "
                             "folder); allowed: a path in an existing folder")
        try:
            meta = json.dumps(self.meta)
        except (TypeError, ValueError, RecursionError) as error:
            raise ValueError(f"History.meta cannot be saved as JSON ({type(error).__name__}: "
                             f"{_first_line(error)}); allowed: plain numbers, strings, lists and dicts") from None
        arrays = {k: getattr(self, k) for k in _ARRAYS}
        return atomic_write(path, lambda handle: np.savez_compressed(
            handle, **arrays, meta=np.array(meta), format_version=np.array(FORMAT_VERSION)))

    @classmethod
    def load(cls, path: str | Path) -> History:
        """Read a History written by :meth:`save`.

        Raises:
            HistoryFileError: (a ``ValueError``) the file is missing, damaged, not a History, written by another
                version, or its arrays disagree in shape; the message names the file.
        """
        path = Path(path)
        where = f"History file {str(path)!r}"
        if not path.exists():
            raise HistoryFileError(f"{where} does not exist")
        if path.is_dir():
            raise HistoryFileError(f"{where} is a directory; allowed: a .npz file written by History.save")
        if not zipfile.is_zipfile(path):
            raise HistoryFileError(f"{where} is not a History: not an .npz archive (damaged, or another kind of "
                                   "file); write one with History.save")
        try:
            with np.load(path, allow_pickle=False) as f:
                names = set(f.files)
                missing = [k for k in _ARRAYS + ("meta",) if k not in names]
                if missing:
                    raise HistoryFileError(f"{where} is not a History: it lacks the arrays {missing}")
                version = int(f["format_version"]) if "format_version" in names else 1
                if version != FORMAT_VERSION:
                    raise HistoryFileError(f"{where} was written by another version of l2rw-viz (file format "
                                           f"{version}; this version reads {FORMAT_VERSION})")
                arrays = {k: f[k] for k in _ARRAYS}
                meta = json.loads(str(f["meta"]))
        except HistoryFileError:
            raise
        # a damaged archive fails in many ways (bad CRC, cut stream, pickled or garbled members, bad JSON, JSON
        # nested too deeply for the parser)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError, TypeError,
                RecursionError) as error:
            raise HistoryFileError(f"{where} is damaged ({type(error).__name__}: {_first_line(error)}); "
                                   "it cannot be read, save the run again") from None
        if not isinstance(meta, dict):
            raise HistoryFileError(f"{where} is damaged: its meta is a {type(meta).__name__}, not a JSON object")
        problem = _shape_problem(arrays)
        if problem:
            raise HistoryFileError(f"{where} has inconsistent arrays: {problem}")
        return cls(**arrays, meta=meta)

    def equals(self, other: History) -> bool:
        """Exactly the same recorded numbers (meta's wall time excluded) — used by the determinism tests."""
        return all(np.array_equal(getattr(self, k), getattr(other, k), equal_nan=getattr(self, k).dtype.kind == "f")
                   for k in _ARRAYS)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    # numpy's advice for pickled members (allow_pickle=True) would be unsafe for a damaged file: never pass it on
    return "unreadable member" if not text or "allow_pickle" in text[0] else text[0][:200]


def _shape_problem(a: dict) -> str:
    """What is inconsistent in a History's arrays (empty string when they agree)."""
    r = len(a["steps"]) if a["steps"].ndim == 1 else -1
    if r < 0:
        return f"steps has shape {a['steps'].shape}; expected (R,)"
    if a["indices"].ndim != 2 or len(a["indices"]) != r or a["weights"].shape != a["indices"].shape:
        return (f"indices {a['indices'].shape} and weights {a['weights'].shape} must both be (R, B) with "
                f"R = len(steps) = {r}")
    for k in ("train_loss", "weighted_loss", "val_loss"):
        if a[k].shape != (r,):
            return f"{k} has shape {a[k].shape}; expected ({r},) like steps"
    e = a["eval_steps"].shape
    for k in ("test_acc", "val_acc", "test_loss"):
        if len(e) != 1 or a[k].shape != e:
            return f"{k} has shape {a[k].shape}; expected {e} like eval_steps"
    n = a["y"].shape
    for k in ("y_clean", "is_noisy", "is_minority"):
        if len(n) != 1 or a[k].shape != n:
            return f"{k} has shape {a[k].shape}; expected {n} like y"
    kinds = {"steps": "iu", "indices": "iu", "eval_steps": "iu", "y": "iu", "y_clean": "iu", "is_noisy": "b",
             "is_minority": "b", "weights": "f", "train_loss": "f", "test_acc": "f"}
    for k, allowed in kinds.items():
        if a[k].dtype.kind not in allowed:
            return f"{k} has dtype {a[k].dtype}"
    if a["indices"].size and (a["indices"].min() < 0 or a["indices"].max() >= n[0]):
        return f"indices range over [{a['indices'].min()}, {a['indices'].max()}] but y has {n[0]} examples"
    # values a trainer never writes: every figure drawn from them would be silently wrong
    w = a["weights"]
    if w.size and not np.isfinite(w).all():
        return f"weights hold {int((~np.isfinite(w)).sum())} NaN or infinite value(s); allowed: finite weights >= 0"
    if w.size and (w < 0).any():
        return f"weights hold {int((w < 0).sum())} negative value(s) (min {w.min():.3g}); allowed: weights >= 0"
    for k in ("test_acc", "val_acc"):
        acc = a[k]
        if acc.size and not ((acc >= 0) & (acc <= 1)).all():
            return f"{k} holds values outside [0, 1] (or NaN); allowed: accuracies in [0, 1]"
    return ""
