"""Alternatives for the per-layer work of L2RW's layer-wise step on LeNet's two convolutions, side by side.

For a convolution with saved inputs ``a`` (b, cin, h, w), per-example output signals ``g`` (b, cout, h', w'),
the validation gradient ``G`` (cout, cin, k, k) and the example weights ``w`` (b,), the step needs the scores
``s_i = <g_i, conv(a_i; G)>`` and the weighted weight gradient ``sum_i w_i g_i * a_i``. Three ways:

* ``current`` (what :func:`l2rw_viz.reweight_fused.layerwise_step` does): one convolution with ``G`` as its weight,
  a per-example dot product, and one weight-gradient call on the weighted signals;
* ``per-example``: per-example weight gradients (unfold + batched matmul), from which both the scores (a dot
  with ``G``) and the weighted gradient (a weighted sum) follow;
* ``transposed``: the scores as ``<conv_transpose(g_i; G), a_i>`` (a smaller dot product on the input side),
  and the same weight-gradient call.

Run: ``python benchmarks/bench_directional.py [--rounds 100]`` (1 thread, process CPU time, interleaved rounds;
prints each way's median time and its ratio to ``current``, and checks that all three agree).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

SHAPES = {"conv1 (1->16, 28x28)": (1, 16, 28), "conv2 (16->32, 12x12)": (16, 32, 12)}   # LeNet's convolutions


def _inputs(cin: int, cout: int, hw: int, batch: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    cl = torch.channels_last   # LeNet's layout
    a = torch.randn(batch, cin, hw, hw, generator=g).contiguous(memory_format=cl)
    signals = torch.randn(batch, cout, hw - 4, hw - 4, generator=g).contiguous(memory_format=cl)
    big_g = torch.randn(cout, cin, 5, 5, generator=g).contiguous(memory_format=cl)
    w = torch.rand(batch, generator=g)
    return a, signals, big_g, w / w.sum()


def _weight_grad(signals, a, weight, w):
    # as the package does: the weights scale the smaller of input and signals (the sum is the same)
    if a.numel() < signals.numel():
        a = a * w.view(-1, 1, 1, 1)
    else:
        signals = signals * w.view(-1, 1, 1, 1)
    return torch.ops.aten.convolution_backward(signals, a, weight, None, (1, 1), (0, 0), (1, 1), False, (0, 0), 1,
                                               [False, True, False])[1]


def current(a, signals, big_g, w):
    scores = (signals * F.conv2d(a, big_g)).sum(dim=(1, 2, 3))
    return scores, _weight_grad(signals, a, big_g, w)


def per_example(a, signals, big_g, w):
    per = torch.bmm(signals.flatten(2), F.unfold(a, 5).transpose(1, 2)).flatten(1)   # (b, cout * cin * 25)
    return per @ big_g.reshape(-1), (w @ per).view_as(big_g)


def transposed(a, signals, big_g, w):
    back = torch.ops.aten.convolution_backward(signals, a, big_g, None, (1, 1), (0, 0), (1, 1), False, (0, 0), 1,
                                               [True, False, False])[0]
    return (back * a).sum(dim=(1, 2, 3)), _weight_grad(signals, a, big_g, w)


WAYS = {"current": current, "per-example": per_example, "transposed": transposed}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, 1 thread, CPU time, batch {args.batch}, median of {args.rounds} rounds")
    for label, (cin, cout, hw) in SHAPES.items():
        inputs = _inputs(cin, cout, hw, args.batch, 0)
        ref_scores, ref_grad = current(*inputs)
        for fn in WAYS.values():   # agree (float32 rounding), and warm up
            scores, grad = fn(*inputs)
            assert torch.allclose(scores, ref_scores, rtol=1e-3, atol=1e-3 * float(ref_scores.abs().max()))
            assert torch.allclose(grad, ref_grad, rtol=1e-3, atol=1e-3 * float(ref_grad.abs().max()))
        times = {k: [] for k in WAYS}
        for r in range(args.rounds):
            names = list(WAYS)[r % 3:] + list(WAYS)[:r % 3]   # rotate: no order bias
            for k in names:
                start = time.process_time()
                WAYS[k](*inputs)
                times[k].append(time.process_time() - start)
        base = times["current"]
        for k, t in times.items():
            ratio = statistics.median(x / b for x, b in zip(t, base))
            print(f"{label:22s} {k:12s} {1e3 * statistics.median(t):7.2f} ms  {ratio:5.2f}x current")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
