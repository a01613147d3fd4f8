"""Methods for noisy labels: the noise-adaptation layer learns the flip, bootstrapping mixes in the model's belief."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from l2rw_viz.data import make_noisy
from l2rw_viz.methods import get_method
from l2rw_viz.methods.bootstrap import bootstrap_loss
from l2rw_viz.methods.noise_layer import NoiseAdaptedModel, confusion_matrix_of
from l2rw_viz.models import make_model
from l2rw_viz.train import setup_method, train

pytestmark = pytest.mark.usefixtures("one_thread")


def test_bootstrap_loss_formulas():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 3.0]])
    y = torch.tensor([0, 1])
    q = logits.softmax(1)
    t = F.one_hot(y, 3).float()
    soft = -((0.95 * t + 0.05 * q) * q.log()).sum(1)
    z = F.one_hot(q.argmax(1), 3).float()
    hard = -((0.8 * t + 0.2 * z) * q.log()).sum(1)
    torch.testing.assert_close(get_method("bootstrap_soft").per_example_loss(logits, y), soft)
    torch.testing.assert_close(get_method("bootstrap_hard").per_example_loss(logits, y), hard)
    # beta = 1 is plain cross-entropy
    torch.testing.assert_close(bootstrap_loss(logits, y, 1.0, "soft"), F.cross_entropy(logits, y, reduction="none"))
    # a confidently contradicted label costs less than under cross-entropy
    assert bootstrap_loss(logits, y, 0.8, "hard")[1] < F.cross_entropy(logits, y, reduction="none")[1]
    with pytest.raises(ValueError, match="beta"):
        get_method("bootstrap_soft", beta=1.5)


def test_noise_layer_rows_stay_stochastic_and_output_is_a_log_probability():
    base = make_model("toy_mlp", 3, (2,), seed=0)
    wrapped = NoiseAdaptedModel(base, 3, init_diag=0.9)
    np.testing.assert_allclose(torch.diagonal(wrapped.transition).detach().numpy(), 0.9, rtol=1e-5)
    opt = torch.optim.SGD(wrapped.parameters(), lr=1.0)
    x, y = torch.randn(64, 2), torch.randint(0, 3, (64,))
    for _ in range(20):
        opt.zero_grad()
        F.nll_loss(wrapped(x), y).backward()
        opt.step()
        q = wrapped.transition.detach()
        assert (q >= 0).all()
        torch.testing.assert_close(q.sum(1), torch.ones(3))
    torch.testing.assert_close(wrapped(x).exp().sum(1), torch.ones(64))


def test_noise_layer_learns_a_background_flip_on_toy_data():
    ds = make_noisy("moons", rate=0.4, mode="background", seed=0)
    bg = ds.info["background_class"]
    other = 1 - bg
    method = get_method("noise_layer")
    h = train(make_model("toy_mlp", 2, (2,), seed=0), ds, method, steps=400, batch_size=50, lr=0.05, device="cpu",
              seed=0, eval_every=400, progress=False)
    q = method.transition_matrix()
    # 40% of the other class was moved to the background class: Q[other, bg] should approach 0.4 from 0.1
    assert 0.25 < q[other, bg] < 0.55, q
    assert q[bg, bg] > 0.95, q
    plain = train(make_model("toy_mlp", 2, (2,), seed=0), ds, "plain", steps=400, batch_size=50, lr=0.05,
                  device="cpu", seed=0, eval_every=400, progress=False)
    # the base network, evaluated without Q, is closer to the clean labels than plain training
    assert h.final_test_accuracy > plain.final_test_accuracy + 0.05


def test_confusion_init_starts_from_the_plain_models_confusion():
    ds = make_noisy("moons", rate=0.4, mode="background", seed=0)
    method = get_method("noise_layer_conf", pretrain_steps=100, pretrain_lr=0.05, pretrain_batch_size=50)
    model = make_model("toy_mlp", 2, (2,), seed=0)
    setup_method(method, ds, model, seed=0)   # the trainer's order: setup, prepare, wrap_model
    method.prepare(ds, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # 100 steps do learn the moons: no warning
        wrapped = method.wrap_model(model)
    assert method.pretrain_kappa > 0.2
    conf = confusion_matrix_of(model, ds.x, ds.y, 2)  # model now holds the pre-trained weights
    torch.testing.assert_close(wrapped.transition.detach(), conf, atol=1e-5, rtol=1e-4)
    assert wrapped.base is model


def test_confusion_init_needs_a_pretraining_that_learned_and_then_is_not_worse_than_plain():
    # 10 noisy classes: the set-up where a too-short pre-training made "+Conf" collapse (MNIST, 500 steps at lr 1e-3)
    ds = make_noisy("mnist", rate=0.4, mode="uniform", n_train=1000, n_test=500, seed=0, source="subset")

    def run(method):
        model = make_model("mlp", 10, ds.feature_shape, seed=0)
        return train(model, ds, method, steps=300, batch_size=50, lr=0.05, device="cpu", seed=0, eval_every=300,
                     progress=False).final_test_accuracy

    plain = run("plain")
    short = get_method("noise_layer_conf", pretrain_steps=1, pretrain_lr=0.05, pretrain_batch_size=50)
    with pytest.warns(RuntimeWarning, match="pretrain_steps=1"):
        collapsed = run(short)
    # a near-uniform confusion matrix hides the base network from the loss: it stays at chance
    assert short.pretrain_kappa < 0.1 and collapsed < 0.2 < plain - 0.2
    enough = get_method("noise_layer_conf", pretrain_steps=300, pretrain_lr=0.05, pretrain_batch_size=50)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        conf = run(enough)
    assert enough.pretrain_agreement > 0.5 and enough.pretrain_kappa > 0.4
    assert enough.describe()["pretrain_agreement"] == enough.pretrain_agreement
    assert conf >= plain - 0.03, (conf, plain)


def test_pretraining_check_discounts_chance_agreement():
    from sklearn.metrics import cohen_kappa_score

    from l2rw_viz.methods.noise_layer import pretraining_fell_short

    y = np.array([1] * 70 + [0] * 30)  # background flips on two classes: the background label alone is 70%
    assert pretraining_fell_short(cohen_kappa_score(y, np.ones(100, dtype=int)))  # agrees 70%, learned nothing
    good = y.copy()
    good[:20] = 0                                                                  # agrees 80%, tells classes apart
    assert not pretraining_fell_short(cohen_kappa_score(y, good))
    assert pretraining_fell_short(float("nan"))
