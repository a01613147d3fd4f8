"""The package checked like a release: the sdist and wheel are built (``python -m build``), their metadata checked
(``twine check --strict``: the README renders as the long description), the wheel installed non-editable into a fresh
venv, and from an empty folder, as a student with no repository: ``l2rw-viz --version``, ``l2rw-viz course copy
./course`` (the nine notebooks and a README), JupyterLab serving them, and a smoke ``course build`` of one notebook.

Slow (a fresh venv: torch, then the wheel and its dependencies, from the pip cache where possible): one module-scoped
build and install, then one test per promise.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import tarfile
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

import l2rw_viz

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
TORCH = "torch==2.13.0"   # as .ci/run: the local CPU build first, so the wheel's loose torch range keeps it


def _run(cmd, timeout=900, **kw):
    done = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, **kw)
    assert done.returncode == 0, f"{cmd} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """Build sdist + wheel, install the wheel into a fresh venv; the paths and what each step printed."""
    base = tmp_path_factory.mktemp("release")
    dist = base / "dist"
    start = time.perf_counter()
    # as a release is built: the sdist from the tree, then the wheel from the sdist (so the sdist must be complete)
    _run([sys.executable, "-m", "build", "--outdir", dist, ROOT], cwd=base)
    built = time.perf_counter() - start
    wheel = next(dist.glob("l2rw_viz-*.whl"))
    sdist = next(dist.glob("l2rw_viz-*.tar.gz"))
    venv = base / "venv"
    _run([sys.executable, "-m", "venv", venv])
    pip = venv / "bin" / "pip"
    _run([pip, "install", "-q", TORCH], timeout=1800)
    _run([pip, "install", "-q", wheel], timeout=1800)   # not editable: the files come from the wheel only
    installed = time.perf_counter() - start - built
    # the student's machine: an empty folder, a home of its own (no user-wide Jupyter kernels or settings), the
    # fresh venv first on PATH
    home, student = base / "home", base / "student"
    home.mkdir()
    student.mkdir()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "PYTHONPATH", "VIRTUAL_ENV"))},
           "HOME": str(home), "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
           "PYTHONNOUSERSITE": "1"}
    print(f"\nbuilt in {built:.0f} s, installed in {installed:.0f} s; wheel {wheel.stat().st_size / 1e6:.2f} MB, "
          f"sdist {sdist.stat().st_size / 1e6:.2f} MB")
    return {"dist": dist, "wheel": wheel, "sdist": sdist, "venv": venv, "env": env, "student": student}


def test_twine_check_passes_the_metadata_and_the_readme_renders(release):
    done = _run([sys.executable, "-m", "twine", "check", "--strict", release["wheel"], release["sdist"]])
    assert done.stdout.count("PASSED") == 2, done.stdout


def test_the_wheel_carries_the_course_and_the_shipped_results(release):
    names = zipfile.ZipFile(release["wheel"]).namelist()
    course = "l2rw_viz/course_notebooks/"
    assert sorted(n.removeprefix(course) for n in names if re.fullmatch(course + r"\d\d_\w+\.ipynb", n)) == NOTEBOOKS
    assert course + "README.md" in names and course + "docs/departures.md" in names
    assert "l2rw_viz/results/data/mnist-imbalance.csv" in names
    assert not [n for n in names if n.startswith(("tests/", "notebooks/", "docs/"))]   # only the package
    meta = zipfile.ZipFile(release["wheel"]).read(next(n for n in names if n.endswith("/METADATA"))).decode()
    assert f"Version: {l2rw_viz.__version__}" in meta   # the one version, from l2rw_viz/__init__.py


def test_the_sdist_can_rebuild_the_wheel_with_the_course(release):
    with tarfile.open(release["sdist"]) as tar:
        names = [n.split("/", 1)[1] for n in tar.getnames() if "/" in n]
    assert {f"notebooks/{n}" for n in NOTEBOOKS} <= set(names)
    assert {"setup.py", "MANIFEST.in", "pyproject.toml", "notebooks/README.md", "docs/departures.md"} <= set(names)


def test_from_an_empty_folder_a_student_gets_the_version_and_the_course(release):
    env, student, bin_ = release["env"], release["student"], release["venv"] / "bin"
    done = _run([bin_ / "l2rw-viz", "--version"], env=env, cwd=student)
    assert done.stdout.strip() == f"l2rw-viz {l2rw_viz.__version__}"
    where = _run([bin_ / "python", "-c", "import l2rw_viz.course.files as c; print(c.notebooks_dir())"], env=env,
                 cwd=student).stdout.strip()
    assert "site-packages" in where and where.endswith("course_notebooks")   # the installed copy, no repository
    shown = _run([bin_ / "python", "-c", "from l2rw_viz.course.files import course_document as d; "
                  "print(d('departures.md').read_text())"], env=env, cwd=student).stdout   # what notebook 6 shows
    assert shown.strip() == (ROOT / "docs" / "departures.md").read_text().strip()
    done = _run([bin_ / "l2rw-viz", "course", "copy", "./course"], env=env, cwd=student)
    assert "jupyter lab ./course" in done.stdout
    course = student / "course"
    assert sorted(p.name for p in course.glob("*.ipynb")) == NOTEBOOKS
    for name in NOTEBOOKS:   # byte for byte the repository's notebooks
        assert (course / name).read_bytes() == (ROOT / "notebooks" / name).read_bytes()
    assert "jupyter lab ./course" in (course / "README.md").read_text()
    # an edited notebook is kept (exit 2, nothing written), and --force overwrites it
    edited = course / NOTEBOOKS[0]
    edited.write_text(edited.read_text().replace("weight", "WEIGHT", 1))
    refused = subprocess.run([bin_ / "l2rw-viz", "course", "copy", "./course"], env=env, cwd=student,
                             capture_output=True, text=True)
    assert refused.returncode == 2 and NOTEBOOKS[0] in refused.stderr and "--force" in refused.stderr
    assert "WEIGHT" in edited.read_text()
    _run([bin_ / "l2rw-viz", "course", "copy", "./course", "--force"], env=env, cwd=student)
    assert edited.read_bytes() == (ROOT / "notebooks" / NOTEBOOKS[0]).read_bytes()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_jupyterlab_of_the_fresh_venv_serves_the_copied_notebooks(release):
    env, student, bin_ = release["env"], release["student"], release["venv"] / "bin"
    course = student / "lab_course"
    _run([bin_ / "l2rw-viz", "course", "copy", course], env=env, cwd=student)
    port = _free_port()
    cmd = [bin_ / "jupyter", "lab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
           "--IdentityProvider.token=", "--ServerApp.password=", f"--ServerApp.root_dir={course}"]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    server = subprocess.Popen([str(c) for c in cmd], env=env, cwd=student, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        listing, deadline = None, time.monotonic() + 180
        while listing is None and time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents", timeout=5) as response:
                    listing = json.load(response)
            except OSError:
                time.sleep(0.2)
        assert listing is not None, "JupyterLab did not answer"
        shown = sorted(item["name"] for item in listing["content"] if item["type"] == "notebook")
        assert shown == NOTEBOOKS
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents/{NOTEBOOKS[-1]}", timeout=30) as r:
            assert json.load(r)["content"]["cells"], "the notebook opened empty"
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(30)


def test_a_smoke_course_build_of_one_notebook_works_without_a_repository(release):
    env, student, bin_ = release["env"], release["student"], release["venv"] / "bin"
    done = _run([bin_ / "l2rw-viz", "course", "build", "./site", "--smoke", "--notebooks", "01", "--no-explorer",
                 "--no-progress"], env=env, cwd=student, timeout=1800)
    assert "1 notebook page(s)" in done.stdout, done.stdout
    site = student / "site"
    assert (site / "index.html").is_file() and (site / "01_weighted_loss.html").is_file()
    assert 'class="plotly-graph-div"' in (site / "01_weighted_loss.html").read_text()   # figures, executed
    assert (site / "notebooks" / "01_weighted_loss.ipynb").is_file()
