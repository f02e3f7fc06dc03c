"""Example submissions, made from the release, and what autograding each must give.

``write_corpus(course, folder)`` writes ``<folder>/<student_id>/<assignment>/*.ipynb``, one
student per case, ready for ``python -m autograder autograde <folder>``:

- ``solutions``: every solution cell filled with the reference solution from ``solutions/``;
- ``<exercise>-<name>``: the reference solutions, except the solution cell of the exercise
  ``<exercise>`` (``course_utils.exercises``), which holds an entry of
  ``autograder.examples.implementations`` (a correct variant or a known mistake), so a
  mistake differs from full marks in that cell only;
- the hostile cases of ``autograder.examples.hostile``, and those only the grading sandbox
  stops, ``autograder.examples.escapes``.

Expected results are derived, not stored: from the points of the release's grade cells,
the exercise registry (which test cell runs which check) and the ``fails`` of each
implementation (check -> mistake id), or what each hostile case does.
"""

from __future__ import annotations

import difflib
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

import nbformat

from autograder.course import Course
from autograder.examples import implementations
from autograder.examples.escapes import ESCAPES
from autograder.examples.hostile import HOSTILE
from autograder.examples.implementations import PRELUDE, Implementation, cell_source
from autograder.examples.submission import (
    CellKey,
    Expected,
    Release,
    Submission,
    solution_sources,
)
from course_utils.exercises import Exercise, exercise

#: Exercise name -> its implementations (correct variants and known mistakes).
IMPLEMENTATIONS: dict[str, dict[str, Implementation]] = {
    "jensen_gap": implementations.JENSEN_GAP,
    "elbo_monte_carlo": implementations.ELBO_MC,
    "sample_gaussian": implementations.SAMPLE_GAUSSIAN,
    "log_normal": implementations.LOG_NORMAL,
    "kl_normal": implementations.KL_NORMAL,
    "log_bernoulli_with_logits": implementations.LOG_BERNOULLI,
    "negative_elbo_bound": implementations.ELBO,
    "negative_iwae_bound": implementations.IWAE,
    "log_normal_mixture": implementations.LOG_NORMAL_MIXTURE,
    "gmvae_negative_elbo_bound": implementations.GMVAE_ELBO,
    "gmvae_negative_iwae_bound": implementations.GMVAE_IWAE,
}


def verdicts(where: Exercise, implementation: Implementation) -> dict[CellKey, str]:
    """The test cells an implementation fails -> the mistake id each must report: that of
    the first check the cell runs (visible ones first) that the implementation fails.

    The implementation replaces the solution of ``where``, and its ``fails`` name checks of
    ``where`` alone: each exercise is graded on its own (a wrong ``kl_normal`` costs
    ``kl_normal``'s tests, not those of the ``negative_elbo_bound`` that calls it:
    ``course_utils.grading.common.graded_alone``)."""
    foreign = [c for c in implementation.fails if not where.cells_running(c)]
    if foreign:
        raise ValueError(f"{where.name}: no test cell of {where.name} runs {foreign}")
    if implementation.borrowed:  # withheld for a grade by hand, whatever its checks say
        return {(where.notebook, test.grade_id): "borrowed_answer" for test in where.tests}
    found = {}
    for test in where.tests:
        failed = [c for c in (test.grade_id, *test.runs) if c in implementation.fails]
        if failed:
            found[where.notebook, test.grade_id] = implementation.fails[failed[0]]
    return found


def _implementation_case(name: str, entry: str) -> Callable[[Release], tuple]:
    implementation = IMPLEMENTATIONS[name][entry]
    where = exercise(name)

    def make(release: Release) -> tuple[Submission, Expected]:
        failing = verdicts(where, implementation)
        kind = (
            "borrowed answer"
            if implementation.borrowed
            else "mistake"
            if implementation.fails
            else "correct variant"
        )
        fragments = sorted({f"(mistake: {mistake})" for mistake in failing.values()})
        expected = release.expect(
            f"{name}: {kind} {entry}", failing, {where.notebook: fragments} if failing else {}
        )
        cell = cell_source(name, implementation)
        return release.solved({where.solution_cell: cell}), expected

    return make


def run_solution_cells(course: Course, name: str, implementation: Implementation) -> dict:
    """Run the solution cells of the notebook of exercise ``name`` in one namespace, in order,
    as its kernel would: the reference solutions from ``solutions/``, each after the corpus's
    prelude, with ``implementation`` in the cell of ``name``. Each attaches its function
    (restore the stubs afterwards: ``autograder.reference.bounds.uninstall``). Returns the
    namespace."""
    where = exercise(name)
    namespace: dict = {}
    for grade_id, source in solution_sources(course, where.notebook, code_only=True).items():
        if grade_id == where.solution_cell:
            code = cell_source(name, implementation)
        else:
            code = PRELUDE + source
        exec(compile(code, f"<solution cell {grade_id}>", "exec"), namespace)
    return namespace


def _makers(release: Release) -> dict[str, Callable[[Release], tuple[Submission, Expected]]]:
    """Student id -> the maker of its submission, for every case that applies."""
    makers = {**HOSTILE, **ESCAPES}
    for name, entries in IMPLEMENTATIONS.items():
        if exercise(name).solution_cell in release.solutions:
            for entry in entries:
                makers[f"{name}-{entry}"] = _implementation_case(name, entry)
    return makers


class UnknownCases(KeyError):
    """Example submissions asked for by a name the corpus does not have."""

    def __str__(self) -> str:
        return str(self.args[0])


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
        hints = []
        for name in unknown:
            near = difflib.get_close_matches(name, makers, n=3)
            hints.append(f"{name} (did you mean {', '.join(near)}?)" if near else name)
        raise UnknownCases(
            f"no such example submissions: {'; '.join(hints)}. "
            "autograder.examples.corpus.case_ids lists the corpus."
        )
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
