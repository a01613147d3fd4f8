"""benchmarks/gpu_check.py: its plumbing on the CPU (the GPU run itself needs a CUDA machine)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"


def _load():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_without_cuda_it_says_so_and_exits_cleanly(monkeypatch, capsys):
    gpu_check = _load()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert gpu_check.main([]) == 0
    assert capsys.readouterr().out.strip() == "no CUDA device: skipped"


@pytest.mark.slow
def test_every_stage_runs_on_the_cpu_in_quick_mode(capsys):
    gpu_check = _load()
    code = gpu_check.main(["--device", "cpu", "--quick"])
    out = capsys.readouterr().out
    assert code == 0, out
    summary = out[out.index("summary"):]
    for stage in ("exactness", "tests", "train", "explorer", "bench", "train:l2rw", "train:plain", "train:smote"):
        assert f"ok   {stage} " in summary, summary
    assert "all checks passed" in summary


def test_a_failing_stage_is_reported_and_fails_the_run(monkeypatch, capsys):
    gpu_check = _load()

    def broken(device, quick):
        raise AssertionError("deliberately broken")

    monkeypatch.setattr(gpu_check, "check_bench", broken)
    assert gpu_check.main(["--device", "cpu", "--quick", "--stages", "tests", "bench"]) == 1
    out = capsys.readouterr().out
    assert "FAIL bench" in out and "deliberately broken" in out and "FAILED: bench" in out
