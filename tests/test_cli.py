"""The l2rw-viz command line: help that explains, bad values refused before any training, rows written."""

from __future__ import annotations

import subprocess
import sys

import pytest

from l2rw_viz.cli import build_parser, main
from l2rw_viz.experiments import read_results


@pytest.mark.slow
def test_console_script_help_explains_every_subcommand():
    out = subprocess.run([sys.executable, "-m", "l2rw_viz.cli", "--help"], capture_output=True, text=True, check=True)
    for cmd in ("run", "sweep", "list", "demo", "bench", "export"):
        assert cmd in out.stdout


@pytest.mark.parametrize("cmd", ["run", "sweep"])
def test_subcommand_help_describes_options(cmd, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([cmd, "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for option in ("--steps", "--device", "--data-source", "--out", "--history-dir", "--on-zero-weights"):
        assert option in text
    assert "mnist-imbalance" in text


@pytest.mark.parametrize("argv, message", [
    (["run", "toy-imbalance", "--proportion", "1.5"], "allowed: (0, 1)"),
    (["run", "toy-imbalance", "--steps", "0"], "integers >= 1"),
    (["run", "toy-imbalance", "--method", "magic"], "invalid choice"),
    (["run", "toy-noise", "--noise", "sideways"], "invalid choice"),
    (["run", "toy-noise", "--proportion", "0.9"], "not allowed for toy-noise"),
    (["run", "nonexistent"], "invalid choice"),
    (["run", "toy-imbalance", "--seed", "-1"], "integers in [0, 2**32 - 1]"),
    (["run", "toy-imbalance", "--seed", str(2**32)], "integers in [0, 2**32 - 1]"),
    (["run", "toy-imbalance", "--device", "tpu"], "device='tpu'"),
    (["sweep", "toy-imbalance", "--methods", "magic"], "method='magic'"),
    (["sweep", "toy-imbalance", "--settings", "2"], "proportion='2'"),
    (["sweep", "toy-imbalance", "--jobs", "0"], "integers >= 1"),
])
def test_bad_values_exit_with_a_clear_message(argv, message, capsys, monkeypatch):
    import l2rw_viz.train as train_module

    def no_training(*a, **k):
        raise AssertionError("training started despite a bad option")

    monkeypatch.setattr(train_module, "train", no_training)
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_list_names_experiments_and_methods(capsys):
    assert main(["list"]) == 0
    text = capsys.readouterr().out
    for name in ("mnist-imbalance", "toy-noise", "proportion", "smote", "adaboost", "noise_layer"):
        assert name in text


def test_run_and_sweep_write_rows(tmp_path, capsys):
    out = tmp_path / "r.csv"
    assert main(["run", "toy-imbalance", "--proportion", "0.95", "--method", "proportion", "--steps", "15",
                 "--device", "cpu", "--out", str(out), "--history-dir", str(tmp_path / "h")]) == 0
    table = read_results(out)
    assert len(table) == 1 and table["method"].item() == "proportion" and table["setting_value"].item() == 0.95
    assert list((tmp_path / "h").glob("*.npz"))
    assert main(["sweep", "toy-imbalance", "--methods", "plain", "proportion", "--settings", "0.95", "--seeds", "0",
                 "--steps", "15", "--device", "cpu", "--out", str(out), "--no-progress"]) == 0
    assert "1 run(s) to do" in capsys.readouterr().out  # the proportion row from `run` is skipped
    assert len(read_results(out)) == 2


def test_parser_knows_the_delegating_subcommands():
    parser = build_parser()
    assert {"run", "sweep", "list", "demo", "bench", "export"} <= set(parser._subparsers._group_actions[0].choices)


@pytest.mark.slow
def test_demo_in_smoke_mode_trains_plain_and_l2rw(capsys):
    from l2rw_viz.demo import run_demo

    rows = run_demo(smoke=True, device="cpu")
    assert [(r["experiment"], r["method"]) for r in rows] == [
        ("toy-noise", "plain"), ("toy-noise", "l2rw"),
        ("mnist-imbalance", "plain"), ("mnist-imbalance", "l2rw")]
    assert all(0 <= r["test_error"] <= 1 and r["steps"] > 0 for r in rows)
    # plain training weighs every example 1; L2RW's weights move away from uniform
    assert rows[0]["mean_w_clean"] == pytest.approx(1.0)
    # the paper's story: flipped labels are pushed down, the rare class is pulled up
    assert rows[1]["mean_w_noisy"] < 0.5 * rows[1]["mean_w_clean"]
    assert rows[3]["mean_w_minority"] > 1.5
    assert "w minority" in capsys.readouterr().out
