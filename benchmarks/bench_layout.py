"""Benchmark the package's LeNet (channels-last layout, max-pool before ReLU) against the textbook order (NCHW
layout, ReLU before max-pool): the same function, checked below.

Both models have the same weights; each round times ``--steps`` full SGD steps (forward, backward, momentum
update, batch 100) of each layout in turn, and a no-grad forward of a 500-image pool (what the hard-mining baseline
pays every step), so the printed ratios are measured side by side under the same machine load.

    python benchmarks/bench_layout.py [--rounds 8] [--steps 10] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

from l2rw_viz.models import LeNet


class NCHWLeNet(LeNet):
    """The same network in PyTorch's default layout, ReLU before max-pool (the reference of the comparison)."""

    def __init__(self, num_classes: int = 2):
        super().__init__(num_classes)
        f = self.features   # same modules (and state_dict keys), textbook order
        self.features = nn.Sequential(f[0], f[2], f[1], f[3], f[5], f[4]).to(memory_format=torch.contiguous_format)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x.contiguous()))


def _timed(fn, repeats: int) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats * 1000.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    models = {"package": LeNet(2), "textbook": NCHWLeNet(2)}
    models["textbook"].load_state_dict(models["package"].state_dict())
    x, y = torch.randn(100, 1, 28, 28), torch.randint(0, 2, (100,))
    pool = torch.randn(500, 1, 28, 28)
    with torch.no_grad():   # same function: outputs agree to float rounding
        diff = float((models["package"](pool) - models["textbook"](pool)).abs().max())
    optims = {k: torch.optim.SGD(m.parameters(), lr=1e-3, momentum=0.9) for k, m in models.items()}

    def step(name: str) -> None:
        optims[name].zero_grad()
        F.cross_entropy(models[name](x), y).backward()
        optims[name].step()

    def pool_forward(name: str) -> None:
        with torch.no_grad():
            models[name](pool)

    times = {(k, what): [] for k in models for what in ("step", "pool")}
    for r in range(args.rounds + 1):
        for name in models:
            for what, fn, n in (("step", step, args.steps), ("pool", pool_forward, max(1, args.steps // 2))):
                t = _timed(lambda fn=fn, name=name: fn(name), n)
                if r:   # round 0 warms up
                    times[(name, what)].append(t)
    print(f"LeNet, batch 100, {args.threads} thread(s), {args.rounds} rounds; max output difference {diff:.2e}")
    for what, label in (("step", "SGD step (batch 100)"), ("pool", "no-grad forward of 500")):
        ratios = [a / b for a, b in zip(times[("textbook", what)], times[("package", what)])]
        print(f"  {label:24s} textbook {statistics.median(times[('textbook', what)]):6.1f} ms   package "
              f"{statistics.median(times[('package', what)]):6.1f} ms   speed-up x{statistics.median(ratios):.2f} "
              f"(rounds: {min(ratios):.2f}-{max(ratios):.2f})")


if __name__ == "__main__":
    main()
