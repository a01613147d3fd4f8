"""The notebook helpers in l2rw_viz.course: the weighted fit is the paper's weighted loss, weight 0 is deletion,
per-class accuracy exposes a lazy majority model, and boundary figures carry real data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from l2rw_viz.course import announce_device, boundary_figure, fit_weighted, per_class_accuracy
from l2rw_viz.data.toy import make_toy
from l2rw_viz.models import make_model

pytestmark = pytest.mark.usefixtures("one_thread")


def test_zero_weight_is_deletion():
    x, y = make_toy("blobs", n=80, seed=0)
    drop = torch.arange(80) % 4 == 0
    w = torch.where(drop, 0.0, 1.0)
    a = make_model("logreg", 2, (2,), seed=0)
    b = make_model("logreg", 2, (2,), seed=0)
    fit_weighted(a, x, y, w / w.sum(), steps=50, lr=0.5)
    fit_weighted(b, x[~drop], y[~drop], None, steps=50, lr=0.5)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.allclose(p, q, atol=1e-5)


def test_fit_weighted_learns_and_upweighting_a_class_moves_the_boundary():
    x, y = make_toy("blobs", n=200, seed=1)
    plain = make_model("logreg", 2, (2,), seed=0)
    heavy = make_model("logreg", 2, (2,), seed=0)
    losses = fit_weighted(plain, x, y, None, steps=100, lr=0.5)
    w = torch.where(y == 1, 5.0, 1.0)
    fit_weighted(heavy, x, y, w / w.sum(), steps=100, lr=0.5)
    assert losses[-1] < losses[0] and len(losses) == 100
    recall_plain = per_class_accuracy(plain, x, y, 2)
    recall_heavy = per_class_accuracy(heavy, x, y, 2)
    assert recall_plain.min() > 0.8
    assert recall_heavy[1] >= recall_plain[1] and recall_heavy[0] < recall_plain[0]


def test_per_class_accuracy_exposes_a_constant_model():
    class AlwaysOne(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bias = torch.nn.Parameter(torch.tensor([0.0, 1.0]))

        def forward(self, x):
            return self.bias.expand(len(x), 2)

    y = torch.tensor([0, 1, 1, 1, 1])
    acc = per_class_accuracy(AlwaysOne(), torch.zeros(5, 2), y, 3)
    assert acc[0] == 0.0 and acc[1] == 1.0 and np.isnan(acc[2])


def test_bad_arguments_are_named():
    x, y = make_toy("moons", n=20, seed=0)
    model = make_model("toy_mlp", 2, (2,), seed=0)
    with pytest.raises(ValueError, match="steps"):
        fit_weighted(model, x, y, steps=0)
    with pytest.raises(ValueError, match="weights"):
        fit_weighted(model, x, y, torch.ones(3))
    with pytest.raises(ValueError, match="weights"):
        fit_weighted(model, x, y, -torch.ones(20) / 20)
    with pytest.raises(ValueError, match="device"):
        announce_device("tpu")


def test_boundary_figure_draws_every_model_and_point():
    x, y = make_toy("moons", n=60, seed=0)
    a = make_model("toy_mlp", 2, (2,), seed=0)
    b = make_model("toy_mlp", 2, (2,), seed=1)
    mark = torch.zeros(60, dtype=torch.bool)
    mark[:5] = True
    fig = boundary_figure({"a": a, "b": b}, x, y, weights=torch.rand(60), highlight=mark)
    names = [t.name for t in fig.data]
    assert names.count("a") == 1 and names.count("b") == 1 and "marked" in names
    points = [t for t in fig.data if t.type == "scatter" and t.name.startswith("label")]
    assert sum(len(t.x) for t in points) == 60
    ring = next(t for t in fig.data if t.name == "marked")
    assert len(ring.x) == 5


def test_the_course_package_gives_the_notebook_helpers_on_first_use_and_stays_light():
    """``l2rw_viz.course`` is the course's room (notebook helpers, files, site, decks, slides): the notebooks'
    ``from l2rw_viz.course import ...`` reaches course.notebooks, a name it does not hold is an AttributeError, and
    ``course.files`` (what ``l2rw-viz course copy`` and an installed wheel's notebooks need) imports no torch."""
    import subprocess
    import sys

    import l2rw_viz.course as course
    from l2rw_viz.course import notebooks

    assert course.fit_weighted is notebooks.fit_weighted and "announce_device" in dir(course)
    # the package's list of helpers is every public function of course.notebooks, no more, no fewer
    public = {k for k, v in vars(notebooks).items()
              if callable(v) and getattr(v, "__module__", "") == notebooks.__name__ and not k.startswith("_")}
    assert public == set(course.NOTEBOOK_HELPERS)
    with pytest.raises(AttributeError, match="no_such_helper"):
        course.no_such_helper  # noqa: B018
    code = ("import sys, l2rw_viz.course.files as f; f.notebooks_dir(); "
            "print(sorted(m for m in ('torch', 'plotly', 'l2rw_viz.course.notebooks') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "[]"
