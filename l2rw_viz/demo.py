"""The quick headless demo behind ``l2rw-viz demo``: plain SGD against L2RW on two biased data sets.

1. Toy 2-D moons with 40% of the labels flipped to one background class (``toy-noise``, background): L2RW
   pushes the flipped labels down (seed 0, 400 steps: test error plain 0.19, L2RW 0.07; mean weight of flipped
   labels 0.26 against 1.19 for clean ones).
2. MNIST 4-vs-9 on the offline subset with 99% nines (``mnist-imbalance``).

For each it prints the test error of both methods and L2RW's mean learned weight (``weight x batch size``; 1 is
uniform) of noisy vs clean and minority vs majority examples — the paper's story in four numbers: flipped labels
are pushed down, the rare class is pulled up. About a minute on two CPU cores; ``smoke=True`` (or
``L2RW_SMOKE=1``) makes it a few seconds.

Then a picture: :func:`write_demo_page` trains plain SGD and L2RW once more on the toy explorer's default setting
(moons, 90% majority, 20% flipped labels, 10 clean validation points) and writes one self-contained HTML page
(plotly.js inlined, works offline): each panel shows the decision boundary and every training point sized and
coloured by its learned weight, with a replay of training and L2RW's mean weight per group below. The command
line prints the page's path and the two commands that open the course.
"""

from __future__ import annotations

import html
import time
from pathlib import Path

from .settings import smoke_mode

DEMO_RUNS = (
    # experiment, setting, steps (full, smoke)
    ("toy-noise", "background", (400, 100)),
    ("mnist-imbalance", 0.99, (600, 40)),
)


def run_demo(smoke: bool | None = None, device: str = "auto", seed: int = 0, print_fn=print) -> list[dict]:
    """Run plain and L2RW on the demo settings; print a comparison; return the rows (see ``run_one``)."""
    from .experiments import run_one

    smoke = smoke_mode() if smoke is None else bool(smoke)
    rows = []
    start = time.perf_counter()
    for experiment, setting, (full, short) in DEMO_RUNS:
        steps = short if smoke else full
        print_fn(f"\n{experiment}, setting {setting}, {steps} steps, seed {seed}")
        print_fn(f"  {'method':8s} {'test error':>10s} {'w noisy':>8s} {'w clean':>8s} {'w minority':>10s} "
                 f"{'w majority':>10s} {'time':>7s}")
        for method in ("plain", "l2rw"):
            row = run_one(experiment, method, setting, seed=seed, steps=steps, device=device, data_source="subset")
            rows.append(row)
            print_fn(f"  {method:8s} {row['test_error']:10.3f} {row['mean_w_noisy']:8.2f} {row['mean_w_clean']:8.2f} "
                     f"{row['mean_w_minority']:10.2f} {row['mean_w_majority']:10.2f} {row['wall_time_s']:6.1f}s")
    print_fn(f"\nmean weight = weight x batch size (uniform training: 1.00). L2RW should give flipped labels less "
             f"than the clean ones and the minority more than the majority.  total {time.perf_counter() - start:.0f} s")
    return rows


DEMO_SETTING = {"proportion": 0.9, "noise_rate": 0.2, "noise_mode": "uniform", "n_val": 10}
NEXT_STEPS = ("the course, live (JupyterLab):      jupyter lab notebooks/",
              "the course, as a static web site:  l2rw-viz course build site/   (then open site/index.html)")


def write_demo_page(path: str | Path, smoke: bool | None = None, seed: int = 0) -> Path:
    """Train plain SGD and L2RW on :data:`DEMO_SETTING` (toy moons; 300 steps, 100 in smoke mode) and write a
    self-contained offline page to ``path``: boundaries and learned weights side by side, replayable. Returns it."""
    import plotly.io as pio

    from .viz.static_explorer import BASE_STATE, explorer_figure, run_setting

    smoke = smoke_mode() if smoke is None else bool(smoke)
    base = BASE_STATE.replace(seed=seed, steps=100 if smoke else BASE_STATE.steps)
    methods = ("plain", "l2rw")
    result = run_setting(DEMO_SETTING, methods, base)
    spec = {k: (v,) for k, v in DEMO_SETTING.items()}
    fig = explorer_figure([result], spec, methods, DEMO_SETTING, width=1000, height=860)
    # one setting: only the replay controls (training step slider, play/pause) stay
    for layout in [fig["layout"]] + [f["layout"] for f in fig["frames"]]:
        layout["sliders"] = layout["sliders"][-1:]
        layout["updatemenus"] = layout["updatemenus"][-1:]
    div = pio.to_html(fig, include_plotlyjs=True, full_html=False, validate=False, auto_play=False,
                      div_id="l2rw-demo", config={"displaylogo": False})
    acc = {m: result["runs"][m]["test_acc"] for m in methods}
    text = (f"Toy moons, 90% majority class, 20% of the labels flipped, 10 clean validation points; "
            f"{base.steps} SGD steps, seed {seed}{' (smoke run: short)' if smoke else ''}. Test accuracy: plain "
            f"{acc['plain']:.1%}, L2RW {acc['l2rw']:.1%}. Each point is a training example, sized and coloured by "
            f"its learned weight (x batch size; 1 = ordinary training); red outline: flipped label, orange: the "
            f"true minority class. Plain training weighs every example alike; L2RW pushes flipped labels down and "
            f"pulls the minority up, and its boundary moves with them. Replay training with the slider.")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>l2rw-viz demo: plain SGD vs L2RW</title>
<style>body {{ font-family: system-ui, sans-serif; margin: 1em 2em; color: #222; }} p {{ max-width: 1000px; }}</style>
</head><body>
<h1>Plain SGD vs Learning to Reweight, on one toy problem</h1>
<p>{html.escape(text)}</p>
{div}
<p>Next: {"; ".join(html.escape(s) for s in NEXT_STEPS)}.</p>
</body></html>
"""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)   # atomic: never half a page
    return path
