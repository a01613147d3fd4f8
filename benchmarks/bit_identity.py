"""Bit-for-bit check of a refactor: record short runs of every method, compare two recordings.

    python benchmarks/bit_identity.py record before.npz      # on the old code (e.g. a git worktree of main)
    python benchmarks/bit_identity.py record after.npz       # on the new code
    python benchmarks/bit_identity.py compare before.npz after.npz

``record`` runs every registered method (``l2rw-viz list``) on toy-imbalance, mnist-imbalance and toy-noise, plus a
few modified methods and non-default settings: 30 steps, seed 0, one thread, on the CPU, and stores each History's
arrays (weights, indices, losses, accuracies; AdaBoost's sample weights and staged errors), three row values, and
the message of a run that fails (a failure must fail the same way). ``compare`` demands the same keys and, for
every array, the same dtype, shape and values (``np.array_equal``, NaN equal to NaN); exit status 1 otherwise.
"""

from __future__ import annotations

import sys
import warnings

import numpy as np

RUNS_EXTRA = [("toy-imbalance", "plain+es+ft", None), ("toy-noise", "l2rw+es", None),
              ("mnist-imbalance", "plain+ft", None), ("toy-imbalance", "focal", {"gamma": "0.5"}),
              ("toy-imbalance", "l2rw", {"weights_method": "autodiff"}),
              ("mnist-imbalance", "l2rw", {"fused": "false"})]
ARRAYS = ("weights", "train_loss", "weighted_loss", "val_loss", "test_acc", "val_acc", "test_loss", "indices")


def record(path: str) -> None:
    import torch

    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    from l2rw_viz.experiments import all_method_names, run_one

    runs = [(e, m, None) for m in all_method_names() for e in ("toy-imbalance", "mnist-imbalance", "toy-noise")]
    out: dict[str, np.ndarray] = {}
    for exp, method, args in runs + RUNS_EXTRA:
        tag = f"{exp}|{method}|{args}"
        try:
            row, h = run_one(exp, method, seed=0, steps=30, method_args=args, return_history=True, threads=1,
                             device="cpu")
        except Exception as exc:   # a run that fails must fail the same way after the change
            out[f"{tag}|error"] = np.array(f"{type(exc).__name__}: {exc}")
            continue
        if hasattr(h, "weights"):
            out.update({f"{tag}|{k}": np.asarray(getattr(h, k)) for k in ARRAYS})
        else:
            out[f"{tag}|sample_weights"], out[f"{tag}|staged"] = h.sample_weights, h.staged_test_error
        out[f"{tag}|row"] = np.array([row["test_error"], row["mean_w_noisy"], row["mean_w_minority"]])
        print(tag, row["test_error"], flush=True)
    np.savez(path, **out)


def compare(before: str, after: str) -> int:
    a, b = np.load(before), np.load(after)
    ka, kb = set(a.files), set(b.files)
    bad = [k for k in sorted(ka & kb) if a[k].dtype != b[k].dtype or a[k].shape != b[k].shape
           or not np.array_equal(a[k], b[k], equal_nan=a[k].dtype.kind in "fc")]
    print(f"only before: {sorted(ka - kb)[:10]}; only after: {sorted(kb - ka)[:10]}")
    print(f"{len(ka & kb)} arrays compared bit for bit, {len(bad)} differ: {bad[:20]}")
    return int(bool(bad) or ka != kb)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "record":
        record(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "compare":
        sys.exit(compare(sys.argv[2], sys.argv[3]))
    else:
        sys.exit(__doc__)
