"""Course helpers that notebooks 6, 8 and 9 use for what they show: wide tables that fit the page, and the
explorer's set-up measured over seeds."""

from __future__ import annotations

import numpy as np

from l2rw_viz.course import toy_weights_over_seeds, wide_markdown
from l2rw_viz.viz import ExplorerState


def test_wide_markdown_wraps_cells_and_escapes_raw_html():
    html = wide_markdown("<!-- a note -->\n| a | b |\n|---|---|\n| <script>x</script> & `c<d` | **y** |").data
    assert "<table>" in html and "table-layout:fixed" in html and "overflow-wrap:anywhere" in html
    assert "<script>" not in html and "&lt;script&gt;" in html and "<strong>y</strong>" in html
    assert "a note" not in html
    assert "th:nth-child(2){width:50%}" in wide_markdown("| a | b |\n|---|---|\n| 1 | 2 |", widths=(50, 50)).data


def test_toy_weights_over_seeds_measures_each_seed_from_its_own_run():
    state = ExplorerState(data="moons", proportion=0.9, noise_rate=0.2, n_val=10, steps=40, lr=0.03, device="cpu")
    table = toy_weights_over_seeds(state, [0, 1])
    assert list(table.index) == [0, 1]
    assert {"test_accuracy", "flipped", "clean", "minority", "majority", "flipped_labelled_minority"} <= set(table)
    assert table.notna().all().all() and ((table.test_accuracy >= 0) & (table.test_accuracy <= 1)).all()
    assert not np.allclose(table.loc[0].values, table.loc[1].values)   # two seeds, two runs
    # with 90 % majority a uniform flip makes more "minority"-labelled majority points than the reverse
    assert (table.flipped_labelled_minority > 0.5).all()
