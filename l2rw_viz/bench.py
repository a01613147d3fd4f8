"""Benchmark: how much does an L2RW step, and a whole L2RW run, cost next to plain SGD?

Run ``python -m l2rw_viz.bench`` (or ``l2rw-viz bench``). Two measurements, both side by side in one process so
that the ratios share the machine's load:

* **steps**: every variant takes full trainer steps (the method's ``step``, ``backward()``, the
  SGD-with-momentum update) on the same random batch, interleaved round by round. Printed per model and validation
  size: the median step time, the median (and 25-75 % spread) of its per-round ratio to the plain step of the same
  round, and the step's peak memory: on CUDA the peak allocated by the step (``torch.cuda.max_memory_allocated``
  above what was allocated before it), on the CPU the peak of the tensor memory the step allocates (from
  ``torch.profiler`` allocation events, in time order), in MiB.
* **runs** (``--run-steps N``, default 100; 0 skips): whole ``train(...)`` runs of ``N`` steps on MNIST 4-vs-9
  (the offline subset, majority share 0.98, the validation size of the row) — everything a run does: sampling,
  the step, recording weights and the validation loss each step, evaluation — interleaved over ``--run-reps``
  repetitions; printed: the median run time per step and the median ratio to the plain run of the same repetition.

Variants: ``plain`` (uniform weights); ``autodiff`` (Algorithm 1 verbatim, then a fresh weighted forward/backward);
``jvp`` (the identity with torch.func, then a fresh weighted forward/backward); ``fused`` (the trainer's default
L2RW step: the layer-wise path where it applies); ``fused-dual`` (the generic fused path, forward-mode dual
parameters, for any module).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time

import numpy as np
import torch

from .checks import check_int
from .device import resolve_device
from .methods.base import Method, StepContext
from .methods.l2rw import L2RW
from .models import MLP, LeNet
from .reweight_fused import dual_step

VARIANTS = ("plain", "autodiff", "jvp", "fused", "fused-dual")


class _DualOnly(L2RW):
    """The generic fused path forced on every model (for the benchmark's ``fused-dual`` column)."""

    def step(self, ctx: StepContext):
        return dual_step(ctx.model, ctx.x, ctx.y, ctx.x_val, ctx.y_val, loss_fn=ctx.per_example_loss, lr=ctx.lr)


def _method(variant: str) -> Method:
    return {"plain": lambda: Method(), "autodiff": lambda: L2RW("autodiff"), "jvp": lambda: L2RW("jvp", fused=False),
            "fused": lambda: L2RW("jvp", fused=True), "fused-dual": lambda: _DualOnly()}[variant]()


def _make_model(name: str, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return LeNet(num_classes=2) if name == "lenet" else MLP(784, 2)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _full_step(method: Method, opt: torch.optim.Optimizer, ctx: StepContext) -> None:
    opt.zero_grad(set_to_none=True)
    out = method.step(ctx)
    out.loss.backward()
    opt.step()


@contextlib.contextmanager
def _quiet_fd2():
    """Silence file descriptor 2 for the block: libtorch writes a "USDT: ... profiler_start" and a "profiler_stop"
    line straight to it (not through Python, so no filter can catch them) each time a profiler starts and stops,
    which a notebook shows as cell output. Python's own errors still surface: they are raised, not printed, here."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def step_peak_mib(method: Method, opt: torch.optim.Optimizer, ctx: StepContext) -> float:
    """Peak memory of one full trainer step, MiB, above what was allocated before it.

    CUDA: ``torch.cuda.max_memory_allocated`` after resetting the peak. CPU: the running sum of the step's tensor
    allocations and frees (``torch.profiler`` with ``profile_memory=True``, events in time order; an op's
    allocations counted at its start), whose maximum is the step's peak.
    """
    device = ctx.x.device
    if device.type == "cuda":
        _sync(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        _full_step(method, opt, ctx)
        _sync(device)
        return (torch.cuda.max_memory_allocated(device) - before) / 2**20
    from torch.profiler import ProfilerActivity, profile

    opt.zero_grad(set_to_none=True)   # frees the old gradients before the profiler starts (it cannot see them go)
    with _quiet_fd2(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        _full_step(method, opt, ctx)
    current = peak = 0
    for event in sorted(prof.events(), key=lambda e: e.time_range.start):
        current += event.self_cpu_memory_usage
        peak = max(peak, current)
    return peak / 2**20


def _random_batch(batch_size: int, val_size: int, seed: int, dev: torch.device):
    """``(x, y, x_val, y_val, generator)``: random MNIST-shaped images ``(n, 1, 28, 28)`` with two classes on
    ``dev`` (timings do not depend on the pixel values), and the CPU generator that drew them."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch_size, 1, 28, 28, generator=g).to(dev)
    y = torch.randint(0, 2, (batch_size,), generator=g).to(dev)
    x_val = torch.randn(val_size, 1, 28, 28, generator=g).to(dev)
    return x, y, x_val, (torch.arange(val_size) % 2).to(dev), g


def _clock(clock: str, dev: torch.device):
    """The timer: process CPU time for ``clock="cpu"`` on the CPU, else wall-clock time (always on CUDA)."""
    return time.process_time if clock == "cpu" and dev.type == "cpu" else time.perf_counter


def _step_context(model, method: Method, x, y, x_val, y_val, g: torch.Generator) -> StepContext:
    """A trainer step's context for ``method`` on the benchmark batch (step 0, lr 1e-3, no dataset)."""
    return StepContext(model=model, x=x, y=y, idx=np.arange(len(x)), x_val=x_val, y_val=y_val, step=0, lr=1e-3,
                       dataset=None, generator=g, per_example_loss=method.per_example_loss)


def measure(model_name: str, batch_size: int, val_size: int, *, rounds: int = 30, warmup: int = 5,
            variants: tuple[str, ...] = VARIANTS, seed: int = 0, clock: str = "cpu",
            device: str | torch.device = "cpu", memory: bool = True) -> list[dict]:
    """Time one trainer step of each variant, interleaved for ``warmup + rounds`` rounds.

    ``clock="cpu"`` measures the process's CPU time (``time.process_time``: robust when other programs share the
    cores, as long as torch's threads are not waiting on each other); ``"wall"`` measures wall-clock time (always
    used on CUDA, with the device synchronised around each step).

    Returns one dict per variant: ``variant``, ``median_ms`` (median step time, milliseconds), ``ratio`` (median
    over rounds of this variant's time / plain's time in the same round), ``ratio_q25``, ``ratio_q75``, and
    ``peak_mib`` (:func:`step_peak_mib` of one step after the rounds; NaN with ``memory=False``).
    """
    dev = resolve_device(device)
    x, y, x_val, y_val, g = _random_batch(batch_size, val_size, seed, dev)
    runs = {}
    for v in variants:
        model = _make_model(model_name, seed).to(dev)   # the same initial weights for every variant
        model.train()
        method = _method(v)
        opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
        ctx = _step_context(model, method, x, y, x_val, y_val, g)
        runs[v] = (method, opt, ctx)
    now = _clock(clock, dev)
    times: dict[str, list[float]] = {v: [] for v in variants}
    for r in range(warmup + rounds):
        order = list(variants[r % len(variants):]) + list(variants[:r % len(variants)])   # rotate: no order bias
        for v in order:
            _sync(dev)
            start = now()
            _full_step(*runs[v])
            _sync(dev)
            elapsed = now() - start
            if r >= warmup:
                times[v].append(elapsed)
    rows = []
    base = times.get("plain")
    for v in variants:
        ratios = [t / b for t, b in zip(times[v], base)] if base else [float("nan")]
        q25, _, q75 = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else (ratios[0],) * 3
        rows.append({"model": model_name, "batch": batch_size, "val": val_size, "variant": v,
                     "median_ms": 1e3 * statistics.median(times[v]), "ratio": statistics.median(ratios),
                     "ratio_q25": q25, "ratio_q75": q75,
                     "peak_mib": step_peak_mib(*runs[v]) if memory else float("nan")})
    return rows


def measure_runs(model_name: str, batch_size: int, val_size: int, *, steps: int = 100, reps: int = 3,
                 variants: tuple[str, ...] = VARIANTS, seed: int = 0, clock: str = "cpu",
                 device: str | torch.device = "cpu", pool=None) -> list[dict]:
    """Time whole ``train(...)`` runs of ``steps`` steps per variant, interleaved over ``reps`` repetitions.

    Data: MNIST 4-vs-9 from ``pool`` (default: the offline subset), majority share 0.98, ``val_size`` validation
    images; every run starts from the same initial weights and seed. Returns one dict per variant: ``variant``,
    ``run_ms_per_step`` (median over repetitions of run time / steps), ``run_ratio`` (median over repetitions of
    this run's time / the plain run's time in the same repetition).
    """
    from .data import make_imbalanced
    from .data.mnist import load_mnist
    from .train import train

    dev = resolve_device(device)
    pool = load_mnist("subset", progress=False) if pool is None else pool
    data = make_imbalanced("mnist", proportion=0.98, n_val=val_size, seed=seed, pool=pool)
    now = _clock(clock, dev)
    times: dict[str, list[float]] = {v: [] for v in variants}
    for r in range(reps):
        order = list(variants[r % len(variants):]) + list(variants[:r % len(variants)])
        for v in order:
            model = _make_model(model_name, seed)
            _sync(dev)
            start = now()
            train(model, data, _method(v), steps=steps, batch_size=batch_size, seed=seed, device=dev,
                  progress=False)
            _sync(dev)
            times[v].append(now() - start)
    base = times.get("plain")
    rows = []
    for v in variants:
        ratios = [t / b for t, b in zip(times[v], base)] if base else [float("nan")]
        rows.append({"model": model_name, "batch": batch_size, "val": val_size, "variant": v,
                     "run_ms_per_step": 1e3 * statistics.median(times[v]) / steps,
                     "run_ratio": statistics.median(ratios)})
    return rows


def check_cost(model_name: str, batch_size: int, val_size: int, *, seed: int = 0, clock: str = "cpu",
               device: str | torch.device = "cpu") -> dict:
    """Time the one-time check of the layer-wise path (run before a model's first fused L2RW step, and again when
    its modes change) on two fresh models: ``first_ms`` (the first in this process: it also pays torch.func's
    warm-up) and ``again_ms`` (a later model). Returns both, in milliseconds."""
    dev = resolve_device(device)
    x, y, x_val, y_val, g = _random_batch(batch_size, val_size, seed, dev)
    now = _clock(clock, dev)
    out = []
    for k in range(2):
        model = _make_model(model_name, seed + k).to(dev)
        method = L2RW("jvp", fused=True)
        ctx = _step_context(model, method, x, y, x_val, y_val, g)
        _sync(dev)
        start = now()
        method.stepper.uses_layerwise(ctx.model, ctx.x, ctx.y, ctx.x_val, ctx.y_val, ctx.per_example_loss)
        _sync(dev)
        out.append(1e3 * (now() - start))
    return {"first_ms": out[0], "again_ms": out[1]}


def format_table(rows: list[dict]) -> str:
    """A plain-text table of :func:`measure` rows (joined with :func:`measure_runs` rows where given)."""
    lines = [(f"{'model':<6} {'batch':>5} {'val':>4}  {'variant':<11} {'step ms':>8}  {'x plain':>7}  "
              f"{'spread (25-75%)':>15}  {'peak MiB':>8}  {'run ms/step':>11}  {'run x plain':>11}")]
    for r in rows:
        run = (f"{r['run_ms_per_step']:>11.2f}  {r['run_ratio']:>11.2f}" if "run_ratio" in r
               else f"{'-':>11}  {'-':>11}")
        lines.append(f"{r['model']:<6} {r['batch']:>5} {r['val']:>4}  {r['variant']:<11} {r['median_ms']:>8.2f}  "
                     f"{r['ratio']:>7.2f}  {r['ratio_q25']:>7.2f}-{r['ratio_q75']:<7.2f}  "
                     f"{r.get('peak_mib', float('nan')):>8.1f}  {run}")
    return "\n".join(lines)


def format_markdown(rows: list[dict]) -> str:
    """The same rows as a markdown table (for the README)."""
    lines = [("| model | batch | val | variant | step ms | step x plain | peak MiB / step | run ms / step | "
              "run x plain |"), "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        run = (f"{r['run_ms_per_step']:.1f} | {r['run_ratio']:.2f}x" if "run_ratio" in r else "- | -")
        lines.append(f"| {r['model']} | {r['batch']} | {r['val']} | {r['variant']} | {r['median_ms']:.1f} | "
                     f"{r['ratio']:.2f}x | {r.get('peak_mib', float('nan')):.1f} | {run} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m l2rw_viz.bench [--threads N] [--rounds R] [--run-steps S] [--models ...] ...``."""
    parser = argparse.ArgumentParser(prog="l2rw-viz bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1: steadier timings)")
    parser.add_argument("--rounds", type=int, default=30, help="measured step rounds per configuration (default 30)")
    parser.add_argument("--warmup", type=int, default=5, help="unmeasured step rounds first (default 5)")
    parser.add_argument("--batch-size", type=int, default=100, help="training batch size (default 100)")
    parser.add_argument("--models", nargs="+", default=["lenet", "mlp"], choices=["lenet", "mlp"])
    parser.add_argument("--val", nargs="+", type=int, default=[10, 100], help="validation sizes (default 10 100)")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--clock", default="cpu", choices=["cpu", "wall"],
                        help="cpu: process CPU time (default; robust on a shared machine); wall: wall-clock time "
                             "(always on CUDA)")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, auto, ...")
    parser.add_argument("--run-steps", type=int, default=100,
                        help="steps of each whole training run (default 100; 0: no run timing)")
    parser.add_argument("--run-reps", type=int, default=3, help="interleaved repetitions of the runs (default 3)")
    parser.add_argument("--no-memory", action="store_true", help="skip the per-step peak memory")
    parser.add_argument("--markdown", action="store_true", help="print the table as markdown")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        threads = check_int("threads", args.threads, 1)
        rounds = check_int("rounds", args.rounds, 1)
        warmup = check_int("warmup", args.warmup, 0)
        batch = check_int("batch_size", args.batch_size, 1)
        vals = [check_int("val", v, 1) for v in args.val]
        run_steps = check_int("run_steps", args.run_steps, 0)
        run_reps = check_int("run_reps", args.run_reps, 1)
        device = resolve_device(args.device)
    except ValueError as err:
        parser.error(str(err))
    variants = tuple(v for v in VARIANTS if v in args.variants)
    if "plain" not in variants:
        variants = ("plain", *variants)
    torch.set_num_threads(threads)
    clock = "wall" if device.type == "cuda" else args.clock
    print(f"torch {torch.__version__}, device {device}, {threads} CPU thread(s), {clock} clock, {rounds} step rounds "
          f"after {warmup} warm-up, runs of {run_steps} steps x {run_reps}; ratio = median over rounds (runs) of "
          "(variant / plain in the same round)")
    # first, so that its first model really is the first of the process
    checks = {m: check_cost(m, batch, min(vals), seed=args.seed, clock=clock, device=device) for m in args.models}
    rows = []
    for model_name in args.models:
        for val in vals:
            step_rows = measure(model_name, batch, val, rounds=rounds, warmup=warmup, variants=variants,
                                seed=args.seed, clock=clock, device=device, memory=not args.no_memory)
            if run_steps:
                run_rows = measure_runs(model_name, batch, val, steps=run_steps, reps=run_reps, variants=variants,
                                        seed=args.seed, clock=clock, device=device)
                step_rows = [{**a, **b} for a, b in zip(step_rows, run_rows)]
            rows += step_rows
    print(format_markdown(rows) if args.markdown else format_table(rows))
    for m, c in checks.items():
        plain = next(r["median_ms"] for r in rows if r["model"] == m and r["variant"] == "plain")
        print(f"{m}: the layer-wise path's one-time check (before a model's first fused step, val {min(vals)}) "
              f"{c['again_ms']:.0f} ms = {c['again_ms'] / plain:.1f} plain steps; the first in a process "
              f"{c['first_ms']:.0f} ms (with torch.func's warm-up)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
