"""+ES and +FT as suffixes of any method name: early stopping on clean-validation accuracy, clean fine-tuning."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from l2rw_viz.data import make_noisy
from l2rw_viz.experiments import check_method_name, get_experiment, method_for, resolve_methods
from l2rw_viz.methods import get_method
from l2rw_viz.methods.modifiers import Modified, split_modifiers
from l2rw_viz.models import make_model
from l2rw_viz.train import train

pytestmark = pytest.mark.usefixtures("one_thread")


def _run(ds, method, steps=200):
    model = make_model("toy_mlp", 2, (2,), seed=0)
    return model, train(model, ds, method, steps=steps, batch_size=50, lr=0.05, device="cpu", seed=0, eval_every=50,
                        progress=False)


def test_names_and_settings():
    assert split_modifiers("noise_layer_conf+ft+es") == ("noise_layer_conf", ("es", "ft"))
    assert check_method_name("plain+ft+es") == "plain+es+ft"
    for bad, message in [("plain+xx", "suffix '\\+xx'"), ("plain+es+es", "repeats"), ("magic+es", "magic"),
                         ("adaboost+es", "adaboost")]:
        with pytest.raises(ValueError, match=message):
            check_method_name(bad)
    m = get_method("bootstrap_hard+es", es_every=7, beta=0.5)
    assert isinstance(m, Modified) and m.name == "bootstrap_hard+es" and m.base.beta == 0.5 and m.es_every == 7
    exp = get_experiment("mnist-noise")
    m = method_for("noise_layer_conf+es+ft", exp, 2000, 100, 1e-3)
    assert m.es_every == 100 and m.ft_switch_step == 1800 and m.base.pretrain_steps == 1000
    assert m.describe()["base"]["method"] == "noise_layer_conf"
    assert resolve_methods("toy-noise", ["plain+es", "plain"]) == ["plain+es", "plain"]
    with pytest.raises(ValueError, match="ft_switch_step=None"):
        get_method("plain+ft").prepare(make_noisy("moons", rate=0.4, seed=0), seed=0)


def test_early_stopping_keeps_the_best_validation_parameters():
    ds = make_noisy("moons", rate=0.4, mode="uniform", seed=0)
    method = get_method("plain+es", es_every=50)
    model, h = _run(ds, method)
    _, plain = _run(ds, "plain")
    # the validation checks at 50, 100, 150 steps and the end (200) are the trainer's evaluations after those steps
    assert [s for s, _, _ in method.es_log] == [50, 100, 150, 200]
    np.testing.assert_allclose([a for _, a, _ in method.es_log], plain.val_acc, rtol=0, atol=1e-12)
    best = max(method.es_log, key=lambda r: (r[1], -r[2]))
    assert method.best_step == best[0] and h.meta["method_settings"]["es_best_step"] == best[0]
    # the History's last evaluation is the kept parameters': those of plain training after best_step steps
    k = list(plain.eval_steps + 1).index(best[0])
    assert h.final_test_accuracy == pytest.approx(plain.test_acc[k])
    assert h.val_acc[-1] == pytest.approx(plain.val_acc[k])
    np.testing.assert_array_equal(h.test_acc[:-1], plain.test_acc[:-1])   # same run until then


def test_fine_tuning_trains_on_the_clean_set_at_the_end():
    ds = make_noisy("moons", rate=0.4, mode="uniform", seed=0)
    method = get_method("plain+ft", ft_switch_step=150)
    model, h = _run(ds, method)
    n = ds.n
    assert (h.indices[:150] < n).all() and (h.indices[150:] >= n).all()   # clean rows appended after the n biased
    assert not h.is_noisy[n:].any()
    np.testing.assert_allclose(h.weights[150:] * h.batch_size, 1.0, rtol=1e-6)
    # +es+ft: the fine-tuning starts from the early-stopped parameters, so it ends elsewhere than plain +ft
    both = get_method("plain+es+ft", es_every=50, ft_switch_step=150)
    model2, h2 = _run(ds, both)
    assert both.best_step in (50, 100, 150)
    same = all(torch.equal(a, b) for a, b in zip(model.parameters(), model2.parameters()))
    assert same == (both.best_step == 150)
    np.testing.assert_array_equal(h2.indices, h.indices)


def test_modifiers_wrap_a_model_method():
    ds = make_noisy("moons", rate=0.4, mode="background", seed=0)
    method = get_method("noise_layer+es+ft", es_every=50, ft_switch_step=180)
    model, h = _run(ds, method)
    assert method.base.wrapped is not None and method.base.wrapped.base is model
    assert h.meta["method"] == "noise_layer+es+ft" and np.isfinite(h.final_test_accuracy)


def test_cli_runs_and_sweeps_suffixed_names(tmp_path, capsys):
    from l2rw_viz.cli import main
    from l2rw_viz.experiments import read_results
    from l2rw_viz.history import History

    out = tmp_path / "r.csv"
    assert main(["run", "toy-noise", "--method", "plain+ft+es", "--steps", "20", "--device", "cpu", "--out",
                 str(out), "--history-dir", str(tmp_path / "h")]) == 0
    table = read_results(out)
    assert table["method"].tolist() == ["plain+es+ft"]                       # the canonical spelling is the key
    (path,) = (tmp_path / "h").glob("*.npz")
    meta = History.load(path).meta
    assert meta["method"] == "plain+es+ft" and meta["method_settings"]["ft_switch_step"] == 18
    assert main(["sweep", "toy-noise", "--methods", "plain+es", "--settings", "uniform", "--seeds", "0", "--steps",
                 "20", "--device", "cpu", "--out", str(out), "--no-progress"]) == 0
    assert sorted(read_results(out)["method"]) == ["plain+es", "plain+es+ft"]
    with pytest.raises(SystemExit):
        main(["run", "toy-noise", "--method", "plain+magic"])
    assert "suffix" in capsys.readouterr().err
