"""The course as files: where the notebooks are found (checkout or installed copy), ``course copy`` that never
overwrites a student's edits, and the one version number (``--version``, the package metadata, every row)."""

from __future__ import annotations

import importlib.metadata
import json
import os
from pathlib import Path

import pytest
import tomllib

import l2rw_viz
from l2rw_viz.cli import main as cli_main
from l2rw_viz.course import files as course_files
from l2rw_viz.course.files import copy_course, course_notebooks, edited_files, notebooks_dir

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_in_a_checkout_the_notebooks_are_the_repositorys():
    assert notebooks_dir() == ROOT / "notebooks"
    assert [p.name for p in course_notebooks()] == NOTEBOOKS and len(NOTEBOOKS) == 9


def test_without_a_repository_the_installed_copy_is_used(tmp_path, monkeypatch):
    installed = tmp_path / "course_notebooks"
    installed.mkdir()
    monkeypatch.setattr(course_files, "_in_checkout", lambda: False)
    monkeypatch.setattr(course_files, "INSTALLED_DIR", installed)
    assert notebooks_dir() == installed
    with pytest.raises(ValueError, match="holds no course notebooks"):   # a wheel built without them
        course_notebooks()
    (installed / "01_first.ipynb").write_text("{}")
    assert [p.name for p in course_notebooks()] == ["01_first.ipynb"]


def test_copy_writes_the_notebooks_and_a_readme_that_says_how_to_open_them(tmp_path):
    folder = tmp_path / "course"
    written = copy_course(folder)
    assert sorted(p.name for p in written) == sorted([*NOTEBOOKS, "README.md"])
    for name in NOTEBOOKS:
        assert (folder / name).read_bytes() == (ROOT / "notebooks" / name).read_bytes()
    readme = (folder / "README.md").read_text()
    assert f"jupyter lab {folder.as_posix()}" in readme and "A 90-minute lecture on the paper" in readme
    record = json.loads((folder / ".l2rw-course.json").read_text())
    assert record["l2rw_viz"] == l2rw_viz.__version__ and set(record["files"]) == {*NOTEBOOKS, "README.md"}
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]
    assert copy_course(folder)   # again, nothing edited: fine


def test_an_edited_notebook_is_kept_unless_forced_and_nothing_else_is_written(tmp_path):
    folder = tmp_path / "course"
    copy_course(folder)
    mine = folder / NOTEBOOKS[4]
    mine.write_text(mine.read_text().replace("the", "THE", 1))
    (folder / NOTEBOOKS[1]).unlink()
    assert edited_files(folder) == [NOTEBOOKS[4]]
    with pytest.raises(ValueError, match=f"edited copies of {NOTEBOOKS[4]}; nothing was written.*--force"):
        copy_course(folder)
    assert "THE" in mine.read_text() and not (folder / NOTEBOOKS[1]).exists()
    copy_course(folder, force=True)
    assert mine.read_bytes() == (ROOT / "notebooks" / NOTEBOOKS[4]).read_bytes()
    assert (folder / NOTEBOOKS[1]).exists()


def test_a_file_the_student_left_alone_is_updated_to_a_newer_course(tmp_path):
    folder = tmp_path / "course"
    copy_course(folder)
    old = b'{"cells": [], "older": "course"}'
    (folder / NOTEBOOKS[0]).write_bytes(old)   # as an earlier version of the package wrote it...
    record = json.loads((folder / ".l2rw-course.json").read_text())
    record["files"][NOTEBOOKS[0]] = course_files._sha256(old)   # ...and recorded it
    (folder / ".l2rw-course.json").write_text(json.dumps(record))
    assert edited_files(folder) == []
    copy_course(folder)
    assert (folder / NOTEBOOKS[0]).read_bytes() == (ROOT / "notebooks" / NOTEBOOKS[0]).read_bytes()


def test_a_failed_write_leaves_whole_files_and_no_temporary_ones(tmp_path, monkeypatch):
    folder = tmp_path / "course"
    real, calls = os.replace, []

    def failing(src, dst):
        calls.append(dst)
        if len(calls) == 3:
            raise OSError("disk full (simulated)")
        return real(src, dst)

    monkeypatch.setattr(course_files.os, "replace", failing)
    with pytest.raises(OSError, match="simulated"):
        copy_course(folder)
    present = sorted(p.name for p in folder.iterdir())
    assert present == NOTEBOOKS[:2]   # two whole notebooks, no third, no temporary file
    for name in present:
        assert (folder / name).read_bytes() == (ROOT / "notebooks" / name).read_bytes()


def test_a_file_in_place_of_the_folder_is_refused(tmp_path):
    target = tmp_path / "course"
    target.write_text("not a folder")
    with pytest.raises(ValueError, match=r"folder='.*course' is a file; allowed: a folder"):
        copy_course(target)


def test_the_command_line_copies_and_refuses_edits_with_exit_2(tmp_path, capsys):
    folder = tmp_path / "course"
    assert cli_main(["course", "copy", str(folder)]) == 0
    assert f"open them with: jupyter lab {folder}" in capsys.readouterr().out
    (folder / "README.md").write_text("my notes")
    with pytest.raises(SystemExit) as exit_:
        cli_main(["course", "copy", str(folder)])
    assert exit_.value.code == 2
    assert "edited copies of README.md" in capsys.readouterr().err
    assert cli_main(["course", "copy", str(folder), "--force"]) == 0


def test_one_version_in_one_place_shown_by_the_command_line_and_the_metadata(capsys):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "l2rw_viz.__version__"}
    assert importlib.metadata.version("l2rw-viz") == l2rw_viz.__version__
    with pytest.raises(SystemExit) as exit_:
        cli_main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"l2rw-viz {l2rw_viz.__version__}"


def test_every_result_row_records_the_version_that_computed_it(tmp_path):
    from l2rw_viz.experiments import read_results, run_one

    row = run_one("toy-imbalance", "plain", 0.9, seed=0, steps=3, device="cpu", out=tmp_path / "r.csv")
    assert row["l2rw_viz_version"] == l2rw_viz.__version__
    assert read_results(tmp_path / "r.csv")["l2rw_viz_version"].astype(str).tolist() == [l2rw_viz.__version__]


def test_a_packed_tables_provenance_names_the_version_that_computed_its_rows(tmp_path):
    from l2rw_viz.experiments import run_one
    from l2rw_viz.results.pack import pack

    csv, hist = tmp_path / "sweep.csv", tmp_path / "hist"
    run_one("mnist-imbalance", "l2rw", 0.9, seed=0, steps=3, data_source="subset", out=csv, history_dir=hist)
    prov = pack("fig8", csv, hist, out_dir=tmp_path / "out", allow_missing=True, require_pinned=False)
    assert prov["row_l2rw_viz_versions"] == [l2rw_viz.__version__]
    assert prov["versions"]["l2rw_viz"] == l2rw_viz.__version__
