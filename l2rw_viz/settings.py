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
