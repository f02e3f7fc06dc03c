"""A release seen as the corpus sees it, and what grading a submission must give.

``Release`` reads a course's release notebooks, the reference solutions (from
``solutions/``) and the points of every auto-graded cell; ``Expected`` is what autograding
one example submission must give: every cell's score, and the verdict of each failed cell
(the mistake id its error ends with, or the name of the exception it raised). Only
auto-graded cells count: written answers score 0 until graded by hand.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import nbformat
from nbformat import NotebookNode
from nbgrader.utils import is_solution

from autograder.cells import grade_id_of, is_test
from autograder.course import Course
from course_utils.exercises import MISTAKES

#: A cell (grade_id -> points) key: (notebook name without .ipynb, grade_id).
CellKey = tuple[str, str]


@dataclass(frozen=True)
class Expected:
    """What autograding one example submission must give.

    Attributes:
        description: what the submission is, in one line.
        points: every auto-graded cell of the release -> its points.
        verdicts: each cell that must fail -> its verdict: the mistake id its error ends
            with, the name of the exception it raised, or None when any failure will do.
            Every other cell must score its points.
        feedback: notebook -> text fragments its HTML feedback must contain.
    """

    description: str
    points: dict[CellKey, float]
    verdicts: dict[CellKey, str | None] = field(default_factory=dict)
    feedback: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def passes(self) -> frozenset[CellKey]:
        """The auto-graded cells that must score their points."""
        return frozenset(self.points.keys() - self.verdicts.keys())

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

    @property
    def problems(self) -> dict[str, str]:
        """Notebook -> the grader's verdict on the whole notebook (it could not be graded, or
        its points are withheld), for the notebooks that get one."""
        return {
            notebook: verdict
            for (notebook, _), verdict in self.verdicts.items()
            if verdict in MISTAKES and MISTAKES[verdict].notebook
        }


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
            self.solutions |= solution_sources(course, name)
            for cell in nbformat.read(course.source / f"{name}.ipynb", as_version=4).cells:
                if is_test(cell):
                    self.tests[name, grade_id_of(cell)] = cell.source
        self.points = {
            (name, grade_id_of(cell)): float(cell.metadata.nbgrader.points)
            for name, nb in self.notebooks.items()
            for cell in nb.cells
            if is_test(cell)
        }

    def solved(self, replace: Mapping[str, str] | None = None) -> dict[str, NotebookNode]:
        """Copies of the release notebooks with every solution cell filled in: from
        ``replace`` (grade_id -> source) where given, else with the reference solution."""
        replace = replace or {}
        notebooks = {}
        for name, nb in self.notebooks.items():
            nb = nbformat.from_dict(nb)
            for cell in nb.cells:
                if is_solution(cell):
                    grade_id = grade_id_of(cell)
                    cell.source = replace.get(grade_id, self.solutions[grade_id])
            notebooks[name] = nb
        return notebooks

    def untouched(self) -> dict[str, NotebookNode]:
        """Copies of the release notebooks."""
        return {name: nbformat.from_dict(nb) for name, nb in self.notebooks.items()}

    def notebook_of(self, grade_id: str) -> str:
        """The notebook that holds the cell ``grade_id``."""
        return next(name for name, _ in self.points if (name, grade_id) in self.points)

    def expect(
        self,
        description: str,
        verdicts: Mapping[CellKey, str | None] | None = None,
        feedback: Mapping[str, Iterable[str]] | None = None,
    ) -> Expected:
        """The expectation of a submission whose cells ``verdicts`` fail (with those
        verdicts) and whose other auto-graded cells pass."""
        unknown = set(verdicts or {}) - self.points.keys()
        if unknown:
            raise KeyError(f"not auto-graded cells of the release: {sorted(unknown)}")
        return Expected(
            description=description,
            points=dict(self.points),
            verdicts=dict(verdicts or {}),
            feedback={nb: tuple(fragments) for nb, fragments in (feedback or {}).items()},
        )

    def all_cells(self, notebooks: Iterable[str] | None = None) -> list[CellKey]:
        """The auto-graded cells of ``notebooks`` (all notebooks by default)."""
        names = set(self.notebooks if notebooks is None else notebooks)
        return [key for key in self.points if key[0] in names]

    @property
    def first(self) -> str:
        """The first notebook, where single-notebook hostile cases act."""
        return next(iter(self.notebooks))


def solution_sources(course: Course, notebook: str, code_only: bool = False) -> dict[str, str]:
    """grade_id -> the source of each solution cell of ``notebook`` in the course's
    ``solutions/`` (the reference solution, without the markers), in notebook order; with
    ``code_only``, of its code cells only (not the written answers)."""
    cells = nbformat.read(course.source / f"{notebook}.ipynb", as_version=4).cells
    return {
        grade_id_of(cell): _strip_markers(cell.source)
        for cell in cells
        if is_solution(cell) and (cell.cell_type == "code" or not code_only)
    }


def _strip_markers(source: str) -> str:
    """A solution cell's source as a student would write it: without the solution markers."""
    markers = ("### BEGIN SOLUTION", "### END SOLUTION")
    return "\n".join(line for line in source.splitlines() if line.strip() not in markers)


def insert_after_setup(nb: NotebookNode, source: str) -> None:
    """Add a student's code cell right after the notebook's first code cell."""
    first = next(i for i, cell in enumerate(nb.cells) if cell.cell_type == "code")
    nb.cells.insert(first + 1, nbformat.v4.new_code_cell(source))
