"""MentorNet: the predefined self-paced curriculum and the data-driven mentor learned from synthetic corruption."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from l2rw_viz.data import make_noisy
from l2rw_viz.experiments import parse_method_args
from l2rw_viz.methods import get_method
from l2rw_viz.methods.mentornet import (
    OFFICIAL_DD_ARGS,
    OFFICIAL_PD_ARGS,
    LossPercentileAverage,
    MentorNetwork,
    corrupt_labels,
    fit_mentor,
    linear_weights,
    self_paced_weights,
)
from l2rw_viz.models import make_model
from l2rw_viz.train import train

pytestmark = pytest.mark.usefixtures("one_thread")


def _run(ds, method, steps=400):
    return train(make_model("toy_mlp", 2, (2,), seed=0), ds, method, steps=steps, batch_size=50, lr=0.05,
                 device="cpu", seed=0, eval_every=steps, progress=False)


def test_the_self_paced_rule_by_hand():
    tracker = LossPercentileAverage(decay=0.9)
    assert tracker.update(torch.tensor([0.0, 1.0, 2.0, 3.0, 4.0]), 0.5) == pytest.approx(2.0)   # first: the median
    assert tracker.update(torch.tensor([10.0, 10.0]), 0.5) == pytest.approx(0.9 * 2.0 + 0.1 * 10.0)
    losses = torch.tensor([0.1, 0.5, 1.0, 2.0])
    torch.testing.assert_close(self_paced_weights(losses, 0.75), torch.tensor([0.5, 0.5, 0.0, 0.0]))
    torch.testing.assert_close(self_paced_weights(losses, 0.05), torch.zeros(4))        # nothing easy enough
    pd = get_method("mentornet_pd", total_steps=100, percentile_start=0.5, percentile_end=0.8, burn_in=0.1)
    assert [pd.percentile_at(s) for s in (0, 10, 55, 100, 150)] == pytest.approx([0.5, 0.5, 0.65, 0.8, 0.8])
    with pytest.raises(ValueError, match="total_steps"):
        get_method("mentornet_pd").prepare(make_noisy("moons", rate=0.4, seed=0), seed=0)
    with pytest.raises(ValueError, match="burn_in"):
        get_method("mentornet_pd", total_steps=10, burn_in=1.0)


def test_synthetic_corruption_always_changes_the_class():
    y = torch.arange(10) % 3
    labels, flipped = corrupt_labels(y, 3, 0.4, torch.Generator().manual_seed(0))
    assert int(flipped.sum()) == 4
    # per class: round(0.4 * 4) = 2 of class 0, round(0.4 * 3) = 1 of classes 1 and 2
    assert [int(flipped[y == c].sum()) for c in range(3)] == [2, 1, 1]
    assert (labels[flipped] != y[flipped]).all() and (labels[~flipped] == y[~flipped]).all()
    assert ((labels >= 0) & (labels < 3)).all()


def test_the_mentor_learns_to_drop_what_its_data_marks_as_flipped():
    # hand-made mentor data: flipped examples (target 0) have high loss, above the moving average
    n = 200
    loss = torch.cat([torch.rand(n // 2) * 0.5, 2.0 + torch.rand(n // 2)]).double()
    target = torch.cat([torch.ones(n // 2), torch.zeros(n // 2)]).double()
    features = {"loss": loss, "loss_diff": loss - 1.0, "label": torch.randint(0, 2, (n,)),
                "progress": torch.rand(n).double()}
    torch.manual_seed(0)
    mentor = MentorNetwork(2).double()
    curve = fit_mentor(mentor, features, target, iters=300, lr=1e-2)
    assert curve[-1] < 0.5 * curve[0]
    v = mentor(torch.tensor([0.2, 2.5]).double(), torch.tensor([-0.8, 1.5]).double(), torch.tensor([0, 0]),
               torch.tensor([0.5, 0.5]).double())
    assert v[0] > 0.8 and v[1] < 0.2


def test_mentornet_pd_run_trusts_low_losses():
    ds = make_noisy("moons", rate=0.4, mode="uniform", seed=0)
    h = _run(ds, get_method("mentornet_pd", total_steps=400))
    w = h.weights * h.batch_size
    assert np.allclose(w[:40], 1.0)                                   # burn-in: every example counts
    late = slice(200, None)
    assert (w[late] == 0).any(axis=1).all()                           # afterwards some examples are dropped
    assert np.nanmean(h.mean_weight("noisy")[late]) < np.nanmean(h.mean_weight("clean")[late])


def test_mentornet_dd_run_learns_from_synthetic_corruption_and_beats_plain():
    ds = make_noisy("moons", rate=0.4, mode="background", seed=0)
    method = get_method("mentornet_dd", total_steps=400, pretrain_steps=200, pretrain_lr=0.05, pretrain_batch_size=50,
                        snapshot_every=10)
    model = make_model("toy_mlp", 2, (2,), seed=0)
    h = train(model, ds, method, steps=400, batch_size=50, lr=0.05, device="cpu", seed=0, eval_every=400,
              progress=False)
    data = method.mentor_data
    # 21 snapshots (steps 0, 10, ..., 190 and the last) of the 20 validation examples, 8 of them flipped
    assert len(data["target"]) == 21 * len(ds.y_val) and float(data["target"].mean()) == pytest.approx(0.6)
    assert h.meta["method_settings"]["mentor_examples"] == len(data["target"])
    late = slice(200, None)
    assert np.nanmean(h.mean_weight("noisy")[late]) < 0.5 * np.nanmean(h.mean_weight("clean")[late])
    assert h.final_test_accuracy > _run(ds, "plain").final_test_accuracy + 0.05


def _method_args(args: dict) -> str:
    """The ``--method-arg`` options that set ``args`` on the command line."""
    return " ".join(f"--method-arg {k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in args.items())


def test_the_linear_rule_by_hand():
    # v = clip(1 - (loss - 1) / gamma, 0, 1): 1, 1, 0.5, 0 at gamma 1, then normalised
    losses = torch.tensor([0.5, 1.0, 1.5, 3.0])
    torch.testing.assert_close(linear_weights(losses, 1.0, 1.0), torch.tensor([0.4, 0.4, 0.2, 0.0]))
    torch.testing.assert_close(linear_weights(losses, 1.0, 2.0), torch.tensor([1.0, 1.0, 0.75, 0.0]) / 2.75)
    torch.testing.assert_close(linear_weights(losses, -5.0, 1.0), torch.zeros(4))      # every loss too high
    with pytest.raises(ValueError, match="linear_gamma"):
        get_method("mentornet_pd", total_steps=10, linear_gamma=0.0)
    with pytest.raises(ValueError, match="linear_after"):
        get_method("mentornet_pd", total_steps=10, linear_after=1.5)


def test_the_defaults_have_no_linear_phase_and_use_the_label():
    pd = get_method("mentornet_pd", total_steps=100)
    assert (pd.percentile_start, pd.percentile_end, pd.burn_in, pd.decay, pd.linear_after) == (0.5, 0.8, 0.1, 0.9, None)
    assert get_method("mentornet_dd", total_steps=100).label_feature is True


def test_the_official_pd_schedule_phase_by_phase():
    """Uniform while floor(100 * step / steps) <= 18, self-paced below lambda until 90% of the run, linear after
    (google/mentornet models.py vstar_mentornet_pd), with one fixed percentile."""
    pd = get_method("mentornet_pd", total_steps=2000, **OFFICIAL_PD_ARGS)
    assert {pd.percentile_at(s) for s in (0, 379, 380, 1000, 1999)} == {0.75}
    losses = torch.tensor([0.2, 0.4, 1.1, 1.3])        # lambda starts at the 0.75 quantile (1.15), then stays there
    phases = {}
    for step in (0, 379, 380, 1799, 1800, 1999):
        phases[step] = pd.curriculum_weights(losses, SimpleNamespace(step=step))
    for step in (0, 379):
        torch.testing.assert_close(phases[step], torch.full((4,), 0.25))
    for step in (380, 1799):
        torch.testing.assert_close(phases[step], torch.tensor([1.0, 1.0, 1.0, 0.0]) / 3)
    lam = float(torch.quantile(losses.double(), 0.75))
    for step in (1800, 1999):
        torch.testing.assert_close(phases[step], linear_weights(losses, lam, 1.0))
    assert phases[1800][3] > 0                      # the linear rule still counts a loss a little above lambda


def test_the_official_settings_parse_from_the_command_line_and_are_documented():
    """The documented ``--method-arg`` options give exactly the official settings, and docs/departures.md shows them."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "departures.md").read_text()
    for method, args in (("mentornet_pd", OFFICIAL_PD_ARGS), ("mentornet_dd", OFFICIAL_DD_ARGS)):
        given = dict(option.split("=") for option in _method_args(args).replace("--method-arg ", "").split())
        assert parse_method_args(method, given) == args
        assert f"--method {method} {_method_args(args)}" in text
    with pytest.raises(ValueError, match="label_feature"):
        parse_method_args("mentornet_dd", {"label_feature": "maybe"})


def test_mentornet_dd_without_the_label_feature_weighs_both_labels_alike():
    ds = make_noisy("moons", rate=0.4, mode="background", seed=0)
    method = get_method("mentornet_dd", total_steps=200, pretrain_steps=100, pretrain_lr=0.05, pretrain_batch_size=50,
                        snapshot_every=10, label_feature=False)
    h = train(make_model("toy_mlp", 2, (2,), seed=0), ds, method, steps=200, batch_size=50, lr=0.05, device="cpu",
              seed=0, eval_every=200, progress=False)
    assert (method.mentor_data["label"] == 0).all() and h.meta["method_settings"]["label_feature"] is False
    losses = torch.tensor([0.3, 0.3, 2.0, 2.0], dtype=torch.float64)
    w = method.curriculum_weights(losses, SimpleNamespace(step=150, y=torch.tensor([0, 1, 0, 1])))
    assert w[0] == w[1] and w[2] == w[3]
