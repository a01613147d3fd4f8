"""Numerics fingerprints: has the code's arithmetic moved since a shipped table was made?

A shipped row is only worth shipping while the shipped code still computes it. Re-running every row takes hours, so
each table's provenance records, per method, the :func:`~l2rw_viz.numerics.trajectory_digest` of one *canonical
short run* (:data:`FINGERPRINT_STEPS` steps, seed 0, the experiment's default setting, the offline subset), run with
pinned numerics. Any change to the data draw, a model, the trainer or a method that changes a single bit of those
steps changes the digest; ``tests/test_fingerprints.py`` recomputes them (about a minute) and fails with the
refresh command.

A method that stops on such a short run (loss correction's T cannot be estimated in 15 steps of pre-training: about
2,000 are needed) would be fingerprinted only by its error message, which says nothing of the loss it trains with.
So a method that can be given its transition matrix adds two parts: the digest of the same canonical run with a fixed
T given (:func:`probe_transition`), and a hash of its per-example loss on fixed, extreme logits (probabilities far
below 1e-7 and within 1e-7 of 1, where a clip acts; :func:`loss_probe`).

``python -m l2rw_viz.results.fingerprints EXPERIMENT [METHOD ...]`` prints them as JSON; it must run pinned (it
pins itself when started fresh), and says why not where it cannot.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Sequence

import numpy as np

#: Steps of the canonical run (the digest covers every one of them).
FINGERPRINT_STEPS = 30


def canonical_fingerprint(experiment: str, method: str) -> str:
    """The digest of ``method``'s canonical short run on ``experiment`` in this process (pin it first); for a
    method that stops in it and can be given its transition matrix, followed by ``|given-T <digest>|loss <hash>``."""
    from ..experiments import get_experiment
    from ..experiments.build import make_dataset

    exp = get_experiment(experiment)
    digest = _short_run_digest(exp.name, method)
    if digest.startswith("stopped:") and _takes_transition(method):
        t = probe_transition(make_dataset(exp, exp.default_setting(), 0, "subset").num_classes)
        digest += f"|given-T {_short_run_digest(exp.name, method, {'transition': t})}|loss {loss_probe(method, t)}"
    return digest


def _short_run_digest(experiment: str, method: str, method_args: dict | None = None) -> str:
    from ..experiments import run_one
    from ..numerics import trajectory_digest
    from ..train import TrainingDivergedError

    try:
        _, history = run_one(experiment, method, None, seed=0, steps=FINGERPRINT_STEPS, device="cpu",
                             data_source="subset", return_history=True, method_args=method_args)
    except TrainingDivergedError as error:
        return "stopped:" + hashlib.sha256(str(error).encode()).hexdigest()[:16]
    return trajectory_digest(history, FINGERPRINT_STEPS)


def _takes_transition(method: str) -> bool:
    from ..methods.resolve import check_method_name, setting_specs

    base, modifiers = check_method_name(method)
    return "transition" in setting_specs(base, modifiers)


def probe_transition(num_classes: int, flip: float = 0.4) -> np.ndarray:
    """``(C, C)`` the fixed T of the probes: ``flip`` of each class spread evenly over the others (uniform flips, as
    the experiments make; condition number 1.8 for 10 classes at 0.4)."""
    t = np.full((num_classes, num_classes), flip / (num_classes - 1))
    np.fill_diagonal(t, 1.0 - flip)
    return t


def loss_probe(method: str, transition: np.ndarray, rows: int = 64) -> str:
    """16-hex hash of ``method``'s per-example loss (given ``transition``) on ``(rows, C)`` fixed logits of scale
    30 (softmax probabilities down to ~1e-26 and up to 1 - 1e-13), every label present."""
    import torch

    from ..methods import get_method

    m = get_method(method, transition=transition)    # a given T: its loss (and backward's inverse) ready now
    c = len(transition)
    logits = 30.0 * torch.randn(rows, c, generator=torch.Generator().manual_seed(0))
    y = torch.arange(rows) % c
    with torch.no_grad():
        loss = m.per_example_loss(logits, y)
    return hashlib.sha256(loss.numpy().astype("<f4").tobytes()).hexdigest()[:16]


def fingerprints(experiment: str, methods: Sequence[str], timeout_s: float = 1800) -> dict[str, str]:
    """``{method: digest}`` of the canonical runs, computed in a fresh pinned process. Raises ``RuntimeError``
    with the reason when this machine cannot run pinned (see :func:`~l2rw_viz.numerics.pin_status`)."""
    from ..numerics import run_pinned_module

    out = run_pinned_module("l2rw_viz.results.fingerprints", [experiment, *methods],
                            f"computing the fingerprints of {experiment}", timeout_s)
    return json.loads(out.strip().splitlines()[-1])


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
