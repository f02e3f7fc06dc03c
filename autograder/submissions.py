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

import ast
import re
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from autograder import implementations
from autograder.course import Course
from autograder.implementations import PRELUDE, Implementation

#: Solution cell grade_id -> its implementations (correct variants and known mistakes).
EXERCISES: dict[str, dict[str, Implementation]] = {
    "jensen_gap_solution": implementations.JENSEN_GAP,
    "elbo_mc_solution": implementations.ELBO_MC,
    "negative_elbo_bound": implementations.ELBO,
    "negative_iwae_bound": implementations.IWAE,
}

#: A cell (grade_id -> points) key: (notebook name without .ipynb, grade_id).
CellKey = tuple[str, str]


@dataclass(frozen=True)
class Expected:
    """What autograding one example submission must give.

    Attributes:
        description: what the submission is, in one line.
        points: every auto-graded cell of the release -> its points.
        passes: the auto-graded cells that must score their points; all others score 0.
        feedback: notebook -> text fragments its HTML feedback must contain.
        reported: notebooks the grading run must report (in ``GradingRun.failed``)
            because nbgrader cannot grade them or their points are withheld for review.
    """

    description: str
    points: dict[CellKey, float]
    passes: frozenset[CellKey]
    feedback: dict[str, tuple[str, ...]] = field(default_factory=dict)
    reported: tuple[str, ...] = ()

    @property
    def cells(self) -> dict[CellKey, float]:
        """Auto-graded cell -> the score it must get."""
        return {key: points if key in self.passes else 0.0 for key, points in self.points.items()}

    @property
    def score(self) -> float:
        """The expected total of auto-graded points."""
        return sum(self.cells.values())

    @property
    def max_score(self) -> float:
        """The auto-graded points available."""
        return sum(self.points.values())


# A submission: notebook name -> its content (a notebook, or raw text for a corrupt file);
# a notebook left out is not submitted.
Submission = dict[str, NotebookNode | str]


class Release:
    """The release notebooks of a course, the reference solutions and the grade cells."""

    def __init__(self, course: Course) -> None:
        paths = sorted(course.release.glob("*.ipynb"))
        if not paths:
            raise FileNotFoundError(f"no release notebooks in {course.release}")
        self.notebooks = {path.stem: nbformat.read(path, as_version=4) for path in paths}
        #: grade_id -> the solution cell's source in solutions/, without the markers.
        self.solutions: dict[str, str] = {}
        #: Auto-graded cell -> the source of its test, hidden tests included.
        self.tests: dict[CellKey, str] = {}
        for name in self.notebooks:
            for cell in nbformat.read(course.source / f"{name}.ipynb", as_version=4).cells:
                meta = cell.metadata.get("nbgrader", {})
                if meta.get("solution"):
                    self.solutions[meta["grade_id"]] = _strip_markers(cell.source)
                elif meta.get("grade") and cell.cell_type == "code":
                    self.tests[name, meta["grade_id"]] = cell.source
        self.points = {
            (name, _grade_id(cell)): float(cell.metadata["nbgrader"]["points"])
            for name, nb in self.notebooks.items()
            for cell in nb.cells
            if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade")
        }

    def solved(self, replace: dict[str, str] | None = None) -> dict[str, NotebookNode]:
        """Copies of the release notebooks with every solution cell filled in: from
        ``replace`` (grade_id -> source) where given, else with the reference solution."""
        replace = replace or {}
        notebooks = {}
        for name, nb in self.notebooks.items():
            nb = nbformat.from_dict(nb)
            for cell in nb.cells:
                grade_id = _grade_id(cell)
                if cell.metadata.get("nbgrader", {}).get("solution"):
                    cell.source = replace.get(grade_id, self.solutions[grade_id])
            notebooks[name] = nb
        return notebooks

    def untouched(self) -> dict[str, NotebookNode]:
        """Copies of the release notebooks."""
        return {name: nbformat.from_dict(nb) for name, nb in self.notebooks.items()}

    def cells_running(self, check: str) -> set[CellKey]:
        """The auto-graded cells that run ``check``: the cell of that grade_id, or the
        cells whose test code (hidden tests included) calls a function of that name."""
        call = re.compile(rf"\b{re.escape(check)}\(")
        return {key for key, source in self.tests.items() if key[1] == check or call.search(source)}

    def expect(
        self,
        description: str,
        fails: Iterable[CellKey] = (),
        feedback: dict[str, Iterable[str]] | None = None,
        reported: Iterable[str] = (),
    ) -> Expected:
        """The expectation of a submission that fails the cells ``fails`` (and every cell
        of the ``reported`` notebooks) and passes every other auto-graded cell."""
        reported = tuple(sorted(reported))
        failing = set(fails) | {key for key in self.points if key[0] in reported}
        return Expected(
            description=description,
            points=dict(self.points),
            passes=frozenset(self.points.keys() - failing),
            feedback={nb: tuple(fragments) for nb, fragments in (feedback or {}).items()},
            reported=reported,
        )

    def all_cells(self, notebooks: Iterable[str] | None = None) -> set[CellKey]:
        """The auto-graded cells of ``notebooks`` (all notebooks by default)."""
        names = set(self.notebooks if notebooks is None else notebooks)
        return {key for key in self.points if key[0] in names}

    @property
    def first(self) -> str:
        """The first notebook, where single-notebook hostile cases act."""
        return next(iter(self.notebooks))


def _grade_id(cell: NotebookNode) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def _strip_markers(source: str) -> str:
    """A solution cell's source as a student would write it: without the solution markers."""
    markers = ("### BEGIN SOLUTION", "### END SOLUTION")
    return "\n".join(line for line in source.splitlines() if line.strip() not in markers)


def _is_test(cell: NotebookNode) -> bool:
    return cell.cell_type == "code" and bool(cell.metadata.get("nbgrader", {}).get("grade"))


def _insert_after_setup(nb: NotebookNode, source: str) -> None:
    """Add a student's code cell right after the notebook's first code cell."""
    first = next(i for i, cell in enumerate(nb.cells) if cell.cell_type == "code")
    nb.cells.insert(first + 1, nbformat.v4.new_code_cell(source))


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


# -- hostile submissions ---------------------------------------------------------------------

RAISING_CELL = 'raise RuntimeError("a cell of the student\'s own that raises")'
INFINITE_LOOP = "while True:\n    pass"
SYS_EXIT = "import sys\n\nsys.exit(3)"
KILL_KERNEL = "import os\n\nos.kill(os.getpid(), 9)"
HUGE_OUTPUT = "for i in range(200_000):\n    print(f'line {i} of a student who prints a lot')"
# Tampering with what the tests use: torch's comparisons, every check function of the
# course's grading modules, and equality itself.
REDEFINE_HELPERS = """\
import sys

import torch

torch.allclose = lambda *args, **kwargs: True
torch.testing.assert_close = lambda *args, **kwargs: None
for module_name, module in list(sys.modules.items()):
    if module_name.startswith("course_utils.grading"):
        for attribute in dir(module):
            if attribute.startswith("check_") or attribute in ("fail", "close"):
                setattr(module, attribute, lambda *args, **kwargs: None)
"""
NAN_RESULTS = '''\
import functools as _functools


def _nan_results(function):
    """The function, returning NaN in place of every number it returns."""

    def nan(value):
        if hasattr(value, "is_floating_point"):  # a tensor
            return (value if value.is_floating_point() else value.double()) * float("nan")
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float("nan")
        if isinstance(value, tuple | list):
            return type(value)(nan(item) for item in value)
        return value

    @_functools.wraps(function)
    def wrapped(*args, **kwargs):
        return nan(function(*args, **kwargs))

    return wrapped


'''


def _with_nan_results(source: str) -> str:
    """A solution cell whose top-level functions return NaN (decorated innermost, so
    ``@add_to_class`` attaches the NaN version)."""
    lines = source.splitlines()
    defs = [n.lineno for n in ast.parse(source).body if isinstance(n, ast.FunctionDef)]
    for lineno in sorted(defs, reverse=True):
        indent = re.match(r"\s*", lines[lineno - 1]).group()
        lines.insert(lineno - 1, f"{indent}@_nan_results")
    return NAN_RESULTS + "\n".join(lines)


def _solutions(release: Release) -> tuple[Submission, Expected]:
    return release.solved(), release.expect("the reference solutions")


def _untouched(release: Release) -> tuple[Submission, Expected]:
    feedback = {name: ("NotImplementedError",) for name in release.notebooks}
    expected = release.expect("the release, untouched", release.all_cells(), feedback)
    return release.untouched(), expected


def _added_cell(source: str, description: str, fragment: str, every: bool = True) -> Callable:
    """Reference solutions plus a student cell ``source`` after the setup cell (of every
    notebook, or of the first): every test must still pass."""

    def make(release: Release) -> tuple[Submission, Expected]:
        notebooks = release.solved()
        names = list(notebooks) if every else [release.first]
        for name in names:
            _insert_after_setup(notebooks[name], source)
        feedback = {name: (fragment,) for name in names}
        return notebooks, release.expect(description, feedback=feedback)

    return make


def _killed_kernel(release: Release) -> tuple[Submission, Expected]:
    notebooks = release.solved()
    _insert_after_setup(notebooks[release.first], KILL_KERNEL)
    expected = release.expect(
        "a cell that kills its kernel (first notebook), reference solutions elsewhere",
        reported=[release.first],
    )
    return notebooks, expected


def _nan_everywhere(release: Release) -> tuple[Submission, Expected]:
    nan_solutions = {
        grade_id: _with_nan_results(source)
        for grade_id, source in release.solutions.items()
        if _is_code_solution(release, grade_id)
    }
    expected = release.expect("every function returns NaN", release.all_cells())
    return release.solved(nan_solutions), expected


def _is_code_solution(release: Release, grade_id: str) -> bool:
    return any(
        _grade_id(cell) == grade_id and cell.cell_type == "code"
        for nb in release.notebooks.values()
        for cell in nb.cells
    )


def _edit_tests(nb: NotebookNode) -> None:
    """Replace every test cell by ``pass``, unlocked and worth 1000 points."""
    for cell in nb.cells:
        if _is_test(cell):
            cell.source = "pass"
            cell.metadata.nbgrader.update(points=1000, locked=False)


def _delete_tests(nb: NotebookNode) -> None:
    nb.cells = [cell for cell in nb.cells if not _is_test(cell)]


def _add_helper_redefinitions(nb: NotebookNode) -> None:
    _insert_after_setup(nb, REDEFINE_HELPERS)


def _tampered(edit: Callable[[NotebookNode], None], description: str, review: bool) -> Callable:
    """The release, no solution written, each notebook changed by ``edit``: every test must
    fail, and (``review``) the notebooks be reported for review."""

    def make(release: Release) -> tuple[Submission, Expected]:
        notebooks = release.untouched()
        for nb in notebooks.values():
            edit(nb)
        feedback = {} if review else {name: ("NotImplementedError",) for name in notebooks}
        reported = list(notebooks) if review else []
        expected = release.expect(description, release.all_cells(), feedback, reported)
        return notebooks, expected

    return make


def _corrupt_notebook(release: Release) -> tuple[Submission, Expected]:
    notebooks: Submission = release.solved()
    notebooks[release.first] = '{"cells": [{"cell_type": "code", "source": "'
    expected = release.expect(
        "the first notebook is not valid JSON, reference solutions elsewhere",
        reported=[release.first],
    )
    return notebooks, expected


def _missing_notebook(release: Release) -> tuple[Submission, Expected]:
    notebooks = release.solved()
    del notebooks[release.first]
    # nbgrader scores a missing notebook 0; with nothing left to grade it fails the student.
    reported = [] if notebooks else [release.first]
    expected = release.expect(
        "the first notebook is missing, reference solutions elsewhere",
        release.all_cells([release.first]),
        reported=reported,
    )
    return notebooks, expected


#: Case name -> what makes it; every case applies to any release.
HOSTILE: dict[str, Callable[[Release], tuple[Submission, Expected]]] = {
    "solutions": _solutions,
    "untouched": _untouched,
    "raising_cell": _added_cell(
        RAISING_CELL, "reference solutions and a cell that raises", "a cell of the student"
    ),
    "infinite_loop": _added_cell(
        INFINITE_LOOP,
        "reference solutions and a cell that loops forever (first notebook)",
        "CellTimeoutError",
        every=False,
    ),
    "sys_exit": _added_cell(SYS_EXIT, "reference solutions and sys.exit(3)", "SystemExit"),
    "killed_kernel": _killed_kernel,
    "huge_output": _added_cell(
        HUGE_OUTPUT, "reference solutions and 200,000 printed lines", "Output truncated"
    ),
    "nan_everywhere": _nan_everywhere,
    "edited_tests": _tampered(
        _edit_tests, "no solutions; every test cell `pass`, worth 1000 points", review=False
    ),
    "deleted_tests": _tampered(_delete_tests, "no solutions; every test cell deleted", False),
    "redefined_helpers": _tampered(
        _add_helper_redefinitions,
        "no solutions; torch.allclose and the grading checks redefined to pass",
        review=True,
    ),
    "corrupt_notebook": _corrupt_notebook,
    "missing_notebook": _missing_notebook,
}


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
