"""The toy explorer without a kernel: runs precomputed over a grid of its sliders, replayed by plotly alone.

Every point of the grid (majority share x flip rate x flip type x clean validation size) is trained with plain
SGD, class-proportion weights and L2RW on identical data (:func:`~l2rw_viz.viz.live.train_toy`, the live
explorer's own code, seed fixed). The page shows the three side by side, as TensorFlow Playground would: each
point sized and coloured by its learned weight, the decision boundary behind it, the test accuracy in the panel
titles, and L2RW's mean weight per group over training below. Controls: a slider per setting, flip-type buttons,
and a training-step slider with play/pause that replays the run.

How plotly alone can combine several controls: each state (settings x step) is one animation frame, and each
frame also rewrites the controls' own targets (``sliders`` and ``updatemenus`` in the frame's layout), so that
after every move the "majority share 0.95" step points at the frame with 0.95 *and the other settings as they are
now*. No JavaScript is written here; the page is ``plotly.io.to_html`` output.

    python -m l2rw_viz.viz.static_explorer explorer.html [--grid small|full] [--jobs 2]

Numbers are stored compactly (plotly typed arrays: uint8 sizes and boundary probabilities in %, float32
positions and weights): the full grid (60 settings, 180 runs, 6 replay steps each) is a 9 MB page, plus
plotly.js (4.8 MB, inlined or shared with the course site).
"""

from __future__ import annotations

import argparse
import base64
import html
import itertools
import json
import time
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..checks import check_choice, check_int
from .state import ExplorerState
from .style import GROUP_COLORS, GROUP_LABELS, GROUPS, TEMPLATE, WEIGHT_COLORSCALE, marker_sizes
from .weights import example_weights_at

# The grids. "full": what the course site shows (60 settings x 3 methods; measured about 140 CPU seconds, so
# about 2.5 min with one process and half that with --jobs 2 on two free cores); "small": smoke builds and tests
# (6 settings). n_val up to 40: the live explorer's slider stops at 50.
GRIDS = {
    "full": {"proportion": (0.5, 0.8, 0.9, 0.95), "noise_rate": (0.0, 0.2, 0.4),
             "noise_mode": ("uniform", "background"), "n_val": (4, 10, 40)},
    "small": {"proportion": (0.5, 0.9), "noise_rate": (0.0, 0.2), "noise_mode": ("uniform", "background"),
              "n_val": (10,)},
}
METHODS = ("plain", "proportion", "l2rw")
METHOD_TITLES = {"plain": "plain SGD", "proportion": "class-proportion weights", "l2rw": "L2RW"}
# Everything but the grid's fields: ExplorerState's defaults (moons, 400 points, 300 steps, lr 0.01, batch 64,
# seed 0), which show both halves of the paper's story (see ExplorerState's docstring).
BASE_STATE = ExplorerState(device="cpu")
DEFAULT_SETTING = {"proportion": 0.9, "noise_rate": 0.2, "noise_mode": "uniform", "n_val": 10}
SNAPSHOT_EVERY = 50   # a replay frame every this many steps (and at the last step)
RESOLUTION = 30       # boundary grid per axis
_FRAME_ARGS = {"mode": "immediate", "frame": {"duration": 0, "redraw": True}, "transition": {"duration": 0}}
_SYMBOLS = (0, 5)     # plotly marker symbols by observed label: circle (0), triangle-up (5)


def grid_settings(grid: str | dict) -> list[dict]:
    """The settings of a grid, each a dict of ``proportion, noise_rate, noise_mode, n_val``.

    With no flips the flip type means nothing, so ``noise_rate = 0`` appears once (as ``"uniform"``)."""
    spec = GRIDS[check_choice("grid", grid, sorted(GRIDS))] if isinstance(grid, str) else grid
    out = []
    for p, r, m, v in itertools.product(spec["proportion"], spec["noise_rate"], spec["noise_mode"], spec["n_val"]):
        if r == 0 and m != spec["noise_mode"][0]:
            continue
        out.append({"proportion": float(p), "noise_rate": float(r), "noise_mode": m if r else spec["noise_mode"][0],
                    "n_val": int(v)})
    return out


def _key(setting: dict, step: int | str) -> str:
    """Frame name of a setting at a replay step, e.g. ``p=0.9|r=0.2|uniform|v=10|t=299``."""
    return (f"p={setting['proportion']:g}|r={setting['noise_rate']:g}|{setting['noise_mode']}"
            f"|v={setting['n_val']}|t={step}")


def run_setting(setting: dict, methods: Sequence[str] = METHODS, base: ExplorerState = BASE_STATE) -> dict:
    """Train every method on one setting's data (one process, one thread) and keep what the page replays.

    Returns a dict of plain arrays: ``x`` (n, 2) float32, ``y``/``is_noisy``/``is_minority`` (n,), ``snapshots``
    (S,) recorded step indices, and per method ``weights`` (S, n) float32 (mean weight x B so far), ``prob``
    (S, R, R) float32 ``P(y=1)`` on the boundary grid ``xs``/``ys``, ``test_acc`` (final), ``curves`` (group ->
    (steps, mean weight x B) downsampled), ``seconds`` (wall); and ``cpu_seconds`` of the whole setting.
    """
    from .live import toy_dataset, train_toy

    cpu = time.process_time()
    state = base.replace(**setting)
    data = toy_dataset(state)
    out: dict = {"setting": setting, "x": data.x.numpy().astype(np.float32), "y": data.y.numpy(),
                 "is_noisy": data.is_noisy.numpy(), "is_minority": data.is_minority.numpy(), "runs": {}}
    for method in methods:
        run = train_toy(state, method, dataset=data, boundary_every=SNAPSHOT_EVERY, resolution=RESOLUTION)
        h = run.history
        snaps = [b for b in run.boundaries if b.step > 0]
        frames = np.searchsorted(h.steps, [b.step for b in snaps])
        weights = example_weights_at(h, frames, "mean")
        curves = {}
        window = max(1, len(h.steps) // 30)
        for g in GROUPS:
            m = h.mean_weight(g)
            if np.all(np.isnan(m)):
                continue
            # mean over windows of `window` recorded steps: the per-step L2RW weights are noisy
            k = len(m) // window * window
            curves[g] = (h.steps[:k].reshape(-1, window).mean(1), np.nanmean(m[:k].reshape(-1, window), 1))
        out["runs"][method] = {"weights": weights, "prob": np.stack([b.prob for b in snaps]),
                               "test_acc": float(h.final_test_accuracy), "curves": curves,
                               "seconds": run.wall_time_s}
        out["xs"], out["ys"] = snaps[0].xs, snaps[0].ys
        out["snapshots"] = np.array([b.step for b in snaps])
    out["cpu_seconds"] = time.process_time() - cpu  # this process's CPU time: a load-independent cost measure
    return out


def precompute(grid: str | dict = "full", methods: Sequence[str] = METHODS, base: ExplorerState = BASE_STATE,
               jobs: int = 1, progress: bool = True) -> list[dict]:
    """:func:`run_setting` for every setting of ``grid`` (``jobs`` processes), in grid order, with a progress bar."""
    from tqdm.auto import tqdm

    jobs = check_int("jobs", jobs, 1)
    settings = grid_settings(grid)
    bar = tqdm(total=len(settings), desc=f"explorer runs ({len(methods)} methods each)", unit="setting",
               disable=not progress)
    try:
        if jobs == 1:
            results = []
            for s in settings:
                results.append(run_setting(s, methods, base))
                bar.update()
            return results
        from joblib import Parallel, delayed

        results = []
        for r in Parallel(n_jobs=jobs, return_as="generator")(delayed(run_setting)(s, methods, base) for s in settings):
            results.append(r)
            bar.update()
        return results
    finally:
        bar.close()


# ----------------------------------------------------------------------------------------------------------------
# The figure

def _typed(values, dtype: str) -> dict:
    """A plotly.js typed array (``{"dtype", "bdata"}``): base64 of the raw little-endian values, row-major.

    An array of 2 or more dimensions also carries its ``shape`` (``"30, 30"``, plotly.js's spelling): without it
    plotly.js reads a contour's ``z`` as one flat row and draws no boundary."""
    arr = np.ascontiguousarray(np.asarray(values).astype(np.dtype(dtype).newbyteorder("<")))
    out = {"dtype": dtype, "bdata": base64.b64encode(arr.tobytes()).decode("ascii")}
    if arr.ndim > 1:
        out["shape"] = ", ".join(str(n) for n in arr.shape)
    return out


def decode_typed(value: dict) -> np.ndarray:
    """The inverse of :func:`_typed` (what plotly.js reads): the array, in its ``shape`` when it has one."""
    arr = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]).newbyteorder("<"))
    if "shape" in value:
        arr = arr.reshape([int(n) for n in str(value["shape"]).split(",")])
    return arr


def _controls(spec: dict, setting: dict, snapshots: np.ndarray, t_active: int) -> dict:
    """The layout's sliders and buttons for ``setting``: each control's steps point at the frames that change
    only that control (so controls combine), and the step slider / play button at this setting's replay."""
    def step_to(**change) -> list:
        return [[_key({**setting, **change}, int(snapshots[-1]))], _FRAME_ARGS]

    def slider(field: str, label: str, x: float, fmt) -> dict:
        values = spec[field]
        return {"active": values.index(setting[field]), "x": x, "len": 0.3, "y": -0.06, "yanchor": "top",
                "pad": {"t": 30}, "currentvalue": {"prefix": label + ": ", "font": {"size": 13}},
                "steps": [{"label": fmt(v), "method": "animate", "args": step_to(**{field: v})} for v in values]}

    # with no flips, both flip-type buttons stay on the one run there is
    mode_of = (lambda m: m) if setting["noise_rate"] else (lambda m: setting["noise_mode"])
    replay = [_key(setting, int(t)) for t in snapshots]
    sliders = [slider("proportion", "majority share", 0.0, lambda v: f"{v:g}"),
               slider("noise_rate", "flipped labels", 0.35, lambda v: f"{v:.0%}"),
               slider("n_val", "clean validation points", 0.7, lambda v: str(v)),
               {"active": t_active, "x": 0.12, "len": 0.88, "y": -0.2, "yanchor": "top", "pad": {"t": 30},
                "currentvalue": {"prefix": "training step: ", "font": {"size": 13}},
                "steps": [{"label": str(int(t)), "method": "animate", "args": [[name], _FRAME_ARGS]}
                          for t, name in zip(snapshots, replay)]}]
    modes = spec["noise_mode"]
    menus = [{"type": "buttons", "direction": "left", "x": 1.0, "xanchor": "right", "y": 1.1, "yanchor": "bottom",
              "active": modes.index(setting["noise_mode"]), "showactive": True, "pad": {"r": 2},
              "buttons": [{"label": f"{m} flips", "method": "animate", "args": step_to(noise_mode=mode_of(m))}
                          for m in modes]},
             {"type": "buttons", "direction": "left", "x": 0.0, "xanchor": "left", "y": -0.2, "yanchor": "top",
              "showactive": False, "pad": {"t": 52},
              "buttons": [{"label": "\u25b6 replay", "method": "animate",
                           "args": [replay, {"mode": "immediate", "frame": {"duration": 600, "redraw": True},
                                             "transition": {"duration": 0}, "fromcurrent": False}]},
                          {"label": "\u275a\u275a", "method": "animate", "args": [[None], _FRAME_ARGS]}]}]
    return {"sliders": sliders, "updatemenus": menus}


def _describe(setting: dict, step: int, last: int) -> str:
    flips = (f"{setting['noise_rate']:.0%} {setting['noise_mode']} flips" if setting["noise_rate"] else "no flips")
    return (f"moons, {setting['proportion']:.0%} majority, {flips}, {setting['n_val']} clean validation points "
            f"\u00b7 step {step} of 0\u2013{last}")


def _frame(spec: dict, result: dict, methods: Sequence[str], f: int, full: bool) -> dict:
    """Animation frame ``f`` (snapshot index) of one setting. A full frame (the last snapshot, where every setting
    control leads) carries every trace; a replay frame only what changes over training."""
    setting, snaps = result["setting"], result["snapshots"]
    last = int(snaps[-1])
    data, traces = [], []
    for j, method in enumerate(methods):
        run = result["runs"][method]
        w = np.nan_to_num(run["weights"][f], nan=1.0)
        z = _typed(np.round(100 * run["prob"][f]), "u1")
        marker = {"size": _typed(np.round(marker_sizes(w)), "u1"), "color": _typed(w, "f4")}
        if full:
            x = result["x"]
            outline = np.where(result["is_noisy"], "red", np.where(result["is_minority"], "orange", "white"))
            marker.update(symbol=_typed(np.asarray(_SYMBOLS)[result["y"]], "u1"),
                          line={"color": outline.tolist(),
                                "width": _typed(np.where(result["is_noisy"] | result["is_minority"], 2, 1), "u1")})
            data.append({"type": "contour", "x": result["xs"], "y": result["ys"], "z": z})
            data.append({"type": "scatter", "x": _typed(x[:, 0], "f4"), "y": _typed(x[:, 1], "f4"),
                         "marker": marker})
        else:
            data.append({"type": "contour", "z": z})
            data.append({"type": "scatter", "marker": marker})
        traces += [2 * j, 2 * j + 1]
    n = 2 * len(methods)
    curves = result["runs"][methods[-1]]["curves"]
    step = int(snaps[f])
    marker_line = {"type": "scatter", "x": [step, step]}
    layout = {}
    if full:
        for k, g in enumerate(GROUPS):
            cx, cy = curves.get(g, (np.array([]), np.array([])))
            data.append({"type": "scatter", "x": _typed(cx, "f4"), "y": _typed(cy, "f4")})
            traces.append(n + k)
        # the curves' axis fits this setting (a handful of minority points can average a weight of 20 x B)
        top = max([3.0] + [1.1 * float(np.nanmax(c[1])) for c in curves.values() if len(c[1])])
        layout[f"yaxis{len(methods) + 1}.range"] = [0, top]
        marker_line["y"] = [0, top]
    data.append(marker_line)
    traces.append(n + len(GROUPS))
    accs = ", ".join(f"{METHOD_TITLES[m]} {result['runs'][m]['test_acc']:.1%}" for m in methods)
    layout["title"] = {"text": f"{_describe(setting, step, last)}<br><sub>test accuracy after the whole run: "
                               f"{accs}</sub>"}
    layout.update(_controls(spec, setting, snaps, f))
    return {"name": _key(setting, step), "data": data, "traces": traces, "layout": layout}


def explorer_figure(results: Sequence[dict], grid: str | dict = "full", methods: Sequence[str] = METHODS,
                    start: dict | None = None, width: int = 1260, height: int = 980) -> dict:
    """The explorer as a plotly figure dict (``data``, ``layout``, ``frames``) from :func:`precompute`'s results.

    Traces, in order: per method a boundary contour (``P(y=1)`` in %, line at 50) and the points (size and
    colour: mean learned weight x B so far; symbol: the label given; red outline: flipped label, orange: true
    minority); then L2RW's mean weight x B per group over training (one line per group) and the replay marker.
    ``start``: the setting shown first (default :data:`DEFAULT_SETTING`, else the grid's first).
    """
    from plotly.subplots import make_subplots

    spec = GRIDS[grid] if isinstance(grid, str) else grid
    start = start or DEFAULT_SETTING
    first = next((r for r in results if r["setting"] == start), results[0])
    k = len(methods)
    fig = make_subplots(rows=2, cols=k, specs=[[{}] * k, [{"colspan": k}] + [None] * (k - 1)],
                        row_heights=[0.64, 0.36], vertical_spacing=0.12, horizontal_spacing=0.04,
                        subplot_titles=[METHOD_TITLES[m] for m in methods] +
                                       [f"{METHOD_TITLES[methods[-1]]}: mean weight x B per group"])
    # bounds shared by every setting, so that moving a slider moves points, not axes
    xy = np.concatenate([r["x"] for r in results])
    lo, hi = xy.min(0) - 0.3, xy.max(0) + 0.3
    for j in range(k):
        fig.add_trace({"type": "contour", "name": "P(y=1) %", "zmin": 0, "zmax": 100, "showscale": False,
                       "colorscale": [[0, "#c6dbef"], [0.5, "#ffffff"], [1, "#fdd0a2"]], "hoverinfo": "skip",
                       "contours": {"coloring": "heatmap", "start": 50, "end": 50, "size": 1, "showlines": True},
                       "line": {"color": "#222", "width": 2}}, row=1, col=j + 1)
        fig.add_trace({"type": "scatter", "mode": "markers", "name": "examples", "showlegend": False,
                       "marker": {"cmin": 0, "cmax": 3, "colorscale": WEIGHT_COLORSCALE, "showscale": j == k - 1,
                                  "colorbar": {"title": {"text": "w x B"}, "len": 0.5, "y": 1.0, "yanchor": "top",
                                               "thickness": 12}},
                       "hovertemplate": "weight x B %{marker.color:.2f}<extra></extra>"}, row=1, col=j + 1)
        fig.update_xaxes(range=[lo[0], hi[0]], showgrid=False, zeroline=False, showticklabels=False, row=1, col=j + 1)
        fig.update_yaxes(range=[lo[1], hi[1]], showgrid=False, zeroline=False, showticklabels=False, row=1, col=j + 1,
                         scaleanchor=f"x{j + 1}" if j else "x", scaleratio=1)
    for g in GROUPS:
        fig.add_trace({"type": "scatter", "mode": "lines", "name": GROUP_LABELS[g],
                       "line": {"color": GROUP_COLORS[g], "width": 2.5}}, row=2, col=1)
    fig.add_trace({"type": "scatter", "mode": "lines", "name": "replay step", "showlegend": False,
                   "line": {"color": "black", "width": 1.5, "dash": "dot"}, "hoverinfo": "skip"}, row=2, col=1)
    last = int(first["snapshots"][-1])
    fig.update_xaxes(range=[0, last + 1], title_text="training step", row=2, col=1)
    fig.update_yaxes(title_text="weight x B (1 = uniform)", row=2, col=1)  # range: per setting, in the frames
    frames = []
    for r in results:
        n = len(r["snapshots"])
        frames += [_frame(spec, r, methods, f, full=f == n - 1) for f in range(n)]
    fig.update_layout(template=TEMPLATE)
    out = fig.to_plotly_json()
    start_frame = next(f for f in frames if f["name"] == _key(first["setting"], last))
    for i, tr in zip(start_frame["traces"], start_frame["data"]):
        _merge(out["data"][i], tr)
    curves_top = fig.layout[f"yaxis{k + 1}"].domain[1]
    start_layout = dict(start_frame["layout"])
    out["layout"][f"yaxis{k + 1}"]["range"] = start_layout.pop(f"yaxis{k + 1}.range")
    out["layout"].update(width=width, height=height, margin={"l": 30, "r": 30, "t": 110, "b": 190},
                         # above the curves panel's title, not on it
                         legend={"orientation": "h", "x": 1.0, "xanchor": "right", "y": curves_top + 0.03,
                                 "yanchor": "bottom"},
                         **start_layout)
    out["frames"] = frames
    return out


def _merge(target: dict, update: dict) -> None:
    """Nested dict update (what plotly.js does when a frame is applied to a trace)."""
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict) and "bdata" not in value:
            _merge(target[key], value)
        else:
            target[key] = value


# ----------------------------------------------------------------------------------------------------------------
# The page

def explorer_html(fig: dict, info: dict, plotly_js: str = "inline", back_link: str | None = None) -> str:
    """The page: a short honest description of what was precomputed, and the figure (``plotly.io.to_html``).

    ``plotly_js``: ``"inline"`` (one self-contained file, about 5 MB more) or the path/URL of ``plotly.min.js``."""
    import plotly.io as pio

    include = True if plotly_js == "inline" else plotly_js
    div = pio.to_html(fig, include_plotlyjs=include, full_html=False, validate=False, auto_play=False,
                      div_id="l2rw-explorer", config={"displaylogo": False})
    back = f'<p><a href="{html.escape(back_link)}">&#8962; course index</a></p>' if back_link else ""
    b = info["base"]
    grid = info["grid_spec"]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>L2RW toy explorer (precomputed, no kernel)</title>
<style>body {{ font-family: system-ui, sans-serif; margin: 1em 2em; color: #222; }} p {{ max-width: 1200px; }}
.label {{ border-left: 4px solid #c82020; padding: 6px 10px; background: #fbeeee; max-width: 1200px; }}</style>
</head><body>
{back}
<h1>The toy explorer, without a kernel</h1>
<p>Three ways to train the same small network on the same biased toy data, side by side: plain SGD,
class-proportion weights (a classic fix for imbalance) and L2RW (Ren et al., 2018), which weights each example of a
batch by how much it helps a small <b>clean</b> validation set. Each point is a training example: its <b>size and
colour</b> show its learned weight (x batch size; 1 = ordinary training), its symbol the label it was given
(circle 0, triangle 1), a <span style="color:#d62728"><b>red</b></span> outline a flipped label, an
<span style="color:#ff7f0e"><b>orange</b></span> outline the true minority class. Behind the points: the model's
P(y = 1) and its decision boundary (black line). Below: L2RW's mean weight per group over training. Move the
sliders, switch the flip type, or replay a run step by step.</p>
<p class="label"><b>What this page shows.</b> Toy data only (two moons, {b['n_train']} training points,
400 clean test points). Every run: {b['steps']} SGD steps, batch {b['batch_size']}, learning rate {b['lr']:g},
the explorer's small MLP, seed {b['seed']}, one run per setting and method (no averaging over seeds: a single
seed's result can go either way). Grid ({info['grid']}): majority share {list(grid['proportion'])}, flipped labels
{[f'{r:.0%}' for r in grid['noise_rate']]} ({' / '.join(grid['noise_mode'])}), clean validation points
{list(grid['n_val'])}; {info['runs']} runs. Precomputed {html.escape(info['built'])} with l2rw-viz
{html.escape(info['versions']['l2rw_viz'])} and torch {html.escape(info['versions']['torch'])} on the CPU in
{info['seconds']:.0f} s; nothing is trained in your browser. For other settings, train live in notebook 8.</p>
{div}
</body></html>
"""


def write_explorer(path: str | Path, grid: str = "full", jobs: int = 1, progress: bool = True,
                   plotly_js: str = "inline", back_link: str | None = None,
                   methods: Sequence[str] = METHODS, base: ExplorerState = BASE_STATE) -> dict:
    """Precompute ``grid`` and write the explorer page to ``path``. Returns what was made (grid, runs, seconds,
    bytes, versions, the base state), for the site's build record."""
    import torch

    from .. import __version__

    check_choice("grid", grid, sorted(GRIDS))
    start = time.perf_counter()
    results = precompute(grid, methods, base, jobs, progress)
    seconds = time.perf_counter() - start
    fig = explorer_figure(results, grid, methods)
    info = {"grid": grid, "grid_spec": GRIDS[grid], "settings": len(results), "runs": len(results) * len(methods),
            "methods": list(methods), "seconds": round(seconds, 1),
            "cpu_seconds": round(sum(r["cpu_seconds"] for r in results), 1), "base": asdict(base),
            "built": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "versions": {"l2rw_viz": __version__, "torch": torch.__version__}}
    path = Path(path)
    path.write_text(explorer_html(fig, info, plotly_js, back_link), encoding="utf-8")
    info["bytes"] = path.stat().st_size
    return info


def main(argv: Sequence[str] | None = None) -> int:
    """``OUT.html [--grid small|full] [--jobs N]``: write a self-contained explorer page (plotly.js inlined)."""
    parser = argparse.ArgumentParser(
        prog="python -m l2rw_viz.viz.static_explorer",
        description="Precompute the toy explorer over a grid and write a kernel-free page.")
    parser.add_argument("out", help="the HTML file to write")
    parser.add_argument("--grid", choices=sorted(GRIDS), default="full")
    parser.add_argument("--jobs", type=int, default=1, help="processes for the precomputation")
    parser.add_argument("--plotly-js", default="inline",
                        help="'inline' (self-contained file) or the path/URL of plotly.min.js to reference")
    args = parser.parse_args(argv)
    try:
        info = write_explorer(args.out, args.grid, args.jobs, plotly_js=args.plotly_js)
    except ValueError as error:  # a bad value found by the library's checks, e.g. --jobs 0
        parser.error(str(error))
    print(json.dumps({k: info[k] for k in ("grid", "runs", "seconds", "cpu_seconds", "bytes")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
