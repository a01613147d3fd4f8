"""Networks used in the course. Everything else in the package works with *any* ``nn.Module`` that maps a batch
``(b, *F)`` to logits ``(b, C)``: these are conveniences, not requirements."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class MLP(nn.Module):
    """Fully connected net: flatten ``(b, *F)`` -> hidden layers with ReLU -> ``(b, num_classes)`` logits."""

    def __init__(self, in_features: int = 784, num_classes: int = 10, hidden: tuple[int, ...] = (256, 128)):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class LeNet(nn.Module):
    """LeNet-style CNN for ``(b, 1, 28, 28)`` images: 2 conv (5x5) + max-pool, then 2 fully connected layers.

    Close to the network of the paper's MNIST experiment: conv 1->16, conv 16->32, fc 512->100->classes.

    Written for speed on a CPU, with the same function as the textbook order: the convolutions run in
    channels-last memory layout (weights stored so at construction, the input made so in ``forward``; oneDNN then
    picks its NHWC kernels), and each max-pool comes before its ReLU. ``python benchmarks/bench_layout.py``
    measures this against the textbook network.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1):
        super().__init__()
        self.features = nn.Sequential(
            # pooling before the ReLU gives the same function (max commutes with ReLU) on 4x fewer values
            nn.Conv2d(in_channels, 16, kernel_size=5), nn.MaxPool2d(2), nn.ReLU(),   # 28 -> 24 -> 12
            nn.Conv2d(16, 32, kernel_size=5), nn.MaxPool2d(2), nn.ReLU(),            # 12 -> 8 -> 4
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(32 * 4 * 4, 100), nn.ReLU(), nn.Linear(100, num_classes),
        )
        self.features.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x.contiguous(memory_format=torch.channels_last)))


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """``(before, after)`` padding of TensorFlow's ``"SAME"`` rule along one axis of length ``size``: the output
    has ``ceil(size / stride)`` entries, and an odd total padding puts the extra entry *after* (PyTorch's symmetric
    ``padding=`` cannot express that)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class MaxPool2dSame(nn.Module):
    """Max-pool with TensorFlow's ``"SAME"`` padding: ``(b, c, h, w) -> (b, c, ceil(h / s), ceil(w / s))``.

    Padded entries are ``-inf``, so they never win the max (as in TensorFlow). On 28x28 inputs with a 3x3 window
    and stride 2 this pads (0, 1) on 28 and 14 and (1, 1) on 7: 28 -> 14 -> 7 -> 4.
    """

    def __init__(self, kernel_size: int = 3, stride: int = 2):
        super().__init__()
        self.kernel_size, self.stride = int(kernel_size), int(stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        top, bottom = same_padding(x.shape[-2], self.kernel_size, self.stride)
        left, right = same_padding(x.shape[-1], self.kernel_size, self.stride)
        x = F.pad(x, (left, right, top, bottom), value=-float("inf"))
        return F.max_pool2d(x, self.kernel_size, self.stride)


class LeNetOfficial(nn.Module):
    """The LeNet of the paper's official code (uber-research/learning-to-reweight-examples, ``mnist/reweight.py``,
    ``get_model``), for ``(b, 1, 28, 28)`` images.

    Three blocks ``conv 5x5 "SAME" -> max-pool 3x3 stride 2 "SAME" -> ReLU`` with 16, 32 and 64 channels
    (28 -> 14 -> 7 -> 4), flatten to ``64 * 4 * 4 = 1024`` features, then ``fc 1024 -> 100 -> ReLU -> classes``.
    Weights are drawn from a normal distribution with std 0.1 truncated at two standard deviations (TensorFlow's
    ``truncated_normal_initializer(stddev=0.1)``), biases start at 0.

    One departure stays: the official network has a single sigmoid output for its two classes; this one returns
    ``num_classes`` logits for the softmax cross-entropy every method here uses (see ``docs/departures.md``).
    About 5x the multiply-adds of :class:`LeNet`.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 16, kernel_size=5, padding=2), MaxPool2dSame(3, 2), nn.ReLU(),   # 28 -> 14
            nn.Conv2d(16, 32, kernel_size=5, padding=2), MaxPool2dSame(3, 2), nn.ReLU(),            # 14 -> 7
            nn.Conv2d(32, 64, kernel_size=5, padding=2), MaxPool2dSame(3, 2), nn.ReLU(),            # 7 -> 4
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(64 * 4 * 4, 100), nn.ReLU(), nn.Linear(100, num_classes),
        )
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(module.weight, mean=0.0, std=0.1, a=-0.2, b=0.2)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class LogisticRegression(nn.Module):
    """A single linear layer: the model of the exact bilevel toy problem (few parameters, convex inner loss)."""

    def __init__(self, in_features: int = 2, num_classes: int = 2):
        super().__init__()
        self.linear = nn.Linear(in_features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x.flatten(1))


def toy_mlp(in_features: int = 2, num_classes: int = 2, hidden: int = 32) -> nn.Module:
    """A small 2-hidden-layer MLP for 2-D toy problems: curved decision boundaries, trains in about a second."""
    return MLP(in_features, num_classes, hidden=(hidden, hidden))


def make_model(name: str, num_classes: int, feature_shape: tuple[int, ...], seed: int | None = None) -> nn.Module:
    """Build a named model (``"lenet"``, ``"lenet_official"``, ``"mlp"``, ``"toy_mlp"``, ``"logreg"``) for inputs of
    ``feature_shape``.

    With ``seed`` the initial weights are reproducible (a forked RNG, the global one is left untouched).
    """
    from .checks import check_choice

    check_choice("name", name, ["lenet", "lenet_official", "mlp", "toy_mlp", "logreg"])
    in_features = 1
    for s in feature_shape:
        in_features *= int(s)
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        if name in ("lenet", "lenet_official"):
            if tuple(feature_shape)[-2:] != (28, 28):
                raise ValueError(f"feature_shape={feature_shape!r} does not fit {name}; allowed: (C, 28, 28)")
            cls = LeNet if name == "lenet" else LeNetOfficial
            return cls(num_classes, in_channels=feature_shape[0] if len(feature_shape) == 3 else 1)
        if name == "mlp":
            return MLP(in_features, num_classes)
        if name == "toy_mlp":
            return toy_mlp(in_features, num_classes)
        return LogisticRegression(in_features, num_classes)
