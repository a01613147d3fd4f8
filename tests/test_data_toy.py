"""Toy 2-D data: shapes, balance, standardisation, seeds, and the toy versions of the biased data sets."""

import math

import numpy as np
import pytest
import torch

from l2rw_viz.data import check_disjoint, make_imbalanced, make_imbalanced_noisy, make_noisy, make_toy


@pytest.mark.parametrize("kind", ["moons", "blobs", "circles"])
def test_make_toy_shapes_balance_and_scale(kind):
    x, y = make_toy(kind, n=301, seed=3)
    assert x.shape == (301, 2) and x.dtype == torch.float32
    assert y.shape == (301,) and y.dtype == torch.int64
    assert y.bincount().tolist() == [151, 150]
    assert torch.allclose(x.mean(0), torch.zeros(2), atol=1e-5)
    assert torch.allclose(x.std(0, unbiased=False), torch.ones(2), atol=1e-4)
    # random order: the classes are interleaved, not one block after the other
    assert 0.2 < y[:150].float().mean() < 0.8


@pytest.mark.parametrize("kind", ["moons", "blobs", "circles"])
def test_make_toy_is_deterministic_in_seed(kind):
    x1, y1 = make_toy(kind, n=50, seed=7)
    x2, y2 = make_toy(kind, n=50, seed=7)
    x3, _ = make_toy(kind, n=50, seed=8)
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert not torch.equal(x1, x3)


def test_noise_controls_overlap():
    # more jitter -> points spread further from the noiseless curve: the classes get harder to tell apart
    x0, _ = make_toy("moons", n=400, seed=0, noise=0.0)
    x1, _ = make_toy("moons", n=400, seed=0, noise=0.5)
    assert not torch.allclose(x0, x1)
    x, y = make_toy("blobs", n=400, seed=0, noise=0.1)
    # tight blobs with centres on the x axis are separated by the sign of the first feature
    assert ((x[:, 0] > 0).long() == y).all()


@pytest.mark.parametrize("kwargs, name", [
    (dict(kind="spirals"), "kind"), (dict(n=3), "n"), (dict(n=10.5), "n"), (dict(noise=-0.1), "noise"),
    (dict(noise=float("nan")), "noise"), (dict(seed=-1), "seed"),
])
def test_make_toy_rejects_bad_input(kwargs, name):
    with pytest.raises(ValueError, match=name):
        make_toy(**kwargs)


def test_toy_imbalanced_counts_masks_and_splits():
    d = make_imbalanced("moons", proportion=0.9, n_train=200, n_val=10, n_test=100, seed=1)
    assert d.num_classes == 2 and d.class_names == ["0", "1"]
    assert d.class_counts().tolist() == [20, 180]
    assert torch.equal(d.is_minority, d.y_clean == 0)
    assert not d.is_noisy.any() and torch.equal(d.y, d.y_clean)
    assert d.class_counts("y_val").tolist() == [5, 5]
    assert d.class_counts("y_test").tolist() == [50, 50]
    check_disjoint(train=d.x, val=d.x_val, test=d.x_test)
    assert d.info["data"] == "moons" and d.info["n_minority"] == 20


def test_toy_imbalanced_minority_one_relabels_to_zero():
    # y = 0 always means "minority": with minority=1 the original class 1 becomes label 0
    d = make_imbalanced("blobs", minority=1, majority=0, proportion=0.8, n_train=100, n_test=40, seed=0)
    assert d.class_names == ["1", "0"]
    assert d.class_counts().tolist() == [20, 80]
    # blob 1 sits at positive x: the minority (label 0 now) must be the points with positive first feature
    assert d.x[d.y == 0, 0].mean() > 0 > d.x[d.y == 1, 0].mean()


def test_toy_user_pool_and_nan_rejected():
    x, y = make_toy("circles", n=200, seed=0)
    d = make_imbalanced("circles", proportion=0.75, n_train=40, n_test=20, pool=(x, y))
    assert d.info["source"] == "user pool"
    x_bad = x.clone()
    x_bad[5, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        make_imbalanced("circles", proportion=0.75, n_train=40, n_test=20, pool=(x_bad, y))
    with pytest.raises(ValueError, match="pool"):
        make_noisy("circles", pool=(x, y + 1))
    with pytest.raises(ValueError, match="training set"):  # the user's pool is too small for the request
        make_imbalanced("circles", proportion=0.5, n_train=400, n_test=20, pool=(x, y))


def test_toy_noisy_and_combined():
    d = make_noisy("moons", rate=0.3, n_train=200, n_test=100, n_val_per_class=5, seed=2)
    assert d.num_classes == 2 and d.n == 200
    assert torch.equal(d.is_noisy, d.y != d.y_clean)
    assert int(d.is_noisy.sum()) == 60
    assert not d.is_minority.any()
    assert d.class_counts("y_val").tolist() == [5, 5]
    check_disjoint(train=d.x, val=d.x_val, test=d.x_test)

    c = make_imbalanced_noisy("moons", proportion=0.8, rate=0.25, n_train=100, n_test=40, seed=0)
    assert torch.equal(c.is_minority, c.y_clean == 0)
    assert torch.equal(c.is_noisy, c.y != c.y_clean)
    assert int(c.is_noisy.sum()) == 25 and int(c.is_minority.sum()) == 20
    assert math.isclose(c.info["rate"], 0.25) and c.info["proportion"] == 0.8


def test_toy_biased_sets_deterministic():
    a = make_noisy("circles", rate=0.2, seed=5)
    b = make_noisy("circles", rate=0.2, seed=5)
    c = make_noisy("circles", rate=0.2, seed=6)
    for name in ("x", "y", "y_clean", "x_val", "y_val", "x_test", "y_test"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    assert not torch.equal(a.x, c.x)
    assert np.array_equal(a.is_noisy.numpy(), b.is_noisy.numpy())
