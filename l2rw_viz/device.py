"""Choosing where tensors live: ``device="auto"`` picks CUDA when it is available, else the CPU."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from .checks import check_int


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turn ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"`` into a usable ``torch.device``.

    Asking for CUDA (or MPS) on a machine without it is a ``ValueError`` that says what is available,
    rather than a crash deep inside the first ``.to()``.
    """
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str):
        raise ValueError(f"device={device!r} is not allowed; allowed: 'auto', 'cpu', 'cuda', 'cuda:N', 'mps'")
    name = device.strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(f"device={device!r} was requested but CUDA is not available on this machine; "
                             "allowed here: 'auto' or 'cpu'")
        dev = torch.device(name)
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            last = torch.cuda.device_count() - 1
            raise ValueError(f"device={device!r} is out of range; allowed: cuda:0..cuda:{last}")
        return dev
    if name == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise ValueError(f"device={device!r} was requested but MPS is not available; allowed here: 'auto' or 'cpu'")
        return torch.device("mps")
    raise ValueError(f"device={device!r} is not allowed; allowed: 'auto', 'cpu', 'cuda', 'cuda:N', 'mps'")


def describe_device(device: torch.device) -> str:
    """A short human label, e.g. ``'cpu'`` or ``'cuda:0 (NVIDIA H100)'``, for UIs and result tables."""
    if device.type == "cuda":
        idx = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{idx} ({torch.cuda.get_device_name(idx)})"
    return str(device)


@contextlib.contextmanager
def cpu_threads(device: torch.device, threads: int | None) -> Iterator[None]:
    """Run a block with ``threads`` torch CPU threads when ``device`` is the CPU (``None``: leave the count as it is),
    and restore the previous count afterwards. Tiny models run faster on one thread, and on a busy machine extra
    threads can make every step many times slower."""
    before = torch.get_num_threads()
    if threads is not None and device.type == "cpu":
        torch.set_num_threads(check_int("threads", threads, 1))
    try:
        yield
    finally:
        torch.set_num_threads(before)
