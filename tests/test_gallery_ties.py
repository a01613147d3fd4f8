"""The gallery's bottom row never pretends to rank ties: when more images share the lowest mean weight than the
row has panels, it shows a seeded random sample of them and says so (notebook 6 at p = 0.995: many nines at 0)."""

from __future__ import annotations

import numpy as np

from l2rw_viz.results import load_history
from l2rw_viz.viz import gallery_figure


def test_tied_lowest_weights_are_sampled_and_labelled():
    h = load_history("fig8", "l2rw", 0.995, seed=0)
    mean = h.example_mean_weight()
    low = np.nanmin(mean)
    tied = int((mean == low).sum())
    assert tied > 8   # the shipped run has many nines that never got weight (the case this handles)
    imgs = np.zeros((len(h.y), 28, 28), np.float32)
    figs = [gallery_figure(h, imgs, k=8, class_names=["4", "9"], seed=s) for s in (0, 1)]
    bottoms = [[t.meta["index"] for t in f.data[8:]] for f in figs]
    for fig, bottom in zip(figs, bottoms):
        assert all(mean[i] == low for i in bottom) and len(set(bottom)) == 8
        assert fig.layout.meta["tied_lowest"] == tied
        assert any(f"8 of {tied}" in a.text and "random" in a.text for a in fig.layout.annotations)
    assert bottoms[0] != bottoms[1]                       # another seed, another sample
    again = gallery_figure(h, imgs, k=8, class_names=["4", "9"], seed=0)
    assert [t.meta["index"] for t in again.data[8:]] == bottoms[0]   # the same seed, the same sample


def test_a_unique_lowest_weight_keeps_the_ranked_row():
    h = load_history("fig8", "l2rw", 0.9, seed=0)
    mean = h.example_mean_weight()
    fig = gallery_figure(h, np.zeros((len(h.y), 28, 28), np.float32), k=4)
    bottom = [t.meta["index"] for t in fig.data[4:]]
    assert fig.layout.meta["tied_lowest"] == int((mean == np.nanmin(mean)).sum()) <= 4
    assert mean[bottom[0]] == np.nanmin(mean) and not any("random" in a.text for a in fig.layout.annotations)
