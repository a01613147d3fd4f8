"""Explorers for the lecture hall: ipywidgets controls around plotly ``FigureWidget``s.

- :class:`WeightAnimator` replays a finished History (no training): Play + step slider, linked in the browser with
  ``jslink``, each frame pushed with one ``batch_update``.
- :class:`ToyExplorer` retrains a toy problem in a background thread whenever a control changes and streams the
  run into the figures; stale runs are cancelled (generation counter + the trainer's callback returning False).
- :class:`MethodComparison` trains several methods on the same biased data and shows them side by side.

Every figure widget gets an explicit width and height: inside HBox/VBox a FigureWidget without them can stay blank.
Each widget holds ONE ``FigureWidget`` (panels are subplots): every FigureWidget loads plotly's 5 MB JavaScript
module in the browser, and anywidget gives a model 2 s to initialise — on a busy 2-core machine the third or
fourth figure on a page missed that deadline and never updated again (seen in Voila in headless Chromium).
"""

from __future__ import annotations

import html
import time
from collections.abc import Sequence
from typing import Any

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..data.corrupt import FLIP_MODES
from ..data.toy import TOY_KINDS
from ..device import describe_device, resolve_device
from ..history import History
from ..methods import available_methods
from ..methods.setting import Setting
from .boundary import BoundaryGrid, grid_bounds
from .live import BackgroundTrainer, ToyRun, toy_dataset, train_toy
from .state import RANGES, ExplorerState
from .style import GROUPS, TEMPLATE, example_colors, marker_sizes
from .toy_figures import add_toy_traces
from .weight_figures import weight_trajectory_figure
from .weights import auto_groups, example_weights_at, frame_indices


def sync_widget_state(fig: go.FigureWidget) -> None:
    """Store the figure's current data/layout in the widget's synced state (``_widget_data``/``_widget_layout``).

    Why: a FigureWidget sends later edits as one-off messages that only views alive at that moment apply; a view
    created afterwards (Voila renders after every cell has run, JupyterLab re-renders on scroll or reload) starts
    from the synced state, which plotly refreshes only when the figure itself is displayed — never for a figure
    inside an HBox. Figures changed from a background thread must therefore refresh it themselves (the same two
    assignments plotly's own ``_repr_mimebundle_`` makes).
    """
    from copy import deepcopy

    fig._widget_data = deepcopy(fig._data)
    fig._widget_layout = deepcopy(fig._layout_obj._props)


def _copy_traces(target: go.FigureWidget, source: go.Figure) -> None:
    """Overwrite ``target``'s traces with ``source``'s (same number and types), inside one batch update."""
    if len(target.data) != len(source.data):
        raise RuntimeError(f"figure has {len(target.data)} traces, update has {len(source.data)}")
    for old, new in zip(target.data, source.data):
        props = new.to_plotly_json()
        props.pop("type", None)
        old.update(props, overwrite=True)


# ----------------------------------------------------------------------------------------------------------------
# Replay

class WeightAnimator(widgets.VBox):
    """Replay a History: the examples (sized/coloured by weight) and the per-group weight curves, frame by frame.

    Args:
        history: the run to replay (nothing is retrained).
        x: ``(n, 2)`` toy inputs to place the points; ``None`` (e.g. MNIST) places example ``i`` at ``x = i``
            with its weight as ``y`` (a strip per group, since the figure then sorts examples by group).
        boundaries: optional boundary snapshots (a :class:`~l2rw_viz.viz.live.ToyRun`'s) drawn behind toy points.
        n_frames: how many evenly spaced recorded steps to replay (precomputed once, ``(F, n)`` float32).
        mode: ``"mean"`` (mean weight so far) or ``"last"`` (weight at the last draw).
        interval_ms: Play speed. width, height: pixel size of each figure. smooth: moving window of the curves
            (``None``: 4% of the recorded steps).

    ``self.figure`` is the one ``FigureWidget`` (points left, curves right); ``show_frame(i)`` draws frame ``i``.
    """

    def __init__(self, history: History, x: Any = None, boundaries: Sequence[BoundaryGrid] | None = None,
                 n_frames: int = 100, mode: str = "mean", interval_ms: int = 120, width: int = 560,
                 height: int = 460, smooth: int | None = None):
        self.history = history
        self.frames = frame_indices(history, n_frames)
        self.weights = example_weights_at(history, self.frames, mode)          # (F, n)
        self.sizes = marker_sizes(self.weights).astype(np.float32)             # (F, n)
        self.boundaries = sorted(boundaries or [], key=lambda b: b.step)
        n = len(history.y)
        if x is not None:
            x = x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)
        self.toy = x is not None and x.ndim == 2 and x.shape[1] == 2
        if smooth is None:  # per-step L2RW weights are noisy: average over ~4% of the run by default
            smooth = max(1, len(history.steps) // 25)
        fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.12,
                            subplot_titles=["each example's weight", "mean weight per group"])
        if self.toy:
            first = self._boundary_for(0)
            add_toy_traces(fig, history, x, self.weights[0], first, row=1, col=1, gl=n > 1000 or None)
            x0, x1, y0, y1 = grid_bounds(x)
            fig.update_xaxes(range=[x0, x1], showgrid=False, zeroline=False, constrain="domain", row=1, col=1)
            fig.update_yaxes(range=[y0, y1], showgrid=False, zeroline=False, scaleanchor="x", scaleratio=1,
                             constrain="domain", row=1, col=1)
            fig.update_traces(marker_colorbar=dict(x=0.44, len=0.7, thickness=10), selector=dict(name="examples"))
            self._points_index = 2 if first is not None else 0
            self._boundary_traces = (0, 1) if first is not None else ()
        else:
            # strip view: examples ordered by group so flipped/minority examples form their own band
            order = np.lexsort((np.arange(n), ~history.is_minority, ~history.is_noisy))
            self.position = np.empty(n, dtype=np.int64)
            self.position[order] = np.arange(n)
            color = example_colors(history.is_noisy, history.is_minority)
            fig.add_trace(go.Scattergl(x=self.position, y=self.weights[0], mode="markers", name="examples",
                                       showlegend=False, customdata=np.arange(n),
                                       marker=dict(size=4, color=color, opacity=0.7),
                                       hovertemplate="example %{customdata}<br>weight x B %{y:.2f}<extra></extra>"),
                          row=1, col=1)
            fig.update_xaxes(title_text="examples (flipped / minority first)", row=1, col=1)
            fig.update_yaxes(title_text="weight x batch size", row=1, col=1,
                             range=[0, max(3.0, float(np.nanpercentile(self.weights, 99.5)) * 1.05)])
            self._points_index = 0
            self._boundary_traces = ()
        curves = weight_trajectory_figure(history, smooth=smooth)
        for tr in curves.data:
            fig.add_trace(tr, row=1, col=2)
        fig.add_hline(y=1.0, line=dict(dash="dot", color="#444", width=1), row=1, col=2)
        fig.add_vline(x=float(history.steps[self.frames[0]]), line=dict(color="black", width=1.5), row=1, col=2)
        fig.update_xaxes(title_text="training step", row=1, col=2)
        fig.update_yaxes(title_text="weight x batch size", row=1, col=2)
        fig.update_layout(template=TEMPLATE, width=2 * width, height=height, margin=dict(l=50, r=20, t=70, b=90),
                          legend=dict(orientation="h", y=-0.15, yanchor="top", x=0.5, xanchor="center"))
        self.figure = go.FigureWidget(fig)
        self.points = self.curves = self.figure   # one FigureWidget (see the module docstring)
        self._vline = len(self.figure.layout.shapes) - 1

        last = len(self.frames) - 1
        self.play = widgets.Play(value=0, min=0, max=last, step=1, interval=interval_ms, description="play")
        self.slider = widgets.IntSlider(value=0, min=0, max=last, description="frame",
                                        continuous_update=True, layout=widgets.Layout(width="420px"))
        # jslink: the browser moves the slider with the Play button without a kernel round trip per tick
        self._link = widgets.jslink((self.play, "value"), (self.slider, "value"))
        self.label = widgets.HTML()
        self.last_update_s = 0.0
        self.slider.observe(lambda change: self.show_frame(change["new"]), names="value")
        super().__init__([widgets.HBox([self.play, self.slider, self.label]), self.figure])
        self.show_frame(0)

    def _boundary_for(self, frame: int) -> BoundaryGrid | None:
        step = int(self.history.steps[self.frames[frame]])
        best = None
        for b in self.boundaries:
            if b.step <= step:
                best = b
        return best if best is not None else (self.boundaries[0] if self.boundaries else None)

    def show_frame(self, i: int) -> None:
        """Draw frame ``i`` (``0..len(frames)-1``) with one batch update per figure; records ``last_update_s``."""
        start = time.perf_counter()
        i = int(np.clip(i, 0, len(self.frames) - 1))
        step = int(self.history.steps[self.frames[i]])
        fig = self.figure
        with fig.batch_update():
            trace = fig.data[self._points_index]
            if self.toy:
                trace.marker.size = self.sizes[i]
                trace.marker.color = self.weights[i]
                if self._boundary_traces:
                    b = self._boundary_for(i)
                    for k in self._boundary_traces:
                        fig.data[k].z = b.prob
            else:
                trace.y = self.weights[i]
            fig.layout.title.text = f"{self.history.meta.get('method', '')}: weights at step {step}"
            fig.layout.shapes[self._vline].x0 = step
            fig.layout.shapes[self._vline].x1 = step
        self.label.value = f"step <b>{step}</b>"
        self.last_update_s = time.perf_counter() - start


# ----------------------------------------------------------------------------------------------------------------
# A toy panel that can be redrawn in place

class ToyFigure:
    """Toy panels side by side (boundary + weighted points, one per method), optionally with the first panel's
    weight curves below, all in ONE ``FigureWidget`` with a fixed trace layout that is redrawn in place.

    ``draw(panels, curves)``: ``panels`` a list of ``(x, history, boundary, mode, title)``, ``curves``
    ``(history, smooth, title)`` or ``None``. The first panel carries the colour bar and the outline legend.
    """

    def __init__(self, n_panels: int, panel_size: int = 400, with_curves: bool = True, curves_height: int = 280):
        self.n_panels = n_panels
        self.panel_size = panel_size
        self.with_curves = with_curves
        self.curves_height = curves_height
        self.figure: go.FigureWidget | None = None
        self.panels: list[tuple] = []
        self.curves: tuple | None = None

    def _build(self) -> go.Figure:
        n = self.n_panels
        titles = [p[4] for p in self.panels]
        if self.with_curves:
            h = self.panel_size + self.curves_height + 120
            fig = make_subplots(rows=2, cols=n, specs=[[{}] * n, [{"colspan": n}] + [None] * (n - 1)],
                                row_heights=[self.panel_size / h, 1 - self.panel_size / h], vertical_spacing=0.14,
                                horizontal_spacing=0.06, subplot_titles=titles + [self.curves[2]])
        else:
            h = self.panel_size + 60
            fig = make_subplots(rows=1, cols=n, horizontal_spacing=0.06, subplot_titles=titles)
        for j, (x, history, boundary, mode, _title) in enumerate(self.panels):
            weights = (example_weights_at(history, [len(history.steps) - 1], mode)[0] if len(history.steps)
                       else np.ones(len(history.y), np.float32))
            if boundary is None:  # before the first snapshot: a flat 0.5 field keeps the trace layout fixed
                x0, x1, y0, y1 = grid_bounds(x)
                boundary = BoundaryGrid(np.linspace(x0, x1, 2), np.linspace(y0, y1, 2),
                                        np.full((2, 2), 0.5, np.float32))
            add_toy_traces(fig, history, x, weights, boundary, row=1, col=j + 1, showscale=j == 0, gl=False)
            x0, x1, y0, y1 = grid_bounds(x)
            fig.update_xaxes(range=[x0, x1], showgrid=False, zeroline=False, constrain="domain", row=1, col=j + 1)
            fig.update_yaxes(range=[y0, y1], showgrid=False, zeroline=False, constrain="domain", row=1, col=j + 1,
                             scaleanchor="x" if j == 0 else f"x{j + 1}", scaleratio=1)
        fig.update_traces(marker_colorbar=dict(len=0.35 if self.with_curves else 0.8, y=1.0, yanchor="top",
                                               thickness=10), selector=dict(name="examples"))
        if self.with_curves:
            history, smooth, _title = self.curves
            curves = weight_trajectory_figure(history, groups=GROUPS, smooth=smooth)
            shown = set(auto_groups(history))
            for tr in curves.data:
                tr.visible = tr.meta["group"] in shown
                fig.add_trace(tr, row=2, col=1)
            fig.add_hline(y=1.0, line=dict(dash="dot", color="#444", width=1), row=2, col=1)
            fig.update_xaxes(title_text="training step", row=2, col=1)
            fig.update_yaxes(title_text="weight x B", row=2, col=1)
        fig.update_layout(template=TEMPLATE, width=n * self.panel_size + 80, height=h,
                          margin=dict(l=50, r=20, t=40, b=60),
                          legend=dict(orientation="h", y=-0.08, yanchor="top", x=0.5, xanchor="center"))
        return fig

    def draw(self, panels: list[tuple] | None = None, curves: tuple | None = None) -> None:
        """Replace the given parts (``None`` keeps the last ones) and redraw in one batch update."""
        if panels is not None:
            self.panels = list(panels)
        if curves is not None:
            self.curves = curves
        fresh = self._build()
        if self.figure is None:
            self.figure = go.FigureWidget(fresh)
            return
        with self.figure.batch_update():
            _copy_traces(self.figure, fresh)
            self.figure.layout.annotations = fresh.layout.annotations
            for j in range(self.n_panels):
                for axis in (f"xaxis{'' if j == 0 else j + 1}", f"yaxis{'' if j == 0 else j + 1}"):
                    self.figure.layout[axis].range = fresh.layout[axis].range
        sync_widget_state(self.figure)

    def draw_panel(self, j: int, panel: tuple, curves: tuple | None = None) -> None:
        """Redraw panel ``j`` (and the curves, if given), keeping the others."""
        panels = list(self.panels)
        panels[j] = panel
        self.draw(panels, curves)


def untrained_history(dataset) -> History:
    """A History with no recorded steps for ``dataset`` (its truth masks only): what panels show before training.

    Panels are drawn with it at construction so their FigureWidgets hold the full trace layout from the start;
    later draws then only restyle existing traces, which reaches views created at any time (adding traces to a
    figure that is already on the page raced with the view being created in Voila and left panels blank)."""
    from ..train import HistoryRecorder

    return HistoryRecorder(dataset, {"method": ""}).snapshot()


# ----------------------------------------------------------------------------------------------------------------
# Live toy explorer

def _device_options() -> list[str]:
    import torch

    return ["auto", "cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _bounds(name: str) -> dict:
    """``min``/``max``/``step`` of a control from ``RANGES``, the state's own ranges (one source for both).

    A stepped slider would snap an off-grid saved value (steps 15 on a step-10 slider), so integer controls step
    by 1 and float ones by a fine step; ``RANGES``' step is the grid a state is saved on, not a restriction."""
    low, high, step = RANGES[name]
    if isinstance(low, int) and isinstance(high, int):
        return {"min": low, "max": high, "step": 2 if name == "n_val" else 1}
    return {"min": low, "max": high, "step": step}


def _control_problem(name: str, control: Any, value: Any) -> str:
    """Why ``control`` cannot show ``value`` exactly (empty string when it can): checked for every control before
    a state is applied, so applying is all or nothing."""
    if hasattr(control, "options"):
        allowed = [o[1] if isinstance(o, tuple) else o for o in control.options]
        if value not in allowed:
            why = " (no CUDA GPU on this machine)" if name == "device" and value == "cuda" else ""
            return f"{name}={value!r} is not available here{why}; allowed: {', '.join(map(repr, allowed))}"
        return ""
    if isinstance(control, widgets.FloatLogSlider):
        low, high = control.base ** control.min, control.base ** control.max
    elif hasattr(control, "min"):
        low, high = control.min, control.max
    else:
        return ""
    if not low * (1 - 1e-12) <= value <= high * (1 + 1e-12):
        return f"{name}={value!r} is outside its control's range; allowed: [{low:g}, {high:g}]"
    return ""


def setting_text(value: Any) -> str:
    """A setting's value as a text control shows it (``"none"``, ``"3,5,7"``, ``"0.5"``)."""
    if value is None:
        return "none"
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return str(value).lower() if isinstance(value, bool) else str(value)


def setting_control(spec: Setting, value: Any, style: dict | None = None, layout: Any = None) -> widgets.Widget:
    """The explorer's control for one declared method setting, from its declaration alone: a checkbox for a
    ``bool``, a dropdown of the choices for a ``Literal``, an integer box bounded by the declared range for an
    ``int``, a number box for a ``float``, and a text box (``"none"``, ``"3,5,7"``) for an optional setting or a
    list. Its description is the setting's name, its tooltip the declared help; the value it holds is checked by
    the declaration when applied (:meth:`~l2rw_viz.methods.setting.Setting.parse`)."""
    kw: dict[str, Any] = {"description": spec.name, "tooltip": spec.help, "style": style or {}}
    if layout is not None:
        kw["layout"] = layout
    plain = not spec.is_list and not spec.optional
    if plain and spec.base_type is bool and not spec.choices:
        return widgets.Checkbox(value=bool(value), indent=True, **kw)
    if plain and spec.choices:
        return widgets.Dropdown(options=list(spec.choices), value=value, **kw)
    if plain and spec.base_type is int:
        low = -(2**31) if spec.low is None else int(spec.low) + (1 if spec.low_open else 0)
        high = 2**31 - 1 if spec.high is None else int(spec.high) - (1 if spec.high_open else 0)
        return widgets.BoundedIntText(value=int(value), min=low, max=high, step=1, **kw)
    if plain and spec.base_type is float:
        return widgets.FloatText(value=float(value), **kw)
    return widgets.Text(value=setting_text(value), continuous_update=False, **kw)


class ToyExplorer(widgets.VBox):
    """Sliders for the data, the bias, the method and the optimiser; every change retrains the toy problem in the
    background and streams the run into the figures (method on the left, baseline on the right, weight curves
    below). The whole set-up is one :class:`ExplorerState`: ``explorer.state``, ``explorer.set_state(s)``,
    ``explorer.save(path)``, ``ToyExplorer.load(path)``, and the "state" box for copy/paste.

    Args:
        state: the start settings (default ``ExplorerState()``); trained at once unless ``autostart=False``.
        debounce_s: quiet time after the last slider event before training starts.
        stream_every: redraw every this many steps while training.
    Attributes: ``runs`` (``{"method": ToyRun, "baseline": ToyRun}`` of the last finished run), ``trainer``
    (the :class:`BackgroundTrainer`, whose ``started``/``cancelled`` counts show that stale runs were dropped).
    """

    def __init__(self, state: ExplorerState | None = None, autostart: bool = True, debounce_s: float = 0.2,
                 stream_every: int = 25, panel_size: int = 430):
        self._state = (state or ExplorerState()).validate()
        self.stream_every = stream_every
        self.runs: dict[str, ToyRun] = {}
        self.errors: list[BaseException] = []
        self.trainer = BackgroundTrainer(self._on_result, self._on_error, debounce_s=debounce_s)
        methods = available_methods()
        s = self._state
        if s.device not in _device_options():  # a state saved on a GPU machine: say so instead of a TraitError
            raise ValueError(_control_problem("device", widgets.Dropdown(options=_device_options()), s.device))
        style = {"description_width": "105px"}
        wide = widgets.Layout(width="330px")
        self.controls = {
            "data": widgets.Dropdown(options=list(TOY_KINDS), value=s.data, description="data set", style=style,
                                     layout=wide),
            "proportion": widgets.FloatSlider(value=s.proportion, **_bounds("proportion"), description="majority share",
                                              readout_format=".3f", continuous_update=False, style=style, layout=wide),
            "noise_rate": widgets.FloatSlider(value=s.noise_rate, **_bounds("noise_rate"), description="flip rate",
                                              continuous_update=False, style=style, layout=wide),
            "noise_mode": widgets.Dropdown(options=list(FLIP_MODES), value=s.noise_mode, description="flip type",
                                           style=style, layout=wide),
            "n_val": widgets.IntSlider(value=s.n_val, **_bounds("n_val"), description="clean val size",
                                       continuous_update=False, style=style, layout=wide),
            "method": widgets.Dropdown(options=methods, value=s.method, description="method", style=style, layout=wide),
            "baseline": widgets.Dropdown(options=methods, value=s.baseline, description="beside it", style=style,
                                         layout=wide),
            "lr": widgets.FloatLogSlider(value=s.lr, base=10, min=float(np.log10(RANGES["lr"][0])),
                                         max=float(np.log10(RANGES["lr"][1])), step=0.1, description="learning rate",
                                         continuous_update=False, readout_format=".2g", style=style, layout=wide),
            "steps": widgets.IntSlider(value=s.steps, **_bounds("steps"), description="steps",
                                       continuous_update=False, style=style, layout=wide),
            "seed": widgets.BoundedIntText(value=s.seed, **_bounds("seed"), description="seed", style=style,
                                           layout=wide),
            "device": widgets.Dropdown(options=_device_options(), value=s.device, description="device", style=style,
                                       layout=wide),
            "weight_view": widgets.ToggleButtons(options=[("mean so far", "mean"), ("last draw", "last")],
                                                 value=s.weight_view, description="point size",
                                                 style={**style, "button_width": "90px"}),
            "smooth": widgets.IntSlider(value=s.smooth, **_bounds("smooth"), description="smoothing", style=style,
                                        continuous_update=False, layout=wide),
        }
        for w in self.controls.values():
            w.observe(self._on_control, names="value")
        # the selected method's own settings, one control per declared setting (rebuilt when the method changes)
        # indented under the method menu, as wide in all as the other controls (names up to ~16 characters shown)
        self._setting_style = {"description_width": "125px"}
        self._setting_layout = widgets.Layout(width="314px")
        self.method_controls: dict[str, widgets.Widget] = {}
        self.method_box = widgets.VBox(layout=widgets.Layout(margin="0 0 0 16px"))
        self._build_method_controls()
        self.status = widgets.HTML()
        self.state_box = widgets.Textarea(layout=widgets.Layout(width="330px", height="70px"),
                                          placeholder="explorer state (JSON)")
        copy_btn = widgets.Button(description="show state", layout=widgets.Layout(width="160px"))
        apply_btn = widgets.Button(description="apply state", layout=widgets.Layout(width="160px"))
        copy_btn.on_click(lambda _: setattr(self.state_box, "value", self.state.to_json()))
        apply_btn.on_click(lambda _: self._apply_box())
        self.view = ToyFigure(2, panel_size, with_curves=True)
        buttons = widgets.HBox([copy_btn, apply_btn])
        ordered = []
        for name, w in self.controls.items():
            ordered.append(w)
            if name == "method":
                ordered.append(self.method_box)
        controls_box = widgets.VBox([*ordered, buttons, self.state_box],
                                    layout=widgets.Layout(width="345px", min_width="345px"))
        self._draw_untrained()
        self.figure = self.view.figure
        # wrap: in JupyterLab's narrower output area the figure moves below the controls instead of squeezing them
        super().__init__([self.status, widgets.HBox([controls_box, self.figure],
                                                    layout=widgets.Layout(flex_flow="row wrap"))])
        self._show_status("ready")
        if autostart:
            self.retrain()

    # --- state ----------------------------------------------------------------------------------------------
    @property
    def state(self) -> ExplorerState:
        """A copy of the current settings."""
        return self._state.replace()

    def set_state(self, state: ExplorerState) -> None:
        """Move every control to ``state`` and retrain once (not once per control).

        All or nothing: every value is checked against its control first (e.g. ``device="cuda"`` on a machine
        without a GPU), and a ``ValueError`` naming the field leaves the explorer exactly as it was.
        """
        state = state.replace()
        problems = [p for name, w in self.controls.items() if (p := _control_problem(name, w, getattr(state, name)))]
        if problems:
            raise ValueError("; ".join(problems))
        old = self._state
        previous = {name: w.value for name, w in self.controls.items()}
        self._quiet = True
        try:
            for name, w in self.controls.items():
                w.value = getattr(state, name)
        except Exception as exc:  # a control refused after all: put every control back, keep the old state
            for name, w in self.controls.items():
                w.value = previous[name]
            raise ValueError(f"state not applied ({type(exc).__name__}: {exc}); the explorer is unchanged") from exc
        finally:
            self._quiet = False
        self._state = state
        self._build_method_controls()
        if state.training_key() != old.training_key() or not self.runs:
            self.retrain()
        else:
            self.redraw()

    def save(self, path) -> Any:
        """Save the explorer's state as JSON; returns the path."""
        return self.state.save(path)

    @classmethod
    def load(cls, path, **kwargs: Any) -> ToyExplorer:
        """An explorer restored from a saved state."""
        return cls(ExplorerState.load(path), **kwargs)

    def _apply_box(self) -> None:
        try:
            self.set_state(ExplorerState.from_json(self.state_box.value))
        except (ValueError, TypeError) as exc:  # nothing was applied (set_state is all or nothing)
            self._show_status(f"state not applied: {exc}", error=True)

    _quiet = False

    def _on_control(self, change: dict) -> None:
        if self._quiet:
            return
        name = next(k for k, w in self.controls.items() if w is change["owner"])
        try:
            new = self._state.replace(**{name: change["new"]})
        except ValueError as exc:
            self._show_status(str(exc), error=True)
            return
        retrain = new.training_key() != self._state.training_key()
        method_changed = new.method != self._state.method
        self._state = new
        if method_changed:
            self._build_method_controls()
        if retrain:
            self.retrain()
        else:
            self.redraw()

    def _build_method_controls(self) -> None:
        """One control per declared setting of the selected method (``cli`` ones), showing the value it trains
        with (the state's ``method_args``, else the resolved default)."""
        resolved = self._state.resolve()
        specs = [s for s in resolved.method_class.settings if s.cli]
        self.method_controls = {s.name: setting_control(s, resolved.settings[s.name], self._setting_style,
                                                        self._setting_layout) for s in specs}
        for w in self.method_controls.values():
            w.observe(self._on_method_setting, names="value")
        caption = (f"<span style='font-size:12px;color:#555'>settings of {html.escape(resolved.name)}"
                   f"{'' if specs else ': none'}</span>")
        self.method_box.children = [widgets.HTML(caption), *self.method_controls.values()]

    def _on_method_setting(self, change: dict) -> None:
        name = next(k for k, w in self.method_controls.items() if w is change["owner"])
        try:
            new = self._state.replace(method_args={**self._state.method_args, name: change["new"]})
        except ValueError as exc:   # the declaration's message: the setting, the value and what is allowed
            self._show_status(str(exc), error=True)
            return
        retrain = new.training_key() != self._state.training_key()
        self._state = new
        if retrain:
            self.retrain()

    # --- training -------------------------------------------------------------------------------------------
    def retrain(self) -> int:
        """Start (after the debounce) a background run of the current state; returns its generation."""
        state = self._state.replace()
        curves_title = f"{state.method}: mean weight per group (dotted: uniform)"
        dev = describe_device(resolve_device(state.device))

        def job(is_current):
            data = toy_dataset(state)
            x = data.x.numpy()
            start = time.perf_counter()

            def stream(history, boundary, step):
                if not is_current():
                    return False
                self.view.draw_panel(0, (x, history, boundary, state.weight_view, f"{state.method}: step {step}"),
                                     (history, state.smooth, curves_title))
                self._show_status(f"training {state.method}: step {step + 1}/{state.steps}", device=dev)
                return None

            main = train_toy(state, state.resolve().build(), data, callback=stream, stream_every=self.stream_every,
                             keep_going=is_current)
            if not is_current():
                return None
            base = train_toy(state, state.resolve(state.baseline).build(), data, keep_going=is_current)
            if not is_current():
                return None
            return {"method": main, "baseline": base, "seconds": time.perf_counter() - start}

        self._show_status("training…", device=dev)
        return self.trainer.submit(job)

    def _on_result(self, result, generation: int) -> None:
        if result is None:
            return
        self.runs = {"method": result["method"], "baseline": result["baseline"]}
        self.last_train_s = result["seconds"]
        self.redraw()

    def _on_error(self, exc: BaseException, generation: int) -> None:
        self.errors.append(exc)
        self._show_status(f"{type(exc).__name__}: {exc}", error=True)

    def wait(self, timeout: float = 60.0) -> bool:
        """Block until the newest run has finished and been drawn (scripts and tests)."""
        return self.trainer.wait(timeout)

    # --- drawing --------------------------------------------------------------------------------------------
    def _draw_untrained(self) -> None:
        s = self._state
        data = toy_dataset(s)
        empty = untrained_history(data)
        x = data.x.numpy()
        self.view.draw([(x, empty, None, s.weight_view, f"{s.method}: training…"),
                        (x, empty, None, s.weight_view, f"{s.baseline}: training…")],
                       (empty, s.smooth, f"{s.method}: mean weight per group (dotted: uniform)"))

    def redraw(self) -> None:
        """Draw the last finished runs with the current view settings (no training)."""
        if not self.runs:
            return
        s = self._state
        main, base = self.runs["method"], self.runs["baseline"]
        x = main.x
        self.view.draw([(x, run.history, run.boundaries[-1], s.weight_view,
                         f"{name}: test accuracy {run.history.final_test_accuracy:.0%}")
                        for run, name in ((main, s.method), (base, s.baseline))],
                       (main.history, s.smooth, f"{s.method}: mean weight per group (dotted: uniform)"))
        info = main.dataset.info
        self._show_status(
            f"{info.get('name', '')} · trained {s.method} + {s.baseline} in {getattr(self, 'last_train_s', 0):.1f} s",
            device=main.device)

    def _show_status(self, text: str, device: str | None = None, error: bool = False) -> None:
        dev = device or describe_device(resolve_device(self._state.device))
        color = "#b00020" if error else "#333"
        self.status.value = (f"<div style='font-size:14px;color:{color}'><b>device: {dev}</b> &nbsp;·&nbsp; "
                             f"{text}</div>")


# ----------------------------------------------------------------------------------------------------------------
# Several methods side by side

class MethodComparison(widgets.VBox):
    """The same biased toy data, several methods side by side (one panel each, drawn as each run finishes).

    Args:
        state: the data/optimiser settings (its ``method``/``baseline`` are ignored).
        methods: registered method names, e.g. ``("plain", "proportion", "l2rw")``.
    ``runs`` maps each method to its :class:`~l2rw_viz.viz.live.ToyRun` once trained; ``train()`` reruns.
    """

    def __init__(self, state: ExplorerState | None = None, methods: Sequence[str] = ("plain", "l2rw"),
                 autostart: bool = True, panel_size: int = 360):
        from ..checks import check_choice

        self.state = (state or ExplorerState()).validate()
        self.methods = [check_choice("methods", m, available_methods()) for m in methods]
        if not self.methods:
            raise ValueError("methods is empty; allowed: one or more of " + ", ".join(available_methods()))
        self.runs: dict[str, ToyRun] = {}
        self.status = widgets.HTML()
        self.trainer = BackgroundTrainer(lambda r, g: None, self._on_error, debounce_s=0.0)
        button = widgets.Button(description="retrain")
        button.on_click(lambda _: self.train())
        data = toy_dataset(self.state)
        empty = untrained_history(data)
        self.view = ToyFigure(len(self.methods), panel_size, with_curves=False)
        self.view.draw([(data.x.numpy(), empty, None, self.state.weight_view, f"{m}: training…")
                        for m in self.methods])
        self.figure = self.view.figure
        super().__init__([widgets.HBox([button, self.status]), self.figure])
        if autostart:
            self.train()

    def _on_error(self, exc, generation) -> None:
        self.status.value = f"<span style='color:#b00020'>{type(exc).__name__}: {exc}</span>"

    def train(self) -> int:
        """Train every method in the background on one shared data set (drawn in turn); returns the generation."""
        state = self.state
        dev = describe_device(resolve_device(state.device))

        def job(is_current):
            data = toy_dataset(state)
            for m in self.methods:
                if not is_current():
                    return None
                self.status.value = f"<b>device: {dev}</b> · {data.info.get('name', '')} · training {m}…"
                run = train_toy(state, m, data, keep_going=is_current)
                self.runs[m] = run
                title = f"{m}: test acc {run.history.final_test_accuracy:.0%} ({run.wall_time_s:.1f} s)"
                self.view.draw_panel(self.methods.index(m),
                                     (run.x, run.history, run.boundaries[-1], state.weight_view, title))
            self.status.value = f"<b>device: {dev}</b> · {data.info.get('name', '')} · done"
            return None

        return self.trainer.submit(job)

    def wait(self, timeout: float = 120.0) -> bool:
        return self.trainer.wait(timeout)
