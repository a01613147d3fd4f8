"""One training loop for every method and device, recording a :class:`~l2rw_viz.history.History`.

SGD (with momentum, as in the paper) on mini-batches; per step the method decides the loss (usually a weighted
loss whose weights it chose), and the loop records which examples were in the batch and what weight each got.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .checks import (
    check_choice,
    check_dataset_sets,
    check_in_range,
    check_int,
    check_model,
    check_model_output,
    check_seed,
)
from .data.dataset import BiasedDataset
from .device import describe_device, resolve_device
from .divergence import TrainingDivergedError
from .history import History
from .methods import Method, MethodSetup, StepContext, get_method

# Divergence, one rule for every method (issue 24). The bound on a loss is derived from the run's initial training
# loss: over every History the package ships, the largest training, validation or test loss is 6.4x the initial
# one (4.1 nats), so 100x leaves 15x headroom; the +50 nats cover a small initial loss (a pre-trained model): a mean
# cross-entropy of 50 nats gives the right class e^-50 on average, which no converging run does. A learning rate
# that blows training up gives 1e18 to 1e21 nats. All-zero weights: the shipped rows reach 45% of the steps (L2RW
# at proportion 0.995) and the paper recipe's 56%; a run whose weights are all zero at 90% of its steps (after the
# first 100, and counted over at least 100 steps) learned almost nothing from its data.
LOSS_BOUND_FACTOR = 100.0
LOSS_BOUND_MARGIN_NATS = 50.0
ZERO_WEIGHT_LIMIT = 0.9
ZERO_WEIGHT_SKIP_STEPS = 100
ZERO_WEIGHT_MIN_STEPS = 100


def loss_bound(initial_loss: float) -> float:
    """The largest loss (nats) a sane run may reach, from its initial training loss: ``max(100 x initial,
    initial + 50)``."""
    return max(LOSS_BOUND_FACTOR * initial_loss, initial_loss + LOSS_BOUND_MARGIN_NATS)


class DivergenceRule:
    """Stops a run that diverged, the same way for every method: a loss or a parameter that is NaN or infinite, a
    loss above :func:`loss_bound` of the initial training loss, or weights that are all zero at
    ``ZERO_WEIGHT_LIMIT`` of the steps (checked at the end, so a row is never half-recorded). Its checks only read
    numbers the loop has computed: they change nothing a run computes (no RNG draw, no extra operation on the
    model)."""

    def __init__(self, method: str, lr: float, on_stop: Callable[[], None] | None = None):
        self.method, self.lr, self.on_stop = method, lr, on_stop
        self.bound: float | None = None
        self.zero_steps = 0
        self.counted_steps = 0

    def _stop(self, what: str, step: int, hint: str = "try a smaller lr") -> None:
        if self.on_stop is not None:
            self.on_stop()
        raise TrainingDivergedError(f"{what} at step {step} (method={self.method!r}, lr={self.lr:g}); the run "
                                    f"diverged and has no result; {hint}")

    def check_loss(self, name: str, value: float, step: int) -> None:
        """``value`` (nats): finite, and within the bound set by the first training loss checked."""
        if not np.isfinite(value):
            self._stop(f"the {name} became {value}", step)
        if self.bound is None:
            self.bound = loss_bound(max(value, 0.0))
        elif value > self.bound:
            self._stop(f"the {name} reached {value:.3g} nats, above the bound {self.bound:.3g} (100 x the initial "
                       "training loss, at least 50 nats more)", step)

    def check_parameters(self, model: nn.Module, step: int) -> None:
        bad = [name for name, p in model.named_parameters() if not bool(torch.isfinite(p).all())]
        if bad:
            self._stop(f"parameter(s) {bad[:3]} became NaN or infinite", step)

    def count_weights(self, step: int, all_zero: bool) -> None:
        if step >= ZERO_WEIGHT_SKIP_STEPS:
            self.counted_steps += 1
            self.zero_steps += all_zero

    def check_weights(self, last_step: int) -> None:
        """At the end of the run: weights all zero at most of the counted steps is a run that learned nothing."""
        n = self.counted_steps
        if n >= ZERO_WEIGHT_MIN_STEPS and self.zero_steps >= ZERO_WEIGHT_LIMIT * n:
            self._stop(f"the weights were all zero at {self.zero_steps} of the {n} steps after step "
                       f"{ZERO_WEIGHT_SKIP_STEPS} ({100 * self.zero_steps / n:.0f}%, limit "
                       f"{100 * ZERO_WEIGHT_LIMIT:.0f}%)", last_step,
                       "no example was worth learning from; check the validation set, or try a smaller lr")


class HistoryRecorder:
    """Collects per-step records; :meth:`snapshot` turns what is there so far into a History (for live plots)."""

    def __init__(self, dataset: BiasedDataset, meta: dict):
        self._truth = {k: getattr(dataset, k).numpy().copy() for k in ("y", "y_clean", "is_noisy", "is_minority")}
        self.meta = meta
        self.steps: list[int] = []
        self.indices: list[np.ndarray] = []
        self.weights: list[torch.Tensor] = []
        self.train_loss: list[float] = []
        self.weighted_loss: list[float] = []
        self.val_loss: list[float] = []
        self.evals: list[tuple[int, float, float, float]] = []

    def snapshot(self) -> History:
        b = len(self.indices[0]) if self.indices else 0
        ev = np.array(self.evals, dtype=np.float64).reshape(-1, 4)
        return History(
            steps=np.array(self.steps, dtype=np.int64),
            indices=np.stack(self.indices).astype(np.int64) if self.indices else np.zeros((0, b), np.int64),
            weights=(torch.stack(self.weights).float().cpu().numpy() if self.weights
                     else np.zeros((0, b), np.float32)),
            train_loss=np.array(self.train_loss, dtype=np.float64),
            weighted_loss=np.array(self.weighted_loss, dtype=np.float64),
            val_loss=np.array(self.val_loss, dtype=np.float64),
            eval_steps=ev[:, 0].astype(np.int64), test_acc=ev[:, 1], val_acc=ev[:, 2], test_loss=ev[:, 3],
            **self._truth, meta=dict(self.meta),
        )


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1000) -> tuple[float, float]:
    """``(accuracy in [0, 1], mean cross-entropy)`` of ``model`` on ``(x, y)``, in eval mode, batched.

    The model's train/eval mode is restored afterwards.
    """
    was_training = model.training
    model.eval()
    correct, total_loss = 0, 0.0
    for start in range(0, len(y), batch_size):
        logits = model(x[start:start + batch_size])
        yb = y[start:start + batch_size]
        correct += int((logits.argmax(1) == yb).sum())
        total_loss += float(F.cross_entropy(logits, yb, reduction="sum"))
    model.train(was_training)
    return correct / max(len(y), 1), total_loss / max(len(y), 1)


def setup_method(method: Method, dataset: BiasedDataset, model: nn.Module, *, batch_size: int = 100,
                 steps: int = 1000, seed: int = 0, lr: float = 1e-3, device: str | torch.device = "cpu") -> Method:
    """Tell ``method`` about its run (:meth:`~l2rw_viz.methods.Method.setup`): what :func:`train` does first. For
    calling a method's hooks by hand (tests, notebooks); the trainer's own functions come with it, so a method that
    pre-trains a copy of the network (noise layer +Conf, loss correction, MentorNet-DD) needs no import of this
    module. Returns ``method``."""
    method.setup(MethodSetup(dataset=dataset, model=model, batch_size=batch_size, steps=steps, seed=seed, lr=lr,
                             device=resolve_device(device), train=train, evaluate=evaluate))
    return method


def train(model: nn.Module, dataset: BiasedDataset, method: str | Method = "plain", *, steps: int = 1000,
          batch_size: int = 100, lr: float = 1e-3, momentum: float = 0.9, weight_decay: float = 0.0,
          device: str | torch.device = "auto", seed: int = 0, eval_every: int = 100, record_every: int = 1,
          lr_schedule: Callable[[int], float] | None = None, on_zero_weights: str = "skip",
          progress: bool = True, callback: Callable[[HistoryRecorder, int], bool | None] | None = None,
          deterministic: bool = True) -> History:
    """Train ``model`` in place on ``dataset`` with ``method`` and return the run's History.

    Args:
        model: any ``nn.Module`` mapping ``(b, *F)`` to logits ``(b, C)``; trained in place, moved to ``device``.
        dataset: a :class:`~l2rw_viz.data.dataset.BiasedDataset`.
        method: a registered name (``"plain"``, ``"l2rw"``, ``"proportion"``, ...) or a ``Method`` instance.
        steps: number of SGD steps (>= 1). batch_size: examples per step (>= 1).
        lr: learning rate (> 0); momentum in [0, 1); weight_decay >= 0. As in the paper: SGD, lr 1e-3, momentum 0.9.
        device: ``"auto"`` (CUDA if available), ``"cpu"``, ``"cuda"``...
        seed: seeds batch order and the method's random numbers (and torch's global RNG, for dropout).
        eval_every: evaluate test/validation accuracy every this many steps (and always after the last step).
        record_every: record the batch's indices and weights every this many steps (1 = every step).
        lr_schedule: optional ``step -> factor``; the step's learning rate is ``lr * factor``.
        on_zero_weights: what a step does when the method gives every example weight 0 (L2RW does this when no
            example's gradient agrees with the validation gradient). ``"skip"`` (default): no parameter update at
            all — the method said nothing in this batch is worth learning from. ``"step"``: call the optimiser
            anyway, so momentum still moves the parameters (what the paper's official code does).
        progress: show a ``tqdm`` progress bar.
        callback: ``callback(recorder, step)`` after every recorded step; return ``False`` to stop early (the
            History then ends at that step and ``meta["stopped_early"]`` is True).
        deterministic: ask torch for deterministic kernels, so the same seed on the same device gives an
            identical History.
    Raises:
        ValueError: a bad argument (named, with its value and the allowed range) — before any training.
        TrainingDivergedError: the run diverged (:class:`DivergenceRule`, one rule for every method): a loss or a
            parameter became NaN or infinite, a loss rose above :func:`loss_bound` of the initial training loss, or
            the weights were all zero at 90% of the steps after the first 100 (the data was checked finite first,
            so a smaller ``lr`` helps).
    """
    steps = check_int("steps", steps, 1)
    batch_size = check_int("batch_size", batch_size, 1)
    lr = check_in_range("lr", lr, 0.0, float("inf"), low_open=True, high_open=True)
    momentum = check_in_range("momentum", momentum, 0.0, 1.0, high_open=True)
    weight_decay = check_in_range("weight_decay", weight_decay, 0.0, float("inf"), high_open=True)
    eval_every = check_int("eval_every", eval_every, 1)
    record_every = check_int("record_every", record_every, 1)
    check_choice("on_zero_weights", on_zero_weights, ["skip", "step"])
    seed = check_seed("seed", seed)
    if not isinstance(dataset, BiasedDataset):
        raise ValueError(f"dataset={type(dataset).__name__} is not allowed; allowed: a BiasedDataset")
    check_model(model)
    method = get_method(method)
    # every set must give real numbers before the first step (an empty or NaN set would be reported as a result)
    check_dataset_sets(dataset, needs_validation=method.uses_validation, method=method.name)
    dev = resolve_device(device)

    # deterministic kernels for this run only: the caller's global setting is restored afterwards
    previous = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled())
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        return _run(model, dataset, method, dev, steps=steps, batch_size=batch_size, lr=lr, momentum=momentum,
                    weight_decay=weight_decay, seed=seed, eval_every=eval_every, record_every=record_every,
                    lr_schedule=lr_schedule, on_zero_weights=on_zero_weights, progress=progress, callback=callback)
    finally:
        torch.use_deterministic_algorithms(previous[0], warn_only=previous[1])


def _run(model: nn.Module, dataset: BiasedDataset, method: Method, dev: torch.device, *, steps: int,
         batch_size: int, lr: float, momentum: float, weight_decay: float, seed: int, eval_every: int,
         record_every: int, lr_schedule, on_zero_weights: str, progress: bool, callback) -> History:
    """The loop of :func:`train`, on validated arguments."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    generator = torch.Generator(device=dev).manual_seed(seed)

    model.to(dev)
    setup_method(method, dataset, model, batch_size=batch_size, steps=steps, seed=seed, lr=lr, device=dev)
    data = method.prepare(dataset, seed)
    if data.n < 1:
        raise ValueError("dataset has no training examples; allowed: at least 1")
    train_model = method.wrap_model(model).to(dev)
    train_model.train()
    x, y = data.x.to(dev), data.y.to(dev)
    x_val, y_val = data.x_val.to(dev), data.y_val.to(dev)
    x_test, y_test = data.x_test.to(dev), data.y_test.to(dev)
    # the model against the data, before training: one forward on two examples (no grad, eval mode, RNG restored)
    check_model_output(model, x[:2], data.num_classes)
    optimizer = torch.optim.SGD(train_model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    sampler = method.make_sampler(data, batch_size, rng)

    meta = {"method": method.name, "method_settings": method.describe(), "seed": seed, "steps": steps,
            "batch_size": batch_size, "lr": lr, "momentum": momentum, "weight_decay": weight_decay,
            "on_zero_weights": on_zero_weights, "device": describe_device(dev), "model": type(model).__name__,
            "dataset": {k: v for k, v in data.info.items() if isinstance(v, (int, float, str, bool, type(None)))},
            "n_train": data.n, "n_val": len(y_val), "stopped_early": False}
    recorder = HistoryRecorder(data, meta)
    start = time.perf_counter()
    bar = tqdm(range(steps), desc=f"{method.name}", disable=not progress, leave=False, unit="step")
    rule = DivergenceRule(method.name, lr, on_stop=bar.close)
    for step in bar:
        step_lr = lr * (lr_schedule(step) if lr_schedule is not None else 1.0)
        for group in optimizer.param_groups:
            group["lr"] = step_lr
        idx = np.asarray(next(sampler), dtype=np.int64)
        idx_t = torch.from_numpy(idx).to(dev)
        ctx = StepContext(model=train_model, x=x[idx_t], y=y[idx_t], idx=idx, x_val=x_val, y_val=y_val, step=step,
                          lr=step_lr, dataset=data, generator=generator, per_example_loss=method.per_example_loss)
        out = method.step(ctx)
        # one read of both numbers (one device sync): the loss minimised and the batch's mean loss
        minimised, train_loss = torch.stack([out.loss.detach().reshape(()).float(),
                                             out.per_example_losses.detach().mean().float()]).tolist()
        rule.check_loss("training loss", minimised if not np.isfinite(minimised) else train_loss, step)
        optimizer.zero_grad(set_to_none=True)
        all_zero = bool(out.weights.sum() == 0)
        rule.count_weights(step, all_zero)
        if not (all_zero and on_zero_weights == "skip"):
            if out.loss.requires_grad:
                out.loss.backward()
            optimizer.step()

        recorded = step % record_every == 0 or step == steps - 1
        if recorded:
            with torch.no_grad():
                was = train_model.training
                model.eval()
                val_loss = float(F.cross_entropy(model(x_val), y_val))
                model.train(was)
            if len(y_val):
                rule.check_loss("validation loss", val_loss, step)
            recorder.steps.append(step)
            recorder.indices.append(idx)
            recorder.weights.append(out.weights.detach().to("cpu", torch.float32))
            recorder.train_loss.append(float(out.per_example_losses.mean()))
            recorder.weighted_loss.append(float(out.loss.detach()))
            recorder.val_loss.append(val_loss)
        if (step + 1) % eval_every == 0 or step == steps - 1:
            test_acc, test_loss = evaluate(model, x_test, y_test)
            rule.check_loss("test loss", test_loss, step)
            rule.check_parameters(model, step)
            val_acc, _ = evaluate(model, x_val, y_val)
            recorder.evals.append((step, test_acc, val_acc, test_loss))
            bar.set_postfix(test_acc=f"{test_acc:.3f}")
        if recorded and callback is not None and callback(recorder, step) is False:
            meta["stopped_early"] = True
            break
    bar.close()
    rule.check_parameters(model, recorder.steps[-1])
    rule.check_weights(recorder.steps[-1])
    meta["wall_time_s"] = time.perf_counter() - start
    changed = method.end_of_training(model)   # e.g. +ES restores its best parameters
    meta["method_settings"] = method.describe()   # now with what the method learned during the run
    if changed or not recorder.evals or recorder.evals[-1][0] != recorder.steps[-1]:
        test_acc, test_loss = evaluate(model, x_test, y_test)
        val_acc, _ = evaluate(model, x_val, y_val)
        if changed and recorder.evals and recorder.evals[-1][0] == recorder.steps[-1]:
            recorder.evals.pop()   # the parameters the method kept replace the last evaluation
        recorder.evals.append((recorder.steps[-1], test_acc, val_acc, test_loss))
    return recorder.snapshot()
