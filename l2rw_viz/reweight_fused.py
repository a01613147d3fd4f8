"""The fused L2RW step: Algorithm 1's weights (lines 4-11) and the weighted update (lines 12-13) from the training
step's own forward and backward — the algorithm's fast path, next to :mod:`l2rw_viz.reweight` (which it must agree
with; the tests hold it to the identity). :class:`~l2rw_viz.methods.l2rw.L2RW` plugs it into the trainer.

Momentum belongs to the real update only: the look-ahead of lines 6-7 is plain SGD on the current parameters, and
the step never sees the optimiser, so its weights cannot depend on the momentum buffer.

Three ways to take one step (:class:`L2RWStep` picks one per step). For a deterministic forward (no dropout or other
random layer) all three give the same weights and the same gradient, to float rounding. With dropout, each path
computes its weights and its update from one training forward (Algorithm 1's line 12 reuses line 4's forward: the
same masks), but the paths draw their masks differently, so their weights differ as two draws of dropout do: the
layer-wise path draws one mask over ``[x; x_val]`` in one forward; the dual and unfused ``jvp`` paths run the
validation forward first and the training forward after it; unfused ``autodiff`` runs the training forward first
(line 4) and the validation forward at the look-ahead parameters (line 8) after it.

* ``weights_method="autodiff"`` (or ``fused=False``): weights from the look-ahead (autodiff) or the identity
  (``jvp``), then a fresh forward/backward of the weighted loss — the textbook order, about 3-4x a plain step.
  The fresh forward replays the random state of the weights' training forward (same dropout masks).
* ``fused=True`` with ``weights_method="jvp"``, *layer-wise* path (when every trainable parameter lives in a
  ``Linear``/``Conv*``/``LayerNorm``/``GroupNorm`` layer and examples do not interact): one forward and one
  backward of the training batch with the validation batch appended give, at each such layer ``l``, its inputs
  ``a_l`` and the per-example backward signals ``g_l[i] = df_i/dz_l[i]``; the validation rows give the validation
  gradient ``G`` through each layer's weight-gradient formula. Because ``z_l`` is linear in the layer's
  parameters, the directional derivative of ``f_i`` along ``G`` is ``sum_l <g_l[i], layer_l(a_l[i]; params=G_l)>``
  (for a Linear layer ``g_i^T G_W a_i + g_i . G_b``), which is exactly the score of the identity. The backward
  is linear in the loss gradient, so the weighted backward needs no second pass: the signals of the weighted loss
  are ``w_i g_l[i]``, and each layer's parameter gradient is its usual weight-gradient formula applied to them.
  The first time a model is seen (and again when a module's mode or a parameter's ``requires_grad`` changes),
  this path is checked twice on that batch: in train mode, with the same random state for each pass, replacing
  the validation rows and then every other training row must leave the other rows' outputs unchanged (this
  catches examples that mix in train mode only: ``F.batch_norm(training=True)``, hand-written batch centring),
  and the forward must write no buffer (a running statistic would take in the validation rows; only the training
  forward may update it); in eval mode, its scores must equal the generic JVP (a forward that mixes examples, an
  in-place op on a layer's output, a forward that cannot take the concatenated batch...). If either fails, the
  method warns and takes the generic fused path, which is exact for these models. The check restores the random
  state and every buffer, so it changes nothing in the run.
* ``fused=True``, generic path (any other module): the training forward runs once with forward-mode dual
  parameters (primal ``theta``, tangent ``G``); the tangent of the losses gives the scores and the primal graph
  gives the weighted backward. BatchNorm running statistics (any buffer) are then updated once, by this real
  training forward of the training rows alone.
"""

from __future__ import annotations

import warnings
import weakref
from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.autograd.forward_ad as fwAD
from torch import nn
from torch.func import functional_call, vjp

from .checks import check_model
from .reweight import (
    jvp_scores,
    l2rw_scores,
    normalize_weights,
    validation_gradient,
    weighted_loss,
)

_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
# layers whose output is linear in their own parameters (jointly in weight and bias) and per-example
_LINEAR_IN_PARAMS = (nn.Linear, *_CONV, nn.LayerNorm, nn.GroupNorm)


class FusedOutput(NamedTuple):
    """One step's result: ``loss`` (scalar, with graph; its ``backward()`` gives line 13's gradient), ``weights``
    ``(b,)`` detached (sum to 1 or all zero) and ``per_example_losses`` ``(b,)`` detached (the fields of a
    method's ``StepOutput``)."""

    loss: torch.Tensor
    weights: torch.Tensor
    per_example_losses: torch.Tensor


class L2RWStep:
    """Takes L2RW steps for one method instance, choosing the path per step, and remembers the layer-wise check.

    ``last_path``: ``"layerwise"``, ``"dual"`` or ``"unfused"``, the path the last step took.
    """

    def __init__(self):
        self._checked: weakref.ref | None = None   # the model the layer-wise path was checked on
        self._checked_key: tuple = ()              # its modes and requires_grad flags at that check
        self._layerwise_ok = False
        self.last_path = ""

    def step(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, x_val: torch.Tensor, y_val: torch.Tensor, *,
             loss_fn: Callable, lr: float, weights_method: str = "jvp", fused: bool = True) -> FusedOutput:
        """One step: weights (lines 4-11) and the weighted loss (line 12). ``fused=False`` or
        ``weights_method="autodiff"``: the textbook order (:func:`unfused_step`)."""
        if weights_method != "jvp" or not fused:
            self.last_path = "unfused"
            return unfused_step(model, x, y, x_val, y_val, loss_fn=loss_fn, lr=lr, weights_method=weights_method)
        # The layer-wise pass appends the validation batch to the training batch: cheap for the paper's 10
        # validation images, but a validation batch as large as the training batch doubles that pass, and then the
        # dual path is faster (bench, LeNet, batch 100: val 10 -> layer-wise 1.50x vs dual 1.56x of a plain step;
        # val 100 -> layer-wise 2.65x vs dual 2.37x).
        if len(x_val) <= len(x) // 2 and self.uses_layerwise(model, x, y, x_val, y_val, loss_fn):
            self.last_path = "layerwise"
            return layerwise_step(model, x, y, x_val, y_val, loss_fn=loss_fn, lr=lr)
        self.last_path = "dual"
        return dual_step(model, x, y, x_val, y_val, loss_fn=loss_fn, lr=lr)

    def uses_layerwise(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, x_val: torch.Tensor,
                       y_val: torch.Tensor, loss_fn: Callable) -> bool:
        """Whether the layer-wise path holds for ``model`` (checked on this batch the first time, and again when
        the model, a module's train/eval mode or a parameter's ``requires_grad`` changes)."""
        key = _structure_key(model)
        if self._checked is not None and self._checked() is model and self._checked_key == key:
            return self._layerwise_ok
        self._checked, self._checked_key = weakref.ref(model), key
        self._layerwise_ok = False
        if layerwise_layers(model) is None:
            return False
        reason = _train_mode_refusal(model, x, x_val)
        if reason is None:
            reason = _eval_mode_disagreement(model, x, y, x_val, y_val, loss_fn)
        if reason is not None:
            warnings.warn(f"L2RW: the layer-wise fast path does not hold for {type(model).__name__} ({reason}); "
                          "using the generic fused path for this model", RuntimeWarning, stacklevel=4)
            return False
        self._layerwise_ok = True
        return True


def unfused_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor, x_val: torch.Tensor, y_val: torch.Tensor, *,
                 loss_fn: Callable, lr: float, weights_method: str = "jvp") -> FusedOutput:
    """The textbook order: weights (lines 4-11), then a fresh forward of the training batch for line 12.

    Algorithm 1's line 12 reuses line 4's forward, so the fresh forward runs from the random state that the
    weights' training forward started from: dropout draws the same masks for the update as for the weights.
    Afterwards the random state is where the weights left it (no draw is used twice by later steps)."""
    device = x.device
    check_model(model)
    if weights_method == "jvp":
        # the validation forward comes first on this path; the training forward's masks are drawn after it
        g_val = validation_gradient(model, x_val, y_val, loss_fn=loss_fn)
        train_state = _rng_states(device)
        scores = jvp_scores(model, x, y, g_val, loss_fn=loss_fn, lr=lr)
    else:
        train_state = _rng_states(device)   # line 4's forward is the first thing autodiff runs
        scores = l2rw_scores(model, x, y, x_val, y_val, loss_fn=loss_fn, lr=lr, weights_method="autodiff")
    after = _rng_states(device)
    weights = normalize_weights(scores)                                              # line 11
    _set_rng_states(device, train_state)
    try:
        losses = loss_fn(model(x), y)                                                # line 4's forward again
    finally:
        _set_rng_states(device, after)
    return FusedOutput(weighted_loss(losses, weights), weights, losses.detach())      # line 12


def _low_precision(dtype: torch.dtype) -> bool:
    """float32 and below: the first-batch check allows a relative error of 1e-3 instead of 1e-8."""
    return dtype in (torch.float16, torch.bfloat16, torch.float32)


def _structure_key(model: nn.Module) -> tuple:
    """What the layer-wise check depends on besides the model itself: each module's mode, each parameter's
    ``requires_grad`` (about 10 us on LeNet)."""
    return (tuple(m.training for m in model.modules()), tuple(p.requires_grad for p in model.parameters()))


def _rng_states(device: torch.device) -> tuple:
    cuda = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
    return torch.get_rng_state(), cuda


def _set_rng_states(device: torch.device, states: tuple) -> None:
    torch.set_rng_state(states[0])
    if states[1] is not None:
        torch.cuda.set_rng_state(states[1], device)


def _train_mode_refusal(model: nn.Module, x: torch.Tensor, x_val: torch.Tensor) -> str | None:
    """Why the layer-wise path would be wrong for ``model`` *in its current (train) mode*, or ``None``.

    The layer-wise pass feeds ``[x; x_val]`` through the model in one batch. That is exact only if (1) no row's
    output depends on another row — hand-written batch centring, ``F.batch_norm(training=True)`` and the like mix
    examples in train mode only, which an eval-mode check cannot see — and (2) the forward writes no buffer (a
    running statistic, e.g. ``InstanceNorm(track_running_stats=True)``, would take in the validation rows; only the
    training forward may update it). Three forwards with the same random state (dropout draws the same masks for
    same-shaped batches): the batch as is, with its validation rows replaced, and with every other training row
    replaced; the untouched rows must not move. The caller's random state and every buffer are restored.
    """
    b, m = len(x), len(x_val)
    x_val = x_val.to(x.dtype)
    buffers = {k: v.detach().clone() for k, v in model.named_buffers()}
    devices = [x.device] if x.device.type == "cuda" else []
    try:
        with torch.no_grad(), torch.random.fork_rng(devices=devices):
            start = _rng_states(x.device)

            def forward(inputs: torch.Tensor) -> torch.Tensor:
                _set_rng_states(x.device, start)
                out = model(inputs)
                changed = [k for k, v in model.named_buffers() if not torch.equal(v, buffers[k])]
                for k, v in model.named_buffers():
                    v.copy_(buffers[k])
                if changed:
                    raise _BufferWrite(", ".join(changed))
                return out.detach()

            base = forward(torch.cat([x, x_val]))
            other_val = forward(torch.cat([x, x[torch.arange(m, device=x.device) % b]]))
            x_half = x.clone()
            x_half[0::2] = x_val[torch.arange(len(x_half[0::2]), device=x.device) % m]
            other_train = forward(torch.cat([x_half, x_val]))
    except _BufferWrite as exc:
        return f"its training forward writes the buffers {exc}, which would then include the validation rows"
    except Exception as exc:   # e.g. a forward that cannot take the concatenated batch
        return f"{type(exc).__name__}: {exc}"
    tol = 1e-5 if _low_precision(base.dtype) else 1e-12
    scale = float(base.abs().max()) if base.numel() else 0.0
    untouched = torch.ones(b + m, dtype=torch.bool, device=base.device)
    untouched[0:b:2] = False
    for other, rows in ((other_val, slice(0, b)), (other_train, untouched)):
        if float((other[rows] - base[rows]).abs().max()) > tol * max(scale, 1.0):
            return "in train mode one example's output depends on the other examples of the batch"
    return None


class _BufferWrite(Exception):
    """Raised inside :func:`_train_mode_refusal` when a training forward changed a buffer."""


def _eval_mode_disagreement(model, x, y, x_val, y_val, loss_fn) -> str | None:
    """Compare the layer-wise scores with the generic JVP on this batch, in eval mode (so that dropout cannot make
    them differ); the reason for refusing, or ``None``. Catches what the layer types cannot show: a forward that
    mixes examples in eval mode, an in-place change of a hooked layer's output, a layer used in a way the
    per-layer formula does not cover. Modes are restored."""
    modes = {mod: mod.training for mod in model.modules()}
    dtype = x.dtype
    try:
        model.eval()
        reference = l2rw_scores(model, x, y, x_val, y_val, loss_fn=loss_fn, lr=1.0, weights_method="jvp")
        fast = layerwise_scores(model, x, y, x_val, y_val, loss_fn=loss_fn)
        dtype = reference.dtype
        scale = reference.abs().max().clamp(min=torch.finfo(dtype).tiny)
        err = float((fast - reference).abs().max() / scale)
    except Exception as exc:   # e.g. a forward that cannot take the concatenated batch
        return f"{type(exc).__name__}: {exc}"
    finally:
        for mod, mode in modes.items():
            mod.training = mode
    tol = 1e-3 if _low_precision(dtype) else 1e-8
    return f"the layer-wise scores disagree with the generic JVP, relative error {err:.2e}" if err > tol else None


# --- the generic fused path: one dual-number forward -------------------------------------------------------------
def dual_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor, x_val: torch.Tensor, y_val: torch.Tensor, *,
              loss_fn: Callable, lr: float) -> FusedOutput:
    """One L2RW step for any module: the training forward carries tangents ``G = grad L_val`` (forward mode), so
    the same pass gives the losses (primal, with graph) and ``<grad f_i, G>`` (tangent)."""
    g_val = validation_gradient(model, x_val, y_val, loss_fn=loss_fn)
    with fwAD.dual_level():
        params = {k: fwAD.make_dual(p, g_val[k]) for k, p in model.named_parameters() if p.requires_grad}
        # the real module buffers: this is the step's own training forward, so BatchNorm statistics move once
        out = fwAD.unpack_dual(loss_fn(functional_call(model, params, (x,)), y))
        losses, directional = out.primal, out.tangent
    weights = normalize_weights(lr * directional.detach())           # line 11
    return FusedOutput(weighted_loss(losses, weights), weights, losses.detach())   # line 12


# --- the layer-wise fused path -------------------------------------------------------------------------------------
def layerwise_layers(model: nn.Module) -> list[nn.Module] | None:
    """The layers the layer-wise path hooks, or ``None`` when it does not apply to ``model``: some trainable
    parameter lives outside a Linear/Conv/LayerNorm/GroupNorm layer, or a BatchNorm in train mode (or any layer
    whose output is changed in place, ``inplace=True``) is present."""
    layers = []
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.training:
            return None
        if getattr(module, "inplace", False):
            return None
        own = [p for p in module.parameters(recurse=False) if p.requires_grad]
        if own:
            if not isinstance(module, _LINEAR_IN_PARAMS):
                return None
            layers.append(module)
    return layers or None


class _Recorder:
    """Forward hooks that keep each hooked layer call's inputs and output (a layer may be called several times)."""

    def __init__(self, layers: list[nn.Module]):
        self.calls: list[tuple[nn.Module, tuple, torch.Tensor]] = []
        self._handles = [m.register_forward_hook(self._hook) for m in layers]

    def _hook(self, module, args, output):
        self.calls.append((module, args, output))

    def remove(self) -> None:
        for h in self._handles:
            h.remove()


def _forward_with_signals(model, layers, x, y, x_val, y_val, loss_fn, names):
    """One forward of the training batch *and* the validation batch (concatenated), one backward of
    ``sum_i f_i + L_val`` to each hooked output ``z``.

    Returns ``(losses (b,), calls, signals, g_val)``: for each hooked layer call, its training inputs and the
    per-example signals ``g = df_i/dz[i]`` of the training rows (examples are independent, so the gradient of the
    sum at example i's rows is that example's own signal; only the signals are asked for, so autograd skips every
    parameter gradient), and ``g_val = grad L_val`` built from the validation rows with each layer's
    weight-gradient formula.
    """
    b = len(y)
    rec = _Recorder(layers)
    try:
        logits = model(torch.cat([x, x_val.to(x.dtype)]))
    finally:
        rec.remove()
    losses = loss_fn(logits[:b], y)
    val_loss = loss_fn(logits[b:], y_val).mean()
    outs = [out for _, _, out in rec.calls]
    signals = torch.autograd.grad(losses.sum() + val_loss, outs, allow_unused=True, materialize_grads=True)
    calls, train_signals, g_val = [], [], {}
    with torch.no_grad():
        for (module, args, _), g in zip(rec.calls, signals):
            a = args[0].detach()
            for local, value in _param_grads(module, (a[b:],), g[b:], None).items():
                p = getattr(module, local)
                if p.requires_grad:
                    k = names[id(p)]
                    g_val[k] = value if k not in g_val else g_val[k] + value
            calls.append((module, (a[:b],), None))
            train_signals.append(g[:b])
    return losses, calls, train_signals, g_val


def _layer_params(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: p for k, p in module.named_parameters(recurse=False)}


def _call_with(module: nn.Module, params: dict[str, torch.Tensor | None], a: torch.Tensor) -> torch.Tensor:
    """``module(a)`` with its parameters replaced by ``params`` (a missing bias: ``None``). The layer's own
    functional form for the layer types the path accepts (``functional_call`` costs about 0.15 ms per call in
    re-parametrisation book-keeping, a quarter of the whole directional pass on LeNet); same arithmetic."""
    if isinstance(module, nn.Linear):
        return torch.nn.functional.linear(a, params["weight"], params.get("bias"))
    if isinstance(module, _CONV):
        return module._conv_forward(a, params["weight"], params.get("bias"))
    if isinstance(module, nn.LayerNorm):
        return torch.nn.functional.layer_norm(a, module.normalized_shape, params.get("weight"), params.get("bias"),
                                              module.eps)
    if isinstance(module, nn.GroupNorm):
        return torch.nn.functional.group_norm(a, module.num_groups, params.get("weight"), params.get("bias"),
                                              module.eps)
    full = {k: (torch.zeros_like(p) if params.get(k) is None else params[k]) for k, p in _layer_params(module).items()}
    return functional_call(module, full, (a,))


def _tangent(module: nn.Module, g_val: dict[str, torch.Tensor], names: dict[int, str]) -> dict[str, torch.Tensor]:
    """The layer's share of ``G`` keyed by local name; a frozen (or missing) bias is left out (adds nothing), a
    frozen weight is zero."""
    tangent = {}
    for local, p in _layer_params(module).items():
        value = g_val.get(names[id(p)]) if p.requires_grad else None
        if value is None and local != "bias":
            value = torch.zeros_like(p)
        if value is not None:
            tangent[local] = value
    return tangent


def _directional(calls, signals, g_val: dict[str, torch.Tensor], names: dict[int, str]) -> torch.Tensor:
    """``(b,)`` ``<grad f_i, G>`` summed over the hooked layer calls: each layer's output with its parameters
    replaced by ``G`` is its output's derivative along ``G`` (linear in the parameters)."""
    total = None
    with torch.no_grad():
        for (module, args, _), g in zip(calls, signals):
            t = _call_with(module, _tangent(module, g_val, names), args[0].detach())
            # per-example dot product; a reduction over the non-batch dims reads channels-last tensors in place
            # (flatten would copy them)
            part = (g * t).sum(dim=tuple(range(1, g.ndim))) if g.ndim > 1 else g * t
            total = part if total is None else total + part
    return total


def layerwise_scores(model: nn.Module, x: torch.Tensor, y: torch.Tensor, x_val: torch.Tensor, y_val: torch.Tensor,
                     *, loss_fn: Callable, lr: float = 1.0) -> torch.Tensor:
    """The L2RW scores ``lr * <grad f_i, grad L_val>`` ``(b,)`` by the layer-wise path alone (for checks)."""
    layers = _require_layers(model)
    names = {id(p): k for k, p in model.named_parameters()}
    _, calls, signals, g_val = _forward_with_signals(model, layers, x, y, x_val, y_val, loss_fn, names)
    return (lr * _directional(calls, signals, g_val, names)).detach()


def _require_layers(model: nn.Module) -> list[nn.Module]:
    layers = layerwise_layers(model)
    if layers is None:
        raise ValueError(f"model={type(model).__name__} does not fit the layer-wise path; allowed: trainable "
                         "parameters only in Linear/Conv/LayerNorm/GroupNorm layers, no BatchNorm in train mode")
    return layers


def _scale(t: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    return t * weights.view(-1, *([1] * (t.ndim - 1)))


def _param_grads(module: nn.Module, args: tuple, g: torch.Tensor,
                 weights: torch.Tensor | None) -> dict[str, torch.Tensor]:
    """Gradients of ``sum_i weights_i * sum(g[i] * module(args)[i])`` with respect to the layer's own parameters:
    its weight-gradient formula on the per-example signals ``g`` scaled by ``weights`` (Algorithm 1, line 13);
    ``weights=None``: unweighted (every weight 1, without the multiplication).

    Closed forms for Linear and zero-padded Conv — where ``sum_i (w_i g_i) a_i^T = sum_i g_i (w_i a_i)^T`` lets
    the smaller of input and signal carry the weights — and a VJP of the layer otherwise.
    """
    a = args[0].detach()
    if isinstance(module, nn.Linear) or (isinstance(module, _CONV) and module.padding_mode == "zeros"
                                         and not isinstance(module.padding, str)):
        if weights is None:
            a_w, g_w = a, g
        elif a.numel() < g.numel():
            a_w, g_w = _scale(a, weights), g
        else:
            a_w, g_w = a, _scale(g, weights)
        out = {}
        if isinstance(module, nn.Linear):
            out["weight"] = g_w.reshape(-1, g.shape[-1]).T @ a_w.reshape(-1, a.shape[-1])
        else:
            _, out["weight"], _ = torch.ops.aten.convolution_backward(
                g_w, a_w, module.weight, None, module.stride, module.padding, module.dilation, False,
                [0] * len(module.stride), module.groups, [False, True, False])
        if module.bias is not None:   # bias: sum over examples (and positions) of w_i g_i
            channel = -1 if isinstance(module, nn.Linear) else 1
            per_example = g.movedim(channel, 1).reshape(len(g), g.shape[channel], -1).sum(2)   # (b, out)
            ones = torch.ones(len(g), dtype=g.dtype, device=g.device) if weights is None else None
            out["bias"] = (ones if weights is None else weights) @ per_example
        return out
    params = {k: p.detach() for k, p in _layer_params(module).items()}
    _, pullback = vjp(lambda p: functional_call(module, p, tuple(x.detach() if isinstance(x, torch.Tensor) else x
                                                                  for x in args)), params)
    return pullback(g if weights is None else _scale(g, weights))[0]


class _PrecomputedBackward(torch.autograd.Function):
    """A scalar whose backward hands the parameters gradients computed by ``compute()`` (called lazily, so a
    skipped update costs nothing)."""

    @staticmethod
    def forward(ctx, value, compute, *params):
        ctx.compute = compute
        return value.clone()

    @staticmethod
    def backward(ctx, grad_out):
        grads = ctx.compute()
        return (None, None, *[grad_out * g for g in grads])


def layerwise_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor, x_val: torch.Tensor, y_val: torch.Tensor, *,
                   loss_fn: Callable, lr: float) -> FusedOutput:
    """One L2RW step from one training forward and one backward (plus the small validation pass).

    Returns a FusedOutput whose ``loss`` is ``sum_i w_i f_i`` and whose ``backward()`` puts exactly the gradient of
    that weighted loss into the parameters' ``.grad`` (Algorithm 1, line 13), built from the saved activations
    and the per-example signals scaled by ``w_i`` (the backward is linear in the loss gradient).
    """
    layers = _require_layers(model)
    named = [(k, p) for k, p in model.named_parameters() if p.requires_grad]
    names = {id(p): k for k, p in named}
    losses, calls, signals, g_val = _forward_with_signals(model, layers, x, y, x_val, y_val, loss_fn, names)
    weights = normalize_weights(lr * _directional(calls, signals, g_val, names))      # lines 4-11

    def compute() -> list[torch.Tensor]:
        # line 13: the weighted loss's signals are w_i * g_l[i]; each layer turns them into parameter gradients
        grads: dict[str, torch.Tensor] = {}
        with torch.no_grad():
            for (module, args, _), g in zip(calls, signals):
                for local, value in _param_grads(module, args, g, weights).items():
                    p = getattr(module, local)
                    if p.requires_grad:   # a layer called twice adds up its contributions
                        k = names[id(p)]
                        grads[k] = value if k not in grads else grads[k] + value
        return [grads[k] if k in grads else torch.zeros_like(p) for k, p in named]

    losses = losses.detach()
    value = weighted_loss(losses, weights)                                              # line 12
    loss = _PrecomputedBackward.apply(value, compute, *[p for _, p in named])
    return FusedOutput(loss, weights, losses)


__all__ = ["FusedOutput", "L2RWStep", "dual_step", "layerwise_layers", "layerwise_scores", "layerwise_step",
           "unfused_step"]
