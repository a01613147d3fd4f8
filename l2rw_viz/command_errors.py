"""How every ``l2rw-viz`` command ends on an error: one line naming what is wrong, never a raw traceback.

    with reported_errors("l2rw-viz export", path=args.out):
        ...

- ``ValueError`` (a bad option, file or value, found by the library's checks): exit status 2, its message;
- ``OSError`` on any input or output path (missing, a folder, read-only, full disk, a file where a folder belongs):
  exit status 2, ``PATH: reason`` (the error's own file name, else ``path``);
- a diverged run (``TrainingDivergedError``), a Dask sweep's lost worker (``WorkerLostError``) or a failed
  download (``MnistDownloadError``): exit status 1, its message (the command ran; its result is that there is none);
- Ctrl-C: exit status 130, ``interrupted`` (every file is written atomically, so nothing half-written is left).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

from .outputs import os_error_text


def fail(prog: str, message: str, status: int = 2):
    """Print ``PROG: error: MESSAGE`` to stderr and exit with ``status`` (argparse's form and status)."""
    sys.stderr.write(f"{prog}: error: {message}\n")
    raise SystemExit(status)


@contextlib.contextmanager
def reported_errors(prog: str, path: str | os.PathLike | None = None) -> Iterator[None]:
    """Turn the errors a command can meet into one line and an exit status (see the module docstring)."""
    from .data.mnist import MnistDownloadError
    from .sweep_cluster import WorkerLostError
    from .train import TrainingDivergedError

    try:
        yield
    except KeyboardInterrupt:
        fail(prog, "interrupted (Ctrl-C); files are written atomically, so none was left half-written", 130)
    except (TrainingDivergedError, WorkerLostError) as error:   # a Dask sweep's lost worker: rows so far stay
        fail(prog, str(error), 1)
    except MnistDownloadError as error:
        fail(prog, f"{error}\n(here: --data-source subset, or auto, which falls back to the subset)", 1)
    except OSError as error:
        fail(prog, os_error_text(error, path))
    except ValueError as error:
        fail(prog, str(error))


__all__ = ["fail", "reported_errors"]
