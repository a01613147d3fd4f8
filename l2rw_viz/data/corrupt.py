"""Bias on purpose: class imbalance and label flips, with the truth kept in masks (the paper's Section 4 set-ups).

- ``make_imbalanced``: MNIST 4-vs-9 with 9 the majority (the paper's class-imbalance experiment), or a toy 2-D
  problem. Label 0 is always the *minority* class, label 1 the majority; ``class_names`` says which digit.
- ``flip_labels``: uniform flips (a chosen label moves to a different class, uniformly) and background flips (all
  chosen labels move to one class), as in the paper's noisy-label experiments.
- ``make_noisy``: 10-class MNIST (or a toy problem) with flipped training labels and a clean balanced
  validation set.
- ``make_imbalanced_noisy``: both at once.

Every function is deterministic in ``seed``. The validation set is clean, class-balanced and taken out of the
training pool (disjoint from training); the test set is balanced and disjoint from both (on full MNIST it comes
from the official test split).

What the offline subset allows (500 images per digit): with the default 2x100 test images and 10 validation
images, 395 images of each digit remain for training. In ``make_imbalanced`` the majority digit limits the
training set: ``n_train`` is at most about ``395 / proportion`` (397 at ``proportion=0.995``, leaving 2
minority images). ``make_noisy`` on the subset defaults to 10x100 test, 10x10 validation and 10x390 training.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ..checks import check_choice, check_in_range, check_int, check_seed
from .dataset import BiasedDataset
from .mnist import MNIST_SOURCES, MnistPool, load_mnist
from .splits import spread_evenly, take_per_class
from .toy import TOY_KINDS, make_toy

# Upper bound on a requested training or test set size: far above any real use (full MNIST has 70,000 images), low
# enough that a typo (n_train=10**9) fails at once instead of generating toy points for minutes.
MAX_SET_SIZE = 1_000_000

DATA_KINDS = ("mnist",) + TOY_KINDS
FLIP_MODES = ("uniform", "background")

# The paper's MNIST sizes (Section 4.1): 5,000 training images and 500 balanced test images.
PAPER_N_TRAIN = 5000
PAPER_N_TEST = 500
# On the 5,000-image offline subset: 100 test images per class, the rest left for training and validation.
SUBSET_TEST_PER_CLASS = 100
# Toy problems are generated to order, so any size fits; these defaults draw well and train in seconds.
TOY_N_TRAIN = 400
TOY_N_TEST = 400


# ----------------------------------------------------------------------------------------------------------------
# Label flips

def flip_labels(y: torch.Tensor | np.ndarray, rate: float, mode: str = "uniform", num_classes: int = 10,
                background_class: int | None = None, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Flip a fraction of labels, the way the paper corrupts its training sets.

    Args:
        y: ``(n,)`` int labels in ``0..num_classes-1`` (tensor or array).
        rate: fraction in ``[0, 1)`` of the *eligible* examples to flip; exactly ``round(rate * eligible)`` are
            flipped. Uniform: every example is eligible. Background: only examples not already in the background
            class (flipping a label to the class it already has would change nothing).
        mode: ``"uniform"``: each chosen label moves to a different class drawn uniformly from the other
            ``num_classes - 1`` (never keeps its label; every class, the last included, can be reached).
            ``"background"``: every chosen label moves to ``background_class``.
        num_classes: ``C >= 2``.
        background_class: target of background flips; ``None``: a class drawn with ``seed``.
        seed: the one seed.

    Returns:
        ``y_noisy``: ``(n,)`` int64; ``is_flipped``: ``(n,)`` bool, equal to ``y_noisy != y``.
    """
    y_noisy, is_flipped, _ = _flip(y, rate, mode, num_classes, background_class, seed)
    return y_noisy, is_flipped


def _flip(y, rate, mode, num_classes, background_class, seed) -> tuple[torch.Tensor, torch.Tensor, int | None]:
    """``flip_labels`` plus the background class it used (``None`` for uniform flips)."""
    rate = check_in_range("rate", rate, 0.0, 1.0, high_open=True)
    check_choice("mode", mode, FLIP_MODES)
    num_classes = check_int("num_classes", num_classes, 2)
    seed = check_seed("seed", seed)
    labels = torch.as_tensor(y).detach().cpu()
    if labels.ndim != 1 or labels.is_floating_point() or labels.dtype == torch.bool:
        raise ValueError(f"y has shape {tuple(labels.shape)} and dtype {labels.dtype}; allowed: a 1-D integer "
                         f"label vector")
    labels = labels.to(torch.int64).numpy()
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"y has labels in [{labels.min()}, {labels.max()}]; allowed: 0..{num_classes - 1} "
                         f"(num_classes={num_classes})")
    rng = np.random.default_rng(seed)
    noisy = labels.copy()
    if mode == "background":
        background_class = (int(rng.integers(num_classes)) if background_class is None
                            else check_int("background_class", background_class, 0, num_classes - 1))
        eligible = np.flatnonzero(labels != background_class)
    else:
        if background_class is not None:
            raise ValueError(f"background_class={background_class!r} is only used by mode='background'; "
                             f"allowed with mode='uniform': None")
        eligible = np.arange(len(labels))
    k = int(round(rate * len(eligible)))
    chosen = rng.choice(eligible, size=k, replace=False) if k else np.zeros(0, dtype=np.int64)
    if mode == "background":
        noisy[chosen] = background_class
    else:
        # An offset in 1..C-1 added modulo C lands uniformly on the C-1 *other* classes. (The paper's released
        # generator draws from all C classes, so some "flips" keep their label, and it never reaches class C-1.)
        noisy[chosen] = (labels[chosen] + rng.integers(1, num_classes, size=k)) % num_classes
    y_noisy = torch.from_numpy(noisy)
    return y_noisy, y_noisy != torch.from_numpy(labels), background_class


# ----------------------------------------------------------------------------------------------------------------
# The labelled pool every data set is drawn from

class _Pool:
    """x ``(N, *F)`` float32, y ``(N,)`` int64 original labels, is_test ``(N,)`` bool, and where they came from."""

    def __init__(self, x: torch.Tensor, y: np.ndarray, is_test: np.ndarray, source: str):
        self.x, self.y, self.is_test, self.source = x, y, is_test, source

    @property
    def has_official_test(self) -> bool:
        return bool(self.is_test.any())


def _mnist_pool(source: str, pool: MnistPool | None) -> _Pool:
    if pool is None:
        check_choice("source", source, MNIST_SOURCES)
        pool = load_mnist(source)
    elif not isinstance(pool, MnistPool):
        raise ValueError(f"pool={type(pool).__name__} is not allowed for data='mnist'; allowed: an MnistPool "
                         f"(from load_mnist) or None")
    _check_finite(pool.x)
    return _Pool(pool.x, pool.y.numpy().astype(np.int64), pool.is_test.numpy().astype(bool), pool.source)


def _toy_pool(kind: str, pool: Any, per_class: int, seed: int) -> _Pool:
    """A toy pool: the caller's ``(x, y)`` pair, or a fresh one with ``per_class`` points of each class."""
    if pool is None:
        x, y = make_toy(kind, n=2 * per_class, seed=seed)
        source = f"make_toy({kind!r}, n={2 * per_class}, seed={seed})"
    else:
        if not (isinstance(pool, (tuple, list)) and len(pool) == 2):
            raise ValueError(f"pool={type(pool).__name__} is not allowed for data={kind!r}; allowed: an (x, y) pair "
                             f"of 2-D points and 0/1 labels, or None")
        x = torch.as_tensor(pool[0], dtype=torch.float32)
        y = torch.as_tensor(pool[1])
        if x.ndim != 2 or y.ndim != 1 or len(x) != len(y):
            raise ValueError(f"pool has x {tuple(x.shape)} and y {tuple(y.shape)}; allowed: x (N, d), y (N,)")
        if len(y) and not bool(((y == 0) | (y == 1)).all()):
            raise ValueError(f"pool labels are {sorted(set(y.tolist()))[:5]}...; allowed: 0 and 1")
        source = "user pool"
    _check_finite(x)
    y = torch.as_tensor(y).numpy().astype(np.int64)
    return _Pool(x, y, np.zeros(len(y), dtype=bool), source)


def _check_finite(x: torch.Tensor) -> None:
    bad = ~torch.isfinite(x.reshape(len(x), -1)).all(dim=1)
    if bool(bad.any()):
        raise ValueError(f"pool x has {int(bad.sum())} examples with NaN or infinite features (first at index "
                         f"{int(bad.nonzero()[0])}); allowed: finite numbers only")


def _draw_splits(pool: _Pool, train: dict[int, int] | Callable[[np.ndarray], dict[int, int]],
                 val: dict[int, int], test: dict[int, int], rng: np.random.Generator, args: dict[str, str]
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices of test, validation and training sets, disjoint by construction.

    Test comes first (from the official test split when the pool has one), then validation and training from
    what is left of the training split. ``train`` may be a function of the ``(N,)`` bool mask of still-free
    examples (for defaults that take "what is left"). Training indices are shuffled so classes are interleaved.
    ``args`` names the caller's argument behind each set (``{"test": "n_test=500", ...}``) for error messages.
    """
    if pool.has_official_test:
        test_idx = take_per_class(pool.y, test, pool.is_test.copy(), rng, f"test set ({args['test']})")
        available = ~pool.is_test
    else:
        available = np.ones(len(pool.y), dtype=bool)
        test_idx = take_per_class(pool.y, test, available, rng, f"test set ({args['test']})")
    if not pool.has_official_test:
        # test and validation share the pool: when the test set leaves too few, blame the test set's size
        for c, k in val.items():
            if _free(pool, available, c) < k:
                total = int((pool.y == c).sum())
                raise ValueError(f"{args['test']} takes {test.get(c, 0)} of the {total} examples of class {c} in "
                                 f"the {pool.source} pool, leaving {_free(pool, available, c)} for the validation "
                                 f"set ({args['val']}), which needs {k}; allowed: a smaller n_test")
    val_idx = take_per_class(pool.y, val, available, rng, f"validation set ({args['val']})")
    counts = train(available) if callable(train) else train
    train_idx = rng.permutation(take_per_class(pool.y, counts, available, rng, f"training set ({args['train']})"))
    return train_idx, val_idx, test_idx


def _free(pool: _Pool, available: np.ndarray, c: int) -> int:
    """Free examples of class ``c``."""
    return int((available & (pool.y == c)).sum())


def _check_data(data: str) -> str:
    return check_choice("data", data, DATA_KINDS)


def _check_even(name: str, value: Any, low: int, high: int | None = None) -> int:
    v = check_int(name, value, low, high)
    if v % 2:
        raise ValueError(f"{name}={value!r} is odd; allowed: an even integer >= {low} (half from each class)")
    return v


def _seed_for(seed: int, purpose: int) -> int:
    # Independent streams for "which examples go where" and "which labels flip", both fixed by the one seed.
    return int(np.random.SeedSequence([seed, purpose]).generate_state(1)[0])


# ----------------------------------------------------------------------------------------------------------------
# Class imbalance

def make_imbalanced(data: str = "mnist", *, minority: int | None = None, majority: int | None = None,
                    proportion: float = 0.995, n_train: int | None = None, n_val: int = 10,
                    n_test: int | None = None, seed: int = 0, source: str = "auto", pool: Any = None
                    ) -> BiasedDataset:
    """A binary task whose training set is dominated by one class (the paper's MNIST 4-vs-9 experiment).

    Args:
        data: ``"mnist"`` or a toy kind (``"moons"``, ``"blobs"``, ``"circles"``).
        minority, majority: the two original classes; MNIST digits ``0..9`` (default 4 and 9, as the paper),
            toy labels ``0``/``1`` (default 0 and 1). Relabelled so that **y = 0 is the minority** and y = 1 the
            majority; ``class_names == [str(minority), str(majority)]``.
        proportion: share of the majority class in training, in ``(0, 1)``; ``round(proportion * n_train)``
            majority examples, the rest (at least one) minority.
        n_train: training set size. ``None``: the paper's 5,000 on full MNIST; on the offline subset the largest
            size the majority digit allows (see the module docstring); 400 on toy data.
        n_val: clean validation images, even, at least 2; ``n_val / 2`` per class (the paper: 10).
        n_test: balanced test set size, even. ``None``: 500 on full MNIST (the paper), 200 on the subset, 400 on
            toy data.
        seed: the one seed (splits and, for toy data, the points themselves).
        source: MNIST source, ``"auto"``, ``"subset"`` or ``"full"`` (see ``load_mnist``); ignored if ``pool``.
        pool: an ``MnistPool`` to draw from (saves reloading), or for toy data an ``(x, y)`` pair.

    Returns:
        A ``BiasedDataset`` with ``num_classes == 2``, ``is_minority == (y_clean == 0)``, ``is_noisy`` all False
        and ``info`` holding name, data, source, minority, majority, proportion, seed and the counts.
    """
    return _imbalanced(data, minority, majority, proportion, n_train, n_val, n_test, seed, source, pool)


def _imbalanced(data, minority, majority, proportion, n_train, n_val, n_test, seed, source, pool) -> BiasedDataset:
    data = _check_data(data)
    is_toy = data != "mnist"
    top = 1 if is_toy else 9
    minority = check_int("minority", (0 if is_toy else 4) if minority is None else minority, 0, top)
    majority = check_int("majority", (1 if is_toy else 9) if majority is None else majority, 0, top)
    if minority == majority:
        raise ValueError(f"minority={minority} equals majority={majority}; allowed: two different classes")
    proportion = check_in_range("proportion", proportion, 0.0, 1.0, low_open=True, high_open=True)
    n_val = _check_even("n_val", n_val, 2)
    seed = check_seed("seed", seed)
    if n_train is not None:
        n_train = check_int("n_train", n_train, 2, MAX_SET_SIZE)
    if n_test is not None:
        n_test = _check_even("n_test", n_test, 2, MAX_SET_SIZE)

    if is_toy:
        n_train = TOY_N_TRAIN if n_train is None else n_train
        n_test = TOY_N_TEST if n_test is None else n_test
        n_major = int(round(proportion * n_train))
        per_class = max(n_major, n_train - n_major) + n_val // 2 + n_test // 2
        p = _toy_pool(data, pool, per_class, seed)
    else:
        p = _mnist_pool(source, pool)
        if n_test is None:
            n_test = PAPER_N_TEST if p.has_official_test else 2 * SUBSET_TEST_PER_CLASS
    if n_train is not None:
        _imbalance_counts(proportion, n_train)  # fail before drawing anything

    def train_counts(available: np.ndarray) -> dict[int, int]:
        size = n_train
        if size is None:  # full MNIST: the paper's 5,000; the subset: as many as the scarcer digit allows
            free = min(_free(p, available, minority), _free(p, available, majority))
            if free < 1:
                raise ValueError(f"n_test={n_test} and n_val={n_val} leave no training images of digit "
                                 f"{minority} or {majority} in the {p.source} pool; allowed: smaller n_test or n_val")
            size = _largest_fitting_n_train(proportion, free, cap=PAPER_N_TRAIN)
        n_minor, n_major = _imbalance_counts(proportion, size)
        return {minority: n_minor, majority: n_major}

    rng = np.random.default_rng(_seed_for(seed, 0))
    train_idx, val_idx, test_idx = _draw_splits(
        p, train=train_counts, val={minority: n_val // 2, majority: n_val // 2},
        test={minority: n_test // 2, majority: n_test // 2}, rng=rng,
        args={"train": f"n_train={n_train}, proportion={proportion}", "val": f"n_val={n_val}",
              "test": f"n_test={n_test}"})
    n_train = len(train_idx)
    n_minor = int((p.y[train_idx] == minority).sum())
    n_major = n_train - n_minor

    def relabel(idx):  # y = 0 <=> the minority class
        return torch.from_numpy((p.y[idx] == majority).astype(np.int64))

    y = relabel(train_idx)
    name = (f"MNIST {minority}-vs-{majority}" if not is_toy else f"{data} {minority}-vs-{majority}")
    info = {"name": f"{name}, {100 * proportion:g}% majority", "data": data, "source": p.source,
            "minority": minority, "majority": majority, "proportion": proportion, "seed": seed,
            "n_train": n_train, "n_minority": n_minor, "n_majority": n_major, "n_val": n_val, "n_test": n_test,
            "label_meaning": "y=0: minority, y=1: majority"}
    return BiasedDataset(
        x=p.x[train_idx].clone(), y=y, y_clean=y.clone(), is_noisy=torch.zeros(len(y), dtype=torch.bool),
        is_minority=y == 0, x_val=p.x[val_idx].clone(), y_val=relabel(val_idx), x_test=p.x[test_idx].clone(),
        y_test=relabel(test_idx), num_classes=2, class_names=[str(minority), str(majority)], info=info)


def _imbalance_counts(proportion: float, n_train: int) -> tuple[int, int]:
    """``(n_minority, n_majority)`` for a training set of ``n_train``; at least one of each."""
    n_major = int(round(proportion * n_train))
    n_minor = n_train - n_major
    if n_minor < 1 or n_major < 1:
        raise ValueError(f"proportion={proportion} with n_train={n_train} gives {n_minor} minority and {n_major} "
                         f"majority examples; allowed: at least one of each (raise n_train or move proportion "
                         f"away from 0 and 1)")
    return n_minor, n_major


def _largest_fitting_n_train(proportion: float, free: int, cap: int) -> int:
    """Largest ``n <= cap`` whose majority and minority counts both fit into ``free`` images per class."""
    n = min(cap, int(math.floor(max(free, 0) / max(proportion, 1 - proportion))) + 1)
    while n > 2:
        major = int(round(proportion * n))
        if major <= free and n - major <= free:
            return n
        n -= 1
    return n


# ----------------------------------------------------------------------------------------------------------------
# Noisy labels

def _noise_args(noise_rate, noise_mode, rate, mode, default_rate: float) -> tuple[str, float, str, str]:
    """``(rate's name, rate, mode's name, mode)``: ``noise_rate`` / ``noise_mode`` (the one spelling, as in the
    experiments, results rows and the explorer), or their older spellings ``rate`` / ``mode`` (kept: notebooks and
    scripts call them); the error names the spelling used."""
    out = []
    for new_name, new, old_name, old, default in (("noise_rate", noise_rate, "rate", rate, default_rate),
                                                  ("noise_mode", noise_mode, "mode", mode, "uniform")):
        if new is not None and old is not None:
            raise ValueError(f"{new_name}={new!r} and {old_name}={old!r} were both given; allowed: {new_name} alone "
                             f"({old_name} is its older spelling)")
        out += [old_name, old] if old is not None else [new_name, default if new is None else new]
    r_name, r, m_name, m = out
    r = check_in_range(r_name, r, 0.0, 1.0, high_open=True)
    check_choice(m_name, m, FLIP_MODES)
    return r_name, r, m_name, m


def make_noisy(data: str = "mnist", *, noise_rate: float | None = None, noise_mode: str | None = None,
               n_val_per_class: int = 10, n_train: int | None = None, n_test: int | None = None, seed: int = 0,
               source: str = "auto", background_class: int | None = None, pool: Any = None,
               rate: float | None = None, mode: str | None = None) -> BiasedDataset:
    """A balanced training set with flipped labels and a small clean validation set (the paper's noisy set-up).

    Args:
        data: ``"mnist"`` (10 classes) or a toy kind (2 classes).
        noise_rate: fraction of eligible training labels flipped, in ``[0, 1)`` (see ``flip_labels``; default 0.4).
        noise_mode: ``"uniform"`` (default) or ``"background"``. ``rate`` / ``mode``: their older spellings.
        n_val_per_class: clean validation images per class, at least 1 (the paper's background setting: 10).
        n_train: training set size, spread evenly over the classes. ``None``: 5,000 on full MNIST, what is left
            on the offline subset (390 per digit with the default sizes), 400 on toy data.
        n_test: balanced test set size, spread evenly over the classes. ``None``: 1,000 on MNIST (100 per digit;
            on full MNIST from the official test split), 400 on toy data.
        seed: the one seed (splits, flips, background class, toy points).
        source: MNIST source (see ``load_mnist``); ignored if ``pool``.
        background_class: target of background flips; ``None``: drawn with ``seed`` (recorded in ``info``).
        pool: an ``MnistPool``, or for toy data an ``(x, y)`` pair.

    Returns:
        A ``BiasedDataset``: ``is_noisy == (y != y_clean)``, ``is_minority`` all False; validation and test sets
        carry clean labels.
    """
    data = _check_data(data)
    _, rate, mode_name, mode = _noise_args(noise_rate, noise_mode, rate, mode, 0.4)
    n_val_per_class = check_int("n_val_per_class", n_val_per_class, 1)
    seed = check_seed("seed", seed)
    is_toy = data != "mnist"
    classes = [0, 1] if is_toy else list(range(10))
    if background_class is not None:
        if mode != "background":
            raise ValueError(f"background_class={background_class!r} is only used by {mode_name}='background'; "
                             f"allowed with {mode_name}={mode!r}: None")
        check_int("background_class", background_class, 0, len(classes) - 1)
    if n_train is not None:
        n_train = check_int("n_train", n_train, len(classes), MAX_SET_SIZE)
    if n_test is not None:
        n_test = check_int("n_test", n_test, len(classes), MAX_SET_SIZE)

    rng = np.random.default_rng(_seed_for(seed, 0))
    if is_toy:
        n_train = TOY_N_TRAIN if n_train is None else n_train
        n_test = TOY_N_TEST if n_test is None else n_test
        per_class = -(-n_train // 2) + n_val_per_class + -(-n_test // 2)
        p = _toy_pool(data, pool, per_class, seed)
    else:
        p = _mnist_pool(source, pool)
        n_test = 10 * SUBSET_TEST_PER_CLASS if n_test is None else n_test
    test = spread_evenly(n_test, classes, rng)

    def train_counts(available: np.ndarray) -> dict[int, int]:
        size = n_train
        if size is None:  # full MNIST: 5,000; the subset: everything left, balanced
            size = PAPER_N_TRAIN if p.has_official_test else len(classes) * min(_free(p, available, c) for c in classes)
            if size < len(classes):
                raise ValueError(f"n_test={n_test} and n_val_per_class={n_val_per_class} leave no training "
                                 f"images in the {p.source} pool; allowed: smaller n_test or n_val_per_class")
        return spread_evenly(size, classes, rng)

    train_idx, val_idx, test_idx = _draw_splits(p, train=train_counts, val={c: n_val_per_class for c in classes},
                                                test=test, rng=rng,
                                                args={"train": f"n_train={n_train}",
                                                      "val": f"n_val_per_class={n_val_per_class}",
                                                      "test": f"n_test={n_test}"})
    n_train = len(train_idx)
    y_clean = torch.from_numpy(p.y[train_idx].copy())
    y, is_noisy, bg = _flip(y_clean, rate, mode, len(classes), background_class, _seed_for(seed, 1))
    kind = "MNIST" if not is_toy else data
    info = {"name": f"{kind}, {100 * rate:g}% {mode} flips", "data": data, "source": p.source, "rate": rate,
            "mode": mode, "background_class": bg, "seed": seed, "n_train": n_train, "n_noisy": int(is_noisy.sum()),
            "n_val": len(val_idx), "n_test": len(test_idx)}
    return BiasedDataset(
        x=p.x[train_idx].clone(), y=y, y_clean=y_clean, is_noisy=is_noisy,
        is_minority=torch.zeros(len(y), dtype=torch.bool), x_val=p.x[val_idx].clone(),
        y_val=torch.from_numpy(p.y[val_idx].copy()), x_test=p.x[test_idx].clone(),
        y_test=torch.from_numpy(p.y[test_idx].copy()), num_classes=len(classes),
        class_names=[str(c) for c in classes], info=info)


# ----------------------------------------------------------------------------------------------------------------
# Both biases

def make_imbalanced_noisy(data: str = "mnist", *, minority: int | None = None, majority: int | None = None,
                          proportion: float = 0.9, noise_rate: float | None = None, noise_mode: str | None = None,
                          n_train: int | None = None, n_val: int = 10, n_test: int | None = None, seed: int = 0,
                          source: str = "auto", background_class: int | None = None, pool: Any = None,
                          rate: float | None = None, mode: str | None = None) -> BiasedDataset:
    """Class imbalance and label noise together: ``make_imbalanced``, then ``flip_labels`` on the training labels.

    Binary only: labels as in ``make_imbalanced`` (y = 0 the minority). With two classes a uniform flip swaps
    the label; a background flip moves labels to ``background_class`` (0 = minority, 1 = majority; ``None``:
    drawn with ``seed``). ``is_minority`` marks the *true* minority (``y_clean == 0``), ``is_noisy`` the flips.
    Defaults (90% majority, 20% flips) keep both biases visible; ``noise_rate`` / ``noise_mode`` (or their older
    spellings ``rate`` / ``mode``) as in ``make_noisy``, other arguments as in ``make_imbalanced``.
    """
    _, rate, mode_name, mode = _noise_args(noise_rate, noise_mode, rate, mode, 0.2)
    if background_class is not None:
        if mode != "background":
            raise ValueError(f"background_class={background_class!r} is only used by {mode_name}='background'; "
                             f"allowed with {mode_name}={mode!r}: None")
        check_int("background_class", background_class, 0, 1)
    base = _imbalanced(data, minority, majority, proportion, n_train, n_val, n_test, seed, source, pool)
    y, is_noisy, bg = _flip(base.y_clean, rate, mode, 2, background_class, _seed_for(base.info["seed"], 1))
    info = {**base.info, "name": f"{base.info['name']}, {100 * rate:g}% {mode} flips", "rate": rate, "mode": mode,
            "background_class": bg, "n_noisy": int(is_noisy.sum())}
    return BiasedDataset(x=base.x, y=y, y_clean=base.y_clean, is_noisy=is_noisy, is_minority=base.is_minority,
                         x_val=base.x_val, y_val=base.y_val, x_test=base.x_test, y_test=base.y_test,
                         num_classes=2, class_names=base.class_names, info=info)
