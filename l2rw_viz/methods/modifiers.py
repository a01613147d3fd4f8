"""+ES and +FT: two modifiers of any method, spelled as suffixes of its name (the paper's Table 2 rows "Baseline +ES",
"Reed hard +ES", "S-Model +Conf +ES +FT").

- ``+es``, early stopping: every ``es_every`` steps (K; the experiments use their evaluation interval, 100 steps on
  MNIST, 50 on toy data) the evaluated network's accuracy on the clean validation set is measured (ties broken by
  the lower validation loss), the best parameters so far are kept, and at the end of training they replace the
  last ones (the trainer's ``Method.end_of_training`` hook; the History's last evaluation is then that of the kept
  parameters). The final parameters are candidates too.
- ``+ft``, fine-tuning: from ``ft_switch_step`` on, training continues on the clean validation set alone (plain
  cross-entropy, uniform weights, on the evaluated network — through no noise layer), optimiser state carried over,
  as the ``finetune`` method does for plain training (the experiments switch for the last 10% of the steps).
- ``+es+ft``: at the switch the best early-stopping parameters are restored and fine-tuned; the fine-tuned
  parameters are the result (the validation set is then training data, so it can no longer select).

``get_method("noise_layer_conf+es+ft", es_every=..., ft_switch_step=..., **settings of noise_layer_conf)`` builds
one (:mod:`l2rw_viz.methods.resolve`); the suffixes are part of the name everywhere (History meta, result rows and
their keys, tables). The modifiers' own settings are declared in ``MODIFIER_SETTINGS``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..checks import check_int
from ..data.dataset import BiasedDataset
from ..reweight import weighted_loss
from .base import Method, MethodSetup, RunPlan, StepContext, StepOutput, epoch_sampler
from .clean_only import minority_mask_for
from .setting import Setting

MODIFIERS = ("es", "ft")
# the modifiers' own settings, declared as a method's are (every other setting of a modified method is its base's)
MODIFIER_SETTINGS: dict[str, Setting] = {
    "es": Setting("es_every", int, 100, "+es: steps between two validations (K; the experiments: their evaluation "
                  "interval)", low=1),
    "ft": Setting("ft_switch_step", int, None, "+ft: the first step on the clean set (the experiments: the last 10% "
                  "of the run)", low=0, optional=True),
}
MODIFIER_ARGS = {m: s.name for m, s in MODIFIER_SETTINGS.items()}


def split_modifiers(name: str) -> tuple[str, tuple[str, ...]]:
    """``"noise_layer_conf+es+ft" -> ("noise_layer_conf", ("es", "ft"))``; unknown or repeated suffixes raise."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"method={name!r} is not allowed; allowed: a method name, optionally with +es / +ft")
    base, *mods = name.split("+")
    for m in mods:
        if m not in MODIFIERS:
            raise ValueError(f"method={name!r} has the suffix {'+' + m!r}; allowed suffixes: "
                             f"{', '.join('+' + x for x in MODIFIERS)}")
    if len(set(mods)) != len(mods):
        raise ValueError(f"method={name!r} repeats a suffix; allowed: each of +es, +ft at most once")
    return base, tuple(m for m in MODIFIERS if m in mods)   # canonical order: +es before +ft


class Modified(Method):
    """A method with +ES and/or +FT (see the module docstring).

    Args:
        base: the method modified.
        es: early stopping; es_every: K, the validation interval in steps (default 100).
        ft: fine-tuning on the clean set; ft_switch_step: its first step (required with ``ft``).
    """

    def __init__(self, base: Method, es: bool = False, ft: bool = False, es_every: int = 100,
                 ft_switch_step: int | None = None):
        if isinstance(base, Modified):
            raise ValueError(f"base={base.name!r} is already modified; allowed: an unmodified method")
        if not (es or ft):
            raise ValueError("es=False, ft=False is not allowed; allowed: at least one modifier")
        self.base, self.es, self.ft = base, bool(es), bool(ft)
        self.es_every = check_int("es_every", es_every, 1)
        self.ft_switch_step = None if ft_switch_step is None else check_int("ft_switch_step", ft_switch_step, 0)
        self.name = base.name + ("+es" if self.es else "") + ("+ft" if self.ft else "")
        self.uses_validation = True
        self._best: tuple[float, float] | None = None      # (validation accuracy, -validation loss)
        self._best_state: dict[str, torch.Tensor] | None = None
        self.best_step = -1
        self.es_log: list[tuple[int, float, float]] = []    # (steps done, validation accuracy, validation loss)
        self._val: tuple[torch.Tensor, torch.Tensor] | None = None
        self._last_step = -1

    # --- set-up ---------------------------------------------------------------------------------------------------
    def setup(self, run: MethodSetup) -> None:
        super().setup(run)
        self.base.setup(run)
        self._best, self._best_state, self.best_step, self.es_log = None, None, -1, []
        self._val, self._last_step = None, -1

    def prepare(self, dataset: BiasedDataset, seed: int) -> BiasedDataset:
        if self.ft and self.ft_switch_step is None:
            raise ValueError(f"ft_switch_step=None is not allowed for method {self.name!r}; allowed: an integer >= 0, "
                             "the step at which training moves to the clean set (e.g. steps - steps // 10)")
        data = self.base.prepare(dataset, seed)
        if not self.ft:
            return data
        m = len(data.y_val)   # the clean rows n .. n+m-1, drawn from the switch on (as the finetune method)
        return data.with_training_set(
            torch.cat([data.x, data.x_val]), torch.cat([data.y, data.y_val]), torch.cat([data.y_clean, data.y_val]),
            torch.cat([data.is_noisy, torch.zeros(m, dtype=torch.bool)]),
            torch.cat([data.is_minority, minority_mask_for(data, data.y_val)]),
            n_original=data.n, finetune_switch_step=self.ft_switch_step)

    def wrap_model(self, model: nn.Module) -> nn.Module:
        return self.base.wrap_model(model)

    def make_sampler(self, dataset: BiasedDataset, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
        if not self.ft:
            return self.base.make_sampler(dataset, batch_size, rng)
        return self._ft_sampler(dataset, batch_size, rng)

    def _ft_sampler(self, dataset: BiasedDataset, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
        n = dataset.info["n_original"]   # the base method's rows (prepare appended the clean ones after them)
        # the base method samples from its own rows only (its view of the data set ends at row n)
        base_view = dataset.with_training_set(dataset.x[:n], dataset.y[:n], dataset.y_clean[:n],
                                              dataset.is_noisy[:n], dataset.is_minority[:n])
        biased = self.base.make_sampler(base_view, batch_size, rng)
        for _ in range(self.ft_switch_step):
            yield next(biased)
        clean = epoch_sampler(dataset.n - n, batch_size, rng)
        while True:
            yield n + next(clean)

    # --- training -------------------------------------------------------------------------------------------------
    def per_example_loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.base.per_example_loss(logits, y)

    def fine_tuning(self, step: int) -> bool:
        """Whether ``step`` trains on the clean set."""
        return self.ft and step >= self.ft_switch_step

    def step(self, ctx: StepContext) -> StepOutput:
        self._val, self._last_step = (ctx.x_val, ctx.y_val), ctx.step
        if self.es and not self.fine_tuning(ctx.step) and ctx.step % self.es_every == 0 and ctx.step > 0:
            self._consider(ctx.step, ctx.x_val, ctx.y_val)   # the parameters after step - 1
        if not self.fine_tuning(ctx.step):
            return self.base.step(ctx)
        if ctx.step == self.ft_switch_step and self.es:
            self._consider(ctx.step, ctx.x_val, ctx.y_val)
            self._restore()                                  # fine-tune the early-stopped parameters
        model = self._require_setup("step").model   # the evaluated network, through no noise layer
        losses = F.cross_entropy(model(ctx.x), ctx.y, reduction="none")
        b = len(ctx.y)
        weights = torch.full((b,), 1.0 / b, device=losses.device, dtype=losses.dtype)
        return StepOutput(weighted_loss(losses, weights), weights, losses.detach())

    @torch.no_grad()
    def _consider(self, step: int, x_val: torch.Tensor, y_val: torch.Tensor) -> None:
        run = self._require_setup("step")
        acc, loss = run.evaluate(run.model, x_val, y_val)
        self.es_log.append((int(step), acc, loss))
        if self._best is None or (acc, -loss) > self._best:
            self._best, self.best_step = (acc, -loss), int(step)
            self._best_state = {k: v.detach().clone() for k, v in run.model.state_dict().items()}

    def _restore(self) -> bool:
        if self._best_state is None:
            return False
        self._require_setup("end_of_training").model.load_state_dict(self._best_state)
        return True

    def end_of_training(self, model: nn.Module) -> bool:
        restored = self.base.end_of_training(model)
        if not self.es or self.ft:   # with +ft the fine-tuned parameters are the result
            return restored
        # the final parameters are candidates too (the trainer passes the whole validation set every step)
        if self._val is not None:
            self._consider(self._last_step + 1, *self._val)
        return self._restore() or restored

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {"method": self.name, "base": self.base.describe(), "es": self.es, "ft": self.ft}
        if self.es:
            d.update(es_every=self.es_every, es_best_step=self.best_step,
                     es_best_val_accuracy=None if self._best is None else self._best[0])
        if self.ft:
            d["ft_switch_step"] = self.ft_switch_step
        return d


def modifier_settings(mods: tuple[str, ...], plan: RunPlan) -> dict[str, Any]:
    """The modifiers' run-dependent settings (as :meth:`Method.run_settings` for a method): +es validates every
    evaluation interval (at most the run), +ft fine-tunes for the last 10% of the steps, as ``finetune``."""
    own: dict[str, Any] = {"es_every": min(plan.eval_every, plan.steps)} if "es" in mods else {}
    if "ft" in mods:
        own["ft_switch_step"] = plan.steps - max(1, plan.steps // 10)
    return own


__all__ = ["MODIFIERS", "MODIFIER_ARGS", "MODIFIER_SETTINGS", "Modified", "modifier_settings", "split_modifiers"]
