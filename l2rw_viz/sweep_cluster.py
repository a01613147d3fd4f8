"""Sweeps on a Dask cluster: the runs of ``sweep(..., backend="dask", scheduler=ADDRESS)`` as Dask tasks, through
joblib's Dask backend (``dask.distributed``).

    dask scheduler                                        # on one machine: prints tcp://HOST:8786
    dask worker tcp://HOST:8786 --nworkers 8 --nthreads 1  # on each machine with l2rw-viz installed
    l2rw-viz sweep mnist-imbalance --recipe paper --methods fig8 --out paper.csv --backend dask \
        --scheduler tcp://HOST:8786

Each task is one run: a worker gets the run's spec as a plain dict and calls
:func:`l2rw_viz.sweep_worker.run_in_worker`, exactly as a local worker process does, and returns the row. The sweeping
process alone writes rows (each as it arrives, atomically), so the guarantees of a local sweep hold: finished rows
are skipped by the next sweep; a run that fails stops the sweep with its error and is run again by the next sweep;
a worker that dies mid-run has its run moved to another worker by the scheduler (``distributed.scheduler.
allowed-failures`` times, then :class:`WorkerLostError`: the rest is run again by the next sweep); a Ctrl-C or a
killed sweeping process loses no row already written (its unfinished tasks are released with its connection).

What the cluster must offer, checked before the first run (a ``ValueError`` naming the scheduler otherwise): at
least one worker within ``timeout`` seconds, one thread per worker process (a run seeds torch's global random
generator, so two runs in one process at once would not repeat), and the same version of l2rw-viz as the sweeping
process on every worker (each row also records the version that computed it, ``l2rw_viz_version``).

This module imports Dask only inside its functions, and stays light (standard library and joblib) so that a worker
can unpickle :func:`worker_description` without importing torch.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from . import __version__

BACKENDS = ("local", "dask")


class WorkerLostError(RuntimeError):
    """A Dask worker died running a run more often than the scheduler allows: the sweep stops; rows written so far
    stay, and the same sweep started again runs what is missing."""


def check_backend(backend: str, scheduler: str | None, jobs: int) -> None:
    """``backend``, ``scheduler`` and ``jobs`` of a sweep together (see :func:`l2rw_viz.experiments.sweep`), before
    any run: a ``ValueError`` naming the argument, its value and what is allowed."""
    from .checks import check_choice  # here: checks imports torch, and a worker unpickles this module

    check_choice("backend", backend, BACKENDS)
    if backend == "dask" and scheduler is None:
        raise ValueError("scheduler=None with backend='dask'; allowed: a Dask scheduler's address, e.g. "
                         "tcp://10.0.0.5:8786")
    if backend == "dask" and (not isinstance(scheduler, str) or not scheduler.strip()):
        raise ValueError(f"scheduler={scheduler!r} is not an address; allowed: a Dask scheduler's address, e.g. "
                         "tcp://10.0.0.5:8786")
    if backend == "local" and scheduler is not None:
        raise ValueError(f"scheduler={scheduler!r} with backend='local'; allowed: backend='dask' for a scheduler, "
                         "or no scheduler")
    if backend == "dask" and jobs != 1:
        raise ValueError(f"jobs={jobs!r} with backend='dask': the cluster's workers decide how many runs run at "
                         "once; allowed: jobs=1 (start more workers instead)")


def worker_description() -> dict:
    """Run on each Dask worker before the sweep: what the sweeping process checks (version, process id)."""
    return {"l2rw_viz": __version__, "pid": os.getpid()}


def _client(scheduler: str, timeout: float):
    try:
        from dask.distributed import Client
    except ImportError as error:
        raise ValueError(f"backend='dask' needs dask.distributed, which is not installed ({error}); allowed: "
                         "backend='local', or `pip install \"dask[distributed]\"`") from None
    try:
        return Client(scheduler, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError, TypeError) as error:
        raise ValueError(f"scheduler={scheduler!r}: no Dask scheduler answered within {timeout:g} s ({error}); "
                         "allowed: the address of a running scheduler, e.g. tcp://10.0.0.5:8786") from None


def check_workers(client, scheduler: str, timeout: float) -> dict[str, dict]:
    """The cluster's workers (``{address: worker_description()}``), after checking what a sweep needs of them (see
    the module docstring); a ``ValueError`` naming the scheduler and what is allowed otherwise."""
    try:
        client.wait_for_workers(1, timeout=timeout)
    except TimeoutError:
        raise ValueError(f"scheduler={scheduler!r} has no workers after {timeout:g} s; allowed: a scheduler with "
                         f"workers (`dask worker {scheduler} --nthreads 1` on machines with l2rw-viz)") from None
    threads = client.nthreads()
    several = {address: n for address, n in threads.items() if n != 1}
    if several:
        raise ValueError(f"scheduler={scheduler!r} has workers with several threads ({several}): two runs in one "
                         "process would share torch's random generator; allowed: workers started with --nthreads 1 "
                         "(use --nworkers for more runs per machine)")
    try:
        described = client.run(worker_description)
    except ImportError as error:   # l2rw_viz is missing on a worker: unpickling the function fails there
        raise ValueError(f"scheduler={scheduler!r} has workers without l2rw-viz ({error}); allowed: workers on "
                         f"machines where `pip install l2rw-viz=={__version__}` was run") from None
    other = {address: d["l2rw_viz"] for address, d in described.items() if d["l2rw_viz"] != __version__}
    if other:
        raise ValueError(f"scheduler={scheduler!r} has workers with another l2rw-viz version ({other}, this process "
                         f"has {__version__}); allowed: workers with l2rw-viz=={__version__}")
    return described


def _joblib_dask_backend(client, timeout: float):
    """joblib's Dask backend for ``client``, with one fix: a task whose Dask future ends in error (a worker lost, a
    task cancelled) is reported to joblib as a failed task. joblib's own backend (1.6) only calls joblib back for
    tasks that finished, so a ``KilledWorker`` left ``Parallel`` waiting forever (seen here: a sweep hung after its
    worker was killed with ``distributed.scheduler.allowed-failures`` 0)."""
    import asyncio

    from joblib._dask import DaskDistributedBackend

    class ReportingDaskBackend(DaskDistributedBackend):
        async def _collect(self):
            while self._continue:
                async for future, result in self.waiting_futures:
                    cf_future = self._results.pop(future)
                    callback = self._callbacks.pop(future)
                    if future.status == "finished":
                        cf_future.set_result(result)
                        callback(result)
                    else:   # "error": (type, exception, traceback); "cancelled": the exception
                        error = result[1] if isinstance(result, tuple) else result
                        cf_future.set_exception(error)
                        callback(error)   # joblib raises it in the sweeping process (retrieve_result_callback)
                await asyncio.sleep(0.01)

    return ReportingDaskBackend(client=client, wait_for_workers_timeout=timeout)


@contextlib.contextmanager
def dask_parallel(scheduler: str, timeout: float = 30.0) -> Iterator:
    """A joblib ``Parallel`` (results as they finish, one run per task) on the Dask cluster at ``scheduler``, after
    :func:`check_workers`. The connection is closed on leaving, also on Ctrl-C: the scheduler then releases this
    sweep's tasks that have not started. A worker lost too often raises :class:`WorkerLostError`."""
    from joblib import Parallel, parallel_config

    check_backend("dask", scheduler, 1)
    client = _client(scheduler, timeout)
    try:
        check_workers(client, scheduler, timeout)
        from distributed import KilledWorker

        # batch_size=1: a task is one run (joblib would otherwise batch short tasks, and a lost worker would take a
        # whole batch with it)
        with parallel_config(backend=_joblib_dask_backend(client, timeout)):
            try:
                yield Parallel(return_as="generator_unordered", batch_size=1)
            except KilledWorker as error:
                raise WorkerLostError(f"a Dask worker of {scheduler} died running a run, more often than its "
                                      f"scheduler allows ({error}); the rows finished so far are written: run the "
                                      "same sweep again to run the rest") from None
    finally:
        client.close()


__all__ = ["BACKENDS", "WorkerLostError", "check_backend", "check_workers", "dask_parallel", "worker_description"]
