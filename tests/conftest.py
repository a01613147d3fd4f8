"""Fixtures shared by several test files."""

from __future__ import annotations

import pytest
import torch

from l2rw_viz.device import cpu_threads


@pytest.fixture(scope="module")
def one_thread():
    """Run a module's tiny models on one torch thread: faster for them, and steady when other work shares the CPU."""
    with cpu_threads(torch.device("cpu"), 1):
        yield
