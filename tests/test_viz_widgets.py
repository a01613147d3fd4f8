"""Explorer state, live toy training, the widgets (driven from Python) and the HTML export."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from test_viz_plots import fake_history

from l2rw_viz.viz import example_weights_at, export, frame_indices
from l2rw_viz.viz.live import BackgroundTrainer, toy_dataset, train_toy
from l2rw_viz.viz.state import ExplorerState
from l2rw_viz.viz.widgets import MethodComparison, ToyExplorer, WeightAnimator

SMALL = dict(n_train=80, steps=40, batch_size=16, n_val=10, lr=0.1, device="cpu")


@pytest.fixture(scope="module")
def run():
    return train_toy(ExplorerState(method="l2rw", **SMALL), boundary_every=10, resolution=20)


# --- state ---------------------------------------------------------------------------------------------------

def test_state_round_trips_through_json_and_file(tmp_path):
    s = ExplorerState(data="circles", proportion=0.8, noise_rate=0.3, noise_mode="background", seed=7, lr=0.05)
    assert ExplorerState.from_json(s.to_json()) == s
    path = s.save(tmp_path / "view.json")
    assert ExplorerState.load(path) == s
    assert json.loads(path.read_text())["data"] == "circles"


@pytest.mark.parametrize("field,value,match", [("proportion", 1.5, "proportion"), ("noise_rate", -0.1, "noise_rate"),
                                               ("data", "spirals", "data"), ("n_val", 3, "n_val"),
                                               ("method", "nope", "method"), ("device", "tpu", "device")])
def test_state_rejects_bad_values_naming_the_field(field, value, match):
    with pytest.raises(ValueError, match=match):
        ExplorerState(**{field: value})


def test_state_from_json_rejects_unknown_fields():
    with pytest.raises(ValueError, match="unknown"):
        ExplorerState.from_json('{"dataa": "moons"}')


def test_view_fields_do_not_change_the_training_key():
    s = ExplorerState()
    assert s.replace(smooth=3, weight_view="last", frame=5).training_key() == s.training_key()
    assert s.replace(seed=1).training_key() != s.training_key()


# --- live training --------------------------------------------------------------------------------------------

def test_toy_dataset_follows_the_state():
    d = toy_dataset(ExplorerState(proportion=0.9, noise_rate=0.25, n_train=200, n_val=6))
    assert d.n == 200 and len(d.y_val) == 6
    assert int(d.is_minority.sum()) == 20
    assert d.is_noisy.float().mean().item() == pytest.approx(0.25, abs=0.02)


def test_train_toy_records_boundaries_and_is_reproducible(run):
    h = run.history
    assert len(h.steps) == SMALL["steps"] and h.meta["method"] == "l2rw"
    assert [b.step for b in run.boundaries] == [0, 10, 20, 30, 39]
    assert run.boundaries[-1].prob.shape == (20, 20)
    again = train_toy(ExplorerState(method="l2rw", **SMALL), boundary_every=10, resolution=20)
    assert again.history.equals(h)
    np.testing.assert_array_equal(again.boundaries[-1].prob, run.boundaries[-1].prob)


def test_train_toy_stops_when_told():
    calls = []
    r = train_toy(ExplorerState(method="plain", **SMALL), keep_going=lambda: len(calls) < 5 and not calls.append(1))
    # five "go on" answers after steps 0-4, then "stop" after step 5: the History ends there
    assert len(r.history.steps) == 6 and r.history.meta["stopped_early"]


def test_background_trainer_cancels_stale_jobs():
    results, started = [], []

    def make_job(k):
        def job(is_current):
            started.append(k)
            for _ in range(200):
                if not is_current():
                    return None
                time.sleep(0.005)
            return k
        return job

    t = BackgroundTrainer(lambda r, g: results.append(r), debounce_s=0.05)
    for k in range(6):              # a burst of slider events: only the last should train to the end
        t.submit(make_job(k))
    assert t.wait(10)
    time.sleep(0.05)
    assert results == [5]
    assert started[-1] == 5 and len(started) <= 2
    assert t.cancelled >= 4


# --- widgets --------------------------------------------------------------------------------------------------

def test_animator_frames_show_the_replayed_weights(run):
    a = WeightAnimator(run.history, run.x, run.boundaries, n_frames=10)
    frames = frame_indices(run.history, 10)
    expected = example_weights_at(run.history, frames, "mean")
    a.slider.value = 7                       # what the Play button does through jslink
    pts = a.figure.data[a._points_index]
    np.testing.assert_allclose(np.asarray(pts.marker.color), expected[7], rtol=1e-6)
    assert a.figure.layout.shapes[a._vline].x0 == run.history.steps[frames[7]]
    assert a.play.max == a.slider.max == len(frames) - 1
    # the boundary shown is the latest snapshot at or before the frame's step
    step = run.history.steps[frames[7]]
    snap = max((b for b in run.boundaries if b.step <= step), key=lambda b: b.step)
    np.testing.assert_array_equal(np.asarray(a.figure.data[0].z), snap.prob)


def test_animator_without_inputs_uses_a_strip_of_weights():
    h = fake_history()
    a = WeightAnimator(h, n_frames=5)
    a.show_frame(4)
    np.testing.assert_allclose(np.asarray(a.figure.data[0].y), example_weights_at(h, frame_indices(h, 5), "mean")[4])


def test_explorer_retrains_on_change_and_restores_state(tmp_path):
    e = ToyExplorer(ExplorerState(method="l2rw", baseline="plain", smooth=1, **SMALL), debounce_s=0.01,
                    stream_every=10)
    assert e.wait(60) and not e.errors
    first = e.runs["method"].history
    # the weight curves below are the method's History, group by group
    curves = {tr.meta["group"]: tr for tr in e.figure.data if tr.meta and "group" in tr.meta and "band" not in tr.meta}
    np.testing.assert_allclose(np.asarray(curves["noisy"].y, float), first.mean_weight("noisy"), equal_nan=True)
    assert curves["noisy"].visible and curves["minority"].visible
    assert "test accuracy" in e.figure.layout.annotations[1].text
    assert "device: cpu" in e.status.value
    pts = [tr for tr in e.figure.data if tr.name == "examples"][0]      # left panel: the method
    np.testing.assert_allclose(np.asarray(pts.marker.color),
                               example_weights_at(first, [len(first.steps) - 1], "mean")[0], rtol=1e-6)
    e.controls["seed"].value = 3             # a slider move retrains
    assert e.wait(60) and not e.errors
    assert e.runs["method"].history.meta["seed"] == 3 and e.state.seed == 3
    path = e.save(tmp_path / "view.json")
    restored = ToyExplorer.load(path, autostart=False)
    assert restored.state == e.state and restored.controls["seed"].value == 3


def test_explorer_view_change_redraws_without_training():
    e = ToyExplorer(ExplorerState(method="plain", baseline="plain", **SMALL), debounce_s=0.01)
    assert e.wait(60)
    gen = e.trainer.generation
    e.controls["weight_view"].value = "last"
    h = e.runs["method"].history
    pts = [tr for tr in e.figure.data if tr.name == "examples"][0]      # left panel: the method
    np.testing.assert_allclose(np.asarray(pts.marker.color),
                               example_weights_at(h, [len(h.steps) - 1], "last")[0], rtol=1e-6)
    assert e.trainer.generation == gen


def test_method_comparison_trains_every_method_on_the_same_data():
    c = MethodComparison(ExplorerState(**SMALL), methods=("plain", "proportion"))
    assert c.wait(60)
    assert set(c.runs) == {"plain", "proportion"}
    np.testing.assert_array_equal(c.runs["plain"].dataset.x, c.runs["proportion"].dataset.x)
    assert c.runs["proportion"].history.meta["method"] == "proportion"
    with pytest.raises(ValueError, match="methods"):
        MethodComparison(methods=("nope",), autostart=False)


# --- export ---------------------------------------------------------------------------------------------------

def test_animation_frames_hold_the_replayed_weights(run):
    fig = export.animation_figure(run.history, x=run.x, n_frames=8)
    frames = frame_indices(run.history, 8)
    expected = example_weights_at(run.history, frames, "mean")
    assert len(fig.frames) == len(frames)
    np.testing.assert_allclose(np.asarray(fig.frames[3].data[0].marker.color), expected[3], rtol=1e-6)
    curve = fig.frames[3].data[1]
    np.testing.assert_array_equal(np.asarray(curve.x), run.history.steps[:frames[3] + 1])
    assert [s["label"] for s in fig.layout.sliders[0].steps] == [str(run.history.steps[f]) for f in frames]


def test_export_main_writes_a_self_contained_html(tmp_path, capsys):
    h = fake_history()
    npz = h.save(tmp_path / "run.npz")
    out = tmp_path / "slides" / "run.html"
    assert export.main([str(npz), str(out), "--group", "noisy", "--frames", "5"]) == 0
    html = out.read_text()
    assert "plotly.js" in html.lower() or "plotly" in html[:5000].lower()
    assert '<script src="https://cdn' not in html            # no network needed
    assert html.count('"name":"') >= 5                        # frames are in the file
    with pytest.raises(SystemExit):
        export.main([str(tmp_path / "missing.npz"), str(out)])
    with pytest.raises(SystemExit):
        export.main([str(npz), str(out), "--frames", "0"])
