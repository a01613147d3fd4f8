"""SMOTE through imbalanced-learn and AdaBoost through scikit-learn: wrapped, not re-implemented, and checked
against the libraries' own behaviour."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.tree import DecisionTreeClassifier

from l2rw_viz.adaboost import run_adaboost, samme_sample_weights
from l2rw_viz.data import make_imbalanced, make_noisy
from l2rw_viz.data.dataset import BiasedDataset
from l2rw_viz.methods.smote import smote_dataset


def _on_a_segment(point, a, b, tol=1e-4) -> bool:
    """Is ``point`` = a + t (b - a) for some t in [0, 1]?"""
    d = b - a
    denom = float(d @ d)
    if denom == 0:
        return bool(np.allclose(point, a, atol=tol))
    t = float((point - a) @ d) / denom
    return -tol <= t <= 1 + tol and bool(np.allclose(a + t * d, point, atol=tol))


def test_smote_adds_points_on_segments_between_minority_neighbours():
    ds = make_imbalanced("moons", proportion=0.9, seed=0)
    out = smote_dataset(ds, seed=0)
    n = ds.n
    assert out.info["n_original"] == n and out.info["n_synthetic"] == 360 - 40
    assert out.class_counts().tolist() == [360, 360]
    assert torch.equal(out.x[:n], ds.x) and torch.equal(out.y[:n], ds.y)
    synthetic = out.x[n:].numpy()
    assert (out.y[n:] == 0).all() and out.is_minority[n:].all() and not out.is_noisy[n:].any()
    minority = ds.x[ds.y == 0].numpy()
    # each synthetic point lies on a segment between two minority examples
    for p in synthetic[:60]:
        assert any(_on_a_segment(p, minority[i], minority[j])
                   for i in range(len(minority)) for j in range(i + 1, len(minority))), p


def test_smote_with_two_minority_examples_uses_one_neighbour():
    ds = make_imbalanced("moons", proportion=0.995, seed=0)
    assert int((ds.y == 0).sum()) == 2
    out = smote_dataset(ds, seed=0)
    assert out.info["smote_k_neighbors"] == 1
    a, b = ds.x[ds.y == 0].numpy()
    assert all(_on_a_segment(p, a, b) for p in out.x[ds.n:].numpy())


def test_smote_with_one_minority_example_falls_back_to_duplicates_with_a_warning():
    ds = make_imbalanced("moons", proportion=0.998, n_train=500, seed=0)
    assert int((ds.y == 0).sum()) == 1
    with pytest.warns(UserWarning, match="random over-sampling"):
        out = smote_dataset(ds, seed=0)
    assert out.class_counts().tolist() == [499, 499]
    assert torch.all(out.x[ds.n:] == ds.x[ds.y == 0][0])


def test_smote_leaves_balanced_data_alone():
    ds = make_noisy("moons", rate=0.0, seed=0)
    assert smote_dataset(ds, seed=0).n == ds.n


def test_adaboost_per_round_weights_match_scikit_learn():
    ds = make_noisy("moons", rate=0.2, seed=0)
    res = run_adaboost(ds, n_estimators=15, seed=0)
    x, y = ds.x.numpy(), ds.y.numpy()
    model = res.model
    m = len(model.estimators_)
    assert res.sample_weights.shape == (m, ds.n)
    np.testing.assert_allclose(res.sample_weights.sum(axis=1), 1.0)
    np.testing.assert_allclose(res.sample_weights[0], 1.0 / ds.n)
    # the weighted error of every round, computed from our weights, is the one scikit-learn stored
    np.testing.assert_allclose(res.estimator_errors, model.estimator_errors_[:m], rtol=1e-10)
    # a stump fitted with our round-m weights is the stump scikit-learn fitted in round m
    for r in range(m):
        est = model.estimators_[r]
        refit = DecisionTreeClassifier(max_depth=1, random_state=est.random_state).fit(x, y,
                                                                                      sample_weight=res.sample_weights[r])
        assert np.array_equal(refit.predict(x), est.predict(x))
        assert refit.tree_.threshold[0] == pytest.approx(est.tree_.threshold[0])
    assert len(res.staged_test_error) == m
    assert res.test_error == pytest.approx(res.staged_test_error[-1])


def test_adaboost_raises_the_weight_of_flipped_labels():
    # the contrast with L2RW: boosting chases the examples it gets wrong, which are the flipped ones
    ds = make_noisy("moons", rate=0.2, seed=0)
    res = run_adaboost(ds, n_estimators=30, seed=0)
    assert res.mean_weight("noisy") > 2 * res.mean_weight("clean")
    assert 0.6 < res.test_accuracy <= 1.0


def test_samme_weights_on_a_fitted_model_directly():
    from sklearn.ensemble import AdaBoostClassifier

    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 3))
    y = (x[:, 0] + 0.3 * rng.normal(size=120) > 0).astype(int) + (x[:, 1] > 1).astype(int)  # 3 classes
    model = AdaBoostClassifier(n_estimators=8, random_state=0).fit(x, y)
    w, err = samme_sample_weights(model, x, y)
    np.testing.assert_allclose(err, model.estimator_errors_[:len(err)], rtol=1e-10)


def _hand_made_dataset() -> BiasedDataset:
    """Observed class 0 (the minority): A, B clean minority; C, D majority images flipped to 0; E clean minority next
    to F, a flipped majority image. Observed class 1: 24 clean majority points far below."""
    minority = np.array([[0, 0], [1, 0],          # A, B: true 0
                         [10, 10], [11, 10],      # C, D: true 1, flipped
                         [20, 0], [21, 0]],       # E: true 0; F: true 1, flipped
                        dtype=np.float32)
    majority = np.stack([np.arange(24, dtype=np.float32), np.full(24, -50, dtype=np.float32)], 1)
    x = torch.as_tensor(np.concatenate([minority, majority]))
    y = torch.tensor([0] * 6 + [1] * 24)
    y_clean = torch.tensor([0, 0, 1, 1, 0, 1] + [1] * 24)
    grid = torch.zeros(4, 2)
    return BiasedDataset(x=x, y=y, y_clean=y_clean, is_noisy=y != y_clean, is_minority=y_clean == 0, x_val=grid,
                         y_val=torch.tensor([0, 1, 0, 1]), x_test=grid, y_test=torch.tensor([0, 1, 0, 1]),
                         num_classes=2)


def test_synthetic_points_take_their_truth_from_the_nearer_parent():
    ds = _hand_made_dataset()
    out = smote_dataset(ds, seed=0, k_neighbors=1)   # each point's single neighbour: A-B, C-D, E-F
    n = ds.n
    syn, parents = out.x[n:].numpy(), np.array(out.info["smote_parents"])
    assert out.info["n_synthetic"] == 18 and (out.y[n:] == 0).all()
    for p, (near, far), y_clean, noisy, minority in zip(syn, parents, out.y_clean[n:].tolist(),
                                                         out.is_noisy[n:].tolist(), out.is_minority[n:].tolist()):
        # by hand: the pair is fixed by where the point is, the nearer parent by which half of the segment
        if p[1] == 10:                        # on C-D: a blend of two flipped majority images
            assert {near, far} == {2, 3}
            assert (y_clean, noisy, minority) == (1, True, False)
        elif p[0] <= 1:                       # on A-B: two clean minority parents
            assert {near, far} == {0, 1}
            assert (y_clean, noisy, minority) == (0, False, True)
        else:                                 # on E-F: E's truth on E's half, F's on F's half
            assert {near, far} == {4, 5}
            expected = (0, False, True) if p[0] < 20.5 else (1, True, False)
            assert near == (4 if p[0] < 20.5 else 5)
            assert (y_clean, noisy, minority) == expected
    # every kind of pair was drawn, so every branch above ran
    assert {frozenset(pq) for pq in parents.tolist()} == {frozenset({0, 1}), frozenset({2, 3}), frozenset({4, 5})}
    assert out.is_noisy[n:].any() and out.is_minority[n:].any() and not out.is_minority[n:].all()


def test_smote_parents_of_copies_are_the_copied_rows():
    ds = make_imbalanced("moons", proportion=0.998, n_train=500, seed=0)
    with pytest.warns(UserWarning, match="random over-sampling"):
        out = smote_dataset(ds, seed=0)
    only = int(torch.nonzero(ds.y == 0)[0])
    assert np.array_equal(np.array(out.info["smote_parents"]), np.full((out.n - ds.n, 2), only))
    assert torch.equal(out.is_noisy[ds.n:], ds.is_noisy[only].expand(out.n - ds.n))
