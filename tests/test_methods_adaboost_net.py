"""adaboost_net: AdaBoost's (SAMME) example weights on the network, checked by hand, against scikit-learn, and in a
real training run."""

from __future__ import annotations

import math

import numpy as np
import pytest

from l2rw_viz.methods import get_method
from l2rw_viz.methods.adaboost_net import samme_update

pytestmark = pytest.mark.usefixtures("one_thread")


def test_one_wrong_example_out_of_four_triples_its_weight_binary():
    # err = 1/4, alpha = log(3/4 / 1/4) + log(1) = log 3: the wrong example's weight 1/4 -> 3/4, renormalised by 6/4
    w, err, alpha = samme_update(np.full(4, 0.25), np.array([False, False, False, True]), num_classes=2)
    assert err == pytest.approx(0.25)
    assert alpha == pytest.approx(math.log(3))
    np.testing.assert_allclose(w, [1 / 6, 1 / 6, 1 / 6, 1 / 2])


def test_samme_adds_log_of_c_minus_1_for_ten_classes():
    # alpha = log 3 + log 9 = log 27: weights 1, 1, 1, 27 before renormalising
    w, _, alpha = samme_update(np.full(4, 0.25), np.array([False, False, False, True]), num_classes=10)
    assert alpha == pytest.approx(math.log(27))
    np.testing.assert_allclose(w, np.array([1, 1, 1, 27]) / 30)


@pytest.mark.parametrize("wrong, classes", [([False] * 4, 2), ([True, False, False, True], 2),
                                            ([True, True, True, True], 10)])
def test_no_update_when_perfect_or_no_better_than_chance(wrong, classes):
    # weighted errors 0, 0.5 (= chance for 2 classes) and 1
    start = np.array([0.1, 0.2, 0.3, 0.4])
    w, _, alpha = samme_update(start, np.array(wrong), classes)
    assert alpha == 0.0
    np.testing.assert_allclose(w, start)


@pytest.mark.parametrize("weights, wrong, classes, message", [
    (np.ones(3), np.zeros(4, bool), 2, "shape"),
    (-np.ones(3), np.zeros(3, bool), 2, "non-negative"),
    (np.ones(3), np.zeros(3, bool), 1, "num_classes=1"),
])
def test_bad_inputs_are_refused(weights, wrong, classes, message):
    with pytest.raises(ValueError, match=message):
        samme_update(weights, wrong, classes)


def test_the_rule_replays_scikit_learns_adaboost():
    """Fed the mistakes of scikit-learn's stumps, the rule reproduces its estimator weights and errors."""
    from sklearn.datasets import make_classification
    from sklearn.ensemble import AdaBoostClassifier
    from sklearn.tree import DecisionTreeClassifier

    x, y = make_classification(n_samples=300, n_features=6, n_informative=4, n_classes=3, random_state=0)
    model = AdaBoostClassifier(DecisionTreeClassifier(max_depth=1), n_estimators=15, random_state=0).fit(x, y)
    w = np.full(len(y), 1.0 / len(y))
    for m, est in enumerate(model.estimators_):
        w, err, alpha = samme_update(w, est.predict(x) != y, num_classes=3)
        assert err == pytest.approx(model.estimator_errors_[m], rel=1e-9)
        assert alpha == pytest.approx(model.estimator_weights_[m], rel=1e-9)


def test_training_run_upweights_flipped_labels_and_updates_once_per_epoch():
    """A real run on 2-D moons with 40% background flips: the batch weights are AdaBoost's, normalised per batch;
    the weights are updated once per epoch; flipped examples end with more weight than clean ones (the known
    weakness of AdaBoost under label noise, the opposite of L2RW)."""
    from l2rw_viz.data import make_noisy
    from l2rw_viz.models import make_model
    from l2rw_viz.train import train

    ds = make_noisy("moons", rate=0.4, mode="background", seed=0)
    method = get_method("adaboost_net")
    steps, batch = 200, 50
    history = train(make_model("toy_mlp", 2, ds.feature_shape, seed=0), ds, method, steps=steps, batch_size=batch,
                    lr=0.05, device="cpu", seed=0, progress=False)
    epoch = -(-ds.n // batch)
    assert [u["step"] for u in method.updates] == list(range(epoch, steps, epoch))
    assert any(u["alpha"] > 0 for u in method.updates)
    assert method.example_weights.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(history.weights.sum(axis=1), 1.0, rtol=1e-5)
    # the weights of the steps before the first update are uniform: plain training
    np.testing.assert_allclose(history.weights[:epoch], 1.0 / batch, rtol=1e-6)
    d = method.example_weights * ds.n
    noisy = ds.is_noisy.numpy()
    assert d[noisy].mean() > 1.2 * d[~noisy].mean()
    # the recorded batch weights are the current D of those examples, normalised within the batch
    last = history.indices[-1]
    np.testing.assert_allclose(history.weights[-1], method.example_weights[last] / method.example_weights[last].sum(),
                               rtol=1e-5)


def test_run_one_runs_it_in_the_experiments():
    from l2rw_viz.experiments import EXPERIMENTS, run_one

    for exp in EXPERIMENTS.values():
        assert "adaboost_net" in exp.methods
    row = run_one("toy-imbalance", "adaboost_net", 0.9, seed=0, steps=60, device="cpu")
    assert row["method"] == "adaboost_net" and 0.0 <= row["test_error"] <= 1.0
    assert row["mean_w_minority"] > row["mean_w_majority"]
