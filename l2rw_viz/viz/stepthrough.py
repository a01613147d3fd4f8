"""One L2RW step, stage by stage: a widget a student steps through with buttons (notebooks 5 and 8).

The problem is small enough to draw everything: a batch of ``n`` points of a 2-D two-blob problem (some labels
flipped), a handful of clean validation points, and a logistic regression ``logits = x W^T + b`` (``W`` 2x2,
``b`` 2: six parameters) that has already had a few plain gradient steps on the noisy data, i.e. a model in the
middle of training. The stages (:data:`STAGES`) follow Algorithm 1 of Ren et al. (2018):

1. ``batch``: the batch (marker shape = observed label, red ring = flipped label), the validation set (x,
   coloured by class) and the current boundary;
2. ``gradients``: each example's descent direction ``-grad f_i`` beside the validation descent direction
   ``-grad L_val``, in parameter space;
3. ``look-ahead``: the look-ahead step on each example alone, ``theta - alpha grad f_i``: its boundary (green when
   it lowers the validation loss, red when it raises it);
4. ``slopes``: each example's validation loss ``L_val(theta - alpha eps_i grad f_i)`` as a function of its
   ``eps_i``, with the tangent at ``eps_i = 0``: the score is minus that slope (Algorithm 1, line 10);
5. ``dot products``: the scores ``alpha <grad L_val, grad f_i>`` as bars (the same numbers: the identity);
6. ``clip``: ``max(score, 0)`` (line 11: a negative weight would be gradient *ascent* on that example);
7. ``normalise``: ``w = clipped / sum(clipped)`` (line 11: removes ``alpha``, fixes the step's scale);
8. ``update``: the weighted step ``theta - lr sum_i w_i grad f_i`` and the boundary it gives (marker area = w).

**The 2-D picture of parameter space.** Six parameters do not fit on a screen, so gradients are projected onto
the plane spanned by ``e1 = grad L_val / ||grad L_val||`` and ``e2``, the leading principal direction of the
per-example gradients' components orthogonal to ``e1``. Along ``e1`` nothing is lost: the panel's horizontal axis
runs along ``-e1`` (the validation descent direction, so the validation arrow points right), and a descent arrow
``-alpha grad f_i``'s horizontal coordinate times ``||grad L_val||`` *is* its score ``alpha <grad L_val, grad f_i>``:
arrows pointing right have positive scores. The vertical axis shows the largest remaining spread.

Controls: back / next, resample the batch, flip a label in the batch, draw a new validation set; every control
redraws the figure from fresh numbers. :class:`StepThroughProblem` holds the numerics (no UI; the tests check it
against :mod:`l2rw_viz.reweight`), :func:`stepthrough_figure` draws one stage as a plain figure, and
:class:`StepThrough` is the widget (one plotly ``FigureWidget`` + ipywidgets buttons; its ``last_update_ms``
records how long the last redraw took in Python).
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
import torch
import torch.nn.functional as F
from plotly.subplots import make_subplots
from torch.func import functional_call, grad, vmap

from ..checks import check_in_range, check_int
from ..data.toy import make_toy
from ..models import LogisticRegression
from ..reweight import l2rw_scores, normalize_weights
from .style import GROUP_COLORS, TEMPLATE

STAGES = ("batch", "gradients", "look-ahead", "slopes", "dot products", "clip", "normalise", "update")
STAGE_TEXT = {
    "batch": "A mini-batch of the noisy training set (shape = observed label, number = example, red ring = flipped "
             "label), the clean validation set (x, coloured by its class) and the model's current boundary.",
    "look-ahead": "The look-ahead: one step on each example alone, theta - alpha grad f_i. Green boundary: the "
                  "validation loss goes down; red: it goes up. (A whole step can overshoot where the loss curves; "
                  "Algorithm 1 uses only the slope at eps = 0: next stage.)",
    "gradients": "Each example's descent direction -grad f_i next to the clean validation set's -grad L_val "
                 "(parameter space, projected: the horizontal axis is exactly the validation descent direction, "
                 "so arrows pointing right have positive scores).",
    "slopes": "Validation loss after the look-ahead, as a function of the example's eps_i. The tangent at eps_i = 0 "
              "is marked: minus its slope is the example's score (Algorithm 1, line 10).",
    "dot products": "The scores as bars: alpha <grad L_val, grad f_i>, the same numbers as minus the slopes "
                    "(the gradient-agreement identity).",
    "clip": "Clip at zero (line 11): a negative weight would be gradient ascent on that example.",
    "normalise": "Normalise (line 11): divide by the sum, so the weights sum to 1 whatever alpha is "
                 "(right axis).",
    "update": "The weighted step theta - lr sum_i w_i grad f_i: the new boundary (green) against the old (black). "
              "Marker area = weight.",
}
CLASS_SYMBOLS = ("circle", "triangle-up")
CLASS_COLORS = ("#1f77b4", "#ff7f0e")
GOOD, BAD = "#2ca02c", "#d62728"


@dataclass
class StepQuantities:
    """Everything one L2RW step computes, for the batch of ``n`` examples (float64 numpy arrays).

    Attributes:
        theta: ``(P,)`` the current parameters (``P = 6``: ``W`` row-major, then ``b``); theta_after: after the
            weighted update.
        grads: ``(n, P)`` per-example gradients ``grad f_i(theta)``; g_val: ``(P,)`` ``grad L_val(theta)``.
        dots: ``(n,)`` ``<grad L_val, grad f_i>``; scores: ``alpha * dots`` (= ``-dL_val/d eps_i`` at 0).
        clipped: ``(n,)`` ``max(scores, 0)``; weights: ``(n,)`` normalised (sum 1, or all 0).
        eps: ``(k,)`` the eps grid; val_curves: ``(n, k)`` ``L_val(theta - alpha eps grad f_i)`` in nats;
            val_loss: ``L_val(theta)``; val_loss_after: ``L_val(theta_after)``.
        lookahead_val: ``(n,)`` ``L_val(theta - alpha grad f_i)`` (eps = 1).
        slopes: ``(n,)`` ``dL_val/d eps_i`` at 0 by autodiff through the look-ahead (Algorithm 1 as written).
        basis: ``(2, P)`` orthonormal projection (``e1`` = validation direction); proj_grads: ``(n, 2)``
            ``grads @ basis.T``; proj_val: ``(2,)``.
    """

    theta: np.ndarray
    theta_after: np.ndarray
    grads: np.ndarray
    g_val: np.ndarray
    dots: np.ndarray
    scores: np.ndarray
    clipped: np.ndarray
    weights: np.ndarray
    eps: np.ndarray
    val_curves: np.ndarray
    val_loss: float
    val_loss_after: float
    lookahead_val: np.ndarray
    slopes: np.ndarray
    basis: np.ndarray
    proj_grads: np.ndarray
    proj_val: np.ndarray


def _flat(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: p.detach() for k, p in model.named_parameters()}


def projection_basis(grads: np.ndarray, g_val: np.ndarray) -> np.ndarray:
    """``(2, P)`` orthonormal rows: ``e1 = g_val / ||g_val||`` and the leading principal direction of the rows of
    ``grads`` (``(n, P)``) after removing their ``e1`` component (any unit vector orthogonal to ``e1`` when they
    have none)."""
    p = len(g_val)
    norm = np.linalg.norm(g_val)
    e1 = g_val / norm if norm > 0 else np.eye(p)[0]
    resid = grads - np.outer(grads @ e1, e1)
    if np.linalg.norm(resid) > 1e-12:
        e2 = np.linalg.svd(resid, full_matrices=False)[2][0]
    else:
        e2 = np.eye(p)[int(np.argmin(np.abs(e1)))]
    e2 = e2 - (e2 @ e1) * e1
    return np.stack([e1, e2 / np.linalg.norm(e2)])


class StepThroughProblem:
    """The numbers behind the widget: data, batch, validation set, model, and one L2RW step on them.

    Args:
        n_batch: examples in the batch (2..20); n_val: clean validation points (even, 2..20).
        flip_rate: share of the training pool's labels flipped (uniformly, i.e. to the other class) in [0, 0.5).
        alpha: look-ahead step size (> 0); lr: step size of the weighted update (> 0).
        pretrain_steps: plain full-batch gradient steps on the noisy pool before the step shown (>= 0).
        seed: the one seed (data, flips, batch and validation draws, initialisation).
    """

    def __init__(self, n_batch: int = 8, n_val: int = 6, flip_rate: float = 0.25, alpha: float = 1.0,
                 lr: float = 1.0, pretrain_steps: int = 20, seed: int = 0):
        self.n_batch = check_int("n_batch", n_batch, 2, 20)
        self.n_val = check_int("n_val", n_val, 2, 20)
        if self.n_val % 2:
            raise ValueError(f"n_val={n_val}; allowed: an even number (balanced validation set)")
        self.flip_rate = check_in_range("flip_rate", flip_rate, 0.0, 0.5, high_open=True)
        self.alpha = check_in_range("alpha", alpha, 0.0, float("inf"), low_open=True, high_open=True)
        self.lr = check_in_range("lr", lr, 0.0, float("inf"), low_open=True, high_open=True)
        self.pretrain_steps = check_int("pretrain_steps", pretrain_steps, 0)
        self.seed = check_int("seed", seed, 0)
        self.rng = np.random.default_rng(seed)
        x, y = make_toy("blobs", n=400, seed=seed, noise=1.2)
        self.x_pool, self.y_clean_pool = x[:300].double(), y[:300]
        flips = torch.as_tensor(self.rng.random(300) < flip_rate)
        self.y_pool = torch.where(flips, 1 - self.y_clean_pool, self.y_clean_pool)
        self.x_val_pool, self.y_val_pool = x[300:].double(), y[300:]
        torch.manual_seed(seed)
        self.model = LogisticRegression(2, 2).double()
        self._pretrain()
        self.resample()
        self.new_validation()

    def _pretrain(self) -> None:
        """A few plain full-batch steps on the whole noisy pool: the model is mid-training, not at its start."""
        opt = torch.optim.SGD(self.model.parameters(), lr=0.5)
        for _ in range(self.pretrain_steps):
            opt.zero_grad()
            F.cross_entropy(self.model(self.x_pool), self.y_pool).backward()
            opt.step()

    # --- the controls ------------------------------------------------------------------------------------------
    def resample(self) -> None:
        """Draw a new batch from the training pool; each batch holds at least one flipped label when the pool
        has any (otherwise there is little to see)."""
        noisy = np.flatnonzero((self.y_pool != self.y_clean_pool).numpy())
        idx = self.rng.choice(300, self.n_batch, replace=False)
        if len(noisy) and not np.isin(idx, noisy).any():
            idx[0] = self.rng.choice(noisy)
        self.batch = idx
        self.x = self.x_pool[idx]
        self.y = self.y_pool[idx].clone()
        self.y_clean = self.y_clean_pool[idx]
        self._cache = None

    def flip_label(self, i: int | None = None) -> int:
        """Flip the observed label of batch example ``i`` (default: a random one with a clean label); returns i."""
        if i is None:
            clean = np.flatnonzero((self.y == self.y_clean).numpy())
            i = int(self.rng.choice(clean if len(clean) else np.arange(self.n_batch)))
        i = check_int("i", i, 0, self.n_batch - 1)
        self.y[i] = 1 - self.y[i]
        self._cache = None
        return i

    def new_validation(self) -> None:
        """Draw a new balanced clean validation set of ``n_val`` points."""
        idx = np.concatenate([self.rng.choice(np.flatnonzero(self.y_val_pool.numpy() == c), self.n_val // 2,
                                              replace=False) for c in (0, 1)])
        self.x_val, self.y_val = self.x_val_pool[idx], self.y_val_pool[idx]
        self._cache = None

    @property
    def is_flipped(self) -> np.ndarray:
        """``(n,)`` bool: the observed label differs from the true one."""
        return (self.y != self.y_clean).numpy()

    # --- the numbers -------------------------------------------------------------------------------------------
    def _val_losses(self, thetas: dict[str, torch.Tensor]) -> torch.Tensor:
        """Mean validation loss for a stack of parameter sets (leading dimension K) -> ``(K,)``."""
        def one(p):
            return F.cross_entropy(functional_call(self.model, p, (self.x_val,)), self.y_val)
        return vmap(one)(thetas)

    def compute(self, n_eps: int = 21) -> StepQuantities:
        """One L2RW step on the current batch and validation set (cached until a control changes something)."""
        if self._cache is not None:
            return self._cache
        model, x, y, xv, yv, a = self.model, self.x, self.y, self.x_val, self.y_val, self.alpha
        params = _flat(model)
        keys = list(params)

        def loss_i(p, xi, yi):
            return F.cross_entropy(functional_call(model, p, (xi[None],)), yi[None])

        per = vmap(grad(loss_i), in_dims=(None, 0, 0))(params, x, y)
        grads = torch.cat([per[k].reshape(len(y), -1) for k in keys], 1)                  # (n, P)
        gv = grad(lambda p: F.cross_entropy(functional_call(model, p, (xv,)), yv))(params)
        g_val = torch.cat([gv[k].flatten() for k in keys])                                 # (P,)
        dots = grads @ g_val
        scores = a * dots
        weights = normalize_weights(scores)
        # Algorithm 1 as written (autodiff through the look-ahead step): the slope dL_val/d eps_i at 0
        slopes = -l2rw_scores(model, x, y, xv, yv, lr=a, weights_method="autodiff")
        # validation loss along each example's own look-ahead direction, eps in [-1, 1]
        eps = torch.linspace(-1.0, 1.0, n_eps, dtype=torch.float64)
        shapes = [params[k].shape for k in keys]
        sizes = [params[k].numel() for k in keys]

        def unflatten(flat):  # (K, P) -> dict of (K, *shape)
            parts = torch.split(flat, sizes, dim=1)
            return {k: t.reshape(len(flat), *s) for k, t, s in zip(keys, parts, shapes)}

        theta = torch.cat([params[k].flatten() for k in keys])
        along = theta[None, None, :] - a * eps[None, :, None] * grads[:, None, :]            # (n, k, P)
        curves = self._val_losses(unflatten(along.reshape(-1, len(theta)))).reshape(len(y), n_eps)
        ones = theta[None, :] - a * grads
        lookahead = self._val_losses(unflatten(ones))
        theta_after = theta - self.lr * (weights @ grads)
        after_now = self._val_losses(unflatten(torch.stack([theta, theta_after])))
        g, gvn = grads.numpy(), g_val.numpy()
        basis = projection_basis(g, gvn)
        self._cache = StepQuantities(
            theta=theta.numpy(), theta_after=theta_after.numpy(), grads=g, g_val=gvn, dots=dots.numpy(),
            scores=scores.numpy(), clipped=np.maximum(scores.numpy(), 0.0), weights=weights.numpy(),
            eps=eps.numpy(), val_curves=curves.numpy(), val_loss=float(after_now[0]),
            val_loss_after=float(after_now[1]), lookahead_val=lookahead.numpy(), slopes=slopes.numpy(),
            basis=basis, proj_grads=g @ basis.T, proj_val=basis @ gvn)
        return self._cache


# --- drawing -----------------------------------------------------------------------------------------------------
BOUNDS = (-3.2, 3.2, -3.0, 3.0)


def boundary_line(theta: np.ndarray) -> tuple[list[float], list[float]]:
    """The 2-D boundary ``p(class 1) = 0.5`` of ``theta`` (``W`` 2x2 row-major, then ``b``) as two far-apart
    points on the line ``(W1 - W0) x + (b1 - b0) = 0`` (the axes clip it); empty when the line is undefined."""
    w = theta[:4].reshape(2, 2)
    v, c = w[1] - w[0], theta[5] - theta[4]
    norm2 = float(v @ v)
    if norm2 < 1e-18:
        return [], []
    p0 = -c * v / norm2
    d = np.array([-v[1], v[0]]) / np.sqrt(norm2)
    ends = [p0 - 50 * d, p0 + 50 * d]
    return [float(e[0]) for e in ends], [float(e[1]) for e in ends]


def _segments(starts: np.ndarray, ends: np.ndarray) -> tuple[list, list]:
    xs, ys = [], []
    for s, e in zip(starts, ends):
        xs += [float(s[0]), float(e[0]), None]
        ys += [float(s[1]), float(e[1]), None]
    return xs, ys


def _lines(items) -> tuple[list, list]:
    xs, ys = [], []
    for lx, ly in items:
        if lx:
            xs += lx + [None]
            ys += ly + [None]
    return xs, ys


TRACE_NAMES = ("boundary now", "look-ahead: val loss down", "look-ahead: val loss up", "boundary after update",
               "batch", "flipped label", "validation set",
               "-grad f_i (clean label)", "-grad f_i (flipped label)", "-grad L_val",
               "L_val(eps_i)", "tangent at 0: score > 0", "tangent at 0: score < 0",
               "score alpha<g_val, g_i>", "clipped max(score, 0)", "weight (right axis)")


def plotly_text(text: str) -> str:
    """``text`` for a plotly title, legend entry or annotation: plotly.js reads ``<...>`` as its own markup and
    drops what it does not know (``alpha <g_val, g_i>`` would show as ``alpha``), so ``<``, ``>``, ``&`` are
    escaped (plotly.js shows the entities as the characters)."""
    return html.escape(text, quote=False)


def stage_caption_html(stage: int) -> str:
    """The caption of stage ``stage`` (0-based) as escaped HTML: ``<b>Stage k of 8: name.</b> what it shows``."""
    name = STAGES[stage]
    return f"<b>Stage {stage + 1} of {len(STAGES)}: {html.escape(name)}.</b> {html.escape(STAGE_TEXT[name])}"


def empty_stepthrough_figure(width: int = 1000, height: int = 760) -> go.Figure:
    """The widget's figure with every trace present and empty (the stages fill them)."""
    fig = make_subplots(2, 2, horizontal_spacing=0.1, vertical_spacing=0.14,
                        specs=[[{}, {}], [{}, {"secondary_y": True}]],
                        subplot_titles=["data: batch, validation set, boundary",
                                        "parameter space (projection: x = validation direction)",
                                        "validation loss vs eps_i (look-ahead on example i)",
                                        plotly_text("scores -> clip -> normalise")])
    line = lambda name, color, width=2, dash="solid": go.Scatter(  # noqa: E731
        x=[], y=[], mode="lines", name=name, line=dict(color=color, width=width, dash=dash), hoverinfo="skip")
    fig.add_trace(line("boundary now", "black", 3), 1, 1)
    fig.add_trace(line("look-ahead: val loss down", GOOD, 1, "dot"), 1, 1)
    fig.add_trace(line("look-ahead: val loss up", BAD, 1, "dot"), 1, 1)
    fig.add_trace(line("boundary after update", GOOD, 4), 1, 1)
    fig.add_trace(go.Scatter(x=[], y=[], mode="markers+text", name="batch", textposition="top center",
                             marker=dict(size=12, line=dict(color="white", width=1)), showlegend=False), 1, 1)
    fig.add_trace(go.Scatter(x=[], y=[], mode="markers", name="flipped label",
                             marker=dict(size=20, color="rgba(0,0,0,0)", line=dict(color=GROUP_COLORS["noisy"],
                                                                                   width=2))), 1, 1)
    fig.add_trace(go.Scatter(x=[], y=[], mode="markers", name="validation set",
                             marker=dict(size=11, symbol="x", color="black", line=dict(color="black", width=1))),
                  1, 1)
    fig.add_trace(line("-grad f_i (clean label)", GROUP_COLORS["clean"], 2), 1, 2)
    fig.add_trace(line("-grad f_i (flipped label)", GROUP_COLORS["noisy"], 2), 1, 2)
    fig.add_trace(line("-grad L_val", "black", 4), 1, 2)
    fig.add_trace(line("L_val(eps_i)", "#888888", 1.5), 2, 1)
    fig.add_trace(line("tangent at 0: score > 0", GOOD, 4), 2, 1)
    fig.add_trace(line("tangent at 0: score < 0", BAD, 4), 2, 1)
    fig.add_trace(go.Bar(x=[], y=[], name=plotly_text("score alpha<g_val, g_i>"), marker_color="#9467bd"), 2, 2)
    fig.add_trace(go.Bar(x=[], y=[], name="clipped max(score, 0)", marker_color="#8c564b"), 2, 2)
    fig.add_trace(go.Bar(x=[], y=[], name="weight (right axis)", marker_color=GOOD, opacity=0.7), 2, 2,
                  secondary_y=True)
    # legend entries for the marker shapes (the batch trace itself mixes both)
    for c in (0, 1):
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=f"observed label {c}",
                                 marker=dict(size=10, symbol=CLASS_SYMBOLS[c], color=CLASS_COLORS[c])), 1, 1)
    fig.update_xaxes(range=list(BOUNDS[:2]), title_text="feature 1", row=1, col=1)
    fig.update_yaxes(range=list(BOUNDS[2:]), title_text="feature 2", row=1, col=1)
    fig.update_xaxes(title_text="along -grad L_val (exact)", zeroline=True, row=1, col=2)
    fig.update_yaxes(title_text="largest other direction", zeroline=True, row=1, col=2)
    fig.update_xaxes(title_text="eps_i", row=2, col=1)
    fig.update_yaxes(title_text="L_val (nats)", row=2, col=1)
    fig.update_xaxes(title_text="example", dtick=1, row=2, col=2)
    fig.update_yaxes(title_text="score", row=2, col=2)
    fig.update_yaxes(title_text="weight", range=[0, 1.05], secondary_y=True, showgrid=False, row=2, col=2)
    fig.update_layout(template=TEMPLATE, width=width, height=height, barmode="group", margin=dict(t=70),
                      legend=dict(orientation="h", y=-0.08, x=0.5, xanchor="center", font=dict(size=10)),
                      title=dict(text="", font=dict(size=14)))
    return fig


def stage_data(problem: StepThroughProblem, stage: int) -> dict[str, dict]:
    """Trace name -> the properties to set for stage ``stage`` (0-based index into :data:`STAGES`); the traces
    of later stages are empty. Returns plain lists, ready for a FigureWidget update."""
    stage = check_int("stage", stage, 0, len(STAGES) - 1)
    q = problem.compute()
    n = problem.n_batch
    x, y = problem.x.numpy(), problem.y.numpy()
    flipped = problem.is_flipped
    ids = [str(i) for i in range(n)]
    empty = {"x": [], "y": []}
    out: dict[str, dict] = {name: dict(empty) for name in TRACE_NAMES}
    bx, by = boundary_line(q.theta)
    out["boundary now"] = {"x": bx, "y": by}
    size = np.full(n, 12.0)
    if stage >= 7:
        size = 6.0 + 26.0 * np.sqrt(q.weights / max(float(q.weights.max()), 1e-12))
    out["batch"] = {"x": x[:, 0].tolist(), "y": x[:, 1].tolist(), "text": ids,
                    "marker.symbol": [CLASS_SYMBOLS[c] for c in y], "marker.color": [CLASS_COLORS[c] for c in y],
                    "marker.size": size.tolist()}
    out["flipped label"] = {"x": x[flipped, 0].tolist(), "y": x[flipped, 1].tolist(),
                            "marker.size": (size[flipped] + 8).tolist()}
    xv = problem.x_val.numpy()
    # the validation points' classes matter (they decide which way the validation gradient points): colour = class
    out["validation set"] = {"x": xv[:, 0].tolist(), "y": xv[:, 1].tolist(),
                             "marker.color": [CLASS_COLORS[c] for c in problem.y_val.numpy()]}
    if stage >= 1:
        # descent steps -alpha g, projected; the horizontal axis runs along -g_val (basis row 0 is +g_val, so flip
        # its sign): the validation arrow points right, and so does every example with a positive score
        flip = np.array([-1.0, 1.0])
        tips = -problem.alpha * q.proj_grads * flip
        for mask, name in ((~flipped, "-grad f_i (clean label)"), (flipped, "-grad f_i (flipped label)")):
            sx, sy = _segments(np.zeros((int(mask.sum()), 2)), tips[mask])
            out[name] = {"x": sx, "y": sy}
        vx, vy = _segments(np.zeros((1, 2)), -problem.alpha * q.proj_val[None] * flip)
        out["-grad L_val"] = {"x": vx, "y": vy}
    if stage >= 2:
        down = q.lookahead_val < q.val_loss
        theta_i = q.theta[None, :] - problem.alpha * q.grads
        for mask, name in ((down, "look-ahead: val loss down"), (~down, "look-ahead: val loss up")):
            lx, ly = _lines(boundary_line(t) for t in theta_i[mask])
            out[name] = {"x": lx, "y": ly}
    if stage >= 3:
        cx, cy = [], []
        for curve in q.val_curves:
            cx += q.eps.tolist() + [None]
            cy += curve.tolist() + [None]
        out["L_val(eps_i)"] = {"x": cx, "y": cy}
        half = 0.3
        for sign, name in ((1, "tangent at 0: score > 0"), (-1, "tangent at 0: score < 0")):
            tx, ty = [], []
            for s in q.slopes:
                if (-s > 0) == (sign > 0):   # score = -slope
                    tx += [-half, half, None]
                    ty += [q.val_loss - half * s, q.val_loss + half * s, None]
            out[name] = {"x": tx, "y": ty}
    if stage >= 4:
        out["score alpha<g_val, g_i>"] = {"x": list(range(n)), "y": q.scores.tolist()}
    if stage >= 5:
        out["clipped max(score, 0)"] = {"x": list(range(n)), "y": q.clipped.tolist()}
    if stage >= 6:
        out["weight (right axis)"] = {"x": list(range(n)), "y": q.weights.tolist()}
    if stage >= 7:
        ax, ay = boundary_line(q.theta_after)
        out["boundary after update"] = {"x": ax, "y": ay}
    return out


def stage_title(problem: StepThroughProblem, stage: int) -> str:
    """The figure title for ``stage``: which stage, and the numbers that matter there."""
    q = problem.compute()
    name = STAGES[stage]
    extra = ""
    if name == "update":
        extra = f": validation loss {q.val_loss:.3f} -> {q.val_loss_after:.3f}"
    elif name in ("dot products", "clip", "normalise"):
        extra = f": {int((q.scores > 0).sum())} of {problem.n_batch} scores positive"
    return f"stage {stage + 1}/{len(STAGES)}: {name}{extra}"


def apply_stage(fig: go.Figure, problem: StepThroughProblem, stage: int) -> None:
    """Write stage ``stage`` of ``problem`` into ``fig`` (a figure from :func:`empty_stepthrough_figure`), in one
    update."""
    data = stage_data(problem, stage)
    by_name = {html.unescape(t.name): t for t in fig.data}
    q = problem.compute()
    # score axis (left) and weight axis (right) share their zero line, so a weight bar starts where a score bar does
    top = 1.15 * max(float(q.scores.max()), 1e-12)
    bottom = 1.15 * min(float(q.scores.min()), 0.0)
    with fig.batch_update():
        for name, props in data.items():
            by_name[name].update(props)
        fig.layout.title.text = plotly_text(stage_title(problem, stage))
        fig.layout.yaxis4.range = [bottom, top]
        fig.layout.yaxis5.range = [bottom / top * 1.05, 1.05]


def stepthrough_figure(problem: StepThroughProblem, stage: int | str = "update", width: int = 1000,
                       height: int = 760) -> go.Figure:
    """A static figure of one stage (by index or name), e.g. for a page without a kernel."""
    if isinstance(stage, str):
        if stage not in STAGES:
            raise ValueError(f"stage={stage!r}; allowed: {', '.join(STAGES)}")
        stage = STAGES.index(stage)
    fig = empty_stepthrough_figure(width, height)
    apply_stage(fig, problem, stage)
    return fig


class StepThrough(widgets.VBox):
    """The step-through widget: back / next through :data:`STAGES`, plus resample / flip a label / new
    validation set. Works in JupyterLab and Voila (one ``FigureWidget``; its synced state is refreshed after each
    redraw so a view created later shows the current stage).

    Args:
        problem: a :class:`StepThroughProblem` (default: ``StepThroughProblem()``).
        width, height: figure size in pixels (explicit: a FigureWidget in a box needs them).
    Attributes:
        stage: the current stage index; last_update_ms: wall time of the last redraw in Python (compute + figure
            update); update_times_ms / update_cpu_ms: wall and CPU time (this thread) of every redraw.
    """

    def __init__(self, problem: StepThroughProblem | None = None, width: int = 1000, height: int = 760):
        from .widgets import sync_widget_state

        self._sync = sync_widget_state
        self.problem = problem if problem is not None else StepThroughProblem()
        self.stage = 0
        self.last_update_ms = float("nan")
        self.update_times_ms: list[float] = []   # wall clock of each redraw
        self.update_cpu_ms: list[float] = []     # CPU time of each redraw (steady on a loaded machine)
        self.figure = go.FigureWidget(empty_stepthrough_figure(width, height))
        self.back_button = widgets.Button(description="< back", layout=widgets.Layout(width="90px"))
        self.next_button = widgets.Button(description="next >", button_style="primary",
                                          layout=widgets.Layout(width="90px"))
        self.resample_button = widgets.Button(description="resample batch", icon="random")
        self.flip_button = widgets.Button(description="flip a label", icon="exchange")
        self.validation_button = widgets.Button(description="new validation set", icon="refresh")
        self.caption = widgets.HTML()
        self.back_button.on_click(lambda _: self.go(self.stage - 1))
        self.next_button.on_click(lambda _: self.go(self.stage + 1))
        self.resample_button.on_click(lambda _: self._change(self.problem.resample))
        self.flip_button.on_click(lambda _: self._change(self.problem.flip_label))
        self.validation_button.on_click(lambda _: self._change(self.problem.new_validation))
        controls = widgets.HBox([self.back_button, self.next_button, widgets.HTML("&nbsp;&nbsp;|&nbsp;&nbsp;"),
                                 self.resample_button, self.flip_button, self.validation_button])
        super().__init__([controls, self.caption, self.figure])
        self.redraw()

    def go(self, stage: int) -> None:
        """Show stage ``stage`` (clamped to the valid range)."""
        self.stage = min(max(int(stage), 0), len(STAGES) - 1)
        self.redraw()

    def _change(self, action) -> None:
        action()
        self.redraw()

    def redraw(self) -> None:
        """Recompute (if a control changed the problem) and draw the current stage; time it."""
        start, cpu_start = time.perf_counter(), time.thread_time()
        apply_stage(self.figure, self.problem, self.stage)
        self.caption.value = stage_caption_html(self.stage)
        self.back_button.disabled = self.stage == 0
        self.next_button.disabled = self.stage == len(STAGES) - 1
        self._sync(self.figure)
        self.last_update_ms = (time.perf_counter() - start) * 1000
        self.update_times_ms.append(self.last_update_ms)
        self.update_cpu_ms.append((time.thread_time() - cpu_start) * 1000)


__all__ = ["STAGES", "StepQuantities", "StepThrough", "StepThroughProblem", "apply_stage", "boundary_line",
           "empty_stepthrough_figure", "plotly_text", "projection_basis", "stage_caption_html", "stage_data",
           "stepthrough_figure"]
