"""The whole explorer state as one serialisable object (the TensorFlow Playground habit): save it, hand it out,
restore the exact view.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ..checks import SEED_MAX, check_choice, check_in_range, check_int
from ..data.corrupt import FLIP_MODES
from ..data.toy import TOY_KINDS
from .weights import WEIGHT_MODES

# The devices the explorer offers (its dropdown); l2rw_viz.device.resolve_device accepts more ("cuda:1", "mps").
DEVICES = ("auto", "cpu", "cuda")

# The one source of ranges, ``(low, high, step)``, for the state's checks and the explorer's controls: any value a
# state accepts, its control can show (a slider narrower than the state would clamp a saved state on screen while
# training used the saved value). ``lr``'s control is a log slider over these bounds.
RANGES: dict[str, tuple] = {
    "proportion": (0.5, 0.99, 0.005),
    "noise_rate": (0.0, 0.6, 0.01),
    "n_val": (2, 100, 2),
    "n_train": (40, 5000, 10),
    "lr": (1e-4, 1.0, None),
    "steps": (10, 5000, 10),
    "batch_size": (4, 512, 1),
    "seed": (0, SEED_MAX, 1),
    "smooth": (1, 500, 1),
}


@dataclass
class ExplorerState:
    """Every setting of the toy explorer: data, bias, method, optimiser, device and what the view shows.

    Attributes:
        data: toy problem, ``"moons"``, ``"blobs"`` or ``"circles"``.
        Numeric ranges are ``RANGES`` (shared with the explorer's controls):
        proportion: share of the majority class in training, in ``[0.5, 0.99]`` (0.5: balanced).
        noise_rate: fraction of training labels flipped, in ``[0, 0.6]``.
        noise_mode: ``"uniform"`` or ``"background"`` flips.
        n_val: clean validation examples (even, ``2..100``; the paper's MNIST setting uses 10).
        n_train: training points (``40..5000``).
        method: the method drawn in the main panel (a registered name, e.g. ``"l2rw"``).
        method_args: settings of ``method`` other than its defaults, ``{key: value}`` (checked by the method's
            declaration; the explorer's method controls set them; ``{}``: its defaults).
        baseline: the method drawn beside it (e.g. ``"plain"``), with its defaults.
        lr: SGD learning rate, ``[1e-4, 1]``. steps: SGD steps (``10..5000``). batch_size: ``4..512``.
        seed: the one seed (data, batches, initial weights), ``0..2**32 - 1``.
        The defaults (moons, 90% majority, 20% flips, lr 0.01, batch 64) show both halves of the paper's story in
        about a second: measured mean weight x B over the second half of a run, flipped 0.80 < clean 1.04, and
        minority 3.15 > majority 0.77 (L2RW test accuracy 0.83 vs plain 0.79).
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        frame: recorded-step index the view shows (``-1``: the latest).
        weight_view: ``"mean"`` (mean weight so far) or ``"last"`` (weight at the last draw).
        smooth: moving-window length of the trajectory plot, in recorded steps (``1..500``).
    """

    data: str = "moons"
    proportion: float = 0.9
    noise_rate: float = 0.2
    noise_mode: str = "uniform"
    n_val: int = 10
    n_train: int = 400
    method: str = "l2rw"
    method_args: dict = field(default_factory=dict)
    baseline: str = "plain"
    lr: float = 0.01
    steps: int = 300
    batch_size: int = 64
    seed: int = 0
    device: str = "auto"
    frame: int = -1
    weight_view: str = "mean"
    smooth: int = 10

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> ExplorerState:
        """Raise ``ValueError`` naming the first bad field (and its allowed range); returns ``self``."""
        from ..methods import available_methods

        r = RANGES
        check_choice("data", self.data, TOY_KINDS)
        self.proportion = check_in_range("proportion", self.proportion, *r["proportion"][:2])
        self.noise_rate = check_in_range("noise_rate", self.noise_rate, *r["noise_rate"][:2])
        check_choice("noise_mode", self.noise_mode, FLIP_MODES)
        self.n_val = check_int("n_val", self.n_val, *r["n_val"][:2])
        if self.n_val % 2:
            raise ValueError(f"n_val={self.n_val} is odd; allowed: even numbers in [2, 100] (half per class)")
        self.n_train = check_int("n_train", self.n_train, *r["n_train"][:2])
        check_choice("method", self.method, available_methods())
        check_choice("baseline", self.baseline, available_methods())
        self.lr = check_in_range("lr", self.lr, *r["lr"][:2])
        self.steps = check_int("steps", self.steps, *r["steps"][:2])
        self.batch_size = check_int("batch_size", self.batch_size, *r["batch_size"][:2])
        if not isinstance(self.method_args, dict):
            raise ValueError(f"method_args={self.method_args!r} is not allowed; allowed: a dict of {self.method}'s "
                             "settings, e.g. {}")
        resolved = self.resolve()   # the method's declaration checks every setting (named error)
        self.method_args = {k: resolved.settings[k] for k in self.method_args}
        self.seed = check_int("seed", self.seed, *r["seed"][:2])
        check_choice("device", self.device, DEVICES)
        self.frame = check_int("frame", self.frame, -1)
        check_choice("weight_view", self.weight_view, WEIGHT_MODES)
        self.smooth = check_int("smooth", self.smooth, *r["smooth"][:2])
        return self

    def resolve(self, method: str | None = None):
        """The :class:`~l2rw_viz.methods.ResolvedMethod` the explorer trains for ``method`` (``None``: the state's
        method, with ``method_args``; a name, e.g. the baseline: that method with its defaults): run-dependent
        settings from this state's steps, batch size and lr, exactly as ``l2rw-viz run toy-...`` fills them in."""
        from ..experiments import get_experiment
        from ..methods import RunPlan, resolve_method

        exp = get_experiment("toy-imbalance-noise")
        plan = RunPlan(steps=self.steps, batch_size=self.batch_size, lr=self.lr, eval_every=exp.eval_every)
        if method is None:
            return resolve_method(self.method, self.method_args, plan)
        return resolve_method(method, None, plan)

    def training_key(self) -> tuple:
        """The fields that change what is trained (a change of these retrains; view fields only redraw); the
        method's part is its identity (every resolved setting: a default spelled out is the same run)."""
        return (self.data, self.proportion, self.noise_rate, self.noise_mode, self.n_val, self.n_train, self.method,
                self.resolve().identity, self.baseline, self.lr, self.steps, self.batch_size, self.seed, self.device)

    def replace(self, **changes: Any) -> ExplorerState:
        """A validated copy with ``changes`` applied (another ``method`` without ``method_args`` starts from its
        defaults: the old method's settings do not carry over)."""
        if "method" in changes and changes["method"] != self.method and "method_args" not in changes:
            changes = {**changes, "method_args": {}}
        return type(self)(**{**asdict(self), **changes})

    def to_json(self) -> str:
        """The state as a JSON object (sorted keys, so equal states give equal text)."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ExplorerState:
        """Rebuild a state from :meth:`to_json` output; unknown keys are a ``ValueError`` (a typo must not vanish)."""
        try:
            raw = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as error:
            raise ValueError(f"text is not JSON ({error}); allowed: a JSON object of ExplorerState fields") from None
        if not isinstance(raw, dict):
            raise ValueError(f"text holds a {type(raw).__name__}; allowed: a JSON object of ExplorerState fields")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"unknown ExplorerState fields {unknown}; allowed: {sorted(known)}")
        return cls(**raw)

    def save(self, path: str | Path) -> Path:
        """Write the JSON to ``path`` (e.g. ``"lecture3.json"``) atomically and return it."""
        from ..outputs import atomic_write, check_output_file

        check_output_file(path, "path")
        return atomic_write(Path(path), self.to_json() + "\n")

    @classmethod
    def load(cls, path: str | Path) -> ExplorerState:
        """Read a state written by :meth:`save`; a ``ValueError`` naming the file if it is not such a state."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"path={str(path)!r} is not UTF-8 text; allowed: a JSON file written by "
                             "ExplorerState.save") from None
        try:
            return cls.from_json(text)
        except ValueError as error:
            raise ValueError(f"path={str(path)!r}: {error}") from None
