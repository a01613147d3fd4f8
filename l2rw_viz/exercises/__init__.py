"""Exercises with hidden solutions for the course notebooks, each solution checked by the tests.

In a notebook, the question is ordinary markdown (it belongs to the story); below it one code cell::

    from l2rw_viz.exercises import check, solution
    check("5.1", [0.6, 0.0, 0.4])   # optional: the student checks their own answer -> "correct" or a hint
    solution("5.1")                 # a collapsed "Solution 5.1" box: hidden until the student clicks it

``solution(id)`` computes the solution (with the code shown in the box), verifies it against the library (so a
solution that went stale fails loudly, in the notebook and in ``tests/test_exercises.py``), and displays it
folded inside an HTML ``<details>`` element. ``check(id, answer)`` runs the same verification on the student's
own answer and says whether it passes, without revealing the solution.

Adding an exercise (any notebook; one module per notebook, ``l2rw_viz/exercises/nbNN.py``, is imported
automatically)::

    from . import Expects, define

    @define("6.1", expects=Expects("text"), title="Which weight is larger?",
            solution=\"\"\"The minority example's: ... (markdown; $math$ works)\"\"\")
    def _answer_6_1():
        # the solution's computation, as the student could write it; its source is shown in the box
        return "minority"

    @_answer_6_1.verify
    def _(answer):
        # an independent check of an answer with the library; raise AssertionError with a hint if wrong
        assert answer == "minority", "look at the sign of the dot product with the validation gradient"

Rules the tests enforce: every id used as ``solution("N.K")`` in a notebook is defined here, ``N`` matches the
notebook's number, the solution's answer passes its own verification, and a deliberately wrong answer
(``define(..., wrong=...)``, required) fails it — so no verification can pass everything.
"""

from __future__ import annotations

import html
import importlib
import inspect
import pkgutil
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

ID_PATTERN = re.compile(r"^[0-9]+\.[0-9]+$")


@dataclass(frozen=True)
class Expects:
    """The kind of answer an exercise wants, checked before its verification: an answer of another kind gets a
    message saying what is wanted, never an exception (a student's typo is not a crash).

    Attributes:
        kind: ``"number"``, ``"integer"``, ``"numbers"`` (a list of numbers), ``"text"``, ``"texts"`` (a list of
            texts), ``"tensor"`` (a float ``torch.Tensor``) or ``"function"``.
        count: ``"numbers"`` / ``"texts"``: how many (``None``: any, at least 1); ``"tensor"``: its length.
        low, high: ``"integer"``: the allowed range.
    """

    kind: str
    count: int | None = None
    low: int | None = None
    high: int | None = None

    def describe(self) -> str:
        """What the answer must be, in words (``"a number, e.g. 0.5"``)."""
        n = "" if self.count is None else f"{self.count} "
        return {"number": "a number, e.g. 0.5", "integer": f"a whole number in [{self.low}, {self.high}]",
                "numbers": f"a list of {n}numbers, e.g. (0.5, 0.25)", "text": "a text, e.g. \"positive\"",
                "texts": f"a list of {n}texts, e.g. (\"minority\", \"noisy\")",
                "tensor": f"a float torch.Tensor of shape ({self.count},)", "function": "a function"}[self.kind]

    def problem(self, answer: Any) -> str | None:
        """Why ``answer`` is not of this kind (``None`` when it is)."""
        wanted = f"the answer should be {self.describe()}; got {_short(answer)}"
        if self.kind == "number":
            return None if _number(answer) is not None else wanted
        if self.kind == "integer":
            v = _number(answer)
            ok = v is not None and float(v).is_integer() and self.low <= v <= self.high
            return None if ok else wanted
        if self.kind in ("numbers", "texts"):
            if isinstance(answer, (str, bytes, dict)) or not hasattr(answer, "__len__"):
                return wanted
            items = list(answer.tolist() if hasattr(answer, "tolist") else answer)
            good = (all(_number(a) is not None for a in items) if self.kind == "numbers"
                    else all(isinstance(a, str) for a in items))
            sized = len(items) >= 1 and (self.count is None or len(items) == self.count)
            return None if good and sized else wanted
        if self.kind == "text":
            return None if isinstance(answer, str) else wanted
        if self.kind == "tensor":
            import torch

            ok = (isinstance(answer, torch.Tensor) and answer.is_floating_point()
                  and tuple(answer.shape) == (self.count,))
            return None if ok else wanted
        return None if callable(answer) else wanted


def _number(value: Any) -> float | None:
    """``value`` as a finite float (a number, a one-element array or tensor, or a text such as ``"0.6"``), else
    None. A bool is not a number."""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return None
    try:
        if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
            value = value.item()
        v = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError, OverflowError, RuntimeError):
        return None
    return v if v == v and abs(v) != float("inf") else None


def _short(answer: Any) -> str:
    text = repr(answer)
    return f"{type(answer).__name__} {text[:60] + '...' if len(text) > 60 else text}"


@dataclass
class Exercise:
    """One exercise: its id ``"N.K"`` (notebook N, exercise K), a title, the solution's text (markdown), the
    function that computes the solution's answer, the verification of any answer, and a known wrong answer."""

    id: str
    title: str
    solution_md: str
    answer_fn: Callable[[], Any]
    wrong: Any
    expects: Expects
    verify_fn: Callable[[Any], None] | None = None
    _cached: list = field(default_factory=list, repr=False)

    def verify(self, fn: Callable[[Any], None]) -> Callable[[Any], None]:
        """Decorator: register ``fn(answer)`` that raises ``AssertionError`` (with a hint) for a wrong answer."""
        self.verify_fn = fn
        return fn

    def answer(self) -> Any:
        """The solution's answer (computed once, then cached)."""
        if not self._cached:
            self._cached.append(self.answer_fn())
        return self._cached[0]

    def is_correct(self, answer: Any) -> tuple[bool, str]:
        """``(passes, message)``: run the verification on ``answer``. Never raises on the answer: one of another
        kind gets a message saying what kind is wanted (:class:`Expects`), and one the verification cannot use
        (e.g. a function of the student's that raises) says what went wrong."""
        if self.verify_fn is None:
            raise RuntimeError(f"exercise {self.id} has no verification; add one with @<answer function>.verify")
        problem = self.expects.problem(answer)
        if problem is not None:
            return False, problem
        try:
            self.verify_fn(answer)
        except AssertionError as err:
            return False, str(err) or "not quite"
        except Exception as err:   # the answer's own failure (a student's function), reported, not raised
            return False, f"the check could not use this answer ({type(err).__name__}: {err})"
        return True, "correct"

    def code(self) -> str:
        """The source of the answer function (shown inside the solution box)."""
        try:
            return textwrap.dedent(inspect.getsource(self.answer_fn))
        except (OSError, TypeError):
            return ""


EXERCISES: dict[str, Exercise] = {}


def define(exercise_id: str, *, title: str, solution: str, wrong: Any,
           expects: Expects) -> Callable[[Callable[[], Any]], Exercise]:
    """Decorator that registers an exercise; the decorated function computes the solution's answer.

    Args:
        exercise_id: ``"N.K"``: notebook number N, exercise number K (e.g. ``"5.2"``); unique.
        title: a few words, shown on the folded box.
        solution: the solution's explanation (markdown).
        wrong: an answer the verification must reject (a common mistake); the tests check that it is rejected.
        expects: the kind of answer wanted (:class:`Expects`); another kind is answered with what is wanted.
    Returns:
        The :class:`Exercise`; use its ``.verify`` as a decorator for the verification.
    """
    if not isinstance(exercise_id, str) or not ID_PATTERN.match(exercise_id):
        raise ValueError(f"exercise_id={exercise_id!r}; allowed: 'N.K' with N the notebook number, e.g. '5.2'")
    if exercise_id in EXERCISES:
        raise ValueError(f"exercise_id={exercise_id!r} is defined twice; allowed: a new id")

    def wrap(fn: Callable[[], Any]) -> Exercise:
        ex = Exercise(exercise_id, title, textwrap.dedent(solution).strip(), fn, wrong, expects)
        EXERCISES[exercise_id] = ex
        return ex

    return wrap


def _load_all() -> None:
    """Import every ``l2rw_viz.exercises.nb*`` module (each registers its notebook's exercises)."""
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("nb"):
            importlib.import_module(f"{__name__}.{info.name}")


def get(exercise_id: str) -> Exercise:
    """The registered :class:`Exercise` ``exercise_id``; ValueError naming the known ids otherwise."""
    _load_all()
    if exercise_id not in EXERCISES:
        raise ValueError(f"exercise_id={exercise_id!r} is unknown; allowed: {', '.join(all_ids())}")
    return EXERCISES[exercise_id]


def all_ids() -> list[str]:
    """Every registered id, in notebook order (``"1.1" < "1.2" < ... < "10.1"``)."""
    _load_all()
    return sorted(EXERCISES, key=lambda s: tuple(int(p) for p in s.split(".")))


def _fmt(answer: Any) -> str:
    try:
        import numpy as np
        import torch

        if isinstance(answer, torch.Tensor):
            answer = answer.detach().cpu().numpy()
        if isinstance(answer, np.ndarray):
            return np.array2string(answer, precision=4, suppress_small=True)
    except ImportError:  # pragma: no cover - both are dependencies
        pass
    return repr(answer)


class SolutionBox:
    """What :func:`solution` returns: shows as a folded HTML box in Jupyter/Voila, as plain text elsewhere."""

    def __init__(self, ex: Exercise, answer: Any):
        self.exercise, self.answer = ex, answer

    def _repr_html_(self) -> str:
        ex = self.exercise
        code = ex.code()
        code_html = f"<pre><code>{html.escape(code)}</code></pre>" if code else ""
        body = html.escape(ex.solution_md).replace("\n\n", "<br><br>")
        return (f"<details class='l2rw-solution'><summary><b>Solution {ex.id}</b>: {html.escape(ex.title)} "
                f"(click to open)</summary><div style='margin:0.5em 1em'>{body}{code_html}"
                f"<p><b>Answer:</b> <code>{html.escape(_fmt(self.answer))}</code> (verified against the library)"
                f"</p></div></details>")

    def __repr__(self) -> str:
        ex = self.exercise
        return f"Solution {ex.id}: {ex.title}\n{ex.solution_md}\nAnswer: {_fmt(self.answer)}"


SIGN_SPELLINGS = {"positive": ("positive", "+", "> 0"), "negative": ("negative", "-", "< 0")}


def sign_answer(answer: Any) -> str | None:
    """``"positive"`` / ``"negative"`` for an answer that names a sign in any spelling a student may use
    (``SIGN_SPELLINGS``, case and spaces ignored), else None: the exercises that ask for a sign share it."""
    text = str(answer).strip().lower()
    return next((sign for sign, spellings in SIGN_SPELLINGS.items() if text in spellings), None)


def choice_answer(answer: Any, choices: dict[str, tuple[str, ...]]) -> str | None:
    """The choice (a key of ``choices``) that ``answer`` names in one of its spellings, by value: case, spaces, a
    leading "the" and final punctuation ignored, nothing else (``"it does not change the learning rate"`` names no
    choice). None when it names none."""
    text = " ".join(str(answer).strip().lower().rstrip(".!").split())
    text = text.removeprefix("the ")
    return next((c for c, spellings in choices.items() if text in spellings), None)


def solution(exercise_id: str) -> SolutionBox:
    """Compute, verify and return (to display) the solution of ``exercise_id``; folded until clicked.

    Raises AssertionError if the solution no longer passes its verification (the library changed under it).
    """
    ex = get(exercise_id)
    answer = ex.answer()
    ok, msg = ex.is_correct(answer)
    if not ok:
        raise AssertionError(f"the solution of exercise {exercise_id} fails its own check: {msg}")
    return SolutionBox(ex, answer)


def check(exercise_id: str, answer: Any) -> bool:
    """Check a student's ``answer`` to ``exercise_id`` without revealing the solution; prints a verdict. Never
    raises on the answer (one of the wrong kind is told what kind is wanted)."""
    ok, msg = get(exercise_id).is_correct(answer)
    print(f"exercise {exercise_id}: {'correct' if ok else 'not yet - ' + msg}")
    return ok


__all__ = ["EXERCISES", "Exercise", "Expects", "SolutionBox", "all_ids", "check", "choice_answer", "define", "get",
           "solution"]
