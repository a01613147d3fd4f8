"""The step-through without a kernel: one L2RW step, all 8 stages, for a few batches, replayed by plotly alone.

The live :class:`~l2rw_viz.viz.stepthrough.StepThrough` (notebooks 5 and 8) needs a Python kernel. Here the same
numbers (:class:`~l2rw_viz.viz.stepthrough.StepThroughProblem`, seed 0 as in the notebooks) are computed once for
a few *cases* — the first batch, two resampled batches, and the first batch with one more label flipped (the
widget's "flip a label" button) — and every (case, stage) becomes one plotly animation frame drawn by
:func:`~l2rw_viz.viz.stepthrough.stepthrough_figure`, the widget's own drawing code. A stage slider and case
buttons move between frames; as in :mod:`~l2rw_viz.viz.static_explorer`, each frame rewrites the controls' targets
so that "next case" keeps the stage and a stage step keeps the case. The stage's explanation
(:data:`~l2rw_viz.viz.stepthrough.STAGE_TEXT`) is an annotation under the title; every text is escaped for plotly
(:func:`~l2rw_viz.viz.stepthrough.plotly_text`).

    python -m l2rw_viz.viz.static_stepthrough stepthrough.html     # a self-contained page (plotly.js inlined)
"""

from __future__ import annotations

import argparse
import html
import textwrap
from collections.abc import Sequence
from pathlib import Path

from .stepthrough import STAGE_TEXT, STAGES, StepThroughProblem, plotly_text, stage_title, stepthrough_figure

_FRAME_ARGS = {"mode": "immediate", "frame": {"duration": 0, "redraw": True}, "transition": {"duration": 0}}
DIV_ID = "l2rw-stepthrough"


def stepthrough_cases(seed: int = 0, resamples: int = 2) -> list[tuple[str, StepThroughProblem]]:
    """``[(label, problem), ...]``: the notebooks' problem (``seed``), ``resamples`` resampled batches, and the first
    batch with one clean label flipped (the example's number is in the label)."""
    cases = [("batch 1", StepThroughProblem(seed=seed))]
    for k in range(resamples):
        p = StepThroughProblem(seed=seed)
        for _ in range(k + 1):
            p.resample()
        cases.append((f"batch {k + 2}", p))
    p = StepThroughProblem(seed=seed)
    i = p.flip_label()
    cases.append((f"batch 1, label of example {i} flipped", p))
    return cases


def _name(case: int, stage: int) -> str:
    return f"case {case} stage {stage}"


def _caption(stage: int, width: int = 150) -> str:
    """The stage's explanation for a plotly annotation: escaped, wrapped with ``<br>``."""
    text = f"Stage {stage + 1} of {len(STAGES)}, {STAGES[stage]}: {STAGE_TEXT[STAGES[stage]]}"
    return "<br>".join(plotly_text(line) for line in textwrap.wrap(text, width))


def _axis_ranges(fig: dict) -> dict:
    """``{"xaxis2.range": [lo, hi], ...}`` for the parameter-space and slope panels and the examples' axis, from the
    traces of ``fig`` (the last stage, where every trace holds data): plotly.js keeps an axis's range when a frame
    is animated in, so each frame sets it (the same for every stage of a case)."""
    import numpy as np

    out = {}
    for k in (2, 3):
        for axis in ("x", "y"):
            values = [v for t in fig["data"] if t.get(f"{axis}axis") == f"{axis}{k}"
                      for v in np.asarray(t.get(axis, []), dtype=object).ravel() if v is not None]
            if values:
                lo, hi = float(min(values)), float(max(values))
                pad = 0.08 * (hi - lo or 1.0)
                out[f"{axis}axis{k}.range"] = [lo - pad, hi + pad]
    n = max(len(t.get("x", [])) for t in fig["data"] if t.get("type") == "bar")
    out["xaxis4.range"] = [-0.6, n - 0.4]
    return out


def _controls(labels: Sequence[str], case: int, stage: int) -> dict:
    stage_slider = {"active": stage, "x": 0.0, "len": 0.62, "y": -0.13, "yanchor": "top", "pad": {"t": 10},
                    "currentvalue": {"prefix": "stage: ", "font": {"size": 13}},
                    "steps": [{"label": plotly_text(f"{s + 1} {name}"), "method": "animate",
                               "args": [[_name(case, s)], _FRAME_ARGS]} for s, name in enumerate(STAGES)]}
    nav = {"type": "buttons", "direction": "left", "x": 0.66, "xanchor": "left", "y": -0.13, "yanchor": "top",
           "showactive": False, "pad": {"t": 22},
           "buttons": [{"label": "\u2190 back", "method": "animate",
                        "args": [[_name(case, max(stage - 1, 0))], _FRAME_ARGS]},
                       {"label": "next \u2192", "method": "animate",
                        "args": [[_name(case, min(stage + 1, len(STAGES) - 1))], _FRAME_ARGS]}]}
    cases = {"type": "buttons", "direction": "left", "x": 0.0, "xanchor": "left", "y": 1.12, "yanchor": "bottom",
             "active": case, "showactive": True, "pad": {"b": 4},
             "buttons": [{"label": plotly_text(label), "method": "animate", "args": [[_name(c, stage)], _FRAME_ARGS]}
                         for c, label in enumerate(labels)]}
    return {"sliders": [stage_slider], "updatemenus": [cases, nav]}


def stepthrough_replay_figure(cases: Sequence[tuple[str, StepThroughProblem]] | None = None, width: int = 1000,
                              height: int = 940) -> dict:
    """The replay as a plotly figure dict (``data``, ``layout``, ``frames``): one frame per (case, stage), each
    with every trace of :func:`stepthrough_figure`, the stage's title and caption, and the controls' targets."""
    cases = stepthrough_cases() if cases is None else cases
    labels = [label for label, _ in cases]
    frames = []
    base = None
    for c, (label, problem) in enumerate(cases):
        ranges = _axis_ranges(stepthrough_figure(problem, len(STAGES) - 1, width, height).to_plotly_json())
        for s in range(len(STAGES)):
            fig = stepthrough_figure(problem, s, width, height).to_plotly_json()
            if base is None:
                base = fig
            titles = list(fig["layout"].get("annotations", []))
            caption = {"text": _caption(s), "xref": "paper", "yref": "paper", "x": 0.0, "y": 1.045, "xanchor": "left",
                       "yanchor": "bottom", "showarrow": False, "align": "left", "font": {"size": 12}}
            # dotted keys: a frame's layout must change the ranges only, not replace the axes
            layout = {"title.text": plotly_text(f"{label} \u00b7 ") + plotly_text(stage_title(problem, s)),
                      "annotations": titles + [caption],
                      "yaxis4.range": fig["layout"]["yaxis4"]["range"],
                      "yaxis5.range": fig["layout"]["yaxis5"]["range"], **ranges}
            layout.update(_controls(labels, c, s))
            frames.append({"name": _name(c, s), "data": fig["data"], "layout": layout})
    out = {"data": frames[0]["data"], "layout": base["layout"], "frames": frames}
    first = frames[0]["layout"]
    out["layout"]["title"].update(text=first["title.text"], y=0.985, yref="container", yanchor="top", x=0.02,
                                  xanchor="left")
    for key, value in first.items():
        if key.endswith(".range"):
            out["layout"][key.split(".")[0]]["range"] = value
    out["layout"].update(annotations=first["annotations"], sliders=first["sliders"], updatemenus=first["updatemenus"],
                         margin={"t": 175, "b": 190},
                         legend={"orientation": "h", "y": -0.31, "x": 0.5, "xanchor": "center", "font": {"size": 10}})
    return out


def stepthrough_div(fig: dict | None = None, div_id: str = DIV_ID) -> str:
    """The replay as an HTML ``<div>`` (and its script) that draws with a ``plotly.min.js`` the page loads."""
    import plotly.io as pio

    return pio.to_html(stepthrough_replay_figure() if fig is None else fig, include_plotlyjs=False,
                       full_html=False, validate=False, auto_play=False, div_id=div_id,
                       config={"displaylogo": False})


def stepthrough_html(plotly_js: str = "inline", back_link: str | None = None, fig: dict | None = None) -> str:
    """A page: what the replay shows, then the figure (``fig``, default :func:`stepthrough_replay_figure`).
    ``plotly_js``: ``"inline"`` or the path of plotly.min.js."""
    import plotly.io as pio

    include = True if plotly_js == "inline" else plotly_js
    div = pio.to_html(stepthrough_replay_figure() if fig is None else fig, include_plotlyjs=include,
                      full_html=False, validate=False, auto_play=False, div_id=DIV_ID, config={"displaylogo": False})
    back = f'<p><a href="{html.escape(back_link)}">&#8962; course index</a></p>' if back_link else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>One L2RW step, stage by stage (no kernel)</title>
<style>body {{ font-family: system-ui, sans-serif; margin: 1em 2em; color: #222; }} p {{ max-width: 1000px; }}</style>
</head><body>
{back}
<h1>One L2RW step, stage by stage, without a kernel</h1>
<p>{html.escape(REPLAY_TEXT)}</p>
{div}
</body></html>
"""


REPLAY_TEXT = ("The step-through of notebook 5, precomputed: a batch of 8 points of a two-blob problem (shape = the "
               "label given, number = the example's index, red ring = a flipped label), clean validation points "
               "(x, coloured by class) and a logistic regression in mid-training. Move the stage slider (or back / "
               "next) through Algorithm 1 of Ren et al. (2018); the buttons above switch between batches, and the "
               "last one flips one more label in the first batch. Every number was computed in Python by the same "
               "code as the live widget (seed 0); nothing runs in your browser but plotly.")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m l2rw_viz.viz.static_stepthrough",
                                     description="Write the kernel-free step-through page.")
    parser.add_argument("out", help="the HTML file to write (plotly.js inlined)")
    args = parser.parse_args(argv)
    Path(args.out).write_text(stepthrough_html(), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
