"""The official LeNet of the paper's code: shapes, TensorFlow's "SAME" max-pool, initialisation, and L2RW on it."""

from __future__ import annotations

import warnings

import pytest
import torch

from l2rw_viz.models import LeNetOfficial, MaxPool2dSame, make_model, same_padding

pytestmark = pytest.mark.usefixtures("one_thread")


def test_official_lenet_flattens_28x28_to_1024_features():
    model = make_model("lenet_official", 2, (1, 28, 28), seed=0)
    x = torch.rand(3, 1, 28, 28)
    feats = model.features(x)
    assert feats.shape == (3, 64, 4, 4)                      # 28 -> 14 -> 7 -> 4
    assert model.classifier[0](feats).shape == (3, 1024)     # the official fc 1024 -> 100
    assert [m.out_features for m in model.classifier if isinstance(m, torch.nn.Linear)] == [100, 2]
    assert model(x).shape == (3, 2)
    assert [m.out_channels for m in model.features if isinstance(m, torch.nn.Conv2d)] == [16, 32, 64]


@pytest.mark.parametrize("size, expected", [(28, (0, 1)), (14, (0, 1)), (7, (1, 1)), (4, (0, 1))])
def test_same_padding_follows_tensorflow(size, expected):
    # TensorFlow: out = ceil(size / 2), total = (out - 1) * 2 + 3 - size, the odd entry after
    assert same_padding(size, 3, 2) == expected


@pytest.mark.parametrize("size", [28, 7])
def test_same_max_pool_equals_the_windows_by_hand(size):
    torch.manual_seed(0)
    x = torch.randn(2, 3, size, size)
    before, _ = same_padding(size, 3, 2)
    out = MaxPool2dSame(3, 2)(x)
    n = -(-size // 2)
    assert out.shape == (2, 3, n, n)
    for i in range(n):
        for j in range(n):
            r0, c0 = max(2 * i - before, 0), max(2 * j - before, 0)
            window = x[:, :, r0:2 * i - before + 3, c0:2 * j - before + 3]
            assert torch.equal(out[:, :, i, j], window.amax(dim=(2, 3)))


def test_truncated_normal_init_and_zero_biases_reproducible():
    a = make_model("lenet_official", 2, (1, 28, 28), seed=3)
    b = make_model("lenet_official", 2, (1, 28, 28), seed=3)
    weights = torch.cat([m.weight.flatten() for m in a.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))])
    assert weights.abs().max() <= 0.2                        # truncated at two standard deviations
    assert weights.std().item() == pytest.approx(0.088, abs=0.005)   # std of N(0, 0.1) truncated at +-0.2
    layers = [m for m in a.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert all(float(m.bias.abs().max()) == 0.0 for m in layers)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_l2rw_takes_the_layerwise_path_on_it():
    from l2rw_viz.data import make_imbalanced
    from l2rw_viz.methods import get_method
    from l2rw_viz.train import train

    ds = make_imbalanced("mnist", proportion=0.9, seed=0, source="subset")
    method = get_method("l2rw")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)   # a fallback from the layer-wise path warns so
        train(LeNetOfficial(2), ds, method, steps=2, device="cpu", progress=False)
    assert method.last_path == "layerwise"
