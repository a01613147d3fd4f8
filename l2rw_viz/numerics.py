"""Pinned numerics: the same run gives the same bits on any x86-64 machine of this kind, whatever its CPU model.

A float32 run is deterministic on one machine, but not across CPUs: ATen (torch's own kernels), MKL (matrix
products) and oneDNN (convolutions) each pick kernels by the instruction sets the CPU has (AVX2, AVX-512, AMX),
and kernels of other vector widths add in other orders. A shipped result made on an AVX-512 machine was therefore
not what an AVX2-only machine computed, and the other way round (measured here: mnist-noise ``plain`` uniform seed 2
gives test error 0.092 unpinned and 0.090 pinned on one AVX-512 CPU).

Runs that make or check shipped rows therefore run *pinned*, in a fresh process started with :data:`PINS`:

- ``ATEN_CPU_CAPABILITY=avx2``: ATen's vectorised kernels at AVX2 width (every x86-64 machine here has AVX2);
- ``MKL_CBWR=AVX2,STRICT``: MKL's conditional numerical reproducibility on its AVX2 branch, alignment-independent;
- oneDNN off (``torch.backends.mkldnn.enabled = False`` in the process): its JIT kernels choose their blocking from
  the CPU's cache sizes as well as its ISA, so convolutions go through ATen's im2col and MKL's (pinned) GEMM
  instead; ``ONEDNN_MAX_CPU_ISA=AVX2`` too, for anything that still reaches it;
- one thread everywhere (``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``, torch's own count):
  a parallel reduction's order depends on the thread count; numpy's OpenBLAS (scikit-learn, SMOTE) on its Haswell
  (AVX2) kernels (``OPENBLAS_CORETYPE``).

These are read when the libraries start, so they must be in the environment before ``import torch``:
:func:`pinned_environment` gives the environment for a child process, :func:`pin_status` says whether the current
process honours them (a machine that cannot, e.g. without AVX2 or MKL, gets the reason, and the exact-reproduction
tests skip with it instead of failing). :func:`trajectory_digest` turns a run's first steps into a short hash: the
rows carry it, so a re-run is compared step by step, not only by its final test error.
"""

from __future__ import annotations

import hashlib
import os
import platform
import sys
from collections.abc import Mapping, Sequence

#: The environment of a pinned process (see the module docstring).
PINS: dict[str, str] = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "MKL_CBWR": "AVX2,STRICT",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "OPENBLAS_CORETYPE": "Haswell",
}

#: How a pinned row's numerics are labelled (the ``numerics`` column and the provenance).
PINNED_LABEL = "pinned: ATen avx2, MKL CBWR AVX2 strict, no oneDNN, 1 thread"

#: Steps of a run that :func:`trajectory_digest` hashes.
DIGEST_STEPS = 50


def pinned_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) with :data:`PINS` set: the environment of a pinned child."""
    env = dict(os.environ if base is None else base)
    env.update(PINS)
    return env


def run_pinned_module(module: str, args: Sequence[str], what: str, timeout_s: float | None = None) -> str:
    """``python -m module *args`` in a fresh child with the pinned environment (the pins are read when torch starts,
    so they cannot be set in a process that runs already); returns its stdout. Raises ``RuntimeError`` naming
    ``what`` with the exit status and the end of the child's stderr when it fails."""
    import subprocess

    done = subprocess.run([sys.executable, "-m", module, *args], env=pinned_environment(), capture_output=True,
                          text=True, timeout=timeout_s)
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-8:])
        raise RuntimeError(f"{what} failed (exit {done.returncode}):\n{tail}")
    return done.stdout


def enter_pinned() -> None:
    """Make *this* process pinned: only possible before torch was imported (the pins are read at start-up). Sets
    the environment, imports torch, turns oneDNN off and torch's threads to 1. Raises ``RuntimeError`` (with the
    reason) when the pins are not honoured."""
    if "torch" not in sys.modules:
        os.environ.update(PINS)
    import torch

    torch.backends.mkldnn.enabled = False
    torch.set_num_threads(1)
    ok, reason = pin_status()
    if not ok:
        raise RuntimeError(f"this process cannot run with pinned numerics: {reason}")


def pin_status() -> tuple[bool, str]:
    """``(True, PINNED_LABEL)`` when this process computes with pinned numerics, else ``(False, why not)``."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False, f"the pins are for x86-64 CPUs; this one is {platform.machine()}"
    missing = [k for k, v in PINS.items() if os.environ.get(k) != v]
    if missing:
        return False, f"the process did not start with the pinned environment ({', '.join(missing)} unset)"
    import torch

    if not torch.backends.mkl.is_available():
        return False, "this torch build has no MKL, whose CBWR mode the pins rely on"
    capability = torch.backends.cpu.get_cpu_capability()
    if capability != "AVX2":
        return False, f"ATen runs its {capability} kernels (the CPU lacks AVX2, or torch started before the pins)"
    if torch.backends.mkldnn.enabled:
        return False, "oneDNN is on (call l2rw_viz.numerics.enter_pinned())"
    if torch.get_num_threads() != 1:
        return False, f"torch uses {torch.get_num_threads()} threads, not 1"
    return True, PINNED_LABEL


def numerics_label() -> str:
    """How this process computes: :data:`PINNED_LABEL`, or ``"unpinned: <ATen kernels>, <n> thread(s)"``."""
    ok, _ = pin_status()
    if ok:
        return PINNED_LABEL
    import torch

    return f"unpinned: {torch.backends.cpu.get_cpu_capability()}, {torch.get_num_threads()} thread(s)"


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), with the vector extensions that change unpinned numerics."""
    name, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and name in ("", platform.machine(), platform.processor()):
                    name = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
                    break
    except OSError:
        pass
    isa = [f for f in ("avx2", "avx512f", "amx_tile") if f in flags]
    return f"{name} ({', '.join(isa) or 'no AVX2'})"


def trajectory_digest(history, steps: int = DIGEST_STEPS) -> str:
    """A 16-hex-digit hash of a run's first ``steps`` recorded steps (batch indices, weights, the three losses) and
    of every evaluation (test and validation accuracy, test loss): two runs with the same digest took the same
    steps, bit for bit. Needs a History recorded at every step (``run_one``'s). For an AdaBoost result: its
    sample weights and staged test errors."""
    import numpy as np

    h = hashlib.sha256()
    if hasattr(history, "staged_test_error"):   # scikit-learn AdaBoost: no SGD steps
        parts = [history.sample_weights, history.staged_test_error]
    else:
        n = min(steps, len(history.steps))
        parts = [history.steps[:n], history.indices[:n], history.weights[:n], history.train_loss[:n],
                 history.weighted_loss[:n], history.val_loss[:n], history.eval_steps, history.test_acc,
                 history.val_acc, history.test_loss]
    for part in parts:
        a = np.ascontiguousarray(part)
        h.update(str(a.dtype).encode() + str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


__all__ = ["DIGEST_STEPS", "PINNED_LABEL", "PINS", "cpu_model", "enter_pinned", "numerics_label", "pin_status",
           "pinned_environment", "trajectory_digest"]
