"""Meta-Weight-Net (Shu et al., 2019, "Meta-Weight-Net: Learning an Explicit Mapping For Sample Weighting"):
L2RW's successor, which learns a weighting *function* instead of one weight per example per step.

A small network ``V(loss; phi)`` (1 -> 100 -> 1, ReLU, sigmoid output, as in the paper) maps an example's training
loss to its weight. Each step (Shu et al., Algorithm 1):

1. the training batch's losses ``L_i(theta)`` (detached as the network's *input*, as in the official code);
2. the look-ahead ``theta^(phi) = theta - alpha * grad_theta sum_i w_i(phi) L_i(theta)`` with
   ``w_i(phi) = V(L_i; phi) / sum_j V(L_j; phi)`` (plain SGD, step size the step's learning rate, no momentum —
   as L2RW's look-ahead here), written with ``torch.func.functional_call`` on the model's parameters;
3. one Adam step on ``phi`` down the clean validation loss at ``theta^(phi)`` (lr 1e-3, weight decay 1e-4: the
   paper's meta optimiser), differentiating through step 2 (second order, ``create_graph=True``);
4. the real update: weights ``V(L_i; phi_new)`` of the *updated* network, normalised to sum 1, on a fresh forward
   of the batch (the trainer's SGD, momentum included).

The normalisation (weights sum to 1 per batch) follows ``train_WRN-28-10_Meta_PGC.py`` of the code released with
the paper (``norm_c``); its ``MW-Net.py`` and the paper's equations use the plain mean ``1/n sum_i V(L_i) L_i``,
which only rescales the step (``docs/departures.md``, second table).

What it learns is a curve, loss -> weight, shared by all examples. ``weight_curve()`` holds ``V`` evaluated on a fixed
loss grid every ``curve_every`` steps (and after the last step), for
:func:`l2rw_viz.viz.weighting_function.weighting_function_figure`: under label noise the curve typically falls
with the loss (high loss = probably flipped), the opposite of what class imbalance calls for — the conundrum of
the paper's Section 2, settled here by the clean validation set as in L2RW.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from ..checks import check_in_range, check_int
from ..data.dataset import BiasedDataset
from ..reweight import functional_state, normalize_weights, weighted_loss
from .base import Method, StepContext, StepOutput, register
from .setting import Setting


class WeightNet(nn.Module):
    """``V(loss; phi)``: ``(b, 1)`` losses (nats) -> ``(b, 1)`` weights in ``(0, 1)``; 1 -> hidden -> 1, ReLU,
    sigmoid (Shu et al. use 100 hidden units)."""

    def __init__(self, hidden: int = 100):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(1, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, loss: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(loss))


@dataclass
class WeightCurve:
    """The learned weighting function over training.

    Attributes:
        steps: ``(K,)`` int64, the step after which each curve was sampled.
        losses: ``(G,)`` float64, the loss grid (nats).
        weights: ``(K, G)`` float64, ``V(loss; phi)`` at each sampled step (unnormalised, in (0, 1)).
    """

    steps: np.ndarray
    losses: np.ndarray
    weights: np.ndarray


def sum_normalised(v: torch.Tensor) -> torch.Tensor:
    """``v / sum(v)`` (``(b,)`` non-negative), or ``v`` unchanged when the sum is 0 (the official code's guard),
    keeping the graph to ``v``."""
    total = v.sum()
    return v / torch.where(total > 0, total, torch.ones_like(total))


def lookahead_validation_loss(model: nn.Module, weight_fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
                              y: torch.Tensor, x_val: torch.Tensor, y_val: torch.Tensor, *,
                              loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], lr: float) -> torch.Tensor:
    """The clean validation loss after one weighted look-ahead step, as a function of the weights' parameters.

    ``theta^ = theta - lr * grad_theta sum_i w_i L_i(theta)`` with ``w = weight_fn(L(theta).detach())`` (``(b,) ->
    (b,)``, with graph to whatever it is computed from), then ``mean_j loss(f(x_val_j; theta^), y_val_j)``, with
    the graph through the look-ahead (``create_graph=True``), so ``backward`` reaches ``weight_fn``'s parameters
    (Shu et al., 2019, Algorithm 1, the meta step). The model's parameters, ``.grad`` and buffers are left untouched
    (``torch.func.functional_call`` on detached leaves, cloned buffers).

    Returns:
        A scalar tensor (the model's loss dtype).
    """
    params, frozen = functional_state(model)
    theta = {k: p.requires_grad_() for k, p in params.items()}   # fresh leaves sharing storage with the model
    with torch.enable_grad():
        losses = loss_fn(functional_call(model, (theta, frozen), (x,)), y)
        w = weight_fn(losses.detach()).to(losses.dtype)
        grads = torch.autograd.grad(weighted_loss(losses, w), list(theta.values()), create_graph=True,
                                    allow_unused=True, materialize_grads=True)
        theta_hat = {k: p - lr * g for (k, p), g in zip(theta.items(), grads)}
        return loss_fn(functional_call(model, (theta_hat, frozen), (x_val,)), y_val).mean()


@register
class MetaWeightNet(Method):
    """Meta-Weight-Net: a loss -> weight MLP meta-learned with L2RW's one-step look-ahead on the clean set.

    Args:
        hidden: hidden units of ``V`` (paper: 100).
        meta_lr: Adam learning rate of ``V`` (paper: 1e-3); meta_weight_decay: its weight decay (paper: 1e-4).
        lookahead_lr: step size of the look-ahead; ``None`` (default) uses the step's learning rate (as the
            paper, whose look-ahead uses the classifier's current learning rate).
        curve_every: sample the loss -> weight curve every this many steps (>= 1; default 50).
        loss_grid_max: the curve's loss grid is ``linspace(0, loss_grid_max, grid_points)`` nats.
    """

    name = "meta_weight_net"
    uses_validation = True
    addresses = ("imbalance", "noise")
    settings = (
        Setting("hidden", int, 100, "hidden units of the weighting network V (paper: 100)", low=1),
        Setting("meta_lr", float, 1e-3, "Adam learning rate of V (paper: 1e-3)", low=0.0, low_open=True),
        Setting("meta_weight_decay", float, 1e-4, "V's weight decay (paper: 1e-4)", low=0.0),
        Setting("lookahead_lr", float, None, "step size of the look-ahead (none: the step's learning rate)", low=0.0,
                low_open=True, optional=True),
        Setting("curve_every", int, 50, "sample the loss -> weight curve every this many steps", low=1),
        Setting("loss_grid_max", float, 8.0, "the curve's loss grid ends here (nats)", low=0.0, low_open=True),
        Setting("grid_points", int, 81, "points of the curve's loss grid", low=2),
    )

    def __init__(self, hidden: int = 100, meta_lr: float = 1e-3, meta_weight_decay: float = 1e-4,
                 lookahead_lr: float | None = None, curve_every: int = 50, loss_grid_max: float = 8.0,
                 grid_points: int = 81):
        self.hidden = check_int("hidden", hidden, 1)
        self.meta_lr = check_in_range("meta_lr", meta_lr, 0.0, float("inf"), low_open=True, high_open=True)
        self.meta_weight_decay = check_in_range("meta_weight_decay", meta_weight_decay, 0.0, float("inf"),
                                                high_open=True)
        self.lookahead_lr = (None if lookahead_lr is None else
                             check_in_range("lookahead_lr", lookahead_lr, 0.0, float("inf"), low_open=True,
                                            high_open=True))
        self.curve_every = check_int("curve_every", curve_every, 1)
        self.loss_grid_max = check_in_range("loss_grid_max", loss_grid_max, 0.0, float("inf"), low_open=True,
                                            high_open=True)
        self.grid_points = check_int("grid_points", grid_points, 2)
        self.vnet: WeightNet | None = None
        self.meta_optimizer: torch.optim.Optimizer | None = None
        self._curve_steps: list[int] = []
        self._curve_weights: list[np.ndarray] = []
        self.last_meta_loss = float("nan")  # clean validation loss at the look-ahead parameters, last step
        self._last_step = -1

    def prepare(self, dataset: BiasedDataset, seed: int) -> BiasedDataset:
        # V's initial weights from the run's seed, without touching torch's global RNG (the student's init is
        # already drawn; dropout and other methods' draws stay as they were)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.vnet = WeightNet(self.hidden)
        self.meta_optimizer = torch.optim.Adam(self.vnet.parameters(), lr=self.meta_lr,
                                               weight_decay=self.meta_weight_decay)
        self._curve_steps, self._curve_weights, self._last_step = [], [], -1
        return dataset

    def weights_of(self, losses: torch.Tensor) -> torch.Tensor:
        """``(b,)`` losses (nats) -> ``(b,)`` ``V(loss)`` in (0, 1), unnormalised, with graph to ``V``."""
        if self.vnet is None:
            raise ValueError("meta_weight_net has no weighting network yet; allowed: call prepare() (the trainer "
                             "does) before weights_of()")
        return self.vnet(losses.reshape(-1, 1).to(next(self.vnet.parameters()).dtype)).reshape(-1)

    def step(self, ctx: StepContext) -> StepOutput:
        if self.vnet is None or self.meta_optimizer is None:
            self.prepare(ctx.dataset, 0)
        self.vnet.to(ctx.x.device)
        alpha = ctx.lr if self.lookahead_lr is None else self.lookahead_lr

        # steps 1-3: look-ahead with V's weights, Adam step on V down the clean validation loss there
        val_loss = lookahead_validation_loss(ctx.model, lambda losses: sum_normalised(self.weights_of(losses)),
                                             ctx.x, ctx.y, ctx.x_val, ctx.y_val, loss_fn=ctx.per_example_loss,
                                             lr=alpha)
        meta_grads = torch.autograd.grad(val_loss, list(self.vnet.parameters()), allow_unused=True,
                                         materialize_grads=True)
        self.meta_optimizer.zero_grad(set_to_none=True)
        for p, g in zip(self.vnet.parameters(), meta_grads):
            p.grad = g.detach()
        self.meta_optimizer.step()
        self.last_meta_loss = float(val_loss.detach())

        # step 4: the real weighted step with the updated V
        losses = ctx.per_example_loss(ctx.model(ctx.x), ctx.y)
        with torch.no_grad():
            weights = normalize_weights(self.weights_of(losses.detach()).to(losses.dtype))
        self._last_step = ctx.step
        if ctx.step % self.curve_every == 0:
            self._sample_curve(ctx.step)
        return StepOutput(weighted_loss(losses, weights), weights, losses.detach())

    def loss_grid(self) -> np.ndarray:
        """``(G,)`` the losses (nats) the curve is sampled at."""
        return np.linspace(0.0, self.loss_grid_max, self.grid_points)

    @torch.no_grad()
    def _sample_curve(self, step: int) -> None:
        grid = torch.as_tensor(self.loss_grid(), dtype=torch.float32, device=next(self.vnet.parameters()).device)
        self._curve_steps.append(int(step))
        self._curve_weights.append(self.weights_of(grid).double().cpu().numpy())

    def weight_curve(self) -> WeightCurve:
        """The loss -> weight curves sampled so far (each after the meta update of the step in ``steps``), plus
        ``V`` as it is now, labelled with the last step, if that step was not sampled; raises before any training."""
        if self.vnet is None:
            raise ValueError("no run yet: weight_curve() is available after train(..., method=this)")
        steps, weights = list(self._curve_steps), list(self._curve_weights)
        grid = torch.as_tensor(self.loss_grid(), dtype=torch.float32, device=next(self.vnet.parameters()).device)
        with torch.no_grad():
            now = self.weights_of(grid).double().cpu().numpy()
        if not steps or steps[-1] != self._last_step:
            steps.append(max(self._last_step, 0))
            weights.append(now)
        return WeightCurve(np.asarray(steps, dtype=np.int64), self.loss_grid(),
                           np.stack(weights) if weights else np.zeros((0, self.grid_points)))

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {"method": self.name, "hidden": self.hidden, "meta_lr": self.meta_lr,
                             "meta_weight_decay": self.meta_weight_decay, "lookahead_lr": self.lookahead_lr,
                             "curve_every": self.curve_every, "loss_grid_max": self.loss_grid_max,
                             "grid_points": self.grid_points}
        if self._curve_steps:
            curve = self.weight_curve()
            d["weight_curve"] = {"steps": curve.steps.tolist(), "losses": curve.losses.tolist(),
                                 "weights": np.round(curve.weights, 6).tolist()}
        return d
