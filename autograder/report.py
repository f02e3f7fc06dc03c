"""The class report: how each student and each test did, and which mistakes were common.

Scores and pass rates come from the gradebook. The mistakes come from the autograded
notebooks: every failure of a grading check ends with the id of the likely mistake
(``course_utils.exercises.MISTAKES``), so the *verdict* of a failed test cell is that id,
or the name of the exception the cell raised when it carries none (``NotImplementedError``
for an unanswered exercise). A verdict on a whole notebook (it could not be graded, or its
points are withheld for review) is counted once per notebook, not once per test.
``report_page.write`` renders a report as an HTML page, a score histogram and JSON.
"""

import re
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat
from nbconvert.filters import strip_ansi
from nbgrader.api import Gradebook, MissingEntry

from autograder.cells import grade_id_of, is_test
from autograder.course import Course
from autograder.lms_export import manual_comments
from course_utils.exercises import EXERCISES, MISTAKES, mistake_of

#: How far an actual score may be from the expected one and still match.
SCORE_TOLERANCE = 1e-6
#: The verdict of a notebook the student did not submit (nbgrader scores it 0).
MISSING = "missing_notebook"
#: The verdict of a failed test cell that shows no error (partial credit).
NO_ERROR = "partial_credit"
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
    # Notebook -> the grader's verdict on all of it (a MISTAKES id whose ``notebook`` is set).
    problems: dict[str, str] = field(default_factory=dict)
    # What the graders wrote in formgrader: ``notebook/cell: comment``.
    comments: tuple[str, ...] = ()

    @property
    def failures(self) -> list[str]:
        """What failed, a line each: a notebook with a whole-notebook verdict once
        (``notebook: verdict``), every other failed test by name."""
        whole = [f"{notebook}: {verdict}" for notebook, verdict in self.problems.items()]
        rest = [test for test in self.failed_tests if test.split("/")[0] not in self.problems]
        return whole + rest

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
class ExerciseResult:
    """The points one exercise's test cells lost across the class: each exercise is graded
    on its own, so a helper's mistake shows here as the helper's loss, not its caller's."""

    exercise: str
    title: str
    # The exercise's auto-graded points, the students graded, and the points they lost.
    points: float
    graded: int
    lost: float
    # Students who lost any of its points.
    losing: int

    @property
    def mean_lost(self) -> float:
        return self.lost / self.graded if self.graded else 0.0


@dataclass(frozen=True)
class Mistake:
    """A verdict (a mistake id, an exception name, or ``NO_ERROR``), what it means, and
    where it occurred."""

    verdict: str
    # The mistake's text, or the first error message seen with it (numbers masked as …).
    text: str
    # Failed test cells that showed it over all students, a whole-notebook verdict once.
    count: int
    tests: tuple[str, ...]
    students: tuple[str, ...]

    @property
    def message(self) -> str:
        """``verdict: text``, one line."""
        return f"{self.verdict}: {self.text}"


@dataclass(frozen=True)
class ClassReport:
    """Everything the report shows; ``summary`` is its plain-text form."""

    assignment: str
    students: list[StudentResult]
    tests: list[TestResult]
    mistakes: list[Mistake]
    has_expected: bool = field(default=False)
    exercises: list[ExerciseResult] = field(default_factory=list)

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
            lines += [
                f"    {notebook}: {MISTAKES[verdict].text} (mistake: {verdict})"
                for notebook, verdict in s.problems.items()
            ]
            lines += [f"    comment {comment}" for comment in s.comments]
        manual = sum(s.needs_manual_grade for s in self.students)
        if manual:
            lines.append(f"  ({manual} with written answers to grade by hand, counted 0 so far)")
        lines.append("Pass rate per test:")
        lines += [
            f"  {t.test:<{width}} {t.passed:>3}/{t.graded:<3} {t.pass_rate:6.0%}  ({t.points:g} pt)"
            for t in self.tests
        ]
        lines.append("Points lost per exercise (mean over the students graded):")
        lines += [
            f"  {e.title:<58} {e.mean_lost:5.2f} of {e.points:g} pt   "
            f"({e.losing}/{e.graded} students lost some)"
            for e in self.exercises
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
            "exercises": [asdict(e) | {"mean_lost": e.mean_lost} for e in self.exercises],
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
        # (test, student) -> (score, max_score) of each autograded cell.
        cells = {
            (f"{grade.notebook.name}/{grade.name}", s.student_id): (grade.score, grade.max_score)
            for s in submissions
            for notebook in s.notebooks
            for grade in notebook.grades
            if grade.cell_type == "code" and grade.auto_score is not None
        }
        totals = {s.student_id: (s.score, s.max_score, s.needs_manual_grade) for s in submissions}
        comments = {
            s.student_id: tuple(c for notebook in s.notebooks for c in manual_comments(notebook))
            for s in submissions
        }
        max_score = assignment.max_score
    failed = defaultdict(list)
    for (test, student), (score, points) in cells.items():
        if score < points:
            failed[student].append(test)
    order = _test_order(course)
    found = {student: verdicts(course, student, tests) for student, tests in failed.items()}
    students = [
        StudentResult(
            student,
            *totals.get(student, (None, max_score, False)),
            failed_tests=tuple(sorted(failed[student], key=order)),
            expected=expected.get(student),
            problems=problems(found.get(student, {})),
            comments=comments.get(student, ()),
        )
        for student in sorted(totals.keys() | expected.keys())
    ]
    tests = []
    for test in sorted({test for test, _ in cells}, key=order):
        results = [value for (name, _), value in cells.items() if name == test]
        passed = sum(score >= points for score, points in results)
        tests.append(TestResult(test, results[0][1], len(results), passed))
    return ClassReport(
        course.assignment,
        students,
        tests,
        common_mistakes(found, order),
        bool(expected),
        exercises=exercise_losses(cells),
    )


def exercise_losses(cells: Mapping[tuple[str, str], tuple[float, float]]) -> list[ExerciseResult]:
    """Per exercise of the registry that has autograded cells here: its points and what the
    students lost, from ``(notebook/grade_id, student) -> (score, max_score)``."""
    found = []
    for where in EXERCISES:
        tests = {f"{where.notebook}/{test.grade_id}" for test in where.tests}
        mine = {key: value for key, value in cells.items() if key[0] in tests}
        if not mine:
            continue
        students = {student for _, student in mine}
        lost = defaultdict(float)
        for (_, student), (score, points) in mine.items():
            lost[student] += points - score
        points = sum(p for (test, student), (_, p) in mine.items() if student == min(students))
        found.append(
            ExerciseResult(
                where.name,
                where.title,
                points,
                len(students),
                sum(lost.values()),
                sum(1 for value in lost.values() if value > SCORE_TOLERANCE),
            )
        )
    return found


#: A failed test cell's verdict and what it means: a mistake id and its text, or an
#: exception's name and the first line of its message (numbers masked).
Verdict = tuple[str, str]
_NO_ERROR = (NO_ERROR, "no error in the cell: partial credit")
_MISSING = (MISSING, MISTAKES[MISSING].text)


def verdicts(course: Course, student: str, tests: list[str]) -> dict[str, Verdict]:
    """The verdict of each of a student's failed ``tests`` (``notebook/grade_id``), read from
    their autograded notebooks; a notebook with no autograded copy was not submitted."""
    folder = course.step_dir(course.coursedir.autograded_directory, student)
    errors = dict(error for path in folder.glob("*.ipynb") for error in failures(path))
    found = {}
    for test in tests:
        if not (folder / f"{test.split('/')[0]}.ipynb").exists():
            found[test] = _MISSING
        else:
            found[test] = errors.get(test, _NO_ERROR)
    return found


def problems(found: Mapping[str, Verdict]) -> dict[str, str]:
    """Notebook -> its whole-notebook verdict, among a student's failed tests' verdicts."""
    return {
        test.split("/")[0]: verdict
        for test, (verdict, _) in found.items()
        if verdict in MISTAKES and MISTAKES[verdict].notebook
    }


def common_mistakes(found: Mapping[str, Mapping[str, Verdict]], order) -> list[Mistake]:
    """Every verdict of the failed test cells (student -> test -> verdict), most frequent
    first; a whole-notebook verdict counts once per notebook."""
    seen = Counter()
    where = defaultdict(set)
    for student, tests in found.items():
        counted = set()
        for test, verdict in tests.items():
            where[verdict].add((test, student))
            whole = verdict[0] in MISTAKES and MISTAKES[verdict[0]].notebook
            if whole and (test.split("/")[0], verdict) in counted:
                continue
            counted.add((test.split("/")[0], verdict))
            seen[verdict] += 1
    return [
        Mistake(
            *verdict,
            count,
            tuple(sorted({test for test, _ in where[verdict]}, key=order)),
            tuple(sorted({student for _, student in where[verdict]})),
        )
        for verdict, count in sorted(seen.items(), key=lambda item: (-item[1], item[0]))
    ]


def failures(path: Path) -> list[tuple[str, Verdict]]:
    """``(notebook/grade_id, (verdict, first line))`` of each test cell of an autograded
    notebook that raised: the first error of the cell."""
    nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    found = []
    for cell in nb.cells:
        if not is_test(cell):
            continue
        errors = [output for output in cell.outputs if output.output_type == "error"]
        if errors:
            found.append((f"{path.stem}/{cell.metadata.nbgrader.grade_id}", verdict_of(errors[0])))
    return found


def verdict_of(output: dict) -> Verdict:
    """The verdict of an error output: the mistake id its message ends with and the
    mistake's text, or the exception's name and its message's first line, numbers masked."""
    mistake = mistake_of(strip_ansi(output.get("evalue", "")))
    if mistake in MISTAKES:
        return mistake, MISTAKES[mistake].text
    return output.get("ename", "Error"), error_message(output)


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
            grade_id = grade_id_of(cell)
            if grade_id:
                position[f"{path.stem}/{grade_id}"] = len(position)
    return lambda test: (position.get(test, len(position)), test)
