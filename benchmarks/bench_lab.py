"""How fast the Reweight Lab trains and redraws in headless Chromium (issue #27: at least 60 L2RW steps a second
at batch 64, 400 points, 16 hidden units, with the plots redrawn at display rate).

    python benchmarks/bench_lab.py [--steps 3000] [--play-s 4]
    python benchmarks/bench_lab.py --behaviour-seeds 8     # the behaviour test's margins over 8 seeds
    python benchmarks/bench_lab.py --agreement 200         # the page's weights against the library's

Prints, measured in the page (``performance.now``) from a freshly written lab.html opened from disk with every
non-file request blocked:

* training steps per second without drawing, for L2RW alone (``method: "l2rw"``) and for all three methods on the
  same batches (what the page does by default), median of 5 runs of ``--steps`` steps;
* while playing (the page's own requestAnimationFrame loop: ``speed`` steps per 1/60 s, then one full redraw of
  the three panels with their 49x49 probability grids, both charts and every point's current L2RW weight, per
  frame): frames drawn per second and steps per second, over ``--play-s`` seconds, at speed 3 (the default) and 10.

Headless Chromium paces requestAnimationFrame at about 60 Hz, so a frame rate near 60 means the redraw keeps up
with the display. Run it alone: other load on the machine lowers every number.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

import lab_browser as lb  # noqa: E402

from l2rw_viz.lab import write_lab  # noqa: E402

SETTING = {"dataset": "moons", "nTrain": 400, "batch": 64, "hidden": 16, "majority": 0.9, "flip": 0.2, "nVal": 20}


def steps_per_second(page, method: str, steps: int, repeats: int = 5) -> float:
    rates = []
    for seed in range(repeats):
        page.evaluate("(s) => l2rwLab.load(s)", {**SETTING, "method": method, "seed": seed})
        ms = page.evaluate(f"() => {{ const t = performance.now(); l2rwLab.train({steps}); "
                           "return performance.now() - t; }")
        rates.append(steps / (ms / 1000))
    return statistics.median(rates)


def idle_frame_rate(page, seconds: float) -> float:
    """requestAnimationFrame callbacks a second on the same page while it is paused: the display rate this browser
    offers right now (about 60 Hz; less when the machine is loaded), the ceiling for the redraw rate."""
    page.evaluate("l2rwLab.play(false)")
    return page.evaluate("(ms) => new Promise((done) => { let n = 0; const t0 = performance.now();"
                         " const tick = () => { n++; if (performance.now() - t0 < ms) requestAnimationFrame(tick);"
                         " else done(n / ((performance.now() - t0) / 1000)); }; requestAnimationFrame(tick); })",
                         seconds * 1000)


def while_playing(page, speed: int, seconds: float) -> tuple[float, float, float]:
    page.evaluate("(s) => l2rwLab.load(s)", {**SETTING, "method": "all", "speed": speed, "seed": 0})
    start = page.evaluate("() => [l2rwLab.snapshot().frames, l2rwLab.snapshot().step, performance.now()]")
    page.evaluate("l2rwLab.play(true)")
    time.sleep(seconds)   # a benchmark measures over wall time; nothing waits on a condition here
    end = page.evaluate("() => { l2rwLab.play(false); const s = l2rwLab.snapshot(); "
                        "return [s.frames, s.step, performance.now(), s.drawMs]; }")
    wall = (end[2] - start[2]) / 1000
    return (end[0] - start[0]) / wall, (end[1] - start[1]) / wall, end[3]


def behaviour(page, seeds: int) -> None:
    """The setting of tests/test_lab.py's behaviour test, over more seeds: the margins the test relies on."""
    from test_lab import BEHAVIOUR, BEHAVIOUR_STEPS

    print(f"behaviour test setting {BEHAVIOUR}, {BEHAVIOUR_STEPS} steps; mean L2RW weight x B pooled over the run:")
    ratios = []
    for seed in range(seeds):
        page.evaluate("(s) => l2rwLab.load(s)", {**BEHAVIOUR, "seed": seed})
        snap = page.evaluate(f"l2rwLab.train({BEHAVIOUR_STEPS})")
        w, acc = snap["meanWeight"], snap["testAccuracy"]
        ratios.append((w["noisy"] / w["clean"], w["minority"] / w["majority"]))
        print(f"  seed {seed}: flipped {w['noisy']:.2f} / clean {w['clean']:.2f} = {ratios[-1][0]:.2f}; minority "
              f"{w['minority']:.2f} / majority {w['majority']:.2f} = {ratios[-1][1]:.2f}; test accuracy plain "
              f"{acc['plain']:.3f}, proportion {acc['proportion']:.3f}, L2RW {acc['l2rw']:.3f}")
    print(f"  flipped/clean at most {max(r[0] for r in ratios):.2f}; minority/majority at least "
          f"{min(r[1] for r in ratios):.2f}")


def agreement(page, cases: int) -> None:
    """``l2rwLab.l2rwWeights`` against ``l2rw_viz.reweight.l2rw_weights`` on random MLPs and batches (hidden 2-64,
    batch 1-128, 1-50 validation points, 2/3/5 classes, tanh/ReLU): the largest absolute difference of normalised
    weights, for PyTorch-initialised float64 and float32 models (the page computes in float64)."""
    import numpy as np
    import torch
    from torch import nn

    from l2rw_viz.reweight import l2rw_weights

    torch.set_num_threads(1)
    rng = np.random.default_rng(2027)
    torch.manual_seed(2027)
    worst = {"float64": 0.0, "float32": 0.0}
    for case in range(cases):
        act, classes = ("tanh", "relu")[case % 2], (2, 3, 5)[case % 3]
        hidden, batch, n_val = int(rng.integers(2, 65)), int(rng.integers(1, 129)), int(rng.integers(1, 51))
        activation = nn.Tanh() if act == "tanh" else nn.ReLU()
        model = nn.Sequential(nn.Linear(2, hidden), activation, nn.Linear(hidden, classes))
        params = {"W1": model[0].weight.tolist(), "b1": model[0].bias.tolist(), "W2": model[2].weight.tolist(),
                  "b2": model[2].bias.tolist(), "activation": act}
        x, x_val = rng.normal(0, 1.5, (batch, 2)), rng.normal(0, 1.5, (n_val, 2))
        y, y_val = rng.integers(0, classes, batch), rng.integers(0, classes, n_val)
        got = np.array(page.evaluate("([p, X, y, Xv, yv]) => l2rwLab.l2rwWeights(p, X, y, Xv, yv)",
                                     [params, x.tolist(), y.tolist(), x_val.tolist(), y_val.tolist()]))
        for dtype in (torch.float32, torch.float64):
            expected = l2rw_weights(model.to(dtype), torch.tensor(x, dtype=dtype), torch.from_numpy(y),
                                    torch.tensor(x_val, dtype=dtype), torch.from_numpy(y_val)).double().numpy()
            name = str(dtype).removeprefix("torch.")
            worst[name] = max(worst[name], float(np.abs(got - expected).max()))
    print(f"{cases} random PyTorch-initialised MLPs and batches: max |l2rwLab.l2rwWeights - l2rw_weights| = "
          f"{worst['float64']:.3g} (float64 model), {worst['float32']:.3g} (float32 model)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000, help="steps per timed run (default: 3000)")
    parser.add_argument("--play-s", type=float, default=4.0, help="seconds of live play per measurement")
    parser.add_argument("--behaviour-seeds", type=int, default=0,
                        help="instead of timing: the behaviour test's weight ratios over this many seeds")
    parser.add_argument("--agreement", type=int, default=0,
                        help="instead of timing: compare the page's weights with the library on this many models")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp, lb.lab_page(write_lab(Path(tmp) / "lab.html")) as (page, blocked):
        if args.behaviour_seeds:
            behaviour(page, args.behaviour_seeds)
            return 0
        if args.agreement:
            agreement(page, args.agreement)
            return 0
        print(f"setting: {SETTING}; headless {lb.CHROMIUM}")
        l2rw = steps_per_second(page, "l2rw", args.steps)
        both = steps_per_second(page, "all", args.steps)
        print(f"training only, L2RW alone:            {l2rw:8.0f} steps/s (target >= 60)")
        print(f"training only, all three side by side: {both:8.0f} steps/s (each step: plain + proportion + L2RW)")
        for speed in (3, 10):
            ceiling = idle_frame_rate(page, 2.0)
            fps, sps, draw_ms = while_playing(page, speed, args.play_s)
            print(f"playing at speed {speed:2d}, all three: {fps:5.1f} redraws/s ({fps / ceiling:.0%} of the "
                  f"{ceiling:.0f} animation frames/s the idle page gets), {sps:6.0f} steps/s; last redraw "
                  f"{draw_ms:.1f} ms of JavaScript")
        if blocked or page.lab_errors:
            raise RuntimeError(f"the page asked the network for {blocked} / raised {page.lab_errors}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
