"""The shipped tables are what the shipped code computes: each table's provenance holds, per method, the digest of a
canonical short run made by the code that made its rows (l2rw_viz.results.fingerprints). Recomputed here, pinned:
a change that moves any method's numerics fails this test until the table is re-made."""

from __future__ import annotations

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
