"""Numerics fingerprints: has the code's arithmetic moved since a shipped table was made?

A shipped row is only worth shipping while the shipped code still computes it. Re-running every row takes hours, so
each table's provenance records, per method, the :func:`~l2rw_viz.numerics.trajectory_digest` of one *canonical
short run* (:data:`FINGERPRINT_STEPS` steps, seed 0, the experiment's default setting, the offline subset), run with
pinned numerics. Any change to the data draw, a model, the trainer or a method that changes a single bit of those
steps changes the digest; ``tests/test_fingerprints.py`` recomputes them (about a minute) and fails with the
refresh command. A method that stops on such a short run (loss correction's T cannot be estimated in 15 steps) is
fingerprinted by its error message.

``python -m l2rw_viz.results.fingerprints EXPERIMENT [METHOD ...]`` prints them as JSON; it must run pinned (it
pins itself when started fresh), and says why not where it cannot.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Sequence

#: Steps of the canonical run (the digest covers every one of them).
FINGERPRINT_STEPS = 30


def canonical_fingerprint(experiment: str, method: str) -> str:
    """The digest of ``method``'s canonical short run on ``experiment`` in this process (pin it first)."""
    from ..experiments import get_experiment, run_one
    from ..numerics import trajectory_digest
    from ..train import TrainingDivergedError

    exp = get_experiment(experiment)
    try:
        _, history = run_one(exp.name, method, None, seed=0, steps=FINGERPRINT_STEPS, device="cpu",
                             data_source="subset", return_history=True)
    except TrainingDivergedError as error:
        return "stopped:" + hashlib.sha256(str(error).encode()).hexdigest()[:16]
    return trajectory_digest(history, FINGERPRINT_STEPS)


def fingerprints(experiment: str, methods: Sequence[str], timeout_s: float = 1800) -> dict[str, str]:
    """``{method: digest}`` of the canonical runs, computed in a fresh pinned process. Raises ``RuntimeError``
    with the reason when this machine cannot run pinned (see :func:`~l2rw_viz.numerics.pin_status`)."""
    from ..numerics import pinned_environment

    done = subprocess.run([sys.executable, "-m", "l2rw_viz.results.fingerprints", experiment, *methods],
                          env=pinned_environment(), capture_output=True, text=True, timeout=timeout_s)
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-6:])
        raise RuntimeError(f"the fingerprints of {experiment} could not be computed (exit {done.returncode}):\n{tail}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _main(argv: list[str]) -> int:
    import warnings

    from ..numerics import enter_pinned

    try:
        enter_pinned()
    except RuntimeError as error:
        print(str(error), file=sys.stderr)
        return 3
    experiment, methods = argv[0], argv[1:]
    with warnings.catch_warnings():   # a short run warns (e.g. a method's pre-training fell short): expected here
        warnings.simplefilter("ignore")
        out = {m: canonical_fingerprint(experiment, m) for m in methods}
    sys.stdout.write(json.dumps(out, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
