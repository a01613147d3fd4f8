"""The GPU path checked in one go: ``python benchmarks/gpu_check.py`` on a machine with CUDA (under 5 minutes).

Stages, each timed and reported in a closing summary (exit status 1 if any failed):

1. ``exactness``: on the device, in float32, every L2RW step path (layer-wise, dual, unfused ``jvp``,
   ``autodiff``) on LeNet gives weights and an applied update within 1e-4 (relative) of a float64 CPU reference
   (per-example Jacobian, ``torch.func.jacrev``), and the layer-wise path is the one the default method takes.
2. ``tests``: the device-dependent tests (``pytest`` on the device test of ``tests/test_train.py`` and the L2RW /
   reweighting test files, which run on the CPU but share the code the device runs); skipped with ``--quick``.
3. ``train:<method>``: one short training run of every registered method on the device (LeNet, MNIST 4-vs-9 from
   the offline subset, majority share 0.98): finite losses, the History says which device trained it.
4. ``explorer``: the toy explorer's ``retrain()`` with ``device`` set to the device, waited for, no error.
5. ``bench``: ``l2rw-viz bench`` on the device (LeNet, validation 10; steps and whole runs).

On a machine without CUDA, ``--device cuda`` (the default) prints ``no CUDA device: skipped`` and exits 0.
``--device cpu --quick`` runs every stage's plumbing on the CPU in a few dozen seconds (what the test suite does).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.func import functional_call, grad, jacrev

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:   # run as a script from a checkout
    sys.path.insert(0, str(ROOT))

from l2rw_viz.device import describe_device, resolve_device  # noqa: E402  (after the sys.path line)

DEVICE_TESTS = ["tests/test_train.py::test_device_auto_is_cpu_without_cuda_and_cuda_request_is_a_clear_error",
                "tests/test_l2rw.py", "tests/test_l2rw_exactness.py", "tests/test_reweight.py"]


def _reference(model, x, y, x_val, y_val, lr):
    """float64 CPU per-example reference: ``(weights (b,), [update per trainable parameter])``."""
    model = model.double().cpu()
    params = {k: p.detach() for k, p in model.named_parameters()}
    x, x_val, y, y_val = x.double().cpu(), x_val.double().cpu(), y.cpu(), y_val.cpu()
    jac = jacrev(lambda p: F.cross_entropy(functional_call(model, p, (x,)), y, reduction="none"))(params)
    g_val = grad(lambda p: F.cross_entropy(functional_call(model, p, (x_val,)), y_val))(params)
    scores = lr * sum(jac[k].reshape(len(y), -1) @ g_val[k].reshape(-1) for k in params)
    w = scores.clamp(min=0)
    w = w / w.sum() if w.sum() > 0 else w
    return w, [torch.einsum("b,b...->...", w, jac[k]) for k in params]


def check_exactness(device: torch.device, quick: bool) -> str:
    from l2rw_viz.methods import StepContext
    from l2rw_viz.methods.l2rw import L2RW
    from l2rw_viz.models import LeNet

    b, m = (16, 4) if quick else (100, 10)
    g = torch.Generator().manual_seed(0)
    x, x_val = torch.randn(b, 1, 28, 28, generator=g), torch.randn(m, 1, 28, 28, generator=g)
    y, y_val = torch.randint(0, 2, (b,), generator=g), torch.arange(m) % 2
    torch.manual_seed(0)
    start = LeNet(num_classes=2)
    ref_w, ref_u = _reference(_copy(start), x, y, x_val, y_val, lr=0.1)
    worst = 0.0
    cases = [("layerwise", {}, m), ("dual", {}, b), ("unfused", {"fused": False}, m),
             ("unfused", {"weights_method": "autodiff"}, m)]
    for path, settings, m_case in cases:
        model = _copy(start).to(device).train()
        xv, yv = (x_val, y_val) if m_case == m else (x[:m_case], y[:m_case])   # val as large as the batch: dual
        rw, ru = (ref_w, ref_u) if m_case == m else _reference(_copy(start), x, y, xv, yv, lr=0.1)
        method = L2RW(**settings)
        ctx = StepContext(model=model, x=x.to(device), y=y.to(device), idx=np.arange(b), x_val=xv.to(device),
                          y_val=yv.to(device), step=0, lr=0.1, dataset=None, generator=torch.Generator(),
                          per_example_loss=method.per_example_loss)
        out = method.step(ctx)
        out.loss.backward()
        if method.last_path != path:
            raise AssertionError(f"{settings or 'default'}: took the {method.last_path} path, expected {path}")
        errs = [float((out.weights.double().cpu() - rw).abs().max() / rw.abs().max())]
        errs += [float((p.grad.double().cpu() - r).abs().max() / r.abs().max().clamp(min=1e-12))
                 for p, r in zip(model.parameters(), ru)]
        worst = max(worst, *errs)
        if max(errs) > 1e-4:
            raise AssertionError(f"{path} {settings}: relative error {max(errs):.2e} > 1e-4")
    return f"4 paths, worst relative error {worst:.1e} (weights and applied update vs float64 CPU)"


def _copy(model):
    from l2rw_viz.models import LeNet

    twin = LeNet(num_classes=2)
    twin.load_state_dict(model.state_dict())
    return twin


def check_tests(device: torch.device, quick: bool) -> str:
    if quick:
        return "skipped (--quick)"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not slow", *DEVICE_TESTS]
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240, check=False)
    last = (proc.stdout.strip().splitlines() or ["(no output)"])[-1]
    if proc.returncode != 0:
        raise AssertionError(f"pytest failed: {last}\n{proc.stdout[-3000:]}")
    return last


def check_trainings(device: torch.device, quick: bool) -> list[tuple[str, str]]:
    """One short run per registered method; returns ``[(method, detail)]``, raising on the first failure."""
    from l2rw_viz.data import make_imbalanced
    from l2rw_viz.data.mnist import load_mnist
    from l2rw_viz.experiments import get_experiment, method_for
    from l2rw_viz.methods import METHODS, available_methods
    from l2rw_viz.models import make_model
    from l2rw_viz.train import train

    data = make_imbalanced("mnist", proportion=0.98, seed=0, pool=load_mnist("subset", progress=False))
    steps = 3 if quick else 30
    exp = get_experiment("mnist-imbalance")
    out = []
    for name in available_methods():
        model = make_model("lenet", data.num_classes, data.feature_shape, seed=0)
        start = time.perf_counter()
        # settings that depend on the run (fine-tuning's switch, pre-training lengths, schedules) as run_one sets them;
        # loss correction cannot estimate T in a few steps (it stops and says so): give it the true T, the identity
        # here (class imbalance, no flipped labels)
        extra = ({"transition": np.eye(data.num_classes)}
                 if any(s.name == "transition" for s in getattr(METHODS.get(name), "settings", ())) else {})
        method = method_for(name, exp, steps, exp.batch_size, exp.lr, **extra)
        with _quiet():
            history = train(model, data, method, steps=steps, device=device, seed=0, eval_every=steps,
                            progress=False)
        if not np.isfinite(history.train_loss).all():
            raise AssertionError(f"{name}: non-finite training loss")
        if history.meta["device"] != describe_device(device):
            raise AssertionError(f"{name}: trained on {history.meta['device']}, expected {describe_device(device)}")
        out.append((name, f"{steps} steps in {time.perf_counter() - start:.1f} s, test acc "
                          f"{history.test_acc[-1]:.3f}"))
    return out


def check_explorer(device: torch.device, quick: bool) -> str:
    from l2rw_viz.viz.state import ExplorerState
    from l2rw_viz.viz.widgets import ToyExplorer

    state = ExplorerState(device=device.type, steps=20 if quick else 200)
    explorer = ToyExplorer(state, autostart=False, debounce_s=0.0)
    explorer.retrain()
    if not explorer.wait(timeout=120.0):
        raise AssertionError("the explorer's retrain did not finish within 120 s")
    if explorer.errors:
        raise AssertionError(f"the explorer's retrain failed: {explorer.errors[0]!r}")
    run = explorer.runs["method"]
    if run.device != describe_device(device):
        raise AssertionError(f"the explorer trained on {run.device}, expected {describe_device(device)}")
    return f"{state.steps} steps of {state.method} + {state.baseline} on {run.device} in {run.wall_time_s:.1f} s"


def check_bench(device: torch.device, quick: bool) -> str:
    from l2rw_viz import bench

    args = ["--device", str(device), "--models", "lenet", "--val", "10"]
    if quick:
        args += ["--rounds", "2", "--warmup", "1", "--run-steps", "3", "--run-reps", "1"]
    else:
        args += ["--rounds", "20", "--warmup", "5", "--run-steps", "100", "--run-reps", "3"]
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = bench.main(args)
    text = buffer.getvalue()
    print(text)
    if code != 0:
        raise AssertionError(f"bench exited with {code}")
    fused = [line for line in text.splitlines() if " fused " in f" {line} "]
    return fused[0].strip() if fused else "done"


@contextlib.contextmanager
def _quiet():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N, or cpu for a plumbing run")
    parser.add_argument("--quick", action="store_true", help="tiny sizes everywhere, no pytest stage")
    parser.add_argument("--stages", nargs="+", default=["exactness", "tests", "train", "explorer", "bench"],
                        choices=["exactness", "tests", "train", "explorer", "bench"])
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("no CUDA device: skipped")
        return 0
    try:
        device = resolve_device(args.device)
    except ValueError as err:
        parser.error(str(err))
    print(f"gpu_check on {describe_device(device)}, torch {torch.__version__}{' (quick)' if args.quick else ''}")
    results: list[tuple[str, bool, float, str]] = []
    begin = time.perf_counter()
    stages = {"exactness": check_exactness, "tests": check_tests, "train": check_trainings,
              "explorer": check_explorer, "bench": check_bench}
    for name in args.stages:
        start = time.perf_counter()
        try:
            detail = stages[name](device, args.quick)
        except Exception as exc:   # report every stage, then fail
            traceback.print_exc()
            results.append((name, False, time.perf_counter() - start, f"{type(exc).__name__}: {exc}"[:300]))
            continue
        if isinstance(detail, list):
            results += [(f"train:{method}", True, 0.0, text) for method, text in detail]
            results.append((name, True, time.perf_counter() - start, f"{len(detail)} methods"))
        else:
            results.append((name, True, time.perf_counter() - start, detail))
    print(f"\nsummary ({describe_device(device)}, {time.perf_counter() - begin:.0f} s in all)")
    for name, ok, seconds, detail in results:
        print(f"  {'ok  ' if ok else 'FAIL'} {name:<24} {seconds:>6.1f} s  {detail}")
    failed = [name for name, ok, _, _ in results if not ok]
    print("all checks passed" if not failed else f"FAILED: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
