"""Grade a batch of submissions: collect, autograde, write feedback, export, report scores."""

import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins import CsvExportPlugin
from traitlets.config import Config

from autograder.course import Course, check


@dataclass(frozen=True, order=True)
class Score:
    """A student's total on the assignment, as the gradebook has it."""

    student: str
    score: float
    max_score: float
    # Written answers count only once graded by hand (formgrader).
    needs_manual_grade: bool


@dataclass(frozen=True)
class GradingRun:
    """What one autograde run leaves: every score in the gradebook, and what failed."""

    scores: list[Score]
    # Student id -> nbgrader's log, for each submission this run could not autograde.
    failed: dict[str, str]


def autograde(course: Course, submissions: Path) -> GradingRun:
    """Grade ``submissions`` (a folder or zip of ``<student_id>/<assignment>/*.ipynb``).

    Each student found replaces their previous submission and is regraded; a submission
    nbgrader cannot grade is reported, not fatal. Feedback is regenerated for every graded
    student and the grades exported (``ExportPlugin.to``). Rerunning changes nothing.
    """
    register(course)
    api = course.api()
    failed = {}
    for student in collect(course, submissions):
        result = api.autograde(course.assignment, student, force=True)
        if not result["success"]:
            failed[student] = f"{result.get('log', '')}\n{result.get('error', '')}"
    check(api.generate_feedback(course.assignment, force=True), "generate_feedback")
    export(course)
    return GradingRun(scores(course), failed)


def register(course: Course) -> None:
    """Record the assignment in the gradebook if it is not there (a fresh clone has none).

    Runs generate_assignment into a temporary folder, leaving the committed release alone.
    """
    with Gradebook(course.db_url) as gradebook:
        try:
            gradebook.find_assignment(course.assignment)
            return
        except MissingEntry:
            pass
    with tempfile.TemporaryDirectory() as tmp:
        overrides = Config()
        overrides.CourseDirectory.release_directory = tmp
        api = Course(course.root, course.assignment, overrides).api()
        check(api.generate_assignment(course.assignment), "generate_assignment")


def collect(course: Course, submissions: Path) -> list[str]:
    """Copy each ``<student_id>/<assignment>/`` of a folder or zip into the submitted folder.

    Returns the student ids, sorted. A student's previous submission is replaced.
    """
    if zipfile.is_zipfile(submissions):
        with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(submissions) as archive:
            archive.extractall(tmp)  # drops absolute paths and '..' from member names
            return collect(course, Path(tmp))
    students = sorted(
        folder.name
        for folder in Path(submissions).iterdir()
        if not folder.name.startswith((".", "__")) and (folder / course.assignment).is_dir()
    )
    if not students:
        raise FileNotFoundError(
            f"no submissions in {submissions}: expected <student_id>/{course.assignment}/*.ipynb"
        )
    for student in students:
        dest = course.submitted(student)
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(
            Path(submissions, student, course.assignment),
            dest,
            ignore=shutil.ignore_patterns(*course.ignored),
        )
    return students


def grades_csv(course: Course) -> Path:
    """The CSV file ``export`` writes (``ExportPlugin.to`` in the config)."""
    return Path(CsvExportPlugin(config=course.config).to)


def export(course: Course) -> None:
    """Export every grade of the gradebook to ``grades_csv`` (``nbgrader export``)."""
    with Gradebook(course.db_url) as gradebook:
        CsvExportPlugin(config=course.config).export(gradebook)


def scores(course: Course) -> list[Score]:
    """Total score of every submission of the assignment, by student id."""
    with Gradebook(course.db_url) as gradebook:
        submissions = gradebook.find_assignment(course.assignment).submissions
        return sorted(
            Score(s.student_id, s.score, s.max_score, s.needs_manual_grade) for s in submissions
        )
