"""The Table 2 comparison: grouping, numbers, who beats L2RW, missing cells, the figure; and the per-example weight
comparison of Meta-Weight-Net with L2RW. Small hand-made tables and Histories whose answers can be read off."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from l2rw_viz.history import History
from l2rw_viz.viz.comparison import (
    WEIGHT_BIN_NAMES,
    beats_reference,
    comparison_frame,
    describe_vs_reference,
    method_group,
    method_label,
    missing_cells,
    mwn_vs_l2rw_figure,
    table2_figure,
    weight_bin_shares,
    weight_separation,
)


def rows(method, setting, values):
    return [{"experiment": "mnist-noise", "method": method, "setting_value": setting, "seed": s,
             "test_accuracy": v, "test_error": 1 - v} for s, v in enumerate(values)]


@pytest.fixture
def table() -> pd.DataFrame:
    # background listed first on purpose: the columns follow the experiment's order (uniform, background)
    r = (rows("l2rw", "background", [0.90, 0.92, 0.94]) + rows("l2rw", "uniform", [0.80, 0.80, 0.80])
         + rows("plain", "background", [0.60, 0.62, 0.64]) + rows("plain", "uniform", [0.78, 0.80, 0.82])
         + rows("plain+es", "uniform", [0.79, 0.81, 0.85]) + rows("plain+es", "background", [0.70, 0.70])
         + rows("meta_weight_net", "uniform", [0.95, 0.96, 0.97]) + rows("meta_weight_net", "background",
                                                                         [0.93, 0.93, 0.93])
         + rows("l2rw+es", "uniform", [0.5, 0.5, 0.5]) + rows("mentornet_dd", "uniform", [0.1, 0.1, 0.1])
         + rows("clean_only", "uniform", [0.3, 0.3, 0.3]) + rows("new_method", "uniform", [0.2, 0.2, 0.2]))
    return pd.DataFrame(r)


def test_rows_follow_the_papers_groups_and_names():
    assert method_group("plain") == "Baselines" and method_label("plain") == "Baseline"
    assert method_group("plain+es") == method_group("noise_layer_conf+es+ft") == method_group("clean_only")
    assert method_label("noise_layer_conf+es+ft") == "S-Model +Conf +ES +FT"
    assert method_group("l2rw+es") == method_group("l2rw") == "L2RW"
    assert method_group("something_new") == "Other"


def test_frame_holds_mean_std_and_count_in_table2_order(table):
    f = comparison_frame(table, methods=["l2rw", "plain", "plain+es", "meta_weight_net", "mentornet_dd", "clean_only",
                                         "l2rw+es", "new_method", "forward_correction"])
    assert list(f.index) == ["plain", "clean_only", "plain+es", "forward_correction", "mentornet_dd",
                             "meta_weight_net", "l2rw", "l2rw+es", "new_method"]
    assert f.attrs["settings"] == ["uniform", "background"] and f.attrs["value"] == "test_accuracy"
    assert f.at["l2rw", "background"] == pytest.approx(0.92) and f.at["l2rw", "background std"] == pytest.approx(0.02)
    assert f.at["plain+es", "background n"] == 2 and f.at["plain+es", "background"] == pytest.approx(0.70)
    # a method the table lacks keeps its row, empty
    assert f.at["forward_correction", "uniform n"] == 0 and np.isnan(f.at["forward_correction", "uniform"])
    # a run listed twice counts once
    doubled = comparison_frame(pd.concat([table, table]))
    assert doubled.at["l2rw", "uniform n"] == 3


def test_who_beats_l2rw_is_computed_per_setting_with_the_spread(table):
    f = comparison_frame(table)
    wins = beats_reference(f)
    assert set(zip(wins.setting, wins.method)) == {("uniform", "meta_weight_net"), ("uniform", "plain+es"),
                                                   ("background", "meta_weight_net")}
    assert list(wins.method[wins.setting == "uniform"]) == ["meta_weight_net", "plain+es"]   # largest margin first
    by = wins.set_index(["setting", "method"])
    assert by.loc[("uniform", "meta_weight_net"), "beyond_spread"]           # 0.16 above, stds 0.01 and 0
    assert not by.loc[("uniform", "plain+es"), "beyond_spread"]              # 0.017 above, std 0.031: within
    assert not by.loc[("background", "meta_weight_net"), "beyond_spread"]    # 0.01 above, std 0.02
    # on the error the direction flips: the same methods win
    errors = beats_reference(comparison_frame(table, value="test_error"))
    assert set(zip(errors.setting, errors.method)) == set(zip(wins.setting, wins.method))
    assert (errors.margin > 0).all()


def test_missing_cells_name_every_partial_or_absent_cell(table):
    f = comparison_frame(table, methods=["l2rw", "plain+es", "forward_correction", "mentornet_dd"])
    missing = set(map(tuple, missing_cells(f).to_numpy().tolist()))
    assert missing == {("plain+es", "background", 2), ("forward_correction", "uniform", 0),
                       ("forward_correction", "background", 0), ("mentornet_dd", "background", 0)}
    assert missing_cells(comparison_frame(table, methods=["l2rw"])).empty


def test_table_figure_marks_wins_best_and_missing(table):
    f = comparison_frame(table, methods=["plain", "plain+es", "meta_weight_net", "forward_correction", "l2rw"])
    fig = table2_figure(f)
    cells = fig.data[0].cells
    uniform, background = list(cells.values[3]), list(cells.values[4])
    idx = {m: i for i, m in enumerate(f.index)}
    assert uniform[idx["l2rw"]] == "80.0 ± 0.0" and background[idx["plain+es"]] == "70.0 ± 0.0 (n=2)"
    assert uniform[idx["forward_correction"]] == "—"
    assert background[idx["meta_weight_net"]].startswith("<b>")        # best under background flips
    fill = list(cells.fill.color[4])
    assert fill[idx["meta_weight_net"]] == "#c8ecc8" and fill[idx["plain"]] in ("white", "#f4f4f4")
    assert fill[idx["l2rw"]] not in ("white", "#f4f4f4", fill[idx["meta_weight_net"]])
    assert cells.values[0][idx["plain"]] and not cells.values[0][idx["plain+es"]] == "<b>Baselines</b>"


def test_bad_input_is_refused_by_name(table):
    with pytest.raises(ValueError, match="value"):
        comparison_frame(table, value="accuracy")
    with pytest.raises(ValueError, match="seed"):
        comparison_frame(table.drop(columns="seed"))
    f = comparison_frame(table)
    with pytest.raises(ValueError, match="reference='nope'"):
        beats_reference(f, reference="nope")
    with pytest.raises(ValueError, match="reference"):
        table2_figure(f, reference="nope")


def weights_history(noisy_weight: float, clean_weight: float, meta: dict | None = None) -> History:
    """4 examples (0 and 3 flipped), batches of 2 (one flipped, one clean), 10 steps: weights x B given."""
    is_noisy = np.array([True, False, False, True])
    steps = 10
    indices = np.array([[0, 1], [3, 2]] * (steps // 2))
    raw = np.where(is_noisy[indices], noisy_weight, clean_weight)
    weights = (raw / 2).astype(np.float32)
    ev = np.array([9])
    y = np.array([1, 1, 0, 0])
    return History(steps=np.arange(steps), indices=indices, weights=weights, train_loss=np.ones(steps),
                   weighted_loss=np.ones(steps), val_loss=np.ones(steps), eval_steps=ev, test_acc=np.array([0.9]),
                   val_acc=np.array([0.9]), test_loss=np.ones(1), y=y, y_clean=np.where(is_noisy, 1 - y, y),
                   is_noisy=is_noisy, is_minority=np.zeros(4, bool), meta=meta or {"method": "l2rw"})


def test_weight_separation_reads_the_flipped_and_clean_weights():
    s = weight_separation(weights_history(0.0, 2.0))
    assert s == {"mean_clean": 2.0, "mean_flipped": 0.0, "zero_clean": 0.0, "zero_flipped": 1.0, "auc": 1.0}
    assert weight_separation(weights_history(1.0, 1.0))["auc"] == 0.5             # uniform weights separate nothing
    shares = weight_bin_shares(weights_history(0.0, 2.0))
    assert list(shares["noisy"]) == [1, 0, 0, 0, 0] and list(shares["clean"]) == [0, 0, 0, 1, 0]
    shares = weight_bin_shares(weights_history(0.5, 1.5))
    assert list(shares["noisy"]) == [0, 1, 0, 0, 0] and list(shares["clean"]) == [0, 0, 0, 1, 0]
    with pytest.raises(ValueError, match="start"):
        weight_separation(weights_history(0.0, 2.0), start=1.0)


def test_mwn_curve_beside_l2rw_weights():
    curve = {"steps": [0, 5, 9], "losses": [0.0, 1.0, 2.0], "weights": [[0.5] * 3, [0.6, 0.5, 0.4], [0.9, 0.5, 0.1]]}
    mwn = weights_history(0.8, 1.2, meta={"method": "meta_weight_net", "method_settings": {"weight_curve": curve}})
    fig = mwn_vs_l2rw_figure(mwn, weights_history(0.0, 2.0), n_curves=3)
    lines = [t for t in fig.data if t.type == "scatter"]
    bars = [t for t in fig.data if t.type == "bar"]
    assert len(lines) == 3 and list(lines[-1].y) == [0.9, 0.5, 0.1]
    assert len(bars) == 4 and all(list(b.x) == list(WEIGHT_BIN_NAMES) for b in bars)
    assert all(np.isclose(sum(b.y), 100) for b in bars)
    l2rw_noisy = next(b for b in bars if b.meta == {"method": "L2RW", "group": "noisy"})
    assert l2rw_noisy.y[0] == 100                                   # every flipped entry ignored
    with pytest.raises(ValueError, match="weight_curve"):
        mwn_vs_l2rw_figure(weights_history(0.0, 2.0), weights_history(0.0, 2.0))


def test_the_sentences_beside_the_table_come_from_it(table):
    f = comparison_frame(table, methods=["plain", "plain+es", "meta_weight_net", "forward_correction", "l2rw"],
                         settings=["uniform", "background", "pairflip"])
    text = describe_vs_reference(f)
    lines = text.splitlines()
    assert lines[0].startswith("uniform: l2rw 80.0 ± 0.0 %, rank 3 of 4 (higher is better); a better mean")
    assert lines[1] == "    meta_weight_net 96.0 (+16.0, beyond the seed spread)"
    assert lines[2] == "    plain+es 81.7 (+1.7, within the seed spread)"
    assert lines[3].startswith("background: l2rw 92.0 ± 2.0 %, rank 2 of 4")
    assert "no runs at all at pairflip" in text and "no runs at all of forward_correction" in text
    assert "    plain+es: background 2 seed(s)" in lines
    alone = describe_vs_reference(comparison_frame(table, methods=["l2rw", "plain"]))
    assert "no method has a better mean" in alone and "missing cells: none (every cell has 3 seeds)" in alone


def test_a_result_set_says_which_histories_it_can_give(tmp_path, table):
    from l2rw_viz.results import ResultSet, shipped_histories

    shipped = ResultSet("mnist-noise", table, True, 2000, 2000, "")
    method, setting, seed = shipped_histories("noise")[0]
    assert shipped.has_history(method, setting, seed) and not shipped.has_history("no_such_method", setting, seed)
    saved = tmp_path / "run.npz"
    weights_history(0.0, 2.0).save(saved)
    t = table.assign(history_path="")
    t.loc[(t.method == "l2rw") & (t.setting_value == "uniform") & (t.seed == 0), "history_path"] = str(saved)
    recomputed = ResultSet("mnist-noise", t, False, 200, 2000, "")
    assert recomputed.has_history("l2rw", "uniform", 0) and not recomputed.has_history("l2rw", "background", 0)
    assert recomputed.history("l2rw", "uniform", 0).equals(weights_history(0.0, 2.0))


def test_one_seed_is_never_beyond_the_spread(table):
    one = table[table.seed == 0]
    wins = beats_reference(comparison_frame(one))
    assert len(wins) and not wins.beyond_spread.any() and (wins.seeds == 1).all()
    text = describe_vs_reference(comparison_frame(one, methods=["l2rw", "meta_weight_net"]))
    assert "one seed: no spread to judge it by" in text and "every cell has 1 seed)" in text


def test_a_one_seed_cell_shows_no_spread(table):
    f = comparison_frame(table[(table.seed == 0) | (table.method == "l2rw")], methods=["l2rw", "plain"])
    cells = table2_figure(f).data[0].cells.values
    assert list(cells[3]) == ["78.0 (n=1)", "<b>80.0 ± 0.0</b>"]      # plain, l2rw under uniform flips
    one = describe_vs_reference(comparison_frame(table[table.seed == 0], methods=["l2rw"]))
    assert one.startswith("uniform: l2rw 80.0 % (one seed), rank 1 of 1")


def test_an_inert_cell_is_marked_and_never_ranked(table):
    """Self-training that relabelled nothing is plain training: its cell shows with a dagger, beats no one, and the
    sentences say it was not ranked (audit: it 'beat' methods run for run on uniform flips)."""
    st = pd.DataFrame(rows("self_training", "uniform", [0.99, 0.99, 0.99]))
    st["inert"] = "no example reached the confidence threshold 0.9"
    frame = comparison_frame(pd.concat([table.assign(inert=""), st], ignore_index=True))
    assert frame.at["self_training", "uniform inert"] and not frame.at["l2rw", "uniform inert"]
    assert "self_training" not in set(beats_reference(frame).method)
    assert "not ranked, as they did nothing beyond plain training here: self_training" in describe_vs_reference(frame)
    cells = table2_figure(frame).data[0].cells.values
    col = cells[3 + frame.attrs["settings"].index("uniform")]
    text = col[list(frame.index).index("self_training")]
    assert text.endswith("†") and "<b>" not in text


def test_a_stopped_run_is_said_in_its_cell_not_left_a_bare_gap(table):
    """A run that stopped with a message has no row: its cell reads 'stopped ‡' (or its seeds' mean with ‡), with the
    footnote in the title, as the README's tables say; the shipped noise table carries its stopped run."""
    from l2rw_viz.results import load_results, provenance

    t = table.copy()
    t.attrs["diverged_runs"] = [["forward_correction", "background", 0, "T unusable"],
                                ["plain", "uniform", 1, "T unusable"]]
    frame = comparison_frame(t, methods=["plain", "forward_correction", "l2rw"])
    assert frame.at["forward_correction", "background stopped"] == 1 and frame.at["l2rw", "uniform stopped"] == 0
    fig = table2_figure(frame)
    cells = fig.data[0].cells.values
    row = list(frame.index)
    uniform, background = (cells[3 + frame.attrs["settings"].index(s)] for s in ("uniform", "background"))
    assert background[row.index("forward_correction")] == "stopped ‡"
    assert uniform[row.index("forward_correction")] == "—"            # no run, no reason: a plain gap
    assert uniform[row.index("plain")] == "80.0 ± 2.0 ‡"
    assert "‡: a run stopped" in fig.layout.title.text
    assert "‡" not in table2_figure(comparison_frame(table)).layout.title.text
    shipped = provenance("noise").get("diverged_runs", [])
    loaded = load_results("noise")
    assert len(loaded.attrs["diverged_runs"]) == len(shipped)
    if shipped:   # a selection keeps only its own stopped runs
        m, s, d, _ = shipped[0]
        assert load_results("noise", methods=["l2rw"]).attrs["diverged_runs"] == []
        assert [r[:3] for r in load_results("noise", seeds=[d]).attrs["diverged_runs"]
                if r[0] == m] == [[m, s, d]]
