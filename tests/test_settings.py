"""A method is one file, also when it changes: its settings are declared once, as data, and everything else follows
(issue #25) — ``list``, ``run --method-arg`` and its errors, the explorer's controls and the run's identity."""

from __future__ import annotations

import importlib.util
import json
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from l2rw_viz.cli import main
from l2rw_viz.experiments import plan_sweep, read_results, row_identity, run_one, summarize
from l2rw_viz.experiments.identity import LEGACY_DEFAULTS
from l2rw_viz.methods import METHODS, Method, Setting, register, resolve_method

DROPPED = textwrap.dedent('''
    """A method dropped into the package by a test: a Literal choice and a list of integers."""
    from typing import Literal

    import torch
    import torch.nn.functional as F

    from l2rw_viz.methods import Method, Setting, register


    @register
    class Dropped(Method):
        """Cross-entropy scaled per example by a window rule (a test's method)."""

        name = "dropped_for_test"
        addresses = ("noise",)
        settings = (
            Setting("mode", Literal["mean", "max"], "mean", "how the window losses combine"),
            Setting("windows", list[int], [3, 5], "window lengths in steps", low=1),
        )

        def __init__(self, mode: str = "mean", windows: list | None = None):
            self.mode = mode
            self.windows = [3, 5] if windows is None else list(windows)

        def per_example_loss(self, logits, y):
            scale = max(self.windows) if self.mode == "max" else sum(self.windows) / len(self.windows)
            return F.cross_entropy(logits, y, reduction="none") * torch.as_tensor(scale / 4.0, dtype=logits.dtype)
''')


@pytest.fixture
def dropped(tmp_path):
    """The file above, written to disk and imported as a module of the methods package (registered at import)."""
    path = tmp_path / "dropped_for_test.py"
    path.write_text(DROPPED)
    name = "l2rw_viz.methods.dropped_for_test"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    try:
        yield module.Dropped
    finally:
        METHODS.pop("dropped_for_test", None)
        sys.modules.pop(name, None)


def test_list_shows_the_declared_settings(dropped, capsys):
    main(["list"])
    out = capsys.readouterr().out
    assert "dropped_for_test" in out
    assert "mode: one of 'mean', 'max' (default mean): how the window losses combine" in out
    assert "windows: a comma-separated list, each an integer in [1, inf) (default 3,5): window lengths in steps" in out


def test_run_takes_the_declared_settings_and_writes_every_one(dropped, tmp_path):
    out = tmp_path / "r.csv"
    main(["run", "toy-imbalance", "--method", "dropped_for_test", "--method-arg", "windows=2,4", "--steps", "3",
          "--device", "cpu", "--out", str(out)])
    row = read_results(out).iloc[0]
    assert row["method_args"] == '{"mode":"mean","windows":[2,4]}'   # every setting, the default mode included
    assert json.loads(row["method_settings"]) == {"method": "dropped_for_test", "mode": "mean", "windows": [2, 4]}
    # the same run with the defaults spelled out differently is the same key: a sweep skips it
    assert plan_sweep("toy-imbalance", ["dropped_for_test"], [0.995], [0], 3, "cpu", out=out,
                      method_args={"windows": [2, 4], "mode": "mean"}) == []


@pytest.mark.parametrize("arg, message", [
    ("mode=median", "mode='median' is not allowed for method 'dropped_for_test'; allowed: one of 'mean', 'max'"),
    ("windows=3.5", "windows='3.5' is not allowed for method 'dropped_for_test'; allowed: a comma-separated list, "
                    "each an integer in [1, inf)"),
    ("windows=0,2", "windows='0,2' is not allowed"),
    ("window=3", "window='3' is not allowed for method 'dropped_for_test'; allowed keys: mode, windows"),
])
def test_bad_values_exit_2_naming_the_setting_and_what_is_allowed(dropped, arg, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["run", "toy-imbalance", "--method", "dropped_for_test", "--method-arg", arg, "--steps", "3",
              "--device", "cpu", "--out", str(tmp_path / "r.csv")])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "r.csv").exists()


def test_the_explorer_controls_and_identity_follow_from_the_declaration(dropped):
    widgets = pytest.importorskip("ipywidgets")
    from l2rw_viz.viz.state import ExplorerState
    from l2rw_viz.viz.widgets import ToyExplorer

    state = ExplorerState(method="dropped_for_test", steps=20, n_train=100)
    explorer = ToyExplorer(state, autostart=False)
    controls = explorer.method_controls
    assert list(controls) == ["mode", "windows"]
    assert isinstance(controls["mode"], widgets.Dropdown) and list(controls["mode"].options) == ["mean", "max"]
    assert isinstance(controls["windows"], widgets.Text) and controls["windows"].value == "3,5"
    assert controls["windows"].tooltip == "window lengths in steps"
    controls["windows"].value = "2,4"
    assert explorer.state.method_args == {"windows": [2, 4]}
    controls["windows"].value = "two"                                  # refused, named; the state is unchanged
    assert "windows='two' is not allowed" in explorer.status.value
    assert explorer.state.method_args == {"windows": [2, 4]}
    # identity: the explorer's run is the resolved method, a default spelled out changes nothing
    spelled = state.replace(method_args={"mode": "mean", "windows": "3,5"})
    assert spelled.training_key() == state.training_key()
    assert state.replace(method_args={"mode": "max"}).training_key() != state.training_key()
    assert ExplorerState.from_json(spelled.to_json()) == spelled
    with pytest.raises(ValueError, match="mode='median' is not allowed"):
        state.replace(method_args={"mode": "median"})
    # another method starts from its own defaults, with its own controls
    explorer.controls["method"].value = "focal"
    assert list(explorer.method_controls) == ["gamma"] and explorer.state.method_args == {}
    # the changes above started background runs: let the newest finish, so that no training thread is left to draw
    # from torch's global RNG while later tests run (two identical runs there would differ)
    assert explorer.wait(300)


def test_a_default_spelled_out_is_one_row(tmp_path):
    out = tmp_path / "focal.csv"
    kw = dict(steps=3, device="cpu", out=out)
    run_one("toy-imbalance", "focal", 0.9, **kw)
    run_one("toy-imbalance", "focal", 0.9, method_args={"gamma": "2.0"}, **kw)
    table = read_results(out)
    assert len(table) == 1 and table["method_args"].tolist() == ['{"gamma":2.0}']
    assert summarize(table, by=("method",))["method"].tolist() == ["focal"]
    run_one("toy-imbalance", "focal", 0.9, method_args={"gamma": "1"}, **kw)
    assert sorted(summarize(read_results(out), by=("method",))["method"]) == ["focal", 'focal {"gamma":1.0}']
    assert (resolve_method("focal").identity == resolve_method("focal", {"gamma": 2}).identity
            == resolve_method("focal", {"gamma": "2.0"}).identity)


def test_a_duplicate_name_is_refused_naming_both_classes():
    class Impostor(Method):
        name = "l2rw"

    with pytest.raises(ValueError, match=r"'l2rw' is already registered by l2rw_viz\.methods\.l2rw\.L2RW; "
                                         r".*Impostor cannot take it"):
        register(Impostor)
    assert METHODS["l2rw"].__module__ == "l2rw_viz.methods.l2rw"


def test_a_declaration_that_disagrees_with_the_constructor_is_refused():
    class Undeclared(Method):
        name = "undeclared_for_test"

        def __init__(self, alpha: float = 1.0):
            self.alpha = alpha

    with pytest.raises(ValueError, match=r"constructor keywords \['alpha'\] are not declared"):
        register(Undeclared)

    class WrongDefault(Undeclared):
        name = "wrong_default_for_test"
        settings = (Setting("alpha", float, 2.0, "a number"),)

    with pytest.raises(ValueError, match="alpha declares default 2.0 but the constructor's is 1.0"):
        register(WrongDefault)
    assert "undeclared_for_test" not in METHODS and "wrong_default_for_test" not in METHODS


SHIPPED = sorted(Path(__file__).parents[1].glob("l2rw_viz/results/data/*.csv")) + sorted(
    Path(__file__).parents[1].glob("docs/data/*.csv"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_tables_keep_loading_with_migrated_keys(path):
    """Shipped rows were written before identities were resolved ("{}" or no method_args): read, each key holds
    every setting of its method, as a default run of that row would write it today; the migration is idempotent."""
    from l2rw_viz.experiments import get_experiment
    from l2rw_viz.experiments.identity import _recipe
    from l2rw_viz.experiments.registry import recipe_experiment
    from l2rw_viz.experiments.run import run_plan

    table = read_results(path)
    assert len(table)
    for row in table.to_dict("records"):
        identity = row_identity(row)
        assert row_identity({**row, "method_args": identity}) == identity            # idempotent
        exp = recipe_experiment(get_experiment(row["experiment"]), _recipe(row))
        lr = exp.lr if pd.isna(row.get("lr")) else float(row["lr"])
        fresh = resolve_method(row["method"], None, run_plan(exp, int(row["steps"]), lr, _recipe(row)))
        assert identity == fresh.identity, (row["method"], identity, fresh.identity)


def test_legacy_rows_keep_the_defaults_they_were_computed_with(monkeypatch):
    """A default changed after a row was written: the old row ("{}") keeps its old settings (frozen
    LEGACY_DEFAULTS), so it is no longer the default run: a sweep makes a new row."""
    from l2rw_viz.methods.setting import with_defaults

    row = {"experiment": "toy-imbalance", "method": "focal", "setting_value": 0.9, "seed": 0, "steps": 3,
           "data_source": "toy", "method_args": "{}"}
    assert row_identity(row) == '{"gamma":2.0}' == json.dumps(LEGACY_DEFAULTS["focal"]).replace(" ", "")
    monkeypatch.setattr(METHODS["focal"], "settings", with_defaults(METHODS["focal"].settings, gamma=3.0))
    assert row_identity(row) == '{"gamma":2.0}'
    assert resolve_method("focal").identity == '{"gamma":3.0}'
