"""The entry point of a sweep's worker processes (``l2rw_viz.experiments.sweep`` with ``jobs > 1``).

Kept apart from :mod:`l2rw_viz.experiments` on purpose: a worker imports this module (numpy-free, stdlib only) and
starts its watchdog before it imports torch, pandas and the methods, which takes tens of seconds on a loaded
machine. A sweep killed in that time must not leave its workers behind. The run itself arrives as a plain dict
(the fields of ``RunSpec``), so unpickling it imports nothing heavy either.
"""

from __future__ import annotations

import os
import threading
import time

_watching_parent = False


def exit_with_parent(parent_pid: int, poll_s: float = 1.0) -> None:
    """In a sweep worker process: exit as soon as the sweep's process (``parent_pid``) is gone. After ``kill -9``
    of a sweep, joblib's workers otherwise live on for minutes, each holding a few hundred MB, and their results
    could not be saved anyway (the parent writes the rows). Started once per worker process."""
    global _watching_parent
    if _watching_parent or parent_pid == os.getpid():
        return
    _watching_parent = True

    direct = os.getppid() == parent_pid

    def gone() -> bool:
        if direct:  # a dead parent's children are re-parented at once, even while it is a zombie
            return os.getppid() != parent_pid
        try:
            os.kill(parent_pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass
        return False

    def watch() -> None:
        while not gone():
            time.sleep(poll_s)
        os._exit(1)

    threading.Thread(target=watch, name="l2rw-exit-with-sweep", daemon=True).start()


def run_in_worker(spec: dict, threads: int | None, parent_pid: int | None = None) -> dict:
    """Run one sweep run (``spec``: the fields of ``RunSpec``) with ``threads`` torch threads, without writing (the
    sweep's process writes). ``parent_pid``: the sweep's process; the worker exits when it dies."""
    if parent_pid is not None:
        exit_with_parent(parent_pid)
    # imported only now, after the watchdog started (see the module docstring)
    from .experiments.run import run_one
    from .train import TrainingDivergedError

    try:
        return run_one(spec["experiment"], spec["method"], spec["setting"], spec["seed"], spec["steps"],
                       spec["device"], spec["data_source"], threads=threads, **spec["options"])
    except TrainingDivergedError as error:   # one diverged run must not stop the others: the sweep reports it
        return {"diverged": str(error), "spec": spec}
