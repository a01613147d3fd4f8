"""Networks used in the course. Everything else in the package works with *any* ``nn.Module`` that maps a batch
``(b, *F)`` to logits ``(b, C)``: these are conveniences, not requirements."""

from __future__ import annotations

import torch
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
    """Build a named model (``"lenet"``, ``"mlp"``, ``"toy_mlp"``, ``"logreg"``) for inputs of ``feature_shape``.

    With ``seed`` the initial weights are reproducible (a forked RNG, the global one is left untouched).
    """
    from .checks import check_choice

    check_choice("name", name, ["lenet", "mlp", "toy_mlp", "logreg"])
    in_features = 1
    for s in feature_shape:
        in_features *= int(s)
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        if name == "lenet":
            if tuple(feature_shape)[-2:] != (28, 28):
                raise ValueError(f"feature_shape={feature_shape!r} does not fit LeNet; allowed: (C, 28, 28)")
            return LeNet(num_classes, in_channels=feature_shape[0] if len(feature_shape) == 3 else 1)
        if name == "mlp":
            return MLP(in_features, num_classes)
        if name == "toy_mlp":
            return toy_mlp(in_features, num_classes)
        return LogisticRegression(in_features, num_classes)
