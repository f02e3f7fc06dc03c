"""The class report: how each student and each test did, and which mistakes were common.

Scores and pass rates come from the gradebook. The mistakes come from the autograded
notebooks: the graded checks fail with a message that names the likely mistake, so the
first line of each failed test cell's error, its numbers masked, identifies the mistake.
``report_page.write`` renders a report as an HTML page, a score histogram and JSON.
"""

import re
from collections import Counter, defaultdict
from collections.abc import Mapping, Set
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat
from nbconvert.filters import strip_ansi
from nbgrader.api import Gradebook, MissingEntry

from autograder.course import Course

#: How far an actual score may be from the expected one and still match.
SCORE_TOLERANCE = 1e-6
#: The mistake of a failed test whose notebook has no autograded copy.
NOT_GRADED = "(notebook not graded: missing, or nbgrader could not run it)"
#: The mistake of a failed test cell scored 0 for review (the student's code tampers).
WITHHELD = "(withheld for review: the student's code changes what the tests rely on)"
#: The mistake of any other failed test cell that shows no error (partial credit).
NO_ERROR = "(no error in the cell: partial credit)"
# Decimal numbers in a failure message: values that differ between students.
_NUMBER = re.compile(
    r"[-+]?(?:\d+\.\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?\d+[eE][-+]?\d+|\bnan\b|\binf\b"
)


@dataclass(frozen=True)
class StudentResult:
    """One student's total, the tests they failed, and the score expected of them (if known)."""

    student: str
    # None: listed in the expected scores, but no graded submission.
    score: float | None
    max_score: float
    needs_manual_grade: bool
    failed_tests: tuple[str, ...]
    expected: float | None = None

    @property
    def mismatch(self) -> bool:
        """The expected score is known and the actual one differs (or is missing)."""
        if self.expected is None:
            return False
        return self.score is None or abs(self.score - self.expected) > SCORE_TOLERANCE


@dataclass(frozen=True)
class TestResult:
    """One autograded test cell across the class: ``notebook/grade_id``."""

    test: str
    points: float
    # Students whose cell was autograded, and those of them who got full points.
    graded: int
    passed: int

    @property
    def pass_rate(self) -> float:
        return self.passed / self.graded if self.graded else 0.0


@dataclass(frozen=True)
class Mistake:
    """A failure message (numbers masked as ``…``, or ``NOT_GRADED``, ``WITHHELD``,
    ``NO_ERROR``) and where it occurred."""

    message: str
    # Failed test cells that showed it, over all students.
    count: int
    tests: tuple[str, ...]
    students: tuple[str, ...]


@dataclass(frozen=True)
class ClassReport:
    """Everything the report shows; ``summary`` is its plain-text form."""

    assignment: str
    students: list[StudentResult]
    tests: list[TestResult]
    mistakes: list[Mistake]
    has_expected: bool = field(default=False)

    @property
    def mismatches(self) -> list[StudentResult]:
        return [s for s in self.students if s.mismatch]

    def summary(self, mistakes: int = 10) -> str:
        """The student table, the pass rate of every test and the most common mistakes."""
        lines = [f"Class report: assignment {self.assignment!r}, {len(self.students)} students"]
        width = max(
            [len(s.student) for s in self.students] + [len(t.test) for t in self.tests] + [8]
        )
        for s in self.students:
            score = "  -  " if s.score is None else f"{s.score:5.1f}"
            line = f"  {s.student:<{width}} {score} / {s.max_score:g}"
            if self.has_expected:
                expected = "    ?" if s.expected is None else f"{s.expected:5.1f}"
                line += f"   expected {expected}" + ("   MISMATCH" if s.mismatch else "")
            lines.append(line)
        manual = sum(s.needs_manual_grade for s in self.students)
        if manual:
            lines.append(f"  ({manual} with written answers to grade by hand, counted 0 so far)")
        lines.append("Pass rate per test:")
        lines += [
            f"  {t.test:<{width}} {t.passed:>3}/{t.graded:<3} {t.pass_rate:6.0%}  ({t.points:g} pt)"
            for t in self.tests
        ]
        lines.append("Most common mistakes:" if self.mistakes else "No failed tests.")
        lines += [
            f"  {m.count:>3} x {m.message}  [{', '.join(m.tests)}]"
            for m in self.mistakes[:mistakes]
        ]
        return "\n".join(lines)

    def to_json(self) -> dict:
        """The report as plain data (for ``report.json``)."""
        return {
            "assignment": self.assignment,
            "students": [asdict(s) | {"mismatch": s.mismatch} for s in self.students],
            "tests": [asdict(t) | {"pass_rate": t.pass_rate} for t in self.tests],
            "mistakes": [asdict(m) for m in self.mistakes],
        }


def build(course: Course, expected: Mapping[str, float] | None = None) -> ClassReport:
    """The report of every submission of the assignment in the gradebook.

    ``expected`` (student id -> expected score), when given, adds an expected column;
    its students without a graded submission are listed with no score.
    """
    expected = dict(expected or {})
    nothing = f"nothing graded yet: the gradebook has no assignment {course.assignment!r}"
    sqlite = course.db_url.removeprefix("sqlite:///")
    if sqlite != course.db_url and not Path(sqlite).exists():
        raise FileNotFoundError(nothing)  # without creating an empty gradebook
    with Gradebook(course.db_url) as gradebook:
        try:
            assignment = gradebook.find_assignment(course.assignment)
        except MissingEntry:
            raise FileNotFoundError(nothing) from None
        submissions = assignment.submissions
        # (test, student) -> (score, max_score, withheld for review) of each autograded cell.
        cells = {
            (f"{grade.notebook.name}/{grade.name}", s.student_id): (
                grade.score,
                grade.max_score,
                grade.needs_manual_grade,
            )
            for s in submissions
            for notebook in s.notebooks
            for grade in notebook.grades
            if grade.cell_type == "code" and grade.auto_score is not None
        }
        totals = {s.student_id: (s.score, s.max_score, s.needs_manual_grade) for s in submissions}
        max_score = assignment.max_score
    failed, withheld = defaultdict(list), set()
    for (test, student), (score, points, review) in cells.items():
        if score < points:
            failed[student].append(test)
        if review:
            withheld.add((test, student))
    order = _test_order(course)
    students = [
        StudentResult(
            student,
            *totals.get(student, (None, max_score, False)),
            failed_tests=tuple(sorted(failed[student], key=order)),
            expected=expected.get(student),
        )
        for student in sorted(totals.keys() | expected.keys())
    ]
    tests = []
    for test in sorted({test for test, _ in cells}, key=order):
        results = [value for (name, _), value in cells.items() if name == test]
        passed = sum(score >= points for score, points, _ in results)
        tests.append(TestResult(test, results[0][1], len(results), passed))
    return ClassReport(
        course.assignment,
        students,
        tests,
        common_mistakes(course, failed, withheld),
        bool(expected),
    )


def common_mistakes(
    course: Course,
    failed: Mapping[str, list[str]],
    withheld: Set[tuple[str, str]] = frozenset(),
) -> list[Mistake]:
    """What went wrong in the failed test cells (student id -> its failed tests), most
    frequent first: the error of the cell in the autograded notebook, or why it has none
    (``withheld``: the ``(test, student)`` cells scored 0 for review)."""
    seen = Counter()
    where = defaultdict(set)
    for student, tests in failed.items():
        folder = course.step_dir(course.coursedir.autograded_directory, student)
        errors = dict(error for path in folder.glob("*.ipynb") for error in failures(path))
        for test in tests:
            notebook = folder / f"{test.split('/')[0]}.ipynb"
            if (test, student) in withheld:
                message = WITHHELD
            elif notebook.exists():
                message = errors.get(test, NO_ERROR)
            else:
                message = NOT_GRADED
            seen[message] += 1
            where[message].add((test, student))
    order = _test_order(course)
    return [
        Mistake(
            message,
            count,
            tuple(sorted({test for test, _ in where[message]}, key=order)),
            tuple(sorted({student for _, student in where[message]})),
        )
        for message, count in sorted(seen.items(), key=lambda item: (-item[1], item[0]))
    ]


def failures(path: Path) -> list[tuple[str, str]]:
    """``(notebook/grade_id, message)`` of each test cell of a notebook that raised.

    The message is the first line of the exception, ``AssertionError: did you sum over the
    784 pixels?``, with decimal numbers replaced by ``…`` so that students who made the same
    mistake share it.
    """
    nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    found = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or not meta.get("grade"):
            continue
        for output in cell.outputs:
            if output.output_type == "error":
                found.append((f"{path.stem}/{meta['grade_id']}", error_message(output)))
                break
    return found


def error_message(output: dict) -> str:
    """``Name: first line of the message`` of an error output, numbers masked."""
    lines = strip_ansi(output.get("evalue", "")).strip().splitlines()
    text = f"{output.get('ename', 'Error')}: {lines[0]}" if lines else output.get("ename", "")
    return _NUMBER.sub("…", text)


def _test_order(course: Course):
    """A sort key putting ``notebook/grade_id`` names in the order of the source notebooks."""
    position = {}
    for path in sorted(course.source.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
        for cell in nb.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id:
                position[f"{path.stem}/{grade_id}"] = len(position)
    return lambda test: (position.get(test, len(position)), test)
