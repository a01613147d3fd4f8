"""The classic fixes, each doing what its name promises: proportion, resampling, hard mining, random weights,
clean only, fine-tuning."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from l2rw_viz.data import make_imbalanced, make_imbalanced_noisy
from l2rw_viz.methods import StepContext, get_method
from l2rw_viz.methods.hard_mining import select_hard
from l2rw_viz.models import make_model
from l2rw_viz.train import train

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def imbalanced():
    return make_imbalanced("moons", proportion=0.9, seed=0)


def _ctx(ds, idx, model=None, step=0, seed=0):
    idx = np.asarray(idx)
    method = get_method("plain")
    return StepContext(model=model or make_model("toy_mlp", 2, (2,), seed=0), x=ds.x[idx], y=ds.y[idx], idx=idx,
                       x_val=ds.x_val, y_val=ds.y_val, step=step, lr=0.1, dataset=ds,
                       generator=torch.Generator().manual_seed(seed), per_example_loss=method.per_example_loss)


def _run(ds, method, steps=30, batch_size=40, **kw):
    return train(make_model("toy_mlp", 2, (2,), seed=0), ds, method, steps=steps, batch_size=batch_size, lr=0.05,
                 device="cpu", seed=0, eval_every=steps, progress=False, **kw)


def test_proportion_weights_are_inverse_class_frequency(imbalanced):
    counts = np.bincount(imbalanced.y.numpy())  # 40 minority, 360 majority
    idx = np.arange(100)
    w = get_method("proportion").batch_weights(_ctx(imbalanced, idx)).numpy()
    assert w.sum() == pytest.approx(1.0, abs=1e-6)
    y = imbalanced.y[idx].numpy()
    expected = 1.0 / counts[y]
    np.testing.assert_allclose(w, expected / expected.sum(), rtol=1e-5)
    # a minority example weighs counts[1]/counts[0] = 9 times a majority one
    assert w[y == 0][0] / w[y == 1][0] == pytest.approx(counts[1] / counts[0], rel=1e-5)


def test_proportion_balances_the_classes_in_a_run(imbalanced):
    h = _run(imbalanced, "proportion")
    np.testing.assert_allclose(h.weights.sum(axis=1), 1.0, rtol=1e-5)
    assert h.mean_weight("minority")[np.isfinite(h.mean_weight("minority"))].mean() > 3.0


def test_random_weights_are_rectified_gaussian_and_sum_to_one(imbalanced):
    w = torch.stack([get_method("random").batch_weights(_ctx(imbalanced, np.arange(100), seed=s))
                     for s in range(20)])
    np.testing.assert_allclose(w.sum(1).numpy(), 1.0, rtol=1e-5)
    assert (w >= 0).all()
    zero_share = float((w == 0).float().mean())
    assert 0.35 < zero_share < 0.65  # max(z, 0) is zero half of the time
    # different seeds draw different weights
    assert not torch.equal(w[0], w[1])


def test_resample_batches_are_class_balanced(imbalanced):
    sampler = get_method("resample").make_sampler(imbalanced, 40, np.random.default_rng(0))
    y = imbalanced.y.numpy()
    for _ in range(10):
        batch = next(sampler)
        assert len(batch) == 40
        assert np.bincount(y[batch], minlength=2).tolist() == [20, 20]
    h = _run(imbalanced, "resample")
    assert h.is_minority[h.indices].mean() == pytest.approx(0.5, abs=0.02)


def test_over_and_under_sampling_equalise_the_counts(imbalanced):
    over = get_method("oversample").prepare(imbalanced, seed=0)
    under = get_method("undersample").prepare(imbalanced, seed=0)
    assert over.class_counts().tolist() == [360, 360]
    assert under.class_counts().tolist() == [40, 40]
    # rows are copies of original rows, masks travel with them
    src = over.info["resampled_from"]
    assert torch.equal(over.x, imbalanced.x[src]) and torch.equal(over.is_minority, imbalanced.is_minority[src])


def test_hard_mining_keeps_every_minority_and_as_many_hardest_majority():
    losses = torch.tensor([0.1, 5.0, 0.2, 3.0, 0.3, 4.0, 0.05, 0.4])
    minority = torch.tensor([False, False, True, False, False, False, True, False])
    kept = select_hard(losses, minority, keep=6)
    # the official rule: both minority entries (2, 6) even though their losses are small, then exactly as many of
    # the hardest majority ones (1, 5): a 50/50 batch, not one filled up to `keep`
    assert torch.nonzero(kept).flatten().tolist() == [1, 2, 5, 6]
    # no minority entry in the pool: the official code keeps max(k, 1) = 1 hardest; balanced data keeps `keep`
    none = torch.zeros(8, dtype=torch.bool)
    assert torch.nonzero(select_hard(losses, none)).flatten().tolist() == [1]
    assert torch.nonzero(select_hard(losses, none, keep=3)).flatten().tolist() == [1, 3, 5]


def test_hard_mining_batches_are_half_minority(imbalanced):
    method = get_method("hard_mining", pool_size=200)
    h = _run(imbalanced, method, steps=5)
    assert h.indices.shape == (5, 200)
    kept = h.weights > 0
    minority_in_pool = h.is_minority[h.indices]
    # every minority example of the pool is kept, plus exactly as many majority ones
    assert kept[minority_in_pool].all()
    np.testing.assert_array_equal(kept.sum(axis=1), 2 * minority_in_pool.sum(axis=1))
    np.testing.assert_allclose((kept & minority_in_pool).sum(axis=1) / kept.sum(axis=1), 0.5)
    np.testing.assert_allclose(h.weights.sum(axis=1), 1.0, rtol=1e-5)


def test_hard_mining_pool_is_capped_at_the_training_set(imbalanced):
    # a 10x larger pool than the data would be drawn with replacement: duplicates, some kept twice
    h = _run(imbalanced, get_method("hard_mining", pool_size=10 * imbalanced.n), steps=3)
    assert h.indices.shape == (3, imbalanced.n)
    for row in h.indices:   # each step's pool is the whole training set, every example once
        assert sorted(row.tolist()) == list(range(imbalanced.n))


def test_clean_only_trains_on_the_validation_set(imbalanced):
    h = _run(imbalanced, "clean_only", steps=5)
    assert len(h.y) == len(imbalanced.y_val) and h.indices.max() < len(imbalanced.y_val)
    assert h.is_minority.sum() == (imbalanced.y_val == 0).sum()


def test_finetune_switches_to_the_clean_set():
    ds = make_imbalanced_noisy("moons", proportion=0.9, rate=0.2, seed=0)
    h = _run(ds, get_method("finetune", switch_step=20), steps=30)
    n = ds.n
    assert (h.indices[:20] < n).all() and (h.indices[20:] >= n).all()
    assert not h.is_noisy[h.indices[20:]].any()
    with pytest.raises(ValueError, match="switch_step"):
        _run(ds, "finetune", steps=2)


@pytest.mark.parametrize("name", ["proportion", "random", "resample", "hard_mining", "oversample", "undersample",
                                  "smote", "bootstrap_soft", "bootstrap_hard", "noise_layer"])
def test_every_weighting_records_rows_that_sum_to_one_or_zero(imbalanced, name):
    h = _run(imbalanced, name, steps=8)
    sums = h.weights.sum(axis=1)
    assert np.all((np.abs(sums - 1) < 1e-5) | (sums == 0))
    assert np.isfinite(h.test_acc).all()


def test_proportion_beats_plain_on_a_strong_imbalance():
    ds = make_imbalanced("moons", proportion=0.98, seed=0)
    plain = _run(ds, "plain", steps=300, batch_size=50)
    prop = _run(ds, "proportion", steps=300, batch_size=50)
    assert prop.final_test_accuracy > plain.final_test_accuracy + 0.05
