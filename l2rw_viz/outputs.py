"""Files a command or a library function writes: checked before any work, written atomically, never over an input.

- :func:`check_output_file`: before any work, ``path`` can take the output: not a folder or a device, not under a
  regular file, not one of the inputs (same file through a symlink or another spelling), and an existing file is
  replaced only when it is an output of the same kind (``is_ours``) or ``force`` is given.
- :func:`atomic_write`: the bytes go to a temporary file in the same folder, are flushed to disk, then moved over
  ``path`` with ``os.replace``; a failure or Ctrl-C leaves the old file (or none), never half a file.
- :func:`os_error_text`: an ``OSError`` as one line naming the path and the reason (what every command prints).
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO


def os_error_text(error: OSError, path: str | os.PathLike | None = None) -> str:
    """``"PATH: reason"`` for ``error`` (its own file name first, else ``path``), e.g. ``"/ro/run.html: Permission
    denied"`` or ``"/dev/full: No space left on device"``."""
    where = error.filename if error.filename is not None else path
    reason = error.strerror or str(error) or type(error).__name__
    text = f"{os.fsdecode(where)}: {reason}" if where is not None else reason
    if getattr(error, "filename2", None) is not None:
        text += f" (and {os.fsdecode(error.filename2)})"
    return text


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether ``a`` and ``b`` name one file (symlinks, ``..``, hard links); False when either does not exist."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def _existing_folder(path: Path) -> Path:
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def check_output_file(path: str | os.PathLike, name: str, *, inputs: Iterable[str | os.PathLike] = (),
                      is_ours: Callable[[Path], bool] | None = None, kind: str = "output", force: bool = False) -> Path:
    """Refuse, before any work, an output ``path`` that cannot or must not be written (``ValueError`` naming
    ``name``, the path and what is allowed); returns the path the bytes go to (a symlink's target).

    Args:
        name: the argument or option (``"OUT"``, ``"--out"``, ``"path"``).
        inputs: files the command reads: the output may not be one of them (it would be lost).
        is_ours: ``is_ours(path) -> bool``: an existing file that is an output of this kind (replaced freely);
            any other existing file is replaced only with ``force``. ``None``: any existing file may be replaced.
        kind: what the output is, for the message (``"an HTML export of l2rw-viz"``).
    """
    given = os.fspath(path)
    p = Path(path).expanduser()
    for source in inputs:
        if same_file(p, source):
            raise ValueError(f"{name}={given!r} is the input file {os.fspath(source)!r}; writing it would lose the "
                             "input; allowed: another file name")
    if p.is_dir():
        raise ValueError(f"{name}={given!r} is a folder; allowed: a file name")
    real = Path(os.path.realpath(p))
    folder = _existing_folder(real)
    if not folder.is_dir():
        raise ValueError(f"{name}={given!r} lies under {str(folder)!r}, which is a file, not a folder; allowed: a "
                         "path whose folders are folders")
    if real.exists() or real.is_symlink():
        if not stat.S_ISREG(real.stat().st_mode):
            raise ValueError(f"{name}={given!r} is not a regular file (a device, pipe or socket); allowed: a file "
                             "name")
        if is_ours is not None and not force and not is_ours(real):
            raise ValueError(f"{name}={given!r} exists and is not {kind}; it is left untouched; allowed: a new file "
                             "name, or --force (force=True) to replace it")
    return real


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], None] | bytes | str) -> Path:
    """Write ``path`` atomically: ``write(handle)`` (or the given bytes / UTF-8 text) into a temporary file in the
    same folder, flushed to disk, then ``os.replace``. An existing file keeps its permission bits; a new one gets
    the umask's. On any failure (or Ctrl-C) the temporary file is removed and ``path`` is as it was. An
    ``OSError`` carries ``path`` as its file name (not the temporary file's). Returns ``path``."""
    path = Path(path)
    real = Path(os.path.realpath(path))
    if isinstance(write, str):
        write = write.encode("utf-8")
    if isinstance(write, bytes):
        data = write

        def write(handle: IO[bytes]) -> None:
            handle.write(data)
    try:
        mode = stat.S_IMODE(real.stat().st_mode) if real.exists() else 0o666 & ~_umask()
        fd, tmp = tempfile.mkstemp(prefix=f".{real.name}.", suffix=".tmp", dir=real.parent)
    except OSError as error:
        error.filename = os.fspath(path)
        raise
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, real)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(error, OSError) and (error.filename is None or os.fspath(error.filename) == tmp):
            error.filename = os.fspath(path)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


__all__ = ["atomic_write", "check_output_file", "os_error_text", "same_file"]
