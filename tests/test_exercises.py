"""Every exercise a notebook uses has a solution, and every solution is right: it passes its verification against
the library, and the verification rejects the exercise's known wrong answer (so it can fail)."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from l2rw_viz.exercises import Expects, all_ids, check, define, get, solution

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
CALL = re.compile(r"""\b(?:solution|check)\(\s*["']([0-9]+\.[0-9]+)["']""")
# notebooks this course's exercises were written for (06, 07, 09 get theirs with the same API later)
REQUIRED = {1: 2, 2: 2, 3: 2, 4: 2, 5: 2, 8: 2}

pytestmark = pytest.mark.usefixtures("one_thread")


def used_ids() -> dict[str, set[str]]:
    """Notebook file name -> exercise ids its cells call ``solution(...)`` or ``check(...)`` with."""
    found = {}
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        found[path.name] = {m for c in nb.cells if c.cell_type == "code" for m in CALL.findall(c.source)}
    return found


def test_every_exercise_a_notebook_uses_exists_and_belongs_to_it():
    known = set(all_ids())
    for name, ids in used_ids().items():
        number = int(name[:2])
        for i in ids:
            assert i in known, f"{name} uses exercise {i}, which l2rw_viz.exercises does not define"
            assert int(i.split(".")[0]) == number, f"{name} uses exercise {i} of another notebook"


def test_each_course_notebook_has_at_least_two_exercises():
    per_notebook = {int(name[:2]): len(ids) for name, ids in used_ids().items()}
    for number, need in REQUIRED.items():
        assert per_notebook.get(number, 0) >= need, f"notebook {number:02d} has {per_notebook.get(number, 0)}"


@pytest.mark.parametrize("exercise_id", all_ids())
def test_solution_is_right_and_the_wrong_answer_is_not(exercise_id):
    ex = get(exercise_id)
    box = solution(exercise_id)                       # raises if the solution fails its own verification
    html = box._repr_html_()
    assert "<details" in html and f"Solution {exercise_id}" in html    # folded until the student opens it
    ok, message = ex.is_correct(ex.wrong)
    assert not ok and message, f"exercise {exercise_id}: the verification accepts the wrong answer {ex.wrong!r}"
    assert check(exercise_id, ex.wrong) is False


def test_bad_ids_are_named():
    with pytest.raises(ValueError, match="exercise_id"):
        get("99.9")
    with pytest.raises(ValueError, match="exercise_id"):
        define("five", title="t", solution="s", wrong=0, expects=Expects("number"))
    with pytest.raises(ValueError, match="defined twice"):
        define("5.1", title="t", solution="s", wrong=0, expects=Expects("number"))


def test_a_broken_l2rw_step_fails_exercise_5_3():
    from l2rw_viz.exercises.nb05 import broken_l2rw_weights

    assert check("5.3", broken_l2rw_weights) is False
    assert check("5.3", get("5.3").answer()) is True
