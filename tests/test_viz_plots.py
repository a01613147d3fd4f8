"""Figures draw the History's own numbers, for the right groups (no figure retrains)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from l2rw_viz.history import History
from l2rw_viz.viz import (
    BoundaryGrid,
    auto_groups,
    boundary_grid,
    error_vs_proportion_figure,
    example_weights_at,
    gallery_figure,
    moving_average,
    noise_accuracy_figure,
    toy_comparison_figure,
    toy_weights_figure,
    weight_by_label_figure,
    weight_distribution_figure,
    weight_trajectory_figure,
    why_this_weight_figure,
)
from l2rw_viz.viz.style import GROUP_COLORS


def fake_history(n: int = 60, steps: int = 40, b: int = 12, seed: int = 0) -> History:
    """A History written by hand: flipped labels get a quarter of the weight of clean ones, minority twice."""
    rng = np.random.default_rng(seed)
    is_noisy = np.zeros(n, bool)
    is_noisy[:9] = True
    is_minority = np.zeros(n, bool)
    is_minority[50:] = True
    y_clean = np.where(is_minority, 0, 1)
    y = np.where(is_noisy, 1 - y_clean, y_clean)
    indices = np.stack([rng.choice(n, b, replace=False) for _ in range(steps)])
    raw = np.where(is_noisy[indices], 0.25, np.where(is_minority[indices], 2.0, 1.0))
    raw = raw * rng.uniform(0.8, 1.2, indices.shape)
    weights = (raw / raw.sum(1, keepdims=True)).astype(np.float32)
    ev = np.arange(9, steps, 10)
    return History(steps=np.arange(steps), indices=indices, weights=weights, train_loss=np.ones(steps),
                   weighted_loss=np.ones(steps), val_loss=np.linspace(1, 0.5, steps), eval_steps=ev,
                   test_acc=np.linspace(0.6, 0.9, len(ev)), val_acc=np.linspace(0.6, 0.9, len(ev)),
                   test_loss=np.ones(len(ev)), y=y, y_clean=y_clean, is_noisy=is_noisy, is_minority=is_minority,
                   meta={"method": "fake"})


@pytest.fixture(scope="module")
def hist() -> History:
    return fake_history()


def test_moving_average_ignores_nans_and_window_one_is_identity():
    v = np.array([1.0, np.nan, 3.0, 5.0])
    assert np.array_equal(moving_average(v, 1), v, equal_nan=True)
    np.testing.assert_allclose(moving_average(v, 3), [1.0, 2.0, 4.0, 4.0])
    with pytest.raises(ValueError, match="window"):
        moving_average(v, 0)


def test_trajectory_plots_history_mean_weight_per_group(hist):
    fig = weight_trajectory_figure(hist, smooth=1)
    means = {tr.meta["group"]: tr for tr in fig.data if "band" not in tr.meta}
    assert set(means) == {"noisy", "clean", "minority", "majority"}
    for g, tr in means.items():
        np.testing.assert_array_equal(np.asarray(tr.x), hist.steps)
        np.testing.assert_allclose(np.asarray(tr.y, float), hist.mean_weight(g), equal_nan=True)
    # the paper's story in this History: flipped labels below uniform, minority above
    assert np.nanmean(means["noisy"].y) < 1 < np.nanmean(means["minority"].y)
    smoothed = weight_trajectory_figure(hist, groups=["clean"], smooth=5, spread=False)
    np.testing.assert_allclose(smoothed.data[0].y, moving_average(hist.mean_weight("clean"), 5))


def test_trajectory_uniform_label_sits_at_weight_one_on_either_axis(hist):
    """An annotation's y on a log axis is log10 of the value (a line's is not): the label must say 0 there."""
    for log_y, y in ((False, 1.0), (True, 0.0)):
        fig = weight_trajectory_figure(hist, log_y=log_y)
        label = next(a for a in fig.layout.annotations if a.text == "uniform")
        assert label.y == y and fig.layout.shapes[0].y0 == 1.0
        assert (fig.layout.yaxis.type == "log") is log_y


def test_trajectory_band_is_the_groups_interquartile_range(hist):
    fig = weight_trajectory_figure(hist, groups="noisy")
    hi = next(tr for tr in fig.data if tr.meta.get("band") == "q75")
    lo = next(tr for tr in fig.data if tr.meta.get("band") == "q25")
    row = 7
    vals = hist.weights[row][hist.group_mask("noisy")[row]] * hist.batch_size
    if len(vals):
        assert lo.y[row] == pytest.approx(np.quantile(vals, 0.25))
        assert hi.y[row] == pytest.approx(np.quantile(vals, 0.75))


def test_auto_groups_follow_the_truth_masks(hist):
    assert auto_groups(hist) == ["noisy", "clean", "minority", "majority"]
    clean = fake_history()
    clean.is_noisy[:] = False
    clean.is_minority[:] = False
    assert auto_groups(clean) == ["clean"]
    with pytest.raises(ValueError, match="groups"):
        weight_trajectory_figure(hist, groups=["wrong"])


def test_distribution_windows_hold_exactly_the_groups_weights(hist):
    fig = weight_distribution_figure(hist, groups=["noisy", "clean"], windows=4, max_points=10_000)
    assert len(fig.data) == 8
    for tr in fig.data:
        a, b = tr.meta["window"]
        rows = slice(a, b + 1)
        expected = (hist.weights[rows] * hist.batch_size)[hist.group_mask(tr.meta["group"])[rows]]
        np.testing.assert_allclose(np.sort(np.asarray(tr.y)), np.sort(expected), rtol=1e-6)
    hist_fig = weight_distribution_figure(hist, groups="minority", windows=2, kind="histogram")
    assert [tr.type for tr in hist_fig.data] == ["histogram", "histogram"]


def test_example_weights_at_matches_a_direct_replay(hist):
    frames = [0, 10, 39]
    last = example_weights_at(hist, frames, "last")
    mean = example_weights_at(hist, frames, "mean")
    scaled = hist.weights * hist.batch_size
    for f, upto in enumerate(frames):
        for i in (0, 5, 30, 55):
            seen = [(r, c) for r in range(upto + 1) for c in range(hist.batch_size) if hist.indices[r, c] == i]
            if not seen:
                assert last[f, i] == 1.0 and mean[f, i] == 1.0
                continue
            assert last[f, i] == pytest.approx(scaled[seen[-1]])
            assert mean[f, i] == pytest.approx(np.mean([scaled[s] for s in seen]))
    np.testing.assert_allclose(mean[-1], np.nan_to_num(hist.example_mean_weight(), nan=1.0), rtol=1e-5)
    with pytest.raises(ValueError, match="frames"):
        example_weights_at(hist, [5, 2])


def test_toy_figure_points_carry_weights_and_marks(hist):
    x = np.random.default_rng(1).normal(size=(len(hist.y), 2))
    grid = BoundaryGrid(np.linspace(-3, 3, 5), np.linspace(-3, 3, 5), np.full((5, 5), 0.3, np.float32))
    fig = toy_weights_figure(hist, x, frame=-1, boundary=grid, mode="mean")
    pts = next(tr for tr in fig.data if tr.name == "examples")
    expected = example_weights_at(hist, [len(hist.steps) - 1], "mean")[0]
    np.testing.assert_allclose(np.asarray(pts.marker.color), expected, rtol=1e-6)
    np.testing.assert_allclose(pts.x, x[:, 0])
    ring = np.asarray(pts.marker.line.color)
    assert (ring[hist.is_noisy] == GROUP_COLORS["noisy"]).all()
    assert (ring[~hist.is_noisy & hist.is_minority] == GROUP_COLORS["minority"]).all()
    assert {"P(y=1)", "boundary"} <= {tr.name for tr in fig.data}
    # larger weight, larger marker
    sizes = np.asarray(pts.marker.size)
    assert sizes[np.argmax(expected)] > sizes[np.argmin(expected)]
    with pytest.raises(ValueError, match="x has"):
        toy_weights_figure(hist, x[:10])
    with pytest.raises(ValueError, match="history is a ndarray"):   # the old (x, history) order
        toy_weights_figure(x, hist)


def test_comparison_figure_has_one_panel_per_method(hist):
    x = np.random.default_rng(1).normal(size=(len(hist.y), 2))
    runs = {"plain": (hist, None), "l2rw": (hist, None)}
    fig = toy_comparison_figure(runs, x)
    assert [tr.xaxis for tr in fig.data if tr.name == "examples"] == ["x", "x2"]
    # the order notebooks used before (x, runs) still draws the same figure, with a deprecation warning
    with pytest.warns(DeprecationWarning, match="toy_comparison_figure"):
        old = toy_comparison_figure(x, runs)
    assert old.to_json() == fig.to_json()


def test_boundary_grid_evaluates_the_model():
    model = torch.nn.Linear(2, 2)
    with torch.no_grad():
        model.weight[:] = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
        model.bias.zero_()
    g = boundary_grid(model, (-1, 1, -1, 1), resolution=11)
    assert g.prob.shape == (11, 11)
    # P(y=1) = sigmoid(x1): 0.5 on the middle column, rising to the right, constant along x2
    np.testing.assert_allclose(g.prob[:, 5], 0.5, atol=1e-6)
    assert (np.diff(g.prob[0]) > 0).all() and np.allclose(g.prob[0], g.prob[-1])


def test_gallery_shows_highest_and_lowest_mean_weights(hist):
    imgs = np.random.default_rng(0).uniform(size=(len(hist.y), 1, 28, 28)).astype(np.float32)
    fig = gallery_figure(hist, imgs, k=4, class_names=["4", "9"])
    mean = hist.example_mean_weight()
    shown = [tr.meta["index"] for tr in fig.data]
    top, bottom = shown[:4], shown[4:]
    seen = mean[np.isfinite(mean)]
    assert mean[top[0]] == pytest.approx(seen.max()) and mean[bottom[0]] == pytest.approx(seen.min())
    assert all(mean[t] >= mean[b] for t in top for b in bottom)
    np.testing.assert_array_equal(fig.data[0].z, imgs[top[0], 0][::-1])
    # the lowest-weighted images are the flipped ones in this History, and the caption says so
    assert hist.is_noisy[bottom].all()
    assert "flipped" in fig.layout.annotations[4].text and "seen" in fig.layout.annotations[4].text


def test_why_this_weight_uses_the_dot_products():
    sim = {"dot": np.array([0.5, -0.2, 0.1]), "norm": np.array([1.0, 2.0, 0.5]), "cosine": np.array([0.5, -0.1, 0.2])}
    fig = why_this_weight_figure(sim, example=1, is_noisy=np.array([False, True, False]))
    bars = next(tr for tr in fig.data if tr.type == "bar")
    np.testing.assert_allclose(bars.y, [0.5, 0.1, -0.2])
    assert list(bars.customdata) == [0, 2, 1]
    assert "weight 0" in fig.layout.title.text
    with pytest.raises(ValueError, match="example"):
        why_this_weight_figure(sim, example=3)
    with pytest.raises(ValueError, match="cosine"):
        why_this_weight_figure({"dot": [1.0], "norm": [1.0]}, example=0)


def test_why_this_weight_from_the_real_gradient_similarity():
    from l2rw_viz.reweight import gradient_similarity

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    x, y = torch.randn(16, 2), torch.randint(0, 2, (16,))
    sim = gradient_similarity(model, x, y, x[:4], y[:4])
    fig = why_this_weight_figure(sim, example=0)
    bars = next(tr for tr in fig.data if tr.type == "bar")
    np.testing.assert_allclose(np.sort(bars.y)[::-1], np.sort(sim.dot.numpy())[::-1], rtol=1e-6)


def _results() -> pd.DataFrame:
    rows = []
    for method, base in (("plain", 0.3), ("l2rw", 0.1)):
        for p in (0.9, 0.99):
            for seed in range(3):
                err = base * (p * 10 - 8) + 0.01 * seed
                rows.append(dict(experiment="imbalance", method=method, setting_name="proportion", setting_value=p,
                                 seed=seed, steps=10, test_error=err, test_accuracy=1 - err))
        for rate in (0.2, 0.4):
            for seed in range(2):
                rows.append(dict(experiment="noise", method=method, setting_name="noise_rate", setting_value=rate,
                                 seed=seed, steps=10, test_error=base * rate + 0.01 * seed,
                                 test_accuracy=1 - base * rate - 0.01 * seed))
    return pd.DataFrame(rows)


def test_error_vs_proportion_has_mean_and_std_over_seeds(tmp_path):
    df = _results()
    path = tmp_path / "results.csv"
    df.to_csv(path, index=False)
    fig = error_vs_proportion_figure(path)
    tr = next(t for t in fig.data if t.meta["method"] == "l2rw")
    part = df[(df.method == "l2rw") & (df.setting_name == "proportion")].groupby("setting_value").test_error
    np.testing.assert_allclose(tr.y, 100 * part.mean().values)
    np.testing.assert_allclose(tr.error_y.array, 100 * part.std().values)


def test_error_vs_proportion_highlights_l2rw_and_hides_what_is_not_shown():
    """Many methods stay readable: each has its own colour, L2RW is drawn black and thick on top, and methods left
    out of ``shown`` start hidden (legend only), which the legend title counts."""
    import pandas as pd

    base = _results()
    extra = [base[base.method == "plain"].assign(method=f"m{i}") for i in range(12)]   # 14 methods in all
    df = pd.concat([base, *extra])
    fig = error_vs_proportion_figure(df, shown=["plain", "m3", "not-in-the-table"])
    assert fig.data[-1].meta["method"] == "l2rw" and fig.data[-1].line.color == "black"
    assert fig.data[-1].line.width > fig.data[0].line.width
    colours = [t.line.color for t in fig.data]
    assert len(set(colours)) == len(colours)            # no colour repeats (plotly's default cycle has 10)
    visible = {t.meta["method"]: t.visible for t in fig.data}
    assert visible["plain"] is True and visible["m3"] is True and visible["l2rw"] is True
    assert visible["m0"] == "legendonly"
    hidden = sum(v == "legendonly" for v in visible.values())
    assert hidden == len(visible) - 3 and fig.layout.legend.title.text.startswith(f"{hidden} hidden")
    everything = error_vs_proportion_figure(df)
    assert all(t.visible is True for t in everything.data) and not everything.layout.legend.title.text


def test_noise_accuracy_bars(tmp_path):
    df = _results()
    fig = noise_accuracy_figure(df, setting_name="noise_rate")
    tr = next(t for t in fig.data if t.meta["method"] == "plain")
    part = df[(df.method == "plain") & (df.setting_name == "noise_rate")].groupby("setting_value").test_accuracy
    np.testing.assert_allclose(tr.y, 100 * part.mean().values)
    with pytest.raises(ValueError, match="columns"):
        noise_accuracy_figure(df.drop(columns=["test_accuracy"]))


def test_weight_by_label_separates_clean_from_flipped_within_each_label(hist):
    means, counts = hist.mean_weight_by_labels()
    assert means.shape == counts.shape == (2, 2) and counts.sum() == len(hist.y)
    # fake_history: 9 flipped examples (all true class 1, labelled 0), 10 minority (true 0), the rest clean class 1
    np.testing.assert_array_equal(counts, [[10, 0], [9, 41]])
    assert np.isnan(means[0, 1])                     # no true-0 example carries label 1
    # by hand: mean weight x B over the batch entries of each (true, given) pair
    scaled = hist.weights * hist.batch_size
    for i, j in [(0, 0), (1, 0), (1, 1)]:
        mask = (hist.y_clean[hist.indices] == i) & (hist.y[hist.indices] == j)
        assert means[i, j] == pytest.approx(scaled[mask].mean())
    assert means[1, 0] < means[1, 1] < means[0, 0]   # flipped < clean majority < minority, as written
    fig = weight_by_label_figure(hist, class_names=["four", "nine"])
    np.testing.assert_array_equal(np.asarray(fig.data[0].z, float), means)
    assert "9 img" in fig.data[0].text[1][0]
    with pytest.raises(ValueError, match="class_names"):
        weight_by_label_figure(hist, class_names=["one"])
