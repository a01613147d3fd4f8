"""ruff (pyflakes, pycodestyle, import order, bugbear, pyupgrade; settings in pyproject.toml) finds nothing in the
package, tests, benchmarks and notebooks: the lint runs with the README's test command, so CI runs it."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _ruff() -> list[str]:
    exe = Path(sys.executable).parent / "ruff"   # the venv's, installed by the [test] extra
    return [str(exe)] if exe.exists() else [shutil.which("ruff") or "ruff"]


def test_ruff_finds_nothing():
    out = subprocess.run([*_ruff(), "check", "--no-cache", "--output-format", "concise", "."], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, f"ruff check . found problems (fix: ruff check --fix .):\n{out.stdout}{out.stderr}"


def test_ruff_would_catch_an_unused_import(tmp_path):
    """The lint is live: the same settings reject a file with an unused import and unsorted imports."""
    bad = tmp_path / "bad.py"
    bad.write_text("import sys\nimport os\n\nprint(os.sep)\n")
    out = subprocess.run([*_ruff(), "check", "--no-cache", "--config", str(ROOT / "pyproject.toml"), str(bad)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "F401" in out.stdout and "I001" in out.stdout, out.stdout
