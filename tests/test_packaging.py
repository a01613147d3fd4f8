"""The two descriptions of the environment (pip's pyproject.toml and conda's environment.yml) stay in step, and the
README's two commands are the ones CI runs."""

from __future__ import annotations

import re
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _conda_pip_section() -> list[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = [d for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pip) == 1, "environment.yml must have exactly one pip: section"
    return [r for r in pip[0]["pip"] if not r.startswith("-e")]


def test_environment_yml_has_the_same_packages_and_versions_as_pyproject():
    project = _pyproject()
    pip_side = {_name(r): r for r in project["dependencies"] + project["optional-dependencies"]["test"]}
    conda_side = {_name(r): r for r in _conda_pip_section()}
    assert conda_side.keys() == pip_side.keys(), (
        f"only in pyproject: {sorted(pip_side.keys() - conda_side.keys())}; "
        f"only in environment.yml: {sorted(conda_side.keys() - pip_side.keys())}")
    for name, req in pip_side.items():
        assert conda_side[name].replace(" ", "") == req.replace(" ", ""), f"{name}: {req} vs {conda_side[name]}"


def test_environment_yml_is_named_l2rw_and_installs_the_package_and_python_floor():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["name"] == "l2rw"
    floor = _pyproject()["requires-python"].removeprefix(">=")
    assert f"python>={floor}" in env["dependencies"]
    pip = next(d for d in env["dependencies"] if isinstance(d, dict))["pip"]
    assert "-e ." in pip


def test_ci_runs_exactly_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```(?:bash|sh)\n(.*?)```", readme, re.S)
    assert block, "README.md must open with a shell block holding the two set-up commands"
    commands = [ln.split("#")[0].strip() for ln in block.group(1).splitlines() if ln.split("#")[0].strip()]
    assert len(commands) == 2, f"README.md's first block must hold exactly two commands, got {commands}"
    ci = (ROOT / ".ci" / "run").read_text()
    assert commands[1] in ci, f"the README's test command {commands[1]!r} must appear verbatim in .ci/run"
