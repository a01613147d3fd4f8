"""Benchmark the explorer's two speed targets, measured side by side with their budgets:

1. replay frame update: ``WeightAnimator.show_frame`` on a 5,000-point toy History (kernel side: weights lookup,
   plotly validation, one ``batch_update`` message) — budget 50 ms per frame;
2. toy retrain: ``train_toy`` with the explorer's default state (400 points, 300 steps) on the CPU — budget 2 s.

    python benchmarks/bench_viz.py [--frames 50] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

from l2rw_viz.viz import ExplorerState, WeightAnimator, train_toy


def bench_frames(n_points: int = 5000, frames: int = 50) -> list[float]:
    state = ExplorerState(method="plain", n_train=n_points, steps=200, batch_size=100, device="cpu")
    run = train_toy(state, boundary_every=20)
    anim = WeightAnimator(run.history, run.x, run.boundaries, n_frames=frames)
    times = []
    for i in range(frames):
        anim.show_frame(i)
        times.append(anim.last_update_s)
    return times


def bench_retrain(method: str, repeats: int) -> list[float]:
    state = ExplorerState(device="cpu")
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        train_toy(state, method)
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    times = bench_frames(frames=args.frames)
    med = statistics.median(times[1:])
    print(f"replay frame update, 5000 points (Scattergl): median {1000 * med:.1f} ms, "
          f"max {1000 * max(times[1:]):.1f} ms "
          f"over {len(times) - 1} frames; budget 50 ms -> ratio {med / 0.05:.2f}")
    for method in ("plain", "l2rw"):
        t = bench_retrain(method, args.repeats)
        print(f"toy retrain ({method}, 400 points, 300 steps, CPU): median {statistics.median(t):.2f} s "
              f"(runs {', '.join(f'{x:.2f}' for x in t)}); budget 2 s -> ratio {statistics.median(t) / 2:.2f}")


if __name__ == "__main__":
    main()
