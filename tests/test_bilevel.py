"""The exact meta-objective on a toy problem, and how L2RW's one-step weights relate to it."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from l2rw_viz.bilevel import compare_with_online, hypergradient_at, project_simplex, solve_bilevel


def _toy(n: int = 30, flips: int = 8, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=g, dtype=torch.float64)
    y_clean = (x[:, 0] + 0.5 * x[:, 1] > 0).long()
    flipped = torch.zeros(n, dtype=torch.bool)
    flipped[:flips] = True
    y = torch.where(flipped, 1 - y_clean, y_clean)
    x_val = torch.randn(10, 2, generator=g, dtype=torch.float64)
    y_val = (x_val[:, 0] + 0.5 * x_val[:, 1] > 0).long()
    return x, y, x_val, y_val, flipped


def test_simplex_projection_lands_on_the_simplex_and_is_idempotent():
    v = torch.tensor([0.5, -1.0, 2.0, 0.3], dtype=torch.float64)
    w = project_simplex(v)
    assert (w >= 0).all() and float(w.sum()) == pytest.approx(1.0)
    torch.testing.assert_close(project_simplex(w), w)
    torch.testing.assert_close(project_simplex(torch.tensor([0.2, 0.8], dtype=torch.float64)),
                               torch.tensor([0.2, 0.8], dtype=torch.float64))
    torch.testing.assert_close(project_simplex(torch.tensor([3.0, 1.0], dtype=torch.float64)),
                               torch.tensor([1.0, 0.0], dtype=torch.float64))


def test_implicit_hypergradient_matches_finite_differences():
    x, y, x_val, y_val, _ = _toy()
    w = torch.rand(len(y), generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    w /= w.sum()
    _, grad = hypergradient_at(w, x, y, x_val, y_val)
    h = 1e-6
    for i in (0, 7, 20):
        e = torch.zeros_like(w)
        e[i] = h
        up, down = hypergradient_at(w + e, x, y, x_val, y_val)[0], hypergradient_at(w - e, x, y, x_val, y_val)[0]
        numeric = (up - down) / (2 * h)
        assert float(grad[i]) == pytest.approx(numeric, rel=1e-5, abs=1e-9)


def test_unrolled_hypergradient_approaches_the_implicit_one():
    x, y, x_val, y_val, _ = _toy()
    w = torch.full((len(y),), 1.0 / len(y), dtype=torch.float64)
    loss_i, g_i = hypergradient_at(w, x, y, x_val, y_val)
    loss_u, g_u = hypergradient_at(w, x, y, x_val, y_val, method="unrolled", unroll_steps=300)
    assert loss_u == pytest.approx(loss_i, rel=1e-6)
    assert float(g_u @ g_i / (g_u.norm() * g_i.norm())) > 0.999


def test_exact_weights_lower_the_validation_loss_and_shun_flipped_points():
    x, y, x_val, y_val, flipped = _toy()
    res = solve_bilevel(x, y, x_val, y_val, outer_steps=25)
    trace = res.val_loss_trace
    assert len(trace) == 26 and (trace[1:] <= trace[:-1] + 1e-12).all()   # never increases
    assert float(trace[-1]) < 0.5 * res.uniform_val_loss
    assert (res.weights >= 0).all() and float(res.weights.sum()) == pytest.approx(1.0)
    assert res.weights[flipped].mean() < 0.25 * res.weights[~flipped].mean()
    assert res.wall_time_s > 0 and res.inner_iterations > 25
    # theta* as an ordinary network: its validation loss is the solver's (float32 vs float64)
    model = res.model()
    with torch.no_grad():
        val_loss = F.cross_entropy(model(x_val.float()), y_val)
    assert float(val_loss) == pytest.approx(float(trace[-1]), rel=1e-4, abs=1e-6)


def test_unrolled_solver_runs_and_agrees_in_direction():
    x, y, x_val, y_val, flipped = _toy()
    res = solve_bilevel(x, y, x_val, y_val, outer_steps=5, hypergradient="unrolled", unroll_steps=60)
    assert res.hypergradient == "unrolled" and res.inner_iterations >= 5 * 60
    assert float(res.val_loss_trace[-1]) < res.uniform_val_loss
    assert res.weights[flipped].mean() < res.weights[~flipped].mean()


def test_nonnegative_constraint_keeps_weights_non_negative():
    x, y, x_val, y_val, _ = _toy()
    res = solve_bilevel(x, y, x_val, y_val, outer_steps=5, constraint="nonnegative")
    assert (res.weights >= 0).all() and float(res.val_loss_trace[-1]) <= res.uniform_val_loss


def test_online_comparison_reports_agreement_and_timings():
    x, y, x_val, y_val, flipped = _toy()
    exact = solve_bilevel(x, y, x_val, y_val, outer_steps=10)
    cmp = compare_with_online(exact, x, y, x_val, y_val, steps=30)
    for w in (cmp.weights_at_init, cmp.weights_mean):
        assert w.shape == (len(y),) and (w >= 0).all()
    for value in (cmp.cosine_at_init, cmp.cosine_mean):
        assert -1.0 <= value <= 1.0
    assert cmp.online_seconds_per_step > 0 and cmp.slowdown > 0
    assert cmp.exact_val_loss == pytest.approx(float(exact.val_loss_trace[-1]))


@pytest.mark.parametrize("kwargs, name", [({"l2": 0.0}, "l2"), ({"constraint": "box"}, "constraint"),
                                          ({"hypergradient": "magic"}, "hypergradient"),
                                          ({"outer_steps": 0}, "outer_steps")])
def test_bad_arguments_are_named(kwargs, name):
    x, y, x_val, y_val, _ = _toy()
    with pytest.raises(ValueError, match=name):
        solve_bilevel(x, y, x_val, y_val, **kwargs)
