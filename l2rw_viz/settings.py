"""Package-wide switches, read in one place.

``L2RW_SMOKE=1`` in the environment asks every notebook and experiment for its fast "smoke" variant (fewer
steps and seeds), which CI uses; without it a user gets the full experiment.
"""

from __future__ import annotations

import os


def smoke_mode() -> bool:
    """True when the environment variable ``L2RW_SMOKE`` is set to 1/true/yes."""
    return os.environ.get("L2RW_SMOKE", "").strip().lower() in {"1", "true", "yes", "on"}


def pick(full, smoke):
    """Return ``smoke`` in smoke mode, else ``full`` — the one way notebooks choose a size."""
    return smoke if smoke_mode() else full


def recompute_mode() -> bool:
    """True when ``L2RW_RECOMPUTE`` is 1/true/yes: the MNIST notebooks re-run their sweeps instead of drawing the
    full results shipped with the package (``l2rw_viz.results``). Off by default: a class sees the real results
    at once, in smoke mode too."""
    return os.environ.get("L2RW_RECOMPUTE", "").strip().lower() in {"1", "true", "yes", "on"}
