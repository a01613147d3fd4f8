"""Benchmark: how much does an L2RW step cost next to a plain SGD step?

Run ``python -m l2rw_viz.bench`` (or ``l2rw-viz bench``). Every variant takes full trainer steps (the method's
``step``, ``backward()``, the SGD-with-momentum update) on the same random batch, interleaved round by round in
one process, so that the ratios are measured side by side under the same machine load. Printed per model and
validation size: the median step time of each variant and the median (and 25-75 % spread) of its per-round ratio
to the plain step of the same round.

Variants: ``plain`` (uniform weights); ``autodiff`` (Algorithm 1 verbatim, then a fresh weighted forward/backward);
``jvp`` (the identity with torch.func, then a fresh weighted forward/backward); ``fused`` (the trainer's default
L2RW step: the layer-wise path where it applies); ``fused-dual`` (the generic fused path, forward-mode dual
parameters, for any module).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from .checks import check_int
from .methods.base import Method, StepContext
from .methods.l2rw import L2RW, dual_step
from .models import MLP, LeNet

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


def measure(model_name: str, batch_size: int, val_size: int, *, rounds: int = 30, warmup: int = 5,
            variants: tuple[str, ...] = VARIANTS, seed: int = 0, clock: str = "cpu") -> list[dict]:
    """Time one trainer step of each variant, interleaved for ``warmup + rounds`` rounds.

    ``clock="cpu"`` measures the process's CPU time (``time.process_time``: robust when other programs share the
    cores, as long as torch's threads are not waiting on each other); ``"wall"`` measures wall-clock time.

    Returns one dict per variant: ``variant``, ``median_ms`` (median step time, milliseconds), ``ratio`` (median
    over rounds of this variant's time / plain's time in the same round), ``ratio_q25``, ``ratio_q75``.
    """
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch_size, 1, 28, 28, generator=g)
    y = torch.randint(0, 2, (batch_size,), generator=g)
    x_val = torch.randn(val_size, 1, 28, 28, generator=g)
    y_val = torch.arange(val_size) % 2
    runs = {}
    for v in variants:
        model = _make_model(model_name, seed)   # the same initial weights for every variant
        model.train()
        method = _method(v)
        opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
        ctx = StepContext(model=model, x=x, y=y, idx=np.arange(batch_size), x_val=x_val, y_val=y_val, step=0,
                          lr=1e-3, dataset=None, generator=g, per_example_loss=method.per_example_loss)
        runs[v] = (method, opt, ctx)
    now = time.process_time if clock == "cpu" else time.perf_counter
    times: dict[str, list[float]] = {v: [] for v in variants}
    for r in range(warmup + rounds):
        order = list(variants[r % len(variants):]) + list(variants[:r % len(variants)])   # rotate: no order bias
        for v in order:
            method, opt, ctx = runs[v]
            start = now()
            opt.zero_grad(set_to_none=True)
            out = method.step(ctx)
            out.loss.backward()
            opt.step()
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
                     "ratio_q25": q25, "ratio_q75": q75})
    return rows


def format_table(rows: list[dict]) -> str:
    """A plain-text table of :func:`measure` rows."""
    lines = [f"{'model':<6} {'batch':>5} {'val':>4}  {'variant':<11} {'median ms':>9}  {'x plain':>7}  "
             f"{'spread (25-75%)':>15}"]
    for r in rows:
        lines.append(f"{r['model']:<6} {r['batch']:>5} {r['val']:>4}  {r['variant']:<11} {r['median_ms']:>9.2f}  "
                     f"{r['ratio']:>7.2f}  {r['ratio_q25']:>7.2f}-{r['ratio_q75']:<7.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m l2rw_viz.bench [--threads N] [--rounds R] [--warmup W] [--models ...] [--val ...]``."""
    parser = argparse.ArgumentParser(prog="l2rw-viz bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1: steadier timings)")
    parser.add_argument("--rounds", type=int, default=30, help="measured rounds per configuration (default 30)")
    parser.add_argument("--warmup", type=int, default=5, help="unmeasured rounds first (default 5)")
    parser.add_argument("--batch-size", type=int, default=100, help="training batch size (default 100)")
    parser.add_argument("--models", nargs="+", default=["lenet", "mlp"], choices=["lenet", "mlp"])
    parser.add_argument("--val", nargs="+", type=int, default=[10, 100], help="validation sizes (default 10 100)")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--clock", default="cpu", choices=["cpu", "wall"],
                        help="cpu: process CPU time (default; robust on a shared machine); wall: wall-clock time")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        threads = check_int("threads", args.threads, 1)
        rounds = check_int("rounds", args.rounds, 1)
        warmup = check_int("warmup", args.warmup, 0)
        batch = check_int("batch_size", args.batch_size, 1)
        vals = [check_int("val", v, 1) for v in args.val]
    except ValueError as err:
        parser.error(str(err))
    variants = tuple(v for v in VARIANTS if v in args.variants)
    if "plain" not in variants:
        variants = ("plain", *variants)
    torch.set_num_threads(threads)
    print(f"torch {torch.__version__}, {threads} CPU thread(s), {args.clock} clock, {rounds} rounds after {warmup} "
          "warm-up; "
          "ratio = median over rounds of (variant step / plain step in the same round)")
    rows = []
    for model_name in args.models:
        for val in vals:
            rows += measure(model_name, batch, val, rounds=rounds, warmup=warmup, variants=variants, seed=args.seed,
                            clock=args.clock)
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
