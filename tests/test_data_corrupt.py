"""Label flips: exact rates, uniform flips always change the class and reach every class, background flips all
land on one class and never pick examples already there (the fixes PAPER_NOTES lists against the released code)."""

import numpy as np
import pytest
import torch

from l2rw_viz.data import flip_labels


def _labels(n=5000, c=10, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).integers(0, c, size=n))


@pytest.mark.parametrize("rate", [0.0, 0.1, 0.4, 0.77])
def test_uniform_flip_rate_is_exact_and_mask_agrees(rate):
    y = _labels()
    y_noisy, flipped = flip_labels(y, rate, "uniform", num_classes=10, seed=1)
    assert y_noisy.dtype == torch.int64 and flipped.dtype == torch.bool and y_noisy.shape == y.shape
    assert int(flipped.sum()) == round(rate * len(y))
    assert torch.equal(flipped, y_noisy != y)   # a uniform flip never keeps its label
    assert torch.equal(y_noisy[~flipped], y[~flipped])


def test_uniform_flip_targets_are_uniform_over_the_other_classes():
    c = 10
    y = torch.full((20000,), 3)  # one source class: targets should spread evenly over the 9 others, 9 included
    y_noisy, flipped = flip_labels(y, 0.9, "uniform", num_classes=c, seed=0)
    counts = np.bincount(y_noisy[flipped].numpy(), minlength=c)
    assert counts[3] == 0
    others = np.delete(counts, 3)
    expected = flipped.sum().item() / (c - 1)  # 2000 each
    assert (np.abs(others - expected) < 5 * np.sqrt(expected)).all(), others
    # and from every source class, including the last one, and onto the last one
    y = _labels(c=c)
    y_noisy, flipped = flip_labels(y, 0.5, "uniform", num_classes=c, seed=2)
    assert set(y[flipped].tolist()) == set(range(c))
    assert set(y_noisy[flipped].tolist()) == set(range(c))


def test_binary_uniform_flip_swaps():
    y = torch.tensor([0, 1] * 50)
    y_noisy, flipped = flip_labels(y, 0.3, "uniform", num_classes=2, seed=0)
    assert torch.equal(y_noisy[flipped], 1 - y[flipped]) and int(flipped.sum()) == 30


@pytest.mark.parametrize("rate", [0.0, 0.25, 0.4, 0.9])
def test_background_flip_goes_to_one_class_and_skips_it(rate):
    y = _labels(n=3000)
    y_noisy, flipped = flip_labels(y, rate, "background", num_classes=10, background_class=7, seed=0)
    eligible = int((y != 7).sum())
    assert int(flipped.sum()) == round(rate * eligible)
    assert torch.equal(flipped, y_noisy != y)
    assert (y_noisy[flipped] == 7).all()
    assert not (y[flipped] == 7).any()          # never chosen among examples already in the background class
    assert (y_noisy[y == 7] == 7).all()


def test_background_class_default_is_seeded():
    y = _labels(n=2000)
    picks = set()
    for seed in range(8):
        a, fa = flip_labels(y, 0.3, "background", seed=seed)
        b, fb = flip_labels(y, 0.3, "background", seed=seed)
        assert torch.equal(a, b) and torch.equal(fa, fb)
        targets = set(a[fa].tolist())
        assert len(targets) == 1
        picks |= targets
    assert len(picks) > 1  # different seeds pick different background classes


def test_flips_deterministic_and_accept_numpy():
    y = _labels(n=1000)
    a, fa = flip_labels(y, 0.4, seed=11)
    b, fb = flip_labels(y.numpy(), 0.4, seed=11)
    c, _ = flip_labels(y, 0.4, seed=12)
    assert torch.equal(a, b) and torch.equal(fa, fb)
    assert not torch.equal(a, c)
    assert torch.equal(y, _labels(n=1000))  # the input is not modified


@pytest.mark.parametrize("kwargs, name", [
    (dict(rate=1.0), "rate"), (dict(rate=-0.1), "rate"), (dict(rate=float("nan")), "rate"),
    (dict(rate="a lot"), "rate"), (dict(mode="pairwise"), "mode"), (dict(num_classes=1), "num_classes"),
    (dict(mode="background", background_class=10), "background_class"),
    (dict(mode="uniform", background_class=3), "background_class"), (dict(seed=-3), "seed"),
])
def test_flip_labels_rejects_bad_arguments(kwargs, name):
    args = dict(y=_labels(n=100), rate=0.2)
    args.update(kwargs)
    with pytest.raises(ValueError, match=name):
        flip_labels(**args)


@pytest.mark.parametrize("y", [torch.tensor([0, 1, 10]), torch.tensor([-1, 2]), torch.tensor([0.0, 1.0]),
                               torch.zeros(2, 2, dtype=torch.long)])
def test_flip_labels_rejects_bad_label_vectors(y):
    with pytest.raises(ValueError, match="y "):
        flip_labels(y, 0.2, num_classes=10)
