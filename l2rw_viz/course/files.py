"""Where the course's files are, and copying them into a student's folder (``l2rw-viz course copy DIR``).

The nine notebooks live in the repository's ``notebooks/``. A built wheel carries them as package data in
``l2rw_viz/course_notebooks/`` (``setup.py`` copies them there at build time only, with ``notebooks/README.md``
and ``docs/departures.md``, which notebook 6 shows), so that ``pip install l2rw-viz`` brings the whole course:

    l2rw-viz course copy course/        # the notebooks and a README into a folder of your own
    jupyter lab course/                 # or: voila course/08_explorer.ipynb

:func:`notebooks_dir` answers "where are the notebooks?": the repository's ``notebooks/`` in a checkout or an
editable install, else the installed copy. :func:`copy_course` writes them into a folder and never overwrites a file
the student changed (unless ``force``): a record ``.l2rw-course.json`` in the folder holds the SHA-256 of every file
as it was written, so an untouched file can be updated to a newer version of the course and an edited one is kept.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .. import __version__

PACKAGE_DIR = Path(__file__).resolve().parents[1]    # l2rw_viz/
REPOSITORY = PACKAGE_DIR.parent
INSTALLED_DIR = PACKAGE_DIR / "course_notebooks"   # exists only in an installed wheel (see setup.py)
RECORD = ".l2rw-course.json"
NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"

# What a student's copy holds besides the notebooks: how to open them, then the course's own README (the table of
# notebooks and the lecture path, which ``l2rw-viz course build --notebooks-dir`` also reads).
_HOW_TO_OPEN = """# Learning to Reweight Examples: the course (l2rw-viz {version})

Nine notebooks, to be read in order. Open them with

    jupyter lab {folder}

(or one as an app: `voila {folder}/08_explorer.ipynb`). Each runs top to bottom on a laptop CPU; with
`L2RW_SMOKE=1` in the environment each runs in a couple of minutes (short runs, their figures say so).
`l2rw-viz course build site/ --notebooks-dir {folder}` renders your copies as a static web site.

These files are yours to change: `l2rw-viz course copy {folder}` again updates only the files you did not edit
(`--force` overwrites those too).

"""


def _in_checkout() -> bool:
    """Whether this ``l2rw_viz`` is the one of a repository checkout (an editable install or the source tree)."""
    pyproject = REPOSITORY / "pyproject.toml"
    try:
        return pyproject.is_file() and 'name = "l2rw-viz"' in pyproject.read_text()
    except OSError:
        return False


def notebooks_dir() -> Path:
    """The folder holding the course notebooks ``NN_*.ipynb``: the repository's ``notebooks/`` when this package
    runs from a checkout (so a lecturer's edits are what builds), else the copy installed with the wheel."""
    if _in_checkout() and any((REPOSITORY / "notebooks").glob(NOTEBOOK_GLOB)):
        return REPOSITORY / "notebooks"
    return INSTALLED_DIR


def course_document(name: str) -> Path:
    """A document of the repository's ``docs/`` that the notebooks show (``"departures.md"``): the checkout's, else
    the copy installed with the wheel. The path may not exist (an installation without it)."""
    if _in_checkout():
        return REPOSITORY / "docs" / name
    return INSTALLED_DIR / "docs" / name


def course_notebooks(folder: str | os.PathLike | None = None) -> list[Path]:
    """The course notebooks in ``folder`` (default: :func:`notebooks_dir`), in course order. A ``ValueError`` if
    there are none (an installation built without them)."""
    folder = notebooks_dir() if folder is None else Path(folder)
    found = sorted(folder.glob(NOTEBOOK_GLOB))
    if not found:
        raise ValueError(f"notebooks_dir={str(folder)!r} holds no course notebooks; allowed: a folder with "
                         "NN_name.ipynb files (a repository checkout, or a wheel built with setup.py's course files)")
    return found


def course_contents(folder: str | os.PathLike) -> dict[str, bytes]:
    """What ``copy_course`` writes into ``folder``: ``{file name: bytes}``, the notebooks and ``README.md`` (whose
    commands name ``folder`` as it was given, e.g. ``./course``)."""
    source = notebooks_dir()
    files = {p.name: p.read_bytes() for p in course_notebooks(source)}
    readme = _HOW_TO_OPEN.format(version=__version__, folder=folder if isinstance(folder, str) else os.fspath(folder))
    if (source / "README.md").is_file():
        readme += (source / "README.md").read_text()
    files["README.md"] = readme.encode()
    return files


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, flush it to disk, then move it over ``path``."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _read_record(folder: Path) -> dict[str, str]:
    """``{file name: sha256}`` of the files a previous copy wrote into ``folder`` (empty if none or unreadable)."""
    try:
        record = json.loads((folder / RECORD).read_text())
        return {str(k): str(v) for k, v in record.get("files", {}).items()}
    except (OSError, ValueError, AttributeError):
        return {}


def edited_files(folder: str | os.PathLike, files: dict[str, bytes] | None = None) -> list[str]:
    """The files of ``folder`` that a copy would overwrite although the student changed them: present, not equal
    to what the copy writes now, and not equal to what an earlier copy wrote (its record)."""
    files = course_contents(folder) if files is None else files
    folder = Path(folder)
    written = _read_record(folder)
    edited = []
    for name, data in files.items():
        path = folder / name
        if not path.exists():
            continue
        have = _sha256(path.read_bytes()) if path.is_file() else "not a file"
        if have != _sha256(data) and have != written.get(name):
            edited.append(name)
    return edited


def copy_course(folder: str | os.PathLike, force: bool = False) -> list[Path]:
    """Write the course notebooks and ``README.md`` into ``folder`` (created if missing); return the files written.

    A file the student edited since it was copied (see :func:`edited_files`) is never overwritten unless ``force``:
    then nothing is written and a ``ValueError`` lists the edited files. Each file is written atomically; other
    files in ``folder`` are left alone.
    """
    files = course_contents(folder)
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"folder={str(folder)!r} is a file; allowed: a folder (new, or one to add the course to)")
    if not force:
        edited = edited_files(folder, files)
        if edited:
            raise ValueError(f"folder={str(folder)!r} holds edited copies of {', '.join(edited)}; nothing was "
                             "written; allowed: another folder, or --force (force=True) to overwrite them")
    blocked = [n for n in files if (folder / n).exists() and not (folder / n).is_file()]
    if blocked:
        raise ValueError(f"folder={str(folder)!r} holds {', '.join(blocked)} as folders; allowed: a folder where "
                         "these names are free or plain files")
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in files.items():
        _write_atomically(folder / name, data)
        written.append(folder / name)
    record = {"l2rw_viz": __version__, "files": {n: _sha256(d) for n, d in files.items()}}
    _write_atomically(folder / RECORD, (json.dumps(record, indent=1, sort_keys=True) + "\n").encode())
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """``l2rw-viz course copy DIR [--force]``; returns the exit status (2: bad argument or edited files)."""
    parser = argparse.ArgumentParser(prog="l2rw-viz course copy",
                                     description="Copy the course notebooks and a README into DIR (open them with "
                                     "`jupyter lab DIR`). Files you edited are kept unless --force.")
    parser.add_argument("folder", metavar="DIR", help="the folder to copy the course into (created if missing)")
    parser.add_argument("--force", action="store_true", help="overwrite files you edited too")
    args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    try:
        written = copy_course(args.folder, force=args.force)
    except (ValueError, OSError) as error:
        parser.exit(2, f"l2rw-viz course copy: error: {error}\n")
    print(f"wrote {len(written)} files into {args.folder} (l2rw-viz {__version__}); open them with: "
          f"jupyter lab {args.folder}")
    return 0


__all__ = ["copy_course", "course_contents", "course_document", "course_notebooks", "edited_files", "main",
           "notebooks_dir"]
