"""Pinned numerics (l2rw_viz.numerics): a pinned process really is pinned, pinned runs are deterministic, the
trajectory digest sees a single bit, and a pinned sweep writes pinned rows from fresh processes."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from l2rw_viz.experiments import run_one, sweep
from l2rw_viz.numerics import PINNED_LABEL, PINS, pin_status, pinned_environment, trajectory_digest


def _pinned_status() -> tuple[bool, str]:
    """pin_status() in a fresh pinned process."""
    code = "from l2rw_viz.numerics import enter_pinned, pin_status\ntry:\n    enter_pinned()\nexcept RuntimeError:\n" \
           "    pass\nok, why = pin_status()\nprint(int(ok), why)"
    out = subprocess.run([sys.executable, "-c", code], env=pinned_environment(), capture_output=True, text=True,
                         timeout=300, check=True).stdout.strip().splitlines()[-1]
    return out.startswith("1"), out[2:]


PINNABLE, WHY_NOT = _pinned_status()
needs_pins = pytest.mark.skipif(not PINNABLE, reason=f"this machine cannot run pinned: {WHY_NOT}")


def test_this_test_process_is_not_pinned_but_says_why():
    ok, why = pin_status()
    assert not ok and why   # pytest starts without the pins: every reason is a sentence


@needs_pins
def test_a_fresh_pinned_process_is_pinned():
    assert (PINNABLE, WHY_NOT) == (True, PINNED_LABEL)
    assert PINS["ATEN_CPU_CAPABILITY"] == "avx2" and PINS["OMP_NUM_THREADS"] == "1"


def test_the_trajectory_digest_sees_one_bit():
    _, h = run_one("toy-imbalance", "l2rw", 0.9, seed=0, steps=12, device="cpu", return_history=True)
    _, again = run_one("toy-imbalance", "l2rw", 0.9, seed=0, steps=12, device="cpu", return_history=True)
    assert trajectory_digest(h) == trajectory_digest(again)   # deterministic in one process
    flipped = h.weights.copy()
    flipped.view(np.int32)[3, 1] ^= 1                          # one bit of one weight
    h.weights = flipped
    assert trajectory_digest(h) != trajectory_digest(again)
    assert len(trajectory_digest(h)) == 16


@needs_pins
def test_a_pinned_sweep_runs_each_run_in_a_pinned_process_and_repeats_itself(tmp_path):
    kwargs = dict(settings=[0.9], seeds=[0, 1], steps=8, device="cpu", progress=False, pinned=True)
    table = sweep("toy-imbalance", ["plain", "l2rw"], out=tmp_path / "a.csv", jobs=2, **kwargs)
    assert len(table) == 4 and set(table["numerics"]) == {PINNED_LABEL}
    again = sweep("toy-imbalance", ["plain", "l2rw"], out=tmp_path / "b.csv", jobs=1, **kwargs)
    key = ["method", "seed"]
    a, b = table.sort_values(key).reset_index(drop=True), again.sort_values(key).reset_index(drop=True)
    assert list(a["trajectory"]) == list(b["trajectory"]) and list(a["test_error"]) == list(b["test_error"])
    # a rerun of the same sweep skips every finished run
    assert len(sweep("toy-imbalance", ["plain", "l2rw"], out=tmp_path / "a.csv", jobs=2, **kwargs)) == 4


@needs_pins
def test_the_command_line_sweeps_pinned_and_refuses_pins_on_dask(tmp_path, capsys):
    """``l2rw-viz sweep --pinned`` (how the paper-recipe comparison is measured) writes pinned rows; the pins are set
    on processes this machine starts, so a Dask sweep refuses them before any run."""
    from l2rw_viz.cli import main
    from l2rw_viz.experiments import read_results

    out = tmp_path / "r.csv"
    assert main(["sweep", "toy-imbalance", "--methods", "plain", "--settings", "0.9", "--seeds", "0", "--steps", "5",
                 "--device", "cpu", "--pinned", "--no-progress", "--out", str(out)]) == 0
    assert list(read_results(out)["numerics"]) == [PINNED_LABEL]
    with pytest.raises(SystemExit) as exit_:
        main(["sweep", "toy-imbalance", "--pinned", "--backend", "dask", "--scheduler", "tcp://127.0.0.1:9",
              "--out", str(tmp_path / "d.csv")])
    assert exit_.value.code == 2
    assert "backend='dask' with pinned=True; allowed: backend='local'" in capsys.readouterr().err
    assert not (tmp_path / "d.csv").exists()


def test_a_failing_pinned_child_is_reported_with_its_error():
    from l2rw_viz.numerics import run_pinned_module

    with pytest.raises(RuntimeError, match=r"(?s)the probe failed \(exit 1\):.*No module named '?l2rw_viz.no_such"):
        run_pinned_module("l2rw_viz.no_such", [], "the probe")
    assert run_pinned_module("l2rw_viz.numerics", [], "the label").strip() == ""
