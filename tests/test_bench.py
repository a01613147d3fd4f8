"""l2rw-viz bench: step ratios, whole-run ratios and per-step peak memory, measured side by side."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from l2rw_viz import bench
from l2rw_viz.methods import Method, StepContext


def test_step_peak_memory_counts_what_a_step_allocates():
    torch.manual_seed(0)
    small, large = torch.nn.Linear(784, 2), torch.nn.Linear(784, 512)
    x, y = torch.randn(100, 784), torch.randint(0, 2, (100,))
    peaks = []
    for model in (small, large):
        method = Method()
        ctx = StepContext(model=model, x=x, y=y, idx=np.arange(100), x_val=x[:10], y_val=y[:10], step=0, lr=1e-3,
                          dataset=None, generator=torch.Generator(), per_example_loss=method.per_example_loss)
        opt = torch.optim.SGD(model.parameters(), lr=1e-3)
        peaks.append(bench.step_peak_mib(method, opt, ctx))
    # the large layer's output (100 x 512 floats), its gradient and its weight gradient (784 x 512): >= 1.5 MiB
    assert 0 < peaks[0] < 0.5 and peaks[1] >= 1.5, peaks


def test_bench_prints_step_and_run_ratios_and_memory(capsys):
    assert bench.main(["--models", "mlp", "--val", "10", "--rounds", "2", "--warmup", "0", "--run-steps", "2",
                       "--run-reps", "1", "--variants", "fused", "--markdown"]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("| mlp")]
    assert [line.split("|")[4].strip() for line in lines] == ["plain", "fused"]
    cells = lines[1].split("|")
    assert float(cells[5]) > 0 and float(cells[7]) > 0 and float(cells[8]) > 0 and cells[9].strip().endswith("x")
    assert lines[0].split("|")[9].strip() == "1.00x"   # plain against itself
    check = next(line for line in out.splitlines() if "one-time check" in line)
    assert check.startswith("mlp:") and "plain steps" in check


def test_check_cost_times_the_layerwise_check_of_fresh_models(monkeypatch):
    from l2rw_viz.reweight_fused import L2RWStep

    calls = []
    original = L2RWStep.uses_layerwise

    def counted(self, model, *args):
        calls.append(model)
        return original(self, model, *args)

    monkeypatch.setattr(L2RWStep, "uses_layerwise", counted)
    cost = bench.check_cost("mlp", 20, 4)
    assert len(calls) == 2 and calls[0] is not calls[1]   # two models, each checked once
    assert cost["first_ms"] > 0 and cost["again_ms"] > 0


def test_bench_names_a_bad_argument(capsys):
    with pytest.raises(SystemExit):
        bench.main(["--run-steps", "-1"])
    assert "run_steps" in capsys.readouterr().err
