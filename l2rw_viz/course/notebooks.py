"""Small helpers that several course notebooks share (``notebooks/NN_*.ipynb``).

Only what two or more notebooks need lives here: announcing the device, a hand-written full-batch weighted fit for
toy problems (the teaching version of the trainer), per-class accuracy, and decision boundaries of several models
on one 2-D picture, the toy weights over seeds. Everything else the notebooks call comes from the library proper
(``data``, ``reweight``, ``train``, ``methods``, ``experiments``, ``viz``).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import plotly.graph_objects as go
import torch
import torch.nn.functional as F
from torch import nn

from ..checks import check_choice, check_in_range, check_int
from ..device import describe_device, resolve_device
from ..reweight import weighted_loss
from ..settings import smoke_mode
from ..viz.boundary import boundary_grid, grid_bounds

# The notebooks compare trained parameters as plain numbers (``float((a - b).abs().max())``); torch then warns that
# a tensor which requires grad becomes a scalar, which is exactly what is meant there. Expected in the course (whose
# notebooks import this module), so filtered here, by its message only.
warnings.filterwarnings("ignore", message="Converting a tensor with requires_grad=True to a scalar",
                        category=UserWarning)

# Colours used for the two classes of a toy problem and for "special" examples throughout the course.
CLASS_COLORS = ("#1f77b4", "#ff7f0e")
BOUNDARY_COLORS = ("#222222", "#d62728", "#2ca02c", "#9467bd", "#8c564b")


def announce_device(device: str | torch.device = "auto") -> torch.device:
    """Resolve ``device`` (``"auto"``: CUDA when present, else CPU), print it and the smoke switch, return it."""
    dev = resolve_device(device)
    mode = "smoke mode (L2RW_SMOKE=1: short runs)" if smoke_mode() else "full mode"
    print(f"device: {describe_device(dev)} | {mode} | torch {torch.__version__}")
    return dev


def fit_weighted(model: nn.Module, x: torch.Tensor, y: torch.Tensor, weights: torch.Tensor | None = None, *,
                 steps: int = 300, lr: float = 0.5, momentum: float = 0.9) -> list[float]:
    """Full-batch SGD on the weighted loss ``sum_i w_i f_i`` (the paper's Eq. 1 with fixed weights), in place.

    The teaching version of :func:`l2rw_viz.train.train` for toy problems: every step sees all ``n`` examples, so
    the weights are the *only* thing that decides how much each example pulls on the parameters.

    Args:
        model: maps ``(n, *F)`` to logits ``(n, C)``; trained in place on ``x``'s device.
        x: ``(n, *F)`` float inputs; y: ``(n,)`` int64 labels.
        weights: ``(n,)`` non-negative float; ``None`` means uniform ``1/n`` (the ordinary mean loss). They are
            used as given (not renormalised), so their sum acts like a learning-rate factor.
        steps: SGD steps (>= 1); lr > 0; momentum in [0, 1).
    Returns:
        The weighted loss before each step (length ``steps``), in nats.
    """
    steps = check_int("steps", steps, 1)
    check_in_range("lr", lr, 0.0, float("inf"), low_open=True, high_open=True)
    check_in_range("momentum", momentum, 0.0, 1.0, high_open=True)
    if weights is None:
        weights = torch.full((len(y),), 1.0 / len(y), dtype=x.dtype, device=x.device)
    if weights.shape != y.shape:
        raise ValueError(f"weights has shape {tuple(weights.shape)}; allowed: the shape of y {tuple(y.shape)}")
    if bool((weights < 0).any()):
        raise ValueError("weights has negative entries; allowed: weights >= 0")
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    losses = []
    for _ in range(steps):
        per_example = F.cross_entropy(model(x), y, reduction="none")  # (n,) one loss per example
        loss = weighted_loss(per_example, weights)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses


@torch.no_grad()
def per_class_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, num_classes: int) -> np.ndarray:
    """``(num_classes,)`` float: the share of each class's examples that ``model`` labels correctly (its recall).

    Plain accuracy hides a minority class; this does not. NaN for a class with no examples. ``x``, ``y`` are
    moved to the model's device; the model runs in eval mode, which is restored afterwards.
    """
    dev = next(model.parameters()).device
    was = model.training
    model.eval()
    pred = model(x.to(dev)).argmax(1).cpu()
    model.train(was)
    y = y.cpu()
    return np.array([float((pred[y == c] == c).float().mean()) if bool((y == c).any()) else float("nan")
                     for c in range(num_classes)])


def boundary_figure(models: Mapping[str, nn.Module], x: torch.Tensor, y: torch.Tensor,
                    weights: torch.Tensor | np.ndarray | None = None, *, title: str = "",
                    highlight: torch.Tensor | np.ndarray | None = None, highlight_name: str = "marked",
                    shade: bool = True, class_names: tuple[str, str] = ("class 0", "class 1")) -> go.Figure:
    """Decision boundaries (``p(class 1) = 0.5``) of one or more 2-D binary models over the training points.

    Args:
        models: legend name -> model; each draws one boundary line (solid for the first, dashed for the rest);
            the *last* one also shades ``p(class 1)`` in the background if ``shade``.
        x: ``(n, 2)`` points; y: ``(n,)`` labels in {0, 1} (the labels the model was trained on).
        weights: optional ``(n,)`` non-negative weights; marker area grows with the weight (0 = a hollow dot).
        highlight: optional ``(n,)`` bool mask, drawn with a black ring (e.g. flipped labels) and named
            ``highlight_name`` in the legend.
    Returns:
        A static ``go.Figure`` (600 x 640 px), ready for ``fig.show()`` or ``export_html``.
    """
    x_np = x.detach().cpu().numpy()
    y_np = y.detach().cpu().numpy()
    bounds = grid_bounds(x_np)
    fig = go.Figure()
    for k, (name, model) in enumerate(models.items()):
        grid = boundary_grid(model, bounds, resolution=100)
        xs, ys, p = grid.xs, grid.ys, grid.prob
        if k == len(models) - 1 and shade:
            fig.add_trace(go.Heatmap(x=xs, y=ys, z=p, zmin=0, zmax=1, colorscale=[[0, "#dbe9f6"], [1, "#fde3c8"]],
                                     showscale=False, hoverinfo="skip", name="p(class 1)"))
        color = BOUNDARY_COLORS[k % len(BOUNDARY_COLORS)]
        fig.add_trace(go.Contour(x=xs, y=ys, z=p, contours=dict(start=0.5, end=0.5, size=1, coloring="none"),
                                 line=dict(color=color, width=3, dash="solid" if k == 0 else "dash"),
                                 showscale=False, name=name, showlegend=True, hoverinfo="skip"))
    if weights is None:
        size = np.full(len(y_np), 7.0)
    else:
        w = weights.detach().cpu().numpy() if isinstance(weights, torch.Tensor) else np.asarray(weights, float)
        size = 4.0 + 18.0 * np.sqrt(w / max(w.max(), 1e-12))  # marker *area* proportional to the weight
    for c in (0, 1):
        m = y_np == c
        fig.add_trace(go.Scatter(x=x_np[m, 0], y=x_np[m, 1], mode="markers", name=f"label {class_names[c]}",
                                 marker=dict(size=size[m], color=CLASS_COLORS[c], opacity=0.8,
                                             line=dict(width=0.5, color="white"))))
    if highlight is not None:
        h = highlight.cpu().numpy() if isinstance(highlight, torch.Tensor) else np.asarray(highlight)
        h = h.astype(bool)
        fig.add_trace(go.Scatter(x=x_np[h, 0], y=x_np[h, 1], mode="markers", name=highlight_name,
                                 marker=dict(size=size[h] + 6, color="rgba(0,0,0,0)",
                                             line=dict(width=1.5, color="black"))))
    fig.update_layout(title=title, width=600, height=640, template="plotly_white",
                      xaxis=dict(title="feature 1", range=list(bounds[:2]), showgrid=False, zeroline=False),
                      yaxis=dict(title="feature 2", range=list(bounds[2:]), showgrid=False, zeroline=False,
                                 scaleanchor="x"),
                      legend=dict(orientation="h", y=-0.12, x=0.5, xanchor="center"))
    return fig


def add_shape_legend(fig: go.Figure, class_names: tuple[str, str] = ("label 0", "label 1"),
                     symbols: tuple[str, str] = ("circle", "triangle-up")) -> go.Figure:
    """Add legend-only entries that say what each marker *shape* means (the observed label), in place.

    The toy figures draw both labels in one trace with a per-point symbol, which the legend cannot show by itself.
    """
    for name, symbol in zip(class_names, symbols):
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=f"shape: {name}", hoverinfo="skip",
                                 marker=dict(size=10, symbol=symbol, color="#aaaaaa", line=dict(color="black",
                                                                                               width=1))))
    return fig


# --- notebook 5: what clip and normalise are for -----------------------------------------------------------------
WEIGHT_RULES = ("paper", "no clip", "no normalise")


def rule_weights(scores: torch.Tensor, rule: str) -> torch.Tensor:
    """Turn L2RW scores ``(b,)`` (``alpha <g_val, g_i>``) into weights ``(b,)`` by one of :data:`WEIGHT_RULES`.

    - ``"paper"``: Algorithm 1, line 11: ``max(u, 0) / sum max(u, 0)`` (all zero when nothing is positive);
    - ``"no clip"``: keep negative weights, normalise by the total magnitude: ``u / sum |u|`` (an example with
      ``u_i < 0`` is then trained with gradient *ascent*);
    - ``"no normalise"``: ``max(u, 0)`` as it is: the step's size now scales with ``alpha`` and the gradients' sizes.
    """
    from ..reweight import normalize_weights

    check_choice("rule", rule, WEIGHT_RULES)
    scores = scores.detach()
    if rule == "paper":
        return normalize_weights(scores)
    if rule == "no clip":
        total = scores.abs().sum()
        return scores / total if float(total) > 0 else torch.zeros_like(scores)
    return scores.clamp(min=0)


def train_weight_rule(model: nn.Module, data, rule: str, *, alpha: float = 1.0, steps: int = 500, lr: float = 0.05,
                      batch_size: int = 32, seed: int = 0, eval_every: int = 25) -> dict[str, np.ndarray]:
    """Plain-SGD training with L2RW scores turned into weights by ``rule`` (see :func:`rule_weights`), in place.

    The teaching loop of notebook 5's "what if we skip a step of line 11" runs: batches of ``batch_size`` drawn
    from ``data`` (a :class:`~l2rw_viz.data.BiasedDataset`) with ``seed``; scores with look-ahead step ``alpha``
    (the identity, ``weights_method="jvp"``); update ``theta -= lr * grad sum_i w_i f_i``. On the CPU.
    Returns:
        ``{"eval_steps" (k,), "test_accuracy" (k,), "weight_sum" (steps,) sum_i w_i, "negative_share" (steps,)
        share of the batch with w_i < 0, "diverged": bool}``; training stops early (``diverged``) when the loss
        or the parameters stop being finite.
    """
    from ..reweight import l2rw_scores

    steps = check_int("steps", steps, 1)
    eval_every = check_int("eval_every", eval_every, 1)
    check_in_range("alpha", alpha, 0.0, float("inf"), low_open=True, high_open=True)
    check_in_range("lr", lr, 0.0, float("inf"), low_open=True, high_open=True)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    evals, accs, sums, negs = [], [], [], []
    diverged = False
    for step in range(steps):
        idx = torch.randperm(len(data.y), generator=gen)[:batch_size]
        xb, yb = data.x[idx], data.y[idx]
        w = rule_weights(l2rw_scores(model, xb, yb, data.x_val, data.y_val, lr=alpha, weights_method="jvp"), rule)
        loss = weighted_loss(F.cross_entropy(model(xb), yb, reduction="none"), w)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sums.append(float(w.sum()))
        negs.append(float((w < 0).float().mean()))
        finite = bool(torch.isfinite(loss)) and all(bool(torch.isfinite(p).all()) for p in model.parameters())
        if (step + 1) % eval_every == 0 or step == steps - 1 or not finite:
            with torch.no_grad():
                acc = float((model(data.x_test).argmax(1) == data.y_test).float().mean()) if finite else 0.5
            evals.append(step + 1)
            accs.append(acc)
        if not finite:
            diverged = True
            break
    return {"eval_steps": np.array(evals), "test_accuracy": np.array(accs), "weight_sum": np.array(sums),
            "negative_share": np.array(negs), "diverged": diverged}


# --- notebook 5: the paper's layer-wise form of the score ---------------------------------------------------------
def layerwise_score_parts(model: nn.Module, x: torch.Tensor, y: torch.Tensor, x_val: torch.Tensor,
                          y_val: torch.Tensor) -> tuple[list[str], torch.Tensor]:
    """Each ``nn.Linear`` layer's share of ``<grad f_i, grad L_val>``, from activations and backward signals.

    For a linear layer ``z = a W^T + b``, example i's gradient is ``dW = delta_i a_i^T`` (``delta_i = df_i/dz_i``,
    the backward signal; ``a_i`` the layer's input, the activation) and ``db = delta_i``. The validation gradient of
    that layer is the same formula averaged over validation examples, ``G_W = mean_j delta^v_j (a^v_j)^T``. So the
    layer's share of the dot product is ``delta_i^T G_W a_i + delta_i . G_b``: no per-example gradient is ever
    formed (the paper's cost argument, Sec. 3.4 / appendix). Every trainable parameter must sit in a Linear layer.

    Returns:
        ``(names, parts)``: the layers' names and ``parts`` ``(b, L)`` float; ``parts.sum(1)`` is the dot product
        of the identity (``lr`` times it is the L2RW score).
    """
    layers = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    in_linear = {id(p) for _, m in layers for p in m.parameters()}
    if not layers or any(id(p) not in in_linear for p in model.parameters() if p.requires_grad):
        raise ValueError(f"model={type(model).__name__}; allowed: a model whose trainable parameters all sit in "
                         "nn.Linear layers")

    def signals(inputs, targets, per_example):
        """Forward once with hooks; return each layer's inputs a and backward signals delta."""
        acts, outs = [], []

        def keep(module, args, out):   # returns None: the layer's output is left as it is
            acts.append(args[0].detach())
            outs.append(out)

        hooks = [m.register_forward_hook(keep) for _, m in layers]
        try:
            losses = F.cross_entropy(model(inputs), targets, reduction="none")
        finally:
            for h in hooks:
                h.remove()
        total = losses.sum() if per_example else losses.mean()
        deltas = torch.autograd.grad(total, outs)   # per example: d f_i / d z_i (examples are independent)
        return acts, deltas

    a_tr, d_tr = signals(x, y, True)
    a_v, d_v = signals(x_val, y_val, False)
    parts = []
    for (_, m), a, d, av, dv in zip(layers, a_tr, d_tr, a_v, d_v):
        g_w = dv.T @ av                                              # validation gradient of W: (out, in)
        part = ((d @ g_w) * a).sum(1)                                # delta_i^T G_W a_i
        if m.bias is not None:
            part = part + d @ dv.sum(0)                              # delta_i . G_b
        parts.append(part.detach())
    return [n for n, _ in layers], torch.stack(parts, 1)


def toy_weights_over_seeds(state, seeds, method: str = "l2rw"):
    """One toy run per seed of the explorer's set-up ``state`` (an :class:`~l2rw_viz.viz.ExplorerState`), and the
    mean weight ``x B`` each group got: what notebook 8 (and notebook 5) may say about "flipped labels get less
    weight" is then measured over seeds, not read off one run.

    Returns:
        ``pandas.DataFrame`` indexed by seed: ``test_accuracy`` (fraction), ``flipped``, ``clean``, ``minority``,
        ``majority`` (mean over the recorded steps of the group's mean ``weight * B``; 1 = uniform), and
        ``flipped_labelled_minority`` (the share of flipped examples that carry the minority's label: with
        imbalance and flips at once most do, and L2RW up-weights that label as a whole).
    """
    import pandas as pd

    from ..viz.live import train_toy

    rows = []
    for seed in seeds:
        run = train_toy(state.replace(seed=int(seed), method=method), boundary_every=10**9, resolution=2)
        h = run.history
        flipped, minority = np.asarray(h.is_noisy, bool), np.asarray(h.is_minority, bool)
        label = int(np.bincount(h.y_clean[minority]).argmax()) if minority.any() else -1   # the minority's class
        rows.append(dict(seed=int(seed), test_accuracy=h.final_test_accuracy,
                         **{g: float(np.nanmean(h.mean_weight(k))) for g, k in
                            (("flipped", "noisy"), ("clean", "clean"), ("minority", "minority"),
                             ("majority", "majority"))},
                         flipped_labelled_minority=float((h.y[flipped] == label).mean()) if flipped.any() else np.nan))
    return pd.DataFrame(rows).set_index("seed")


def wide_markdown(text: str, font_px: int = 12, widths=None):
    """Markdown with wide tables (``docs/departures.md`` in notebook 6) as HTML that fits the page: fixed-layout
    tables at 100 % width whose cells wrap, in a box that scrolls sideways if a word still does not fit. Raw HTML in
    ``text`` is escaped (HTML comments are dropped). ``widths``: column widths in percent (e.g. ``(35, 50, 15)``);
    default equal columns. Returns an ``IPython.display.HTML``."""
    import re

    import mistune
    from IPython.display import HTML

    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)   # comments are invisible in Markdown: not shown escaped
    body = mistune.create_markdown(escape=True, plugins=["table"])(text)
    style = ("<style>.l2rw-wide{overflow-x:auto;max-width:100%}"
             ".l2rw-wide table{table-layout:fixed;width:100%;border-collapse:collapse}"
             f".l2rw-wide th,.l2rw-wide td{{font-size:{int(font_px)}px;vertical-align:top;padding:3px 5px;"
             "white-space:normal;overflow-wrap:anywhere;border-bottom:1px solid #ddd;text-align:left}"
             ".l2rw-wide td code{white-space:normal}"
             + "".join(f".l2rw-wide th:nth-child({i + 1}){{width:{float(w):g}%}}" for i, w in enumerate(widths or ()))
             + "</style>")
    return HTML(f"{style}<div class='l2rw-wide'>{body}</div>")
