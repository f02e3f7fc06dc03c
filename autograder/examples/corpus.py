"""Example submissions, made from the release, and what autograding each must give.

``write_corpus(course, folder)`` writes ``<folder>/<student_id>/<assignment>/*.ipynb``, one
student per case, ready for ``python -m autograder autograde <folder>``:

- ``solutions``: every solution cell filled with the reference solution from ``solutions/``;
- ``<exercise>-<name>``: the reference solutions, except the solution cell ``<exercise>``
  (its grade_id), which holds an entry of ``autograder.implementations`` (a correct
  variant or a known mistake), so a mistake differs from full marks in that cell only;
- the hostile cases of ``HOSTILE``: an untouched release, cells that raise, loop forever,
  exit, kill the kernel or print without end, NaN answers, edited and deleted test cells,
  redefined grading helpers, a corrupt notebook file and a missing one.

Expected results are derived, not stored: from the points of the release's grade cells,
the ``fails`` of each implementation (check name -> message fragment; a check is a grade_id
or a function the test cells call, hidden tests included) and what each hostile case
does. Only auto-graded cells count: written answers score 0 until graded by hand.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

import nbformat

from autograder.course import Course
from autograder.examples import implementations
from autograder.examples.hostile import HOSTILE
from autograder.examples.implementations import PRELUDE, Implementation
from autograder.examples.submission import Expected, Release, Submission

#: Solution cell grade_id -> its implementations (correct variants and known mistakes).
EXERCISES: dict[str, dict[str, Implementation]] = {
    "jensen_gap_solution": implementations.JENSEN_GAP,
    "elbo_mc_solution": implementations.ELBO_MC,
    "negative_elbo_bound": implementations.ELBO,
    "negative_iwae_bound": implementations.IWAE,
}

# -- correct variants and known mistakes -----------------------------------------------------


def _implementation_case(exercise: str, name: str) -> Callable[[Release], tuple]:
    implementation = EXERCISES[exercise][name]

    def make(release: Release) -> tuple[Submission, Expected]:
        fails = set().union(*(release.cells_running(check) for check in implementation.fails))
        unknown = [check for check in implementation.fails if not release.cells_running(check)]
        if unknown:
            raise ValueError(f"{exercise}/{name}: no grade cell runs {unknown}")
        notebook = next(key[0] for key in fails) if fails else None
        feedback = {notebook: tuple(implementation.fails.values())} if notebook else {}
        kind = "mistake" if implementation.fails else "correct variant"
        expected = release.expect(f"{exercise}: {kind} {name}", fails, feedback)
        return release.solved({exercise: PRELUDE + implementation.source}), expected

    return make


# -- the corpus ------------------------------------------------------------------------------


def _makers(release: Release) -> dict[str, Callable[[Release], tuple[Submission, Expected]]]:
    """Student id -> the maker of its submission, for every case that applies."""
    makers = dict(HOSTILE)
    for exercise, entries in EXERCISES.items():
        if exercise in release.solutions:
            for name in entries:
                makers[f"{exercise}-{name}"] = _implementation_case(exercise, name)
    return makers


def case_ids(course: Course) -> list[str]:
    """The student id of every example submission that applies to the course's release."""
    return list(_makers(Release(course)))


def write_corpus(
    course: Course, folder: Path, cases: Iterable[str] | None = None
) -> dict[str, Expected]:
    """Write example submissions from ``course``'s release into ``folder``.

    Args:
        course: the course (its release, its solutions).
        folder: where ``<student_id>/<assignment>/*.ipynb`` go; each student's folder is
            replaced.
        cases: student ids to write (see ``case_ids``); all by default.

    Returns:
        Student id -> what autograding that submission must give.
    """
    release = Release(course)
    makers = _makers(release)
    chosen = list(makers) if cases is None else list(cases)
    unknown = sorted(set(chosen) - makers.keys())
    if unknown:
        raise KeyError(f"no such example submissions: {unknown}; see case_ids()")
    expected = {}
    for student in chosen:
        notebooks, expected[student] = makers[student](release)
        target = Path(folder, student, course.assignment)
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        for name, content in notebooks.items():
            path = target / f"{name}.ipynb"
            if isinstance(content, str):
                path.write_text(content)
            else:
                nbformat.write(content, path)
    return expected
