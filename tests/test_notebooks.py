"""Every course notebook runs top to bottom (in the session's one course build: full mode in CI, smoke mode with
L2RW_SMOKE=1), really trains something, draws figures with data, prints no warnings, and is committed without
outputs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
TIMINGS: dict[str, float] = {}

pytestmark = pytest.mark.notebooks


def test_there_is_a_course():
    assert len(NOTEBOOKS) >= 8, [p.name for p in NOTEBOOKS]


def test_notebooks_are_committed_without_outputs():
    result = subprocess.run([sys.executable, "-m", "nbstripout", "--verify", *map(str, NOTEBOOKS)],
                            capture_output=True, text=True)
    assert result.returncode == 0, f"notebooks carry outputs (run nbstripout on them):\n{result.stdout}{result.stderr}"


def _plotly_traces(nb) -> list[dict]:
    traces = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "application/vnd.plotly.v1+json" in data:
                traces += data["application/vnd.plotly.v1+json"].get("data", [])
    return traces


def _has_points(trace: dict) -> bool:
    return any(isinstance(trace.get(k), (list, dict)) and len(trace[k]) > 0 for k in ("x", "y", "z", "values"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path, course_build):
    """Read from the session's one course build (full mode in CI, see ``conftest.course_build``): the notebook ran
    top to bottom, its check cells held (a failing assert stops the build), and its figures hold data."""
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(len(c.source.splitlines()) <= 30 for c in code), \
        f"{path.name}: a code cell is longer than 30 lines; move it into l2rw_viz"
    executed = course_build.notebook(path.name)
    page = next(p for p in course_build.info["pages"] if p["notebook"] == path.name)
    TIMINGS[f"{path.name} ({'smoke' if course_build.smoke else 'full'})"] = page["seconds"]
    # something real happened: every code cell ran, and the figures the notebook drew hold data
    ran = [c for c in executed.cells if c.cell_type == "code"]
    assert [c.source for c in ran] == [c.source for c in code] and all(c.get("execution_count") for c in ran)
    traces = _plotly_traces(executed)
    assert traces and any(_has_points(t) for t in traces), f"{path.name} drew no plotly figure with data"
    # the notebook's own check-yourself cells assert real numbers (accuracy beats chance, weights sum to 1, ...)
    assert any("assert" in c.source for c in code), f"{path.name} has no check cell"
    # no noise in the output (what a class reads): no C-level profiler lines, no torch warning about scalars, no
    # list of mirror URLs (an offline machine still gets the one-line note that MNIST fell back to the subset)
    stderr = "".join(o.get("text", "") for c in ran for o in c.get("outputs", [])
                     if o.get("output_type") == "stream" and o.get("name") == "stderr")
    for noise in ("USDT", "profiler_start", "requires_grad=True to a scalar", "http://", "https://"):
        assert noise not in stderr, f"{path.name} printed {noise!r} to stderr:\n{stderr[:2000]}"


def _figures(nb) -> list[dict]:
    return [out["data"]["application/vnd.plotly.v1+json"] for cell in nb.cells for out in cell.get("outputs", [])
            if "application/vnd.plotly.v1+json" in out.get("data", {})]


def _stamped(figure: dict) -> bool:
    from l2rw_viz.viz.stamp import STAMP_NAME

    return any(a.get("name") == STAMP_NAME for a in figure.get("layout", {}).get("annotations", []))


def _run(path: Path, tmp_path: Path, monkeypatch, **env):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("L2RW_DATA_DIR", str(tmp_path / "data"))
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    return nb


@pytest.mark.parametrize("name", ["06_mnist_imbalance", "07_mnist_noisy_labels"])
def test_mnist_notebooks_draw_the_shipped_results_unstamped(name, course_build):
    """The course build draws the shipped full results in either mode: nothing is stamped and nothing trains. Its
    note says how many seeds a cell holds (3 when the tables are whole; fewer while they are being re-made), never
    more than the table has."""
    from l2rw_viz.experiments import summarize
    from l2rw_viz.results import load_results

    nb = course_build.notebook(f"{name}.ipynb")
    text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    note = re.search(r"shipped full results: \d+ runs of [\w-]+ \((\d+)(?:-(\d+))? seeds?(?: per cell)?, 2,000 "
                     r"steps", text)
    assert note, text[:2000]
    most = summarize(load_results("fig8" if name.startswith("06") else "noise"))["count"].max()
    assert int(note.group(2) or note.group(1)) <= most
    figures = _figures(nb)
    assert figures and not any(_stamped(f) for f in figures)


def test_a_smoke_recomputation_stamps_its_figures_and_says_it_differs(tmp_path, monkeypatch):
    nb = _run(ROOT / "notebooks" / "06_mnist_imbalance.ipynb", tmp_path, monkeypatch, L2RW_SMOKE="1",
              L2RW_RECOMPUTE="1")
    text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "no shipped twin" in text          # a 200-step re-run is not the shipped 2,000-step experiment
    figures = _figures(nb)
    # every figure drawn from the re-run is stamped (the data overview and the all-baselines table are not re-runs)
    assert sum(_stamped(f) for f in figures) >= 3
    assert (tmp_path / "results" / "fig8.csv").exists()


def test_report_notebook_timings(request):
    """Runs last in this file: writes the measured smoke-mode times for the closing note and the README."""
    if TIMINGS:
        out = Path(os.environ.get("L2RW_TIMINGS_FILE", ROOT / ".pytest_cache" / "notebook_timings.json"))
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(TIMINGS, indent=1))
        print("\nnotebook times (s): " + ", ".join(f"{k} {v:.1f}" for k, v in TIMINGS.items()))
