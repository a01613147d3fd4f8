"""MNIST data sets on the offline subset (and on a small hand-made "full" pool with an official test split):
the paper's imbalance and noise set-ups, checked by counts, masks and image content."""

import numpy as np
import pytest
import torch

from l2rw_viz.data import (
    MnistPool,
    check_disjoint,
    content_hashes,
    load_mnist,
    make_imbalanced,
    make_imbalanced_noisy,
    make_noisy,
)


@pytest.fixture(scope="module")
def subset():
    return load_mnist("subset", progress=False)


@pytest.fixture(scope="module")
def fake_full():
    """A small pool shaped like full MNIST: random distinct images, 60 per digit for training, 20 per digit as the
    official test split (``is_test``)."""
    rng = np.random.default_rng(0)
    y = np.concatenate([np.repeat(np.arange(10), 60), np.repeat(np.arange(10), 20)])
    x = torch.from_numpy(rng.integers(0, 256, size=(len(y), 1, 28, 28)).astype(np.float32) / 255)
    is_test = torch.from_numpy(np.arange(len(y)) >= 600)
    return MnistPool(x=x, y=torch.from_numpy(y), is_test=is_test, source="full")


def test_subset_pool(subset):
    assert subset.source == "subset" and len(subset) == 5000
    assert subset.x.shape == (5000, 1, 28, 28) and subset.x.dtype == torch.float32
    assert subset.y.dtype == torch.int64 and subset.is_test.dtype == torch.bool and not subset.is_test.any()
    assert 0.0 == subset.x.min() and subset.x.max() == 1.0
    assert np.bincount(subset.y.numpy()).tolist() == [500] * 10
    assert len(set(content_hashes(subset.x))) == 5000  # real, distinct images


def test_subset_cache_returns_copies(subset):
    a = load_mnist("subset", progress=False)
    a.x.zero_()
    a.y.fill_(3)
    b = load_mnist("subset", progress=False)
    assert torch.equal(b.x, subset.x) and torch.equal(b.y, subset.y)


@pytest.mark.parametrize("proportion", [0.9, 0.98, 0.995])
def test_imbalanced_subset_defaults_fit(subset, proportion):
    d = make_imbalanced(proportion=proportion, pool=subset, seed=0)
    n_major = d.info["n_majority"]
    assert d.num_classes == 2 and d.class_names == ["4", "9"]
    # the subset's limit: 500 nines - 100 test - 5 validation = 395 for training
    assert n_major == 395 and d.n == d.info["n_train"]
    assert n_major == round(proportion * d.n) and d.info["n_minority"] >= 1
    assert d.class_counts().tolist() == [d.n - n_major, n_major]
    assert d.class_counts("y_val").tolist() == [5, 5]
    assert d.class_counts("y_test").tolist() == [100, 100]
    assert torch.equal(d.is_minority, d.y_clean == 0) and not d.is_noisy.any()
    check_disjoint(train=d.x, val=d.x_val, test=d.x_test)
    assert d.info["source"] == "subset" and d.info["proportion"] == proportion


def test_imbalanced_labels_are_the_right_digits(subset):
    # y = 0 means digit 4 (minority): every training/val/test image must be a 4 or a 9 of the pool, correctly named
    d = make_imbalanced(proportion=0.9, pool=subset, seed=1)
    digit_of = dict(zip(content_hashes(subset.x), subset.y.tolist()))
    for x, y in ((d.x, d.y), (d.x_val, d.y_val), (d.x_test, d.y_test)):
        digits = np.array([digit_of[h] for h in content_hashes(x)])
        assert np.array_equal(digits, np.where(y.numpy() == 0, 4, 9))


def test_imbalanced_explicit_sizes_and_other_digits(subset):
    d = make_imbalanced(minority=2, majority=7, proportion=0.95, n_train=300, n_val=20, n_test=100, pool=subset)
    assert d.class_names == ["2", "7"] and d.class_counts().tolist() == [15, 285]
    assert d.class_counts("y_val").tolist() == [10, 10] and d.class_counts("y_test").tolist() == [50, 50]


def test_imbalanced_uses_official_test_split(fake_full):
    d = make_imbalanced(proportion=0.8, n_train=50, n_val=10, n_test=20, pool=fake_full, seed=0)
    test_hashes = set(content_hashes(fake_full.x[fake_full.is_test]))
    assert set(content_hashes(d.x_test)) <= test_hashes
    assert not set(content_hashes(d.x)) & test_hashes and not set(content_hashes(d.x_val)) & test_hashes
    assert d.info["source"] == "full"
    # defaults on a "full" pool are the paper's 5,000 / 500: too many for this little pool, and the error says so
    with pytest.raises(ValueError, match=r"test set \(n_test=500\) needs 250"):
        make_imbalanced(proportion=0.9, pool=fake_full)


def test_imbalanced_is_deterministic(subset):
    a = make_imbalanced(proportion=0.98, pool=subset, seed=4)
    b = make_imbalanced(proportion=0.98, pool=subset, seed=4)
    c = make_imbalanced(proportion=0.98, pool=subset, seed=5)
    for name in ("x", "y", "x_val", "y_val", "x_test", "y_test"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    assert not torch.equal(a.x_val, c.x_val)


@pytest.mark.parametrize("kwargs, name", [
    (dict(proportion=1.0), "proportion"), (dict(proportion=0.0), "proportion"), (dict(proportion=1.5), "proportion"),
    (dict(minority=10), "minority"), (dict(majority=-1), "majority"), (dict(minority=9, majority=9), "minority"),
    (dict(n_val=0), "n_val"), (dict(n_val=7), "n_val"), (dict(n_test=11), "n_test"), (dict(n_train=1), "n_train"),
    (dict(data="cifar"), "data"), (dict(proportion=0.9999, n_train=300), "proportion"),
    (dict(n_train=1000), "training set .n_train=1000"), (dict(n_val=1000), "n_val=1000"), (dict(seed=-1), "seed"),
])
def test_imbalanced_rejects_bad_input(subset, kwargs, name):
    args = dict(pool=subset, proportion=0.9)
    args.update(kwargs)
    with pytest.raises(ValueError, match=name):
        make_imbalanced(**args)


def test_source_without_pool(subset):
    d = make_noisy(source="subset", n_train=100, n_test=50, seed=0)
    assert d.info["source"] == "subset" and d.n == 100 and len(d.y_test) == 50


def test_bad_source_and_pool_rejected(subset):
    with pytest.raises(ValueError, match="source"):
        make_imbalanced(source="internet")
    with pytest.raises(ValueError, match="source"):
        load_mnist("mirror")
    with pytest.raises(ValueError, match="pool"):
        make_noisy(pool=(subset.x, subset.y))
    bad = MnistPool(x=subset.x.clone(), y=subset.y, is_test=subset.is_test, source="subset")
    bad.x[10, 0, 3, 3] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        make_imbalanced(pool=bad)


@pytest.mark.parametrize("mode", ["uniform", "background"])
def test_noisy_subset(subset, mode):
    d = make_noisy(rate=0.4, mode=mode, pool=subset, seed=0)
    assert d.num_classes == 10 and d.n == 3900 and d.class_names == [str(c) for c in range(10)]
    assert d.class_counts("y_clean").tolist() == [390] * 10
    assert d.class_counts("y_val").tolist() == [10] * 10 and d.class_counts("y_test").tolist() == [100] * 10
    assert torch.equal(d.is_noisy, d.y != d.y_clean) and not d.is_minority.any()
    check_disjoint(train=d.x, val=d.x_val, test=d.x_test)
    # clean labels are the pool's labels; validation labels are clean
    digit_of = dict(zip(content_hashes(subset.x), subset.y.tolist()))
    assert [digit_of[h] for h in content_hashes(d.x)] == d.y_clean.tolist()
    assert [digit_of[h] for h in content_hashes(d.x_val)] == d.y_val.tolist()
    if mode == "uniform":
        assert int(d.is_noisy.sum()) == round(0.4 * 3900)
    else:
        bg = d.info["background_class"]
        assert int(d.is_noisy.sum()) == round(0.4 * 3510) and (d.y[d.is_noisy] == bg).all()
        assert d.class_counts()[bg] == 390 + round(0.4 * 3510)


def test_noisy_explicit_background_and_sizes(subset, fake_full):
    d = make_noisy(rate=0.2, mode="background", background_class=0, n_train=1003, n_test=200, n_val_per_class=3,
                   pool=subset, seed=1)
    counts = d.class_counts("y_clean")
    assert counts.sum() == 1003 and counts.max() - counts.min() <= 1
    assert d.info["background_class"] == 0 and (d.y[d.is_noisy] == 0).all()
    f = make_noisy(rate=0.3, n_train=100, n_test=50, pool=fake_full, seed=0)
    assert set(content_hashes(f.x_test)) <= set(content_hashes(fake_full.x[fake_full.is_test]))


@pytest.mark.parametrize("kwargs, name", [
    (dict(rate=1.0), "rate"), (dict(rate=-0.5), "rate"), (dict(mode="pair"), "mode"),
    (dict(n_val_per_class=0), "n_val_per_class"), (dict(mode="background", background_class=11), "background_class"),
    (dict(mode="uniform", background_class=1), "background_class"), (dict(n_val_per_class=400), "no training"),
    (dict(n_val_per_class=480), "n_val_per_class=480"),
    (dict(n_train=5000), "n_train=5000"), (dict(n_test=5), "n_test"),
])
def test_noisy_rejects_bad_input(subset, kwargs, name):
    args = dict(pool=subset)
    args.update(kwargs)
    with pytest.raises(ValueError, match=name):
        make_noisy(**args)


def test_imbalanced_noisy_subset(subset):
    d = make_imbalanced_noisy(proportion=0.9, rate=0.2, pool=subset, seed=0)
    assert torch.equal(d.is_minority, d.y_clean == 0) and torch.equal(d.is_noisy, d.y != d.y_clean)
    assert int(d.is_minority.sum()) == d.info["n_minority"] and int(d.is_noisy.sum()) == round(0.2 * d.n)
    base = make_imbalanced(proportion=0.9, pool=subset, seed=0)
    assert torch.equal(d.x, base.x) and torch.equal(d.y_clean, base.y)  # the same split, then flips
    b = make_imbalanced_noisy(proportion=0.9, rate=0.3, mode="background", background_class=0, pool=subset)
    assert (b.y[b.is_noisy] == 0).all() and not (b.y_clean[b.is_noisy] == 0).any()
    with pytest.raises(ValueError, match="background_class"):
        make_imbalanced_noisy(mode="background", background_class=2, pool=subset)
    with pytest.raises(ValueError, match="rate"):
        make_imbalanced_noisy(rate=1, pool=subset)
