"""The viz package's public surface: every figure function is exported, the old import path still works, and the
figure modules draw with the public style module (not with each other's private names)."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import warnings
from pathlib import Path

import pytest

import l2rw_viz.viz as viz

VIZ_DIR = Path(viz.__file__).parent


def viz_modules():
    """Every module of ``l2rw_viz.viz`` (the deprecated ``plots`` shim imported without its warning)."""
    out = []
    for info in pkgutil.iter_modules([str(VIZ_DIR)]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            out.append(importlib.import_module(f"l2rw_viz.viz.{info.name}"))
    return out


def figure_functions():
    """``(module name, function name)`` of every public ``*_figure`` function defined in a viz module."""
    return sorted((m.__name__, name) for m in viz_modules() for name, obj in vars(m).items()
                  if name.endswith("_figure") and not name.startswith("_") and inspect.isfunction(obj)
                  and obj.__module__ == m.__name__)


def test_every_figure_function_is_exported():
    found = figure_functions()
    # the modules do hold figures (a walk that found nothing would pass vacuously)
    assert len(found) >= 15 and ("l2rw_viz.viz.weight_figures", "weight_trajectory_figure") in found
    missing = [f"{m}.{name}" for m, name in found if name not in viz.__all__]
    assert not missing, f"figure functions not in l2rw_viz.viz.__all__: {missing}"
    for module, name in found:
        assert getattr(viz, name) is getattr(importlib.import_module(module), name)


def test_all_names_resolve():
    assert len(set(viz.__all__)) == len(viz.__all__)
    for name in viz.__all__:
        assert hasattr(viz, name), name


def test_old_plots_path_still_imports_with_a_warning():
    import sys

    sys.modules.pop("l2rw_viz.viz.plots", None)
    with pytest.warns(DeprecationWarning, match="l2rw_viz.viz.plots"):
        plots = importlib.import_module("l2rw_viz.viz.plots")
    for name in plots.__all__:
        assert getattr(plots, name) is not None
    assert plots.gallery_figure is viz.gallery_figure and plots.toy_weights_figure is viz.toy_weights_figure


def test_no_module_imports_private_names_of_another():
    """Style and helpers shared between modules are public (``from .x import _private`` is what made plots.py a
    hidden style library)."""
    offenders = []
    for path in sorted(VIZ_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level > 0:
                offenders += [f"{path.name}: {node.module}.{a.name}" for a in node.names
                              if a.name.startswith("_") and not a.name.endswith("__")]   # __version__ is public
    assert not offenders, offenders


def test_browser_harness_is_not_in_the_package():
    assert not (VIZ_DIR / "screenshot.py").exists()
    assert (Path(__file__).parent / "browser_harness.py").exists()
