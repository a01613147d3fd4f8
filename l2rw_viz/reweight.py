"""The L2RW algorithm (Ren et al., 2018, Algorithm 1) and the weighted loss it plugs into.

This module is the heart of the package, written to be read next to the paper:

* :func:`weighted_loss` — the weighted training objective ``sum_i w_i f_i`` (Eq. 1 with fixed weights);
* :func:`l2rw_scores` / :func:`l2rw_weights` — the per-example weights of Algorithm 1, lines 4-11, for *any*
  ``nn.Module`` that returns logits, computed with ``torch.func`` on the module's parameters (no "meta module",
  no copies of the module, no writes into ``.data``). Two ways to the same numbers:

  - ``weights_method="autodiff"``: Algorithm 1 as written: perturb every example's loss by ``eps_i = 0``, take one
    look-ahead SGD step, measure the validation loss there, and differentiate it with respect to ``eps``;
  - ``weights_method="jvp"``: the identity behind it. At ``eps = 0`` the look-ahead parameters are ``theta`` itself, so

        -dL_val/d eps_i = lr * <grad L_val(theta), grad f_i(theta)>,

    one validation gradient and one forward-mode Jacobian-vector product of the per-example training losses in
    the direction of that gradient (no second-order derivatives at all);
* :func:`normalize_weights` — Algorithm 1, line 11: clip at zero, normalise, all-zero when nothing helps;
* :func:`gradient_similarity` — each example's gradient against the validation gradient, split into norms and
  cosine: the "why did this example get this weight?" view.

The trainer plug-in (``l2rw_viz/methods/l2rw.py``) adds lines 12-14 (weighted loss, optimiser step); its fused fast
path, which reuses the training step's own forward and backward, is :mod:`l2rw_viz.reweight_fused`.

Modes, BatchNorm and Dropout: every function here runs the model in the mode it is in (call ``model.eval()``
for deterministic weights). The model's own buffers are never written: forward passes go through
``torch.func.functional_call`` with *cloned* buffers, so a BatchNorm in train mode normalises with batch statistics
as in a training step, but its running statistics (and ``num_batches_tracked``) are left exactly as they were —
the real training step updates them once. Dropout draws fresh masks in each pass (the weights are then random,
like the training loss itself).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, jvp, vmap

from .checks import check_choice, check_in_range, check_model

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""``(logits (b, C), y (b,)) -> (b,)`` the loss of each example (no reduction)."""

WEIGHT_METHODS = ("jvp", "autodiff")


def weighted_loss(per_example_losses: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """The paper's weighted training objective ``sum_i w_i * f_i`` (Eq. 1 with fixed weights).

    Args:
        per_example_losses: ``(b,)`` float, e.g. ``F.cross_entropy(logits, y, reduction="none")``.
        weights: ``(b,)`` float, non-negative; uniform training uses ``1/b`` so this is the ordinary mean.
    Returns:
        A scalar tensor that keeps the graph of ``per_example_losses`` (weights are treated as constants only if
        the caller detached them).
    """
    if per_example_losses.shape != weights.shape:
        raise ValueError(f"weights has shape {tuple(weights.shape)}; allowed: the shape of per_example_losses "
                         f"{tuple(per_example_losses.shape)}")
    return (weights * per_example_losses).sum()


def cross_entropy_per_example(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The default loss: ``(b, C) logits, (b,) int64 labels -> (b,)`` cross-entropy in nats, one per example."""
    return F.cross_entropy(logits, y, reduction="none")


def normalize_weights(scores: torch.Tensor) -> torch.Tensor:
    """Algorithm 1, line 11: ``w = max(score, 0) / sum_j max(score_j, 0)``, or all zeros if that sum is 0.

    Args:
        scores: ``(b,)`` float, the *negated* eps-gradients ``score_i = -dL_val/d eps_i`` as returned by
            :func:`l2rw_scores` (positive = a small up-weighting of example ``i`` would lower the validation loss).
            In the paper's notation ``w~ = max(-grad_eps, 0)``, so pass ``-grad_eps``.
    Returns:
        ``(b,)`` same dtype, detached: non-negative weights that sum to 1, or all zeros (never NaN) when no score
        is positive — the paper's guard ``w = w~ / (sum w~ + delta(sum w~))`` with the Kronecker delta.
    """
    if not isinstance(scores, torch.Tensor) or scores.ndim != 1 or not scores.is_floating_point():
        shape = tuple(scores.shape) if isinstance(scores, torch.Tensor) else type(scores).__name__
        raise ValueError(f"scores has shape/type {shape}; allowed: a 1-D float tensor (b,)")
    clipped = scores.detach().clamp(min=0)
    total = clipped.sum()
    # delta(total) is 1 exactly when total == 0: 0 / 1 = 0 instead of 0 / 0 = NaN, without a host sync
    return clipped / (total + (total == 0).to(total.dtype))


def _check_batches(x: torch.Tensor, y: torch.Tensor, x_val: torch.Tensor, y_val: torch.Tensor) -> None:
    for name, t in (("x", x), ("y", y), ("x_val", x_val), ("y_val", y_val)):
        if not isinstance(t, torch.Tensor):
            raise ValueError(f"{name}={type(t).__name__} is not allowed; allowed: a torch.Tensor")
    if len(x) < 1 or len(x) != len(y):
        raise ValueError(f"y has length {len(y)}; allowed: the length of x ({len(x)}), at least 1")
    if len(x_val) < 1 or len(x_val) != len(y_val):
        raise ValueError(f"y_val has length {len(y_val)}; allowed: the length of x_val ({len(x_val)}), at least 1")
    # one NaN input makes every weight NaN (through the validation gradient or the normalising sum): say which
    for name, t in (("x", x), ("x_val", x_val)):
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise ValueError(f"{name} holds {int((~torch.isfinite(t)).sum())} NaN or infinite value(s); allowed: "
                             "finite inputs")


def functional_state(model: nn.Module) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Split a module into what we differentiate and what we hold fixed, for ``torch.func.functional_call``.

    Returns:
        ``(params, frozen)``: ``params`` maps the names of the trainable parameters to *detached* tensors that
        share storage with the module (nothing is copied, nothing is written); ``frozen`` maps the remaining
        parameters to detached tensors and every buffer to a **clone**, so a forward pass in train mode may update
        BatchNorm running statistics of the clone while the module's own buffers stay untouched.
    """
    params, frozen = {}, {}
    for name, p in model.named_parameters():
        (params if p.requires_grad else frozen)[name] = p.detach()
    for name, b in model.named_buffers():
        frozen[name] = b.detach().clone()
    return params, frozen


def _per_example(loss_fn: LossFn, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    losses = loss_fn(logits, y)
    if losses.shape != (len(y),):
        raise ValueError(f"loss_fn returned shape {tuple(losses.shape)}; allowed: ({len(y)},), one loss per example "
                         "(use reduction='none')")
    return losses


def _weights_method(weights_method: str | None, method: str | None) -> str:
    """``weights_method``, or the deprecated spelling ``method`` (notebooks and exercises call it so; it meant the
    training method everywhere else). Both given: a ``ValueError``."""
    if method is not None:
        if weights_method is not None and weights_method != method:
            raise ValueError(f"weights_method={weights_method!r} and method={method!r} were both given; allowed: "
                             "weights_method alone (method is its deprecated spelling)")
        weights_method = method
    return check_choice("weights_method", "jvp" if weights_method is None else weights_method, WEIGHT_METHODS)


def l2rw_scores(model: nn.Module, x: torch.Tensor, y: torch.Tensor, x_val: torch.Tensor, y_val: torch.Tensor, *,
                loss_fn: LossFn | None = None, lr: float = 1.0, weights_method: str | None = None,
                method: str | None = None) -> torch.Tensor:
    """The raw L2RW scores ``-dL_val/d eps_i`` at ``eps = 0`` (Algorithm 1, lines 4-10), before clipping.

    Args:
        model: any ``nn.Module`` mapping ``(b, *F)`` to logits ``(b, C)``. Left untouched: parameters, ``.grad``,
            buffers (BatchNorm running statistics) and any optimiser state are not changed.
        x, y: the training batch ``(b, *F)``, ``(b,)`` labels. x_val, y_val: clean validation batch ``(m, *F)``,
            ``(m,)``.
        loss_fn: ``(logits, y) -> (b,)`` per-example loss; default cross-entropy.
        lr: the look-ahead step size ``alpha`` (> 0; the official code uses 1). Plain SGD, never momentum. It
            scales every score by the same factor, so it does not change the normalised weights.
        weights_method: ``"jvp"`` (default; the identity, fast) or ``"autodiff"`` (Algorithm 1 verbatim; the
            teaching version); the same name as the ``l2rw`` method's setting. ``method``: its older spelling.
    Returns:
        ``(b,)`` detached scores in the dtype of the model's losses; ``score_i > 0`` means "up-weighting example
        ``i`` would lower the validation loss". Both methods agree to float precision.
    """
    check_model(model)
    _check_batches(x, y, x_val, y_val)
    lr = check_in_range("lr", lr, 0.0, float("inf"), low_open=True, high_open=True)
    weights_method = _weights_method(weights_method, method)
    loss_fn = cross_entropy_per_example if loss_fn is None else loss_fn
    if weights_method == "autodiff":
        return _scores_autodiff(model, x, y, x_val, y_val, loss_fn, lr)
    return _scores_jvp(model, x, y, x_val, y_val, loss_fn, lr)


def l2rw_weights(model: nn.Module, x: torch.Tensor, y: torch.Tensor, x_val: torch.Tensor, y_val: torch.Tensor, *,
                 loss_fn: LossFn | None = None, lr: float = 1.0, weights_method: str | None = None,
                 method: str | None = None) -> torch.Tensor:
    """Per-example weights of Ren et al. (2018), Algorithm 1, lines 4-11, for one training batch.

    Same arguments as :func:`l2rw_scores`. Returns ``(b,)`` detached weights (dtype of the model's losses), each
    ``>= 0``, summing to 1 — or all zero when no example's gradient agrees with the validation gradient.
    """
    return normalize_weights(l2rw_scores(model, x, y, x_val, y_val, loss_fn=loss_fn, lr=lr,
                                         weights_method=_weights_method(weights_method, method)))


def _scores_autodiff(model, x, y, x_val, y_val, loss_fn, lr) -> torch.Tensor:
    """Algorithm 1 exactly as printed, with reverse-mode autodiff through one look-ahead SGD step."""
    params, frozen = functional_state(model)
    theta = {k: p.requires_grad_() for k, p in params.items()}   # fresh leaves sharing storage with the model
    with torch.enable_grad():
        logits = functional_call(model, (theta, frozen), (x,))                  # line 4: y^_f = Forward(X_f, theta)
        losses = _per_example(loss_fn, logits, y)
        # line 5: eps = 0, one perturbation per example, in the dtype the model computes in (a float32 eps in a
        # float64 model would silently round the gradient)
        eps = torch.zeros(len(y), dtype=losses.dtype, device=losses.device, requires_grad=True)
        l_f = (eps * losses).sum()                                              # line 5: l_f = sum_i eps_i f_i
        # line 6: grad_theta l_f; create_graph keeps its dependence on eps (else d/d eps below is None)
        grads = torch.autograd.grad(l_f, list(theta.values()), create_graph=True)
        theta_hat = {k: p - lr * g for (k, p), g in zip(theta.items(), grads)}  # line 7: plain SGD look-ahead
        val_logits = functional_call(model, (theta_hat, frozen), (x_val,))     # line 8: Forward(X_g, theta^)
        l_g = _per_example(loss_fn, val_logits, y_val).mean()                  # line 9: l_g = 1/m sum_i C(...)
        (grad_eps,) = torch.autograd.grad(l_g, eps)                            # line 10: grad_eps = dl_g/d eps
    return (-grad_eps).detach()                       # line 11 clips -grad_eps: the score of each example


def validation_gradient(model: nn.Module, x_val: torch.Tensor, y_val: torch.Tensor, *,
                        loss_fn: LossFn | None = None) -> dict[str, torch.Tensor]:
    """``grad_theta L_val(theta)``: the gradient of the mean validation loss, as ``{parameter name: tensor}``
    (trainable parameters only, detached, same shapes as the parameters). The model is not changed."""
    check_model(model)
    loss_fn = cross_entropy_per_example if loss_fn is None else loss_fn
    params, frozen = functional_state(model)
    # Fresh leaves that share storage with the parameters: reverse-mode autograd with respect to them leaves the
    # module's own .grad alone. (torch.func.grad gives the same numbers but measured about 2-4 ms slower per call
    # on LeNet with 10 validation images, which matters in the training loop.)
    theta = {k: p.requires_grad_() for k, p in params.items()}
    with torch.enable_grad():
        loss = _per_example(loss_fn, functional_call(model, (theta, frozen), (x_val,)), y_val).mean()
        grads = torch.autograd.grad(loss, list(theta.values()), allow_unused=True, materialize_grads=True)
    return {k: g.detach() for k, g in zip(theta, grads)}


def _scores_jvp(model, x, y, x_val, y_val, loss_fn, lr) -> torch.Tensor:
    """The identity: -dL_val/d eps_i = lr * <grad L_val(theta), grad f_i(theta)>, by one forward-mode JVP."""
    g_val = validation_gradient(model, x_val, y_val, loss_fn=loss_fn)
    return jvp_scores(model, x, y, g_val, loss_fn=loss_fn, lr=lr)


def jvp_scores(model: nn.Module, x: torch.Tensor, y: torch.Tensor, g_val: dict[str, torch.Tensor], *,
               loss_fn: LossFn, lr: float = 1.0) -> torch.Tensor:
    """``(b,)`` ``lr * <grad f_i(theta), g_val>`` for every training example, by one forward-mode JVP of the
    per-example losses along ``g_val`` (``{trainable parameter name: tensor}``, e.g. :func:`validation_gradient`).
    Runs one training forward of ``x`` (its own dropout draws); the model's buffers are not written."""
    params, frozen = functional_state(model)

    def train_losses(p):
        # torch.func refuses in-place updates (BatchNorm running statistics in train mode) of tensors captured from
        # outside the transformed function, so the buffers are copied inside it
        fr = {k: v.clone() for k, v in frozen.items()}
        return _per_example(loss_fn, functional_call(model, (p, fr), (x,)), y)

    # d/dt f(theta + t g_val) at t = 0, for every example at once: (b,) directional derivatives
    _, directional = jvp(train_losses, (params,), (g_val,))
    return (lr * directional).detach()


@dataclass
class GradientSimilarity:
    """Why an example got its weight: its gradient against the clean validation gradient.

    Attributes (``b`` training examples; float tensors in the model's dtype, detached):
        dot: ``(b,)`` ``<grad f_i, grad L_val>``; the L2RW score is ``lr * dot`` and the weight its clipped,
            normalised version.
        grad_norm: ``(b,)`` ``||grad f_i||`` (how hard the example pulls).
        val_grad_norm: ``()`` ``||grad L_val||``.
        cosine: ``(b,)`` ``dot / (grad_norm * val_grad_norm)`` in [-1, 1] (whether it pulls the same way as the
            clean data); 0 where a norm is 0.
        weights: ``(b,)`` the L2RW weights these give (``normalize_weights(dot)``).
    """

    dot: torch.Tensor
    grad_norm: torch.Tensor
    val_grad_norm: torch.Tensor
    cosine: torch.Tensor
    weights: torch.Tensor


def gradient_similarity(model: nn.Module, x: torch.Tensor, y: torch.Tensor, x_val: torch.Tensor,
                        y_val: torch.Tensor, *, loss_fn: LossFn | None = None) -> GradientSimilarity:
    """Each training example's gradient compared with the validation gradient (the L2RW identity, in pieces).

    Per-example gradients come from ``torch.func.vmap(torch.func.grad(...))``: each example is run as a batch of
    one, which is only the same thing as its share of a batch when the model treats examples independently —
    so a model with BatchNorm layers in train mode is refused (call ``model.eval()`` first). Dropout draws a
    different mask per example. Memory: ``b`` times the number of parameters.

    Returns:
        A :class:`GradientSimilarity`; the model is not changed.
    """
    check_model(model)
    _check_batches(x, y, x_val, y_val)
    loss_fn = cross_entropy_per_example if loss_fn is None else loss_fn
    coupled = [n for n, m in model.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training]
    if coupled:
        raise ValueError(f"model has BatchNorm layers in train mode ({', '.join(coupled)}); allowed: a model whose "
                         "examples do not interact (call model.eval() first)")
    g_val = validation_gradient(model, x_val, y_val, loss_fn=loss_fn)
    params, frozen = functional_state(model)

    def one_loss(p, xi, yi):
        return _per_example(loss_fn, functional_call(model, (p, frozen), (xi[None],)), yi[None])[0]

    per_example = vmap(grad(one_loss), in_dims=(None, 0, 0), randomness="different")(params, x, y)
    dot = sum((per_example[k].reshape(len(y), -1) * g_val[k].flatten()).sum(1) for k in params)
    grad_norm = torch.sqrt(sum(per_example[k].reshape(len(y), -1).pow(2).sum(1) for k in params))
    val_grad_norm = torch.sqrt(sum(g.pow(2).sum() for g in g_val.values()))
    denom = grad_norm * val_grad_norm
    cosine = torch.where(denom > 0, dot / denom.clamp(min=torch.finfo(denom.dtype).tiny), torch.zeros_like(dot))
    return GradientSimilarity(dot=dot.detach(), grad_norm=grad_norm.detach(), val_grad_norm=val_grad_norm.detach(),
                              cosine=cosine.detach(), weights=normalize_weights(dot.detach()))
