"""Live toy training for the explorer: build the biased toy data from an :class:`ExplorerState`, train with the
one trainer, and record decision-boundary snapshots on the way (the History itself holds no model).

A :class:`BackgroundTrainer` runs one job at a time in a thread. Every new request bumps a generation counter;
the running job's callback sees that it is stale and returns ``False``, which stops ``train`` at its next step —
so dragging a slider cancels old runs instead of piling them up.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..data.corrupt import make_imbalanced_noisy
from ..data.dataset import BiasedDataset
from ..device import cpu_threads, describe_device, resolve_device
from ..history import History
from ..models import toy_mlp
from ..train import HistoryRecorder, train
from .boundary import BoundaryGrid, boundary_grid, grid_bounds
from .state import ExplorerState


def toy_dataset(state: ExplorerState) -> BiasedDataset:
    """The biased toy data the state describes: imbalance ``proportion`` and ``noise_rate`` flips of
    ``noise_mode``, ``n_train`` points, ``n_val`` clean validation points, 400 test points, all from ``seed``.

    At ``proportion = 0.5`` the classes are balanced (no minority is drawn as such in the figures)."""
    state.validate()
    return make_imbalanced_noisy(state.data, proportion=state.proportion, noise_rate=state.noise_rate,
                                 noise_mode=state.noise_mode, n_train=state.n_train, n_val=state.n_val, n_test=400,
                                 seed=state.seed)


@dataclass
class ToyRun:
    """One toy training run: its data, History, the model and boundary snapshots taken during training.

    ``boundaries[i]`` is the model's :class:`BoundaryGrid` after step ``boundaries[i].step``; the last one is
    after the final step. ``generation`` is the background trainer's request number (0 when run directly).
    """

    dataset: BiasedDataset
    history: History
    model: object
    boundaries: list[BoundaryGrid] = field(default_factory=list)
    wall_time_s: float = 0.0
    device: str = "cpu"
    generation: int = 0

    @property
    def x(self) -> np.ndarray:
        """``(n, 2)`` float32 training points."""
        return self.dataset.x.numpy()


def train_toy(state: ExplorerState, method: str | None = None, dataset: BiasedDataset | None = None,
              callback: Callable[[History, BoundaryGrid | None, int], bool | None] | None = None,
              boundary_every: int = 25, stream_every: int = 25, resolution: int = 50,
              keep_going: Callable[[], bool] | None = None, threads: int | None = 1,
              generation: int = 0) -> ToyRun:
    """Train the toy MLP for ``state`` with ``method`` (default ``state.method``) and record boundary snapshots.

    Args:
        dataset: reuse already-built data (so several methods see identical points); default :func:`toy_dataset`.
        callback: ``callback(history_so_far, latest_boundary, step)`` every ``stream_every`` steps and after
            the last; return ``False`` to stop training early (the History then ends there).
        boundary_every: take a :class:`BoundaryGrid` every this many steps (and after the last step).
        resolution: boundary grid size per axis.
        keep_going: polled after every step; when it returns False training stops (cancellation of stale runs).
        threads: torch CPU threads during the run (restored afterwards; ``None`` leaves them). A 2-D toy MLP's
            matrices are far too small to split, and on a busy 2-core machine extra threads only fight each
            other: one thread measured 4-10x faster here.
    Returns:
        A :class:`ToyRun`. The model's initial weights come from ``state.seed`` (same seed, same start).
    """
    state.validate()
    method = state.method if method is None else method
    if isinstance(method, str):
        # resolved once from the state (its method_args for the state's method; settings that depend on the run,
        # e.g. fine-tuning's switch step or +es/+ft, filled in exactly as `l2rw-viz run toy-...` does)
        method = state.resolve(None if method == state.method else method).build()
    data = toy_dataset(state) if dataset is None else dataset
    dev = resolve_device(state.device)
    import torch

    with torch.random.fork_rng(devices=[]):  # reproducible initial weights without touching the global RNG
        torch.manual_seed(state.seed)
        model = toy_mlp(2, data.num_classes)
    bounds = grid_bounds(data.x.numpy())
    boundaries: list[BoundaryGrid] = []
    last_step = state.steps - 1

    def on_step(recorder: HistoryRecorder, step: int) -> bool | None:
        if keep_going is not None and not keep_going():
            return False
        if step % boundary_every == 0 or step == last_step:
            boundaries.append(boundary_grid(model, bounds, resolution, step=step))
        if callback is not None and (step % stream_every == 0 or step == last_step):
            return callback(recorder.snapshot(), boundaries[-1] if boundaries else None, step)
        return None

    start = time.perf_counter()
    with cpu_threads(dev, threads):
        history = train(model, data, method, steps=state.steps, batch_size=state.batch_size, lr=state.lr,
                        device=dev, seed=state.seed, eval_every=max(state.steps // 10, 1), progress=False,
                        callback=on_step)
    stopped_at = int(history.steps[-1])
    if not boundaries or boundaries[-1].step != stopped_at:
        boundaries.append(boundary_grid(model, bounds, resolution, step=stopped_at))
    return ToyRun(data, history, model, boundaries, time.perf_counter() - start, describe_device(dev), generation)


class BackgroundTrainer:
    """Runs one toy job at a time in a daemon thread; a newer request cancels the older one.

    ``submit(job)`` where ``job(is_current) -> result``: the job must poll ``is_current()`` (e.g. from the
    training callback, returning ``False`` when it turns stale). ``on_result(result, generation)`` and
    ``on_error(exc, generation)`` are called from the worker thread, only for the current generation.
    ``debounce_s`` waits that long before starting, so a burst of slider events trains only the last setting.
    """

    def __init__(self, on_result: Callable[[object, int], None],
                 on_error: Callable[[BaseException, int], None] | None = None,
                 debounce_s: float = 0.15):
        self.on_result = on_result
        self.on_error = on_error
        self.debounce_s = debounce_s
        self.generation = 0
        self.started = 0      # jobs that got past the debounce and started training
        self.cancelled = 0    # jobs that stopped early because a newer one arrived
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, job: Callable[[Callable[[], bool]], object]) -> int:
        """Queue ``job`` as the newest request and return its generation number."""
        with self._lock:
            self.generation += 1
            gen = self.generation
        thread = threading.Thread(target=self._run, args=(job, gen), daemon=True, name=f"l2rw-viz-train-{gen}")
        self._thread = thread
        thread.start()
        return gen

    def is_current(self, generation: int) -> bool:
        return generation == self.generation

    def _run(self, job, gen: int) -> None:
        time.sleep(self.debounce_s)
        if not self.is_current(gen):
            self.cancelled += 1
            return
        # one training at a time: wait for the previous (now stale, so stopping) job to leave
        with _TRAIN_LOCK:
            if not self.is_current(gen):
                self.cancelled += 1
                return
            self.started += 1
            try:
                result = job(lambda: self.is_current(gen))
            except BaseException as exc:  # reported to the UI instead of dying silently in a thread
                if self.is_current(gen) and self.on_error is not None:
                    self.on_error(exc, gen)
                return
        if self.is_current(gen):
            self.on_result(result, gen)
        else:
            self.cancelled += 1

    def wait(self, timeout: float = 30.0) -> bool:
        """Block until the newest job has finished (tests, scripts); True if it did within ``timeout`` seconds."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            t = self._thread
            if t is None:
                return True
            t.join(timeout=max(deadline - time.perf_counter(), 0.0))
            if t is self._thread and not t.is_alive():
                return True
        return False


_TRAIN_LOCK = threading.Lock()
