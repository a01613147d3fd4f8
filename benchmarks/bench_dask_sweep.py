"""Wall time of the same sweep through local worker processes (``jobs=2``) and through a Dask ``LocalCluster`` on
127.0.0.1 (2 worker processes, 1 thread each), measured side by side.

    python benchmarks/bench_dask_sweep.py [--steps 300] [--seeds 0 1] [--repeats 1]

First one cold sweep of each (joblib starting its worker pool, the Dask workers importing torch in their first run),
then ``--repeats`` warm rounds in alternating order (dask, jobs=2, jobs=2, dask): joblib keeps its pool between
sweeps of one process and Dask keeps its workers, so the warm numbers are what a second sweep costs. The cluster's own
start-up (scheduler and worker processes, once per session) is reported apart. Prints the load average around each
sweep, since this machine is shared, and checks that both give the same test errors.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", default="toy-imbalance")
    parser.add_argument("--methods", nargs="+", default=["plain", "proportion", "l2rw"])
    parser.add_argument("--settings", nargs="+", type=float, default=[0.9, 0.95])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=1, help="ABBA pairs")
    args = parser.parse_args(argv)

    from distributed import LocalCluster

    from l2rw_viz.experiments import sweep
    from l2rw_viz.experiments.store import row_key

    runs = dict(methods=args.methods, settings=args.settings, seeds=args.seeds, steps=args.steps, device="cpu",
                progress=False)
    n_runs = len(args.methods) * len(args.settings) * len(args.seeds)
    start = time.perf_counter()
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address="127.0.0.1:0")
    print(f"LocalCluster (2 workers x 1 thread) up in {time.perf_counter() - start:.1f} s; "
          f"{n_runs} runs of {args.experiment}, {args.steps} steps; {os.cpu_count()} cores")
    times: dict[str, list[float]] = {"jobs2": [], "dask": []}
    cold: dict[str, float] = {}
    errors: dict[str, dict] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            order = ["jobs2", "dask"] + ["dask", "jobs2", "jobs2", "dask"] * args.repeats
            for i, kind in enumerate(order):
                out = Path(tmp) / f"{kind}-{i}.csv"
                extra = {"jobs": 2} if kind == "jobs2" else {"backend": "dask",
                                                              "scheduler": cluster.scheduler_address}
                load = os.getloadavg()[0]
                t = time.perf_counter()
                table = sweep(args.experiment, out=out, **runs, **extra)
                seconds = time.perf_counter() - t
                state = "warm" if kind in cold else "cold"
                if state == "cold":
                    cold[kind] = seconds
                else:
                    times[kind].append(seconds)
                errors.setdefault(kind, {row_key(r): r["test_error"] for r in table.to_dict("records")})
                print(f"  {kind:6s} {state} {seconds:7.1f} s   (load average {load:.1f} before, "
                      f"{os.getloadavg()[0]:.1f} after)")
    finally:
        cluster.close()
    print(f"cold: jobs=2 {cold['jobs2']:.1f} s, dask {cold['dask']:.1f} s; dask / jobs=2 = "
          f"{cold['dask'] / cold['jobs2']:.2f}")
    mean = {k: sum(v) / len(v) for k, v in times.items()}
    print(f"warm (mean of {len(times['dask'])}): jobs=2 {mean['jobs2']:.1f} s, dask {mean['dask']:.1f} s; "
          f"dask / jobs=2 = {mean['dask'] / mean['jobs2']:.2f}")
    same = errors["jobs2"] == errors["dask"]
    print("same test errors in both:", same)
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
