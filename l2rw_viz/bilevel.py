"""The exact meta-objective on a toy problem: what L2RW's one-step weights approximate.

Ren et al. (2018, Eq. 2-3) want the example weights that make the *trained* model best on the clean validation
set::

    w* = argmin_{w in W} L_val(theta*(w)),   theta*(w) = argmin_theta sum_i w_i f_i(theta) + (l2/2) ||theta||^2

Here this is solved by brute force for multinomial logistic regression on a few dozen 2-D points (parameters
``theta = (W, b)``, ``C * (d + 1)`` numbers, float64):

* inner problem: train ``theta`` to convergence for the current ``w`` (Newton's method with backtracking; the small
  ridge term ``l2`` makes it strictly convex, so ``theta*(w)`` is unique even when the weights pick out separable
  points);
* outer problem: projected gradient descent on ``w`` over the probability simplex (``constraint="simplex"``, the
  set L2RW's normalised weights live in) or the non-negative orthant, with a backtracking step size so that the
  validation loss never goes up;
* the gradient of ``L_val(theta*(w))`` with respect to ``w``, two ways (``hypergradient=``):

  - ``"implicit"`` (default, exact at the inner optimum): by the implicit function theorem,
    ``dL_val/dw_i = -grad L_val(theta*)^T H^{-1} grad f_i(theta*)`` with ``H`` the Hessian of the inner objective.
    Compare L2RW's one-step score ``lr * grad L_val(theta)^T grad f_i(theta)``: the online method replaces
    ``H^{-1}`` by ``lr * I`` and ``theta*`` by the current parameters;
  - ``"unrolled"``: reverse-mode autodiff through ``unroll_steps`` steps of gradient descent from ``theta = 0``
    (the "nested loops" picture: exact for the truncated inner loop, and much slower).

:func:`compare_with_online` then runs L2RW's online weights on the same problem and reports how closely they
agree with ``w*`` (cosine, Pearson correlation), at initialisation and averaged over training, and how much
slower the exact solution is.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .checks import check_choice, check_in_range, check_int
from .models import LogisticRegression
from .reweight import l2rw_weights


@dataclass
class BilevelResult:
    """The brute-force solution of the meta-objective.

    Attributes:
        weights: ``(n,)`` float64 ``w*`` (on the simplex: non-negative, summing to 1).
        val_loss_trace: ``(outer_steps + 1,)`` float64 mean validation cross-entropy (nats) of ``theta*(w)``,
            before the first outer step and after each one (non-increasing).
        uniform_val_loss: the validation loss with uniform weights ``1/n`` (ordinary training), for reference.
        theta: ``(C * (d + 1),)`` float64 ``theta*(w*)``: ``V = theta.view(C, d + 1)``, each class's weights
            followed by its bias (``logits = x @ V[:, :d].T + V[:, d]``).
        wall_time_s: seconds for the whole solve (wall clock).
        inner_iterations: Newton iterations (implicit) or unrolled gradient steps (unrolled) spent in total.
        hypergradient, constraint, l2: the settings used. num_classes: ``C``.
    """

    weights: torch.Tensor
    val_loss_trace: torch.Tensor
    uniform_val_loss: float
    theta: torch.Tensor
    wall_time_s: float
    inner_iterations: int
    hypergradient: str
    constraint: str
    l2: float
    num_classes: int

    def model(self) -> LogisticRegression:
        """A float32 :class:`~l2rw_viz.models.LogisticRegression` holding ``theta*(w*)``, to draw or evaluate like
        any trained network (the layout of ``theta`` stays in this module)."""
        v = self.theta.detach().cpu().view(self.num_classes, -1)      # (C, d + 1): weights, then the bias
        model = LogisticRegression(v.shape[1] - 1, self.num_classes)
        with torch.no_grad():
            model.linear.weight.copy_(v[:, :-1])
            model.linear.bias.copy_(v[:, -1])
        return model


def project_simplex(v: torch.Tensor) -> torch.Tensor:
    """Euclidean projection of ``(n,)`` ``v`` onto ``{w : w >= 0, sum w = 1}`` (sort-based, Duchi et al. 2008)."""
    u, _ = torch.sort(v, descending=True)
    css = torch.cumsum(u, 0)
    k = torch.arange(1, len(v) + 1, dtype=v.dtype, device=v.device)
    rho = int(torch.nonzero(u - (css - 1) / k > 0).max())   # the largest k whose entry stays positive
    tau = (css[rho] - 1) / (rho + 1)
    return (v - tau).clamp(min=0)


def _augment(x: torch.Tensor) -> torch.Tensor:
    """``(n, d) -> (n, d + 1)``: a constant 1 appended, so the bias is the last column of ``V``."""
    return torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype, device=x.device)], 1)


def _probs(theta: torch.Tensor, xa: torch.Tensor, num_classes: int) -> torch.Tensor:
    """``(n, C)`` softmax probabilities of the model ``logits = xa @ V^T``, ``V = theta.view(C, d + 1)``."""
    return torch.softmax(xa @ theta.view(num_classes, -1).T, dim=1)


def _per_example_losses(theta, xa, y, num_classes):
    return F.cross_entropy(xa @ theta.view(num_classes, -1).T, y, reduction="none")


def _per_example_grads(theta, xa, y, num_classes) -> torch.Tensor:
    """``(n, P)`` ``grad f_i = (p_i - onehot(y_i)) outer xa_i``, in closed form."""
    r = _probs(theta, xa, num_classes) - F.one_hot(y, num_classes).to(xa.dtype)
    return (r[:, :, None] * xa[:, None, :]).reshape(len(xa), -1)


def _inner_grad(theta, w, xa, y, num_classes, l2) -> torch.Tensor:
    """``(P,)`` gradient of the inner objective ``sum_i w_i f_i + (l2/2)||theta||^2``."""
    return w @ _per_example_grads(theta, xa, y, num_classes) + l2 * theta


def _inner_hessian(theta, w, xa, y, num_classes, l2) -> torch.Tensor:
    """``(P, P)`` Hessian: ``sum_i w_i (diag(p_i) - p_i p_i^T) kron (xa_i xa_i^T) + l2 I``."""
    p = _probs(theta, xa, num_classes)
    a = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]                            # (n, C, C)
    h = torch.einsum("n,nab,ni,nj->aibj", w, a, xa, xa).reshape(len(theta), len(theta))
    return h + l2 * torch.eye(len(theta), dtype=theta.dtype)


def _inner_objective(theta, w, xa, y, num_classes, l2):
    return float((w * _per_example_losses(theta, xa, y, num_classes)).sum() + 0.5 * l2 * theta.pow(2).sum())


def _newton(theta, w, xa, y, num_classes, l2, tol, max_iter) -> tuple[torch.Tensor, int]:
    """Minimise the strictly convex inner objective: Newton steps with backtracking (Armijo) line search."""
    theta = theta.detach().clone()
    for it in range(1, max_iter + 1):
        g = _inner_grad(theta, w, xa, y, num_classes, l2)
        if float(g.norm()) < tol:
            return theta, it
        step = torch.linalg.solve(_inner_hessian(theta, w, xa, y, num_classes, l2), g)
        value, size, decrement = _inner_objective(theta, w, xa, y, num_classes, l2), 1.0, float(g @ step)
        # backtrack only while far from the optimum: close to it the decrease is below float resolution and the
        # full Newton step is the right one (quadratic convergence)
        while decrement > 1e-12 and size > 1e-10 and (_inner_objective(theta - size * step, w, xa, y, num_classes, l2)
                                                       > value - 1e-4 * size * decrement):
            size *= 0.5
        theta = theta - size * step
    return theta, max_iter


def _val_loss(theta, xa_val, y_val, num_classes):
    return _per_example_losses(theta, xa_val, y_val, num_classes).mean()


def _implicit_hypergradient(theta, w, xa, y, xa_val, y_val, num_classes, l2) -> torch.Tensor:
    """``dL_val(theta*(w))/dw`` by the implicit function theorem, at an inner optimum ``theta``."""
    h = _inner_hessian(theta, w, xa, y, num_classes, l2)                                   # (P, P)
    jac = _per_example_grads(theta, xa, y, num_classes)                                    # (n, P): grad f_i
    g_val = _per_example_grads(theta, xa_val, y_val, num_classes).mean(0)                  # (P,): grad L_val
    # differentiate grad_theta L_train(theta*(w), w) = 0 in w_i:  d theta*/d w_i = -H^{-1} grad f_i
    return -(jac @ torch.linalg.solve(h, g_val))


def _unrolled(w, xa, y, xa_val, y_val, num_classes, l2, steps, lr, need_grad) -> tuple[torch.Tensor, torch.Tensor,
                                                                                        torch.Tensor | None]:
    """``steps`` gradient-descent steps from ``theta = 0``; returns ``(theta_K, L_val(theta_K), dL_val/dw)``: the
    gradient with respect to ``w`` is reverse-mode autodiff through every inner step."""
    w = w.detach().clone().requires_grad_(need_grad)
    theta = torch.zeros(num_classes * xa.shape[1], dtype=xa.dtype)
    with torch.enable_grad():
        for _ in range(steps):
            theta = theta - lr * _inner_grad(theta, w, xa, y, num_classes, l2)   # each step stays in the graph
        loss = _val_loss(theta, xa_val, y_val, num_classes)
        grad_w = torch.autograd.grad(loss, w)[0] if need_grad else None
    return theta.detach(), loss.detach(), grad_w


def solve_bilevel(x: torch.Tensor, y: torch.Tensor, x_val: torch.Tensor, y_val: torch.Tensor, *,
                  num_classes: int | None = None, l2: float = 1e-2, constraint: str = "simplex",
                  hypergradient: str = "implicit", outer_steps: int = 100, outer_lr: float = 1.0,
                  inner_tol: float = 1e-10, max_newton: int = 50, unroll_steps: int = 100, unroll_lr: float = 1.0,
                  progress: bool = False) -> BilevelResult:
    """Brute-force ``w* = argmin_w L_val(theta*(w))`` for logistic regression (see the module docstring).

    Args:
        x, y: training points ``(n, d)`` float and labels ``(n,)`` int64 (a few dozen points; ``d`` small).
        x_val, y_val: clean validation points ``(m, d)``, ``(m,)``.
        num_classes: ``C``; default ``max(y, y_val) + 1``.
        l2: ridge strength on all parameters (> 0: makes the inner problem strictly convex).
        constraint: ``"simplex"`` (weights sum to 1, like L2RW's) or ``"nonnegative"`` (weights >= 0; their scale
            then trades off against ``l2``).
        hypergradient: ``"implicit"`` (Newton inner solve + implicit function theorem) or ``"unrolled"``
            (backpropagation through ``unroll_steps`` gradient steps of size ``unroll_lr`` from zero).
        outer_steps: projected gradient steps on ``w`` (>= 1). outer_lr: initial outer step size (> 0); it is
            halved until the validation loss does not increase and grown by 1.5 after each accepted step.
        inner_tol, max_newton: Newton stops when the gradient norm is below ``inner_tol`` or after ``max_newton``
            iterations.
        progress: show a tqdm bar over outer steps.
    Returns:
        A :class:`BilevelResult` (float64 tensors on the CPU).
    """
    for name, t in (("x", x), ("x_val", x_val)):
        if not isinstance(t, torch.Tensor) or t.ndim != 2:
            raise ValueError(f"{name} has shape {getattr(t, 'shape', type(t).__name__)}; allowed: (n, d) tensor")
    if len(y) != len(x) or len(x) < 1:
        raise ValueError(f"y has length {len(y)}; allowed: the length of x ({len(x)}), at least 1")
    if len(y_val) != len(x_val) or len(x_val) < 1:
        raise ValueError(f"y_val has length {len(y_val)}; allowed: the length of x_val ({len(x_val)}), at least 1")
    l2 = check_in_range("l2", l2, 0.0, float("inf"), low_open=True, high_open=True)
    check_choice("constraint", constraint, ["simplex", "nonnegative"])
    check_choice("hypergradient", hypergradient, ["implicit", "unrolled"])
    outer_steps = check_int("outer_steps", outer_steps, 1)
    outer_lr = check_in_range("outer_lr", outer_lr, 0.0, float("inf"), low_open=True, high_open=True)
    unroll_steps = check_int("unroll_steps", unroll_steps, 1)
    unroll_lr = check_in_range("unroll_lr", unroll_lr, 0.0, float("inf"), low_open=True, high_open=True)
    max_newton = check_int("max_newton", max_newton, 1)
    c = int(max(int(y.max()), int(y_val.max())) + 1) if num_classes is None else check_int("num_classes",
                                                                                          num_classes, 2)
    xa, xa_val = _augment(x.detach().double().cpu()), _augment(x_val.detach().double().cpu())
    y, y_val = y.detach().long().cpu(), y_val.detach().long().cpu()
    n, d = x.shape
    project = project_simplex if constraint == "simplex" else (lambda v: v.clamp(min=0))

    start = time.perf_counter()
    iterations = 0
    theta0 = torch.zeros(c * (d + 1), dtype=torch.float64)

    def evaluate(w, warm, need_grad):
        """``(theta*(w), L_val, dL_val/dw or None)`` for the chosen hypergradient."""
        nonlocal iterations
        if hypergradient == "unrolled":
            iterations += unroll_steps
            return _unrolled(w, xa, y, xa_val, y_val, c, l2, unroll_steps, unroll_lr, need_grad)
        theta, its = _newton(warm, w, xa, y, c, l2, inner_tol, max_newton)
        iterations += its
        loss = _val_loss(theta, xa_val, y_val, c)
        g = _implicit_hypergradient(theta, w, xa, y, xa_val, y_val, c, l2) if need_grad else None
        return theta, loss, g

    w = torch.full((n,), 1.0 / n, dtype=torch.float64)
    theta, loss, g = evaluate(w, theta0, True)
    uniform_loss = float(loss)
    trace = [uniform_loss]
    lr = outer_lr
    for _ in tqdm(range(outer_steps), desc="bilevel", disable=not progress, leave=False):
        while True:   # backtracking: never accept a step that raises the validation loss
            w_new = project(w - lr * g)
            theta_new, loss_new, _ = evaluate(w_new, theta, False)
            if float(loss_new) <= float(loss) or lr < 1e-12:
                break
            lr *= 0.5
        if float(loss_new) <= float(loss):
            w, theta, loss = w_new, theta_new, loss_new
        lr *= 1.5
        _, _, g = evaluate(w, theta, True)
        trace.append(float(loss))
    return BilevelResult(weights=w, val_loss_trace=torch.tensor(trace, dtype=torch.float64),
                         uniform_val_loss=uniform_loss, theta=theta, wall_time_s=time.perf_counter() - start,
                         inner_iterations=iterations, hypergradient=hypergradient, constraint=constraint, l2=l2,
                         num_classes=c)


def hypergradient_at(w: torch.Tensor, x: torch.Tensor, y: torch.Tensor, x_val: torch.Tensor, y_val: torch.Tensor, *,
                     num_classes: int | None = None, l2: float = 1e-2, method: str = "implicit",
                     unroll_steps: int = 100, unroll_lr: float = 1.0) -> tuple[float, torch.Tensor]:
    """``(L_val(theta*(w)), dL_val/dw (n,))`` at given weights ``w`` — to check the hypergradient, or to draw it."""
    check_choice("method", method, ["implicit", "unrolled"])
    c = int(max(int(y.max()), int(y_val.max())) + 1) if num_classes is None else num_classes
    xa, xa_val, w = _augment(x.detach().double()), _augment(x_val.detach().double()), w.detach().double()
    if method == "unrolled":
        _, loss, g = _unrolled(w, xa, y, xa_val, y_val, c, l2, unroll_steps, unroll_lr, True)
        return float(loss), g
    theta, _ = _newton(torch.zeros(c * xa.shape[1], dtype=torch.float64), w, xa, y, c, l2, 1e-14, 100)
    return float(_val_loss(theta, xa_val, y_val, c)), _implicit_hypergradient(theta, w, xa, y, xa_val, y_val, c, l2)


@dataclass
class OnlineComparison:
    """How L2RW's online, one-step weights relate to the exact ``w*`` on the same toy problem.

    Attributes:
        weights_at_init: ``(n,)`` L2RW weights at the first step (all ``n`` points in one batch).
        weights_mean: ``(n,)`` L2RW weights averaged over all online steps.
        cosine_at_init, cosine_mean: cosine similarity of those with ``w*`` (in [-1, 1]; 1 = same direction).
        pearson_at_init, pearson_mean: Pearson correlation with ``w*`` (NaN when a vector is constant).
        online_val_loss: validation loss after online L2RW training (nats); exact_val_loss: ``L_val(theta*(w*))``.
        online_seconds_per_step: wall time of one online L2RW weight computation + update.
        exact_wall_time_s: the exact solver's wall time; slowdown: ``exact_wall_time_s`` divided by the time of the
            whole online run.
    """

    weights_at_init: torch.Tensor
    weights_mean: torch.Tensor
    cosine_at_init: float
    cosine_mean: float
    pearson_at_init: float
    pearson_mean: float
    online_val_loss: float
    exact_val_loss: float
    online_seconds_per_step: float
    exact_wall_time_s: float
    slowdown: float


def _cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    denom = float(a.norm() * b.norm())
    return float(a @ b) / denom if denom > 0 else float("nan")


def _pearson(a: torch.Tensor, b: torch.Tensor) -> float:
    return _cosine(a - a.mean(), b - b.mean())


def compare_with_online(exact: BilevelResult, x: torch.Tensor, y: torch.Tensor, x_val: torch.Tensor,
                        y_val: torch.Tensor, *, steps: int = 200, lr: float = 0.5, seed: int = 0) -> OnlineComparison:
    """Train the same logistic regression online with L2RW (full batch, plain gradient descent on the weighted loss
    plus the same ridge term) and compare its weights with ``exact.weights``.

    Args:
        exact: the :class:`BilevelResult` of :func:`solve_bilevel` on the same data.
        steps: online steps (>= 1); lr: gradient-descent step size (> 0), also the look-ahead step size.
        seed: initialisation of the online model (``models.LogisticRegression``).
    """
    steps = check_int("steps", steps, 1)
    lr = check_in_range("lr", lr, 0.0, float("inf"), low_open=True, high_open=True)
    c = len(exact.theta) // (x.shape[1] + 1)
    x, x_val = x.detach().double().cpu(), x_val.detach().double().cpu()
    y, y_val = y.detach().long().cpu(), y_val.detach().long().cpu()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LogisticRegression(x.shape[1], c).double()
    history = []
    start = time.perf_counter()
    for _ in range(steps):
        w = l2rw_weights(model, x, y, x_val, y_val, lr=lr)
        history.append(w)
        loss = (w * F.cross_entropy(model(x), y, reduction="none")).sum()
        loss = loss + 0.5 * exact.l2 * sum(p.pow(2).sum() for p in model.parameters())
        grads = torch.autograd.grad(loss, list(model.parameters()))
        with torch.no_grad():
            for p, g in zip(model.parameters(), grads):
                p -= lr * g
    online_time = time.perf_counter() - start
    with torch.no_grad():
        online_val = float(F.cross_entropy(model(x_val), y_val))
    stacked = torch.stack(history)
    mean = stacked.mean(0)
    first = stacked[0]
    return OnlineComparison(weights_at_init=first, weights_mean=mean,
                            cosine_at_init=_cosine(first, exact.weights), cosine_mean=_cosine(mean, exact.weights),
                            pearson_at_init=_pearson(first, exact.weights), pearson_mean=_pearson(mean, exact.weights),
                            online_val_loss=online_val, exact_val_loss=float(exact.val_loss_trace[-1]),
                            online_seconds_per_step=online_time / steps, exact_wall_time_s=exact.wall_time_s,
                            slowdown=exact.wall_time_s / online_time)


def fit_inner(w: torch.Tensor, x: torch.Tensor, y: torch.Tensor, *, num_classes: int | None = None,
              l2: float = 1e-2) -> LogisticRegression:
    """``theta*(w)``: the inner problem solved to convergence (Newton) for given weights ``w`` ``(n,)``, as a float64
    :class:`~l2rw_viz.models.LogisticRegression` (e.g. to evaluate uniform weights exactly like ``w*``)."""
    l2 = check_in_range("l2", l2, 0.0, float("inf"), low_open=True, high_open=True)
    if w.shape != y.shape:
        raise ValueError(f"w has shape {tuple(w.shape)}; allowed: the shape of y {tuple(y.shape)}")
    c = int(y.max()) + 1 if num_classes is None else check_int("num_classes", num_classes, 2)
    xa = _augment(x.detach().double().cpu())
    theta, _ = _newton(torch.zeros(c * xa.shape[1], dtype=torch.float64), w.detach().double().cpu(), xa,
                       y.detach().long().cpu(), c, l2, 1e-12, 100)
    v = theta.view(c, -1)
    model = LogisticRegression(xa.shape[1] - 1, c).double()
    with torch.no_grad():
        model.linear.weight.copy_(v[:, :-1])
        model.linear.bias.copy_(v[:, -1])
    return model


def pearson(a: torch.Tensor, b: torch.Tensor) -> float:
    """Pearson correlation of two ``(n,)`` vectors (NaN when one is constant)."""
    return _pearson(a.double(), b.double())


def random_weight_pearson(target: torch.Tensor, draws: int = 1000, seed: int = 0) -> torch.Tensor:
    """``(draws,)`` Pearson correlations of ``target`` with random rectified-Gaussian weights ``max(N(0,1), 0)``
    (the paper's "random" baseline; normalising does not change a correlation): the chance level of agreement."""
    draws = check_int("draws", draws, 2)
    gen = torch.Generator().manual_seed(seed)
    w = torch.randn(draws, len(target), generator=gen, dtype=torch.float64).clamp(min=0)
    return torch.tensor([_pearson(row, target.double()) for row in w])


def cost_vs_parameters(dims: list[int] | tuple[int, ...], *, n: int = 40, outer_steps: int = 3, online_steps: int = 20,
                       seed: int = 0) -> list[dict]:
    """Seconds per outer step of the exact solver and per step of online L2RW, as the model grows.

    A two-blob problem with ``n`` training points (a quarter of the labels flipped) and 10 clean validation points,
    padded with ``d - 2`` pure-noise features, for each ``d`` in ``dims``: the logistic regression has
    ``P = 2 (d + 1)`` parameters. The exact solver trains ``theta*(w)`` to convergence and solves with the
    ``P x P`` Hessian at every outer step; the online method takes one look-ahead step per training step.

    Returns:
        One dict per ``d``: ``{"d", "parameters", "exact_s_per_outer_step", "online_s_per_step"}`` (wall clock).
    """
    from .data import make_noisy
    from .data.toy import make_toy

    rows = []
    for d in dims:
        d = check_int("dims entry", d, 2)
        pool = make_toy("blobs", n=5 * n, seed=seed, noise=0.6)
        data = make_noisy("blobs", noise_rate=0.25, n_train=n, n_val_per_class=5, n_test=20, seed=seed, pool=pool)
        gen = torch.Generator().manual_seed(seed)

        def pad(t, d=d, gen=gen):   # bound now: each loop round has its own width and generator
            return torch.cat([t.double(), torch.randn(len(t), d - 2, generator=gen, dtype=torch.float64)], 1)

        x, x_val = pad(data.x), pad(data.x_val)
        exact = solve_bilevel(x, data.y, x_val, data.y_val, outer_steps=outer_steps)
        online = compare_with_online(exact, x, data.y, x_val, data.y_val, steps=online_steps)
        rows.append({"d": d, "parameters": 2 * (d + 1), "exact_s_per_outer_step": exact.wall_time_s / outer_steps,
                     "online_s_per_step": online.online_seconds_per_step})
    return rows
