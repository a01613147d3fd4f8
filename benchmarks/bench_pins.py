"""What pinned numerics cost: the same run, unpinned and pinned, alternating in fresh processes.

    python benchmarks/bench_pins.py [--steps 300] [--pairs 3] [--method l2rw] [--experiment mnist-imbalance]

Each pair runs the run once unpinned (one torch thread, the CPU's own kernels: AVX-512 and oneDNN where present) and
once pinned (l2rw_viz.numerics: ATen AVX2, MKL CBWR AVX2, no oneDNN, one thread), each in a fresh process, and
reads the run's own wall time (``run_one``'s ``wall_time_s``: training only, not the process start). Prints each
pair and the median ratio pinned / unpinned. Alternating pairs share the machine's load, so the ratio is fair even
on a busy machine; the absolute times are not.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

from l2rw_viz.numerics import PINS, cpu_model, pinned_environment

RUN = ("import json, sys\n"
       "from l2rw_viz.numerics import enter_pinned, numerics_label\n"
       "if sys.argv[1] == 'pinned':\n    enter_pinned()\n"
       "from l2rw_viz.experiments import run_one\n"
       "row = run_one(sys.argv[2], sys.argv[3], None, seed=0, steps=int(sys.argv[4]), device='cpu', "
       "data_source='subset', threads=1)\n"
       "print(json.dumps({'s': row['wall_time_s'], 'numerics': row['numerics'], 'err': row['test_error']}))\n")


def one(mode: str, experiment: str, method: str, steps: int) -> dict:
    env = pinned_environment() if mode == "pinned" else {k: v for k, v in os.environ.items() if k not in PINS}
    out = subprocess.run([sys.executable, "-c", RUN, mode, experiment, method, str(steps)], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--experiment", default="mnist-imbalance")
    p.add_argument("--method", default="l2rw")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--pairs", type=int, default=3)
    args = p.parse_args(argv)
    print(f"CPU: {cpu_model()}; {args.experiment} {args.method}, {args.steps} steps, {args.pairs} pairs; load "
          f"{os.getloadavg()[0]:.1f}")
    ratios = []
    for i in range(args.pairs):
        free, pinned = one("unpinned", args.experiment, args.method, args.steps), \
            one("pinned", args.experiment, args.method, args.steps)
        ratios.append(pinned["s"] / free["s"])
        print(f"pair {i}: unpinned {free['s']:.1f} s ({free['numerics']}), pinned {pinned['s']:.1f} s "
              f"({pinned['numerics']}): x{ratios[-1]:.2f}")
    print(f"pinned / unpinned, median of {len(ratios)}: x{statistics.median(ratios):.2f}; load now "
          f"{os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
