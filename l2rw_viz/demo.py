"""The quick headless demo behind ``l2rw-viz demo``: plain SGD against L2RW on two biased data sets.

1. Toy 2-D moons with 40% of the labels flipped to one background class (``toy-noise``, background): L2RW
   pushes the flipped labels down (seed 0, 400 steps: test error plain 0.19, L2RW 0.07; mean weight of flipped
   labels 0.26 against 1.19 for clean ones).
2. MNIST 4-vs-9 on the offline subset with 99% nines (``mnist-imbalance``).

For each it prints the test error of both methods and L2RW's mean learned weight (``weight x batch size``; 1 is
uniform) of noisy vs clean and minority vs majority examples — the paper's story in four numbers: flipped labels
are pushed down, the rare class is pulled up. About a minute on two CPU cores; ``smoke=True`` (or
``L2RW_SMOKE=1``) makes it a few seconds.
"""

from __future__ import annotations

import time

from .settings import smoke_mode

DEMO_RUNS = (
    # experiment, setting, steps (full, smoke)
    ("toy-noise", "background", (400, 100)),
    ("mnist-imbalance", 0.99, (600, 40)),
)


def run_demo(smoke: bool | None = None, device: str = "auto", seed: int = 0, print_fn=print) -> list[dict]:
    """Run plain and L2RW on the demo settings; print a comparison; return the rows (see ``run_one``)."""
    from .experiments import run_one

    smoke = smoke_mode() if smoke is None else bool(smoke)
    rows = []
    start = time.perf_counter()
    for experiment, setting, (full, short) in DEMO_RUNS:
        steps = short if smoke else full
        print_fn(f"\n{experiment}, setting {setting}, {steps} steps, seed {seed}")
        print_fn(f"  {'method':8s} {'test error':>10s} {'w noisy':>8s} {'w clean':>8s} {'w minority':>10s} "
                 f"{'w majority':>10s} {'time':>7s}")
        for method in ("plain", "l2rw"):
            row = run_one(experiment, method, setting, seed=seed, steps=steps, device=device, data_source="subset")
            rows.append(row)
            print_fn(f"  {method:8s} {row['test_error']:10.3f} {row['mean_w_noisy']:8.2f} {row['mean_w_clean']:8.2f} "
                     f"{row['mean_w_minority']:10.2f} {row['mean_w_majority']:10.2f} {row['wall_time_s']:6.1f}s")
    print_fn(f"\nmean weight = weight x batch size (uniform training: 1.00). L2RW should give flipped labels less "
             f"than the clean ones and the minority more than the majority.  total {time.perf_counter() - start:.0f} s")
    return rows
