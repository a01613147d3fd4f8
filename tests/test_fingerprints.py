"""The shipped tables are what the shipped code computes: each table's provenance holds, per method, the digest of a
canonical short run made by the code that made its rows (l2rw_viz.results.fingerprints). Recomputed here, pinned:
a change that moves any method's numerics fails this test until the table is re-made."""

from __future__ import annotations

import numpy as np
import pytest
from test_numerics import PINNABLE, WHY_NOT

from l2rw_viz.results import SHIPPED, load_results, provenance
from l2rw_viz.results.fingerprints import FINGERPRINT_STEPS, canonical_fingerprint, fingerprints


@pytest.mark.skipif(not PINNABLE, reason=f"this machine cannot run pinned: {WHY_NOT}")
@pytest.mark.parametrize("name", SHIPPED)
def test_the_numerics_fingerprints_are_current(name):
    recorded = provenance(name).get("numerics_fingerprints") or {}
    methods = sorted(set(load_results(name)["method"]))
    assert set(recorded) >= set(methods), f"{name}: the provenance lacks fingerprints of {set(methods) - set(recorded)}"
    now = fingerprints(name, methods)
    moved = sorted(m for m in methods if now[m] != recorded[m])
    assert not moved, (f"{name}: the numerics of {moved} moved since the table was made (their canonical "
                       f"{FINGERPRINT_STEPS}-step runs differ): its rows are no longer what this code computes; "
                       f"refresh with: l2rw-viz results make {name} --jobs 2")


def test_a_fingerprint_changes_with_the_numerics(monkeypatch):
    """The digest sees a change of the arithmetic (here: the learning rate of one experiment, in this process)."""
    from dataclasses import replace

    from l2rw_viz.experiments import registry

    before = canonical_fingerprint("toy-imbalance", "l2rw")
    assert canonical_fingerprint("toy-imbalance", "l2rw") == before
    exp = registry.get_experiment("toy-imbalance")
    monkeypatch.setitem(registry.EXPERIMENTS, exp.name, replace(exp, lr=exp.lr * (1 + 2 ** -20)))
    assert canonical_fingerprint("toy-imbalance", "l2rw") != before


def test_a_loss_correction_fingerprint_sees_its_loss_and_its_clip(monkeypatch):
    """Loss correction stops in a 30-step run (T cannot be estimated yet), so its fingerprint adds a run with a given
    T and a probe of its loss on extreme logits: a change of the clip alone (1e-7 -> 1e-6) moves it, as does a
    change of the loss that only acts after training starts."""
    from l2rw_viz.methods import loss_correction
    from l2rw_viz.results.fingerprints import loss_probe, probe_transition

    before = canonical_fingerprint("toy-noise", "backward_correction")
    stopped, given, probe = before.split("|")
    assert stopped.startswith("stopped:") and given.startswith("given-T ") and probe.startswith("loss ")
    t = probe_transition(2)
    assert loss_probe("backward_correction", t) == probe.removeprefix("loss ")
    monkeypatch.setattr(loss_correction, "BACKWARD_CLIP", 1e-6)
    assert loss_probe("backward_correction", t) != probe.removeprefix("loss ")
    monkeypatch.undo()
    # the forward loss (no clip) gets its own probe, and a method that does not stop keeps its one-part fingerprint
    assert loss_probe("forward_correction", t) != loss_probe("backward_correction", t)
    assert "|" not in canonical_fingerprint("toy-noise", "plain")


def test_the_probe_transition_is_the_experiments_uniform_flip():
    from l2rw_viz.results.fingerprints import probe_transition

    t = probe_transition(10)
    assert np.allclose(t.sum(1), 1.0) and np.allclose(np.diag(t), 0.6) and np.isclose(t[0, 1], 0.4 / 9)
    assert round(float(np.linalg.cond(t)), 1) == 1.8
