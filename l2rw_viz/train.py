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
from .history import History
from .methods import Method, MethodSetup, StepContext, get_method


class TrainingDivergedError(FloatingPointError):
    """The loss became NaN or infinite: training stopped instead of silently producing garbage."""


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
        TrainingDivergedError: the loss became NaN/inf (the data was checked finite first, so a smaller ``lr``
            helps).
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
    for step in bar:
        step_lr = lr * (lr_schedule(step) if lr_schedule is not None else 1.0)
        for group in optimizer.param_groups:
            group["lr"] = step_lr
        idx = np.asarray(next(sampler), dtype=np.int64)
        idx_t = torch.from_numpy(idx).to(dev)
        ctx = StepContext(model=train_model, x=x[idx_t], y=y[idx_t], idx=idx, x_val=x_val, y_val=y_val, step=step,
                          lr=step_lr, dataset=data, generator=generator, per_example_loss=method.per_example_loss)
        out = method.step(ctx)
        if not torch.isfinite(out.loss):
            bar.close()
            raise TrainingDivergedError(
                f"the training loss became {float(out.loss.detach())} at step {step} "
                f"(method={method.name!r}, lr={step_lr}); "
                "try a smaller lr")
        optimizer.zero_grad(set_to_none=True)
        all_zero = bool(out.weights.sum() == 0)
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
            recorder.steps.append(step)
            recorder.indices.append(idx)
            recorder.weights.append(out.weights.detach().to("cpu", torch.float32))
            recorder.train_loss.append(float(out.per_example_losses.mean()))
            recorder.weighted_loss.append(float(out.loss.detach()))
            recorder.val_loss.append(val_loss)
        if (step + 1) % eval_every == 0 or step == steps - 1:
            test_acc, test_loss = evaluate(model, x_test, y_test)
            val_acc, _ = evaluate(model, x_val, y_val)
            recorder.evals.append((step, test_acc, val_acc, test_loss))
            bar.set_postfix(test_acc=f"{test_acc:.3f}")
        if recorded and callback is not None and callback(recorder, step) is False:
            meta["stopped_early"] = True
            break
    bar.close()
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
