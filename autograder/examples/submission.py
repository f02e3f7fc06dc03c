"""A release seen as the corpus sees it, and what grading a submission must give.

``Release`` reads a course's release notebooks, the reference solutions (from
``solutions/``) and the points of every auto-graded cell; ``Expected`` is what autograding
one example submission must give, derived from those points and the cells it must fail.
Only auto-graded cells count: written answers score 0 until graded by hand.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import nbformat
from nbformat import NotebookNode

from autograder.course import Course

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
            (name, grade_id_of(cell)): float(cell.metadata["nbgrader"]["points"])
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
                grade_id = grade_id_of(cell)
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


def grade_id_of(cell: NotebookNode) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def _strip_markers(source: str) -> str:
    """A solution cell's source as a student would write it: without the solution markers."""
    markers = ("### BEGIN SOLUTION", "### END SOLUTION")
    return "\n".join(line for line in source.splitlines() if line.strip() not in markers)


def is_test(cell: NotebookNode) -> bool:
    return cell.cell_type == "code" and bool(cell.metadata.get("nbgrader", {}).get("grade"))


def insert_after_setup(nb: NotebookNode, source: str) -> None:
    """Add a student's code cell right after the notebook's first code cell."""
    first = next(i for i, cell in enumerate(nb.cells) if cell.cell_type == "code")
    nb.cells.insert(first + 1, nbformat.v4.new_code_cell(source))
