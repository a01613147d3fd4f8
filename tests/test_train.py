"""The trainer and its History: one loop, reproducible, honest about failure."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from l2rw_viz.data.dataset import BiasedDataset
from l2rw_viz.device import resolve_device
from l2rw_viz.history import History
from l2rw_viz.methods import Method, StepContext, get_method, register
from l2rw_viz.models import MLP, LeNet, make_model, toy_mlp
from l2rw_viz.train import TrainingDivergedError, train


def _toy_dataset(n: int = 240, seed: int = 0) -> BiasedDataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n + 60, 2, generator=g)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).long()
    flip = torch.zeros(n, dtype=torch.bool)
    flip[:24] = True
    y_obs = y[:n].clone()
    y_obs[flip] = 1 - y_obs[flip]
    return BiasedDataset(x[:n], y_obs, y[:n].clone(), flip, torch.zeros(n, dtype=torch.bool),
                         x[n:n + 10], y[n:n + 10], x[n + 10:], y[n + 10:], num_classes=2, info={"name": "toy"})


def _run(seed: int = 0, **kw) -> History:
    torch.manual_seed(123)
    return train(toy_mlp(), _toy_dataset(), "plain", steps=kw.pop("steps", 60), batch_size=16, lr=0.05,
                 device="cpu", seed=seed, eval_every=20, progress=False, **kw)


def test_plain_training_learns_a_separable_problem():
    h = _run(steps=200)
    # 10% of the training labels are flipped, so single evaluations wobble: judge the last five
    assert np.mean(h.test_acc[-5:]) > 0.85
    assert h.val_loss[-20:].mean() < h.val_loss[:5].mean()


def test_history_shapes_and_uniform_weights():
    h = _run()
    assert h.indices.shape == h.weights.shape == (60, 16)
    np.testing.assert_allclose(h.weights.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(h.mean_weight("clean"), 1.0, rtol=1e-6)
    assert list(h.eval_steps) == [19, 39, 59]
    assert h.indices.min() >= 0 and h.indices.max() < 240
    # truth masks travel with the History so a saved run can be replayed alone
    assert h.is_noisy.sum() == 24 and (h.y != h.y_clean).sum() == 24


def test_epochs_visit_every_example_once():
    h = _run(steps=15)  # 15 * 16 = 240 = one epoch
    assert sorted(h.indices.ravel().tolist()) == list(range(240))


def test_same_seed_same_history_and_different_seed_differs():
    assert _run(seed=3).equals(_run(seed=3))
    assert not _run(seed=3).equals(_run(seed=4))


def test_training_leaves_the_global_determinism_setting_as_it_was():
    torch.use_deterministic_algorithms(False)
    _run(steps=3)
    assert not torch.are_deterministic_algorithms_enabled()


def test_history_round_trips_through_npz(tmp_path):
    h = _run()
    path = h.save(tmp_path / "run")
    assert path.suffix == ".npz" and not list(tmp_path.glob("*.tmp*"))
    h2 = History.load(path)
    assert h.equals(h2)
    assert h2.meta["method"] == "plain" and h2.meta["seed"] == 0


def test_record_every_thins_the_record_but_keeps_the_last_step():
    h = _run(steps=50, record_every=20)
    assert list(h.steps) == [0, 20, 40, 49]


def test_callback_can_stop_early():
    h = _run(steps=100, callback=lambda rec, step: step < 9)
    assert h.meta["stopped_early"] and h.steps[-1] == 9 and len(h.eval_steps) == 1


def test_nan_loss_stops_with_a_clear_error():
    class Exploding(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(2, 2)

        def forward(self, x):
            return self.lin(x) * float("nan")

    with pytest.raises(TrainingDivergedError, match="step 0"):
        train(Exploding(), _toy_dataset(), steps=5, batch_size=8, device="cpu", progress=False)


@register
class _ZeroAtEvenSteps(Method):
    """Test method: all-zero weights on even steps (as L2RW gives when no example helps)."""

    name = "_test_zero_even"

    def batch_weights(self, ctx: StepContext) -> torch.Tensor:
        w = super().batch_weights(ctx)
        return w * 0 if ctx.step % 2 == 0 else w


def test_all_zero_weights_skip_the_update_by_default_and_step_moves_with_momentum():
    def params_after(policy, steps):
        torch.manual_seed(0)
        m = toy_mlp()
        train(m, _toy_dataset(), "_test_zero_even", steps=steps, batch_size=16, lr=0.1, momentum=0.9,
              device="cpu", progress=False, on_zero_weights=policy)
        return torch.cat([p.detach().flatten() for p in m.parameters()])

    torch.manual_seed(0)
    start = torch.cat([p.detach().flatten() for p in toy_mlp().parameters()])
    # step 0 has zero weights: "skip" leaves the model exactly where it started
    assert torch.equal(params_after("skip", 1), start)
    # after a real step (1) and a zero step (2), "step" still moves by momentum, "skip" does not
    assert not torch.equal(params_after("step", 3), params_after("skip", 3))


@pytest.mark.parametrize("kwargs, name", [
    ({"steps": 0}, "steps"), ({"batch_size": 0}, "batch_size"), ({"lr": -1.0}, "lr"),
    ({"lr": float("nan")}, "lr"), ({"momentum": 1.0}, "momentum"), ({"on_zero_weights": "maybe"}, "on_zero_weights"),
    ({"method": "no-such-method"}, "method"), ({"device": "tpu"}, "device"), ({"seed": -1}, "seed"),
])
def test_bad_arguments_are_named(kwargs, name):
    args = {"steps": 5, "batch_size": 8, "device": "cpu", "progress": False, **kwargs}
    method = args.pop("method", "plain")
    with pytest.raises(ValueError, match=name):
        train(toy_mlp(), _toy_dataset(), method, **args)


def test_device_auto_is_cpu_without_cuda_and_cuda_request_is_a_clear_error():
    if torch.cuda.is_available():
        assert resolve_device("auto").type == "cuda"
    else:
        assert resolve_device("auto") == torch.device("cpu")
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")
    with pytest.raises(ValueError, match="device"):
        resolve_device("gpu0")


def test_models_map_batches_to_logits():
    assert LeNet(num_classes=2)(torch.zeros(3, 1, 28, 28)).shape == (3, 2)
    assert MLP(784, 10)(torch.zeros(3, 1, 28, 28)).shape == (3, 10)
    a, b = make_model("lenet", 10, (1, 28, 28), seed=1), make_model("lenet", 10, (1, 28, 28), seed=1)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    with pytest.raises(ValueError, match="name"):
        make_model("resnet", 10, (1, 28, 28))


def test_any_user_module_trains():
    class Custom(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(2, 8)
            self.b = nn.Linear(8, 2)

        def forward(self, x):
            return self.b(torch.tanh(self.a(x)) * 2.0)

    torch.manual_seed(0)
    h = train(Custom(), _toy_dataset(), steps=150, batch_size=16, lr=0.1, device="auto", progress=False)
    assert h.final_test_accuracy > 0.8


def test_a_model_without_parameters_is_a_clear_error():
    with pytest.raises(ValueError, match="model"):
        train(nn.Flatten(), _toy_dataset(), steps=5, batch_size=8, device="cpu", progress=False)


def test_get_method_rejects_settings_with_an_instance():
    with pytest.raises(ValueError, match="instance"):
        get_method(Method(), foo=1)


def test_a_method_is_set_up_once_before_its_other_hooks_with_the_whole_run():
    """Methods get what they need in one setup call (data, network, batch size, steps, seed, the trainer's API)
    instead of handing it from one hook to the next."""
    from l2rw_viz.data import make_imbalanced
    from l2rw_viz.train import evaluate

    calls = []

    class Recording(Method):
        name = "recording"

        def setup(self, run):
            super().setup(run)
            calls.append(("setup", run))

        def prepare(self, dataset, seed):
            calls.append(("prepare", None))
            return dataset

        def wrap_model(self, model):
            calls.append(("wrap_model", None))
            return model

        def make_sampler(self, dataset, batch_size, rng):
            calls.append(("make_sampler", None))
            return super().make_sampler(dataset, batch_size, rng)

    ds = make_imbalanced("moons", proportion=0.9, seed=0)
    model = toy_mlp(2, 2)
    train(model, ds, Recording(), steps=3, batch_size=20, lr=0.05, device="cpu", seed=4, progress=False)
    assert [c[0] for c in calls] == ["setup", "prepare", "wrap_model", "make_sampler"]
    run = calls[0][1]
    assert (run.dataset, run.model, run.batch_size, run.steps, run.seed, run.lr) == (ds, model, 20, 3, 4, 0.05)
    assert run.train is train and run.evaluate is evaluate and run.device == torch.device("cpu")


def test_no_method_imports_the_trainer():
    """The methods sit below the trainer: what they need of it (pre-training a copy, evaluating) comes with
    setup, so no method module imports l2rw_viz.train (the lazy imports back up are gone)."""
    import pathlib
    import re

    import l2rw_viz.methods as methods_package

    imports = re.compile(r"^\s*(from (\.\.|l2rw_viz\.)train import|import l2rw_viz\.train)", re.MULTILINE)
    for path in pathlib.Path(methods_package.__file__).parent.glob("*.py"):
        assert not imports.search(path.read_text()), path.name
    assert imports.search("    from ..train import train  # lazily\n")   # the pattern does find one
