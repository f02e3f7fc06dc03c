"""Grade a batch of submissions: collect, autograde, write feedback, export, report scores.

Grading itself is nbgrader's: ``autograde`` calls its API per student, with the course's
config, whose extension points (``autograder.nbgrader_hooks``) hold every grading rule. So
``nbgrader autograde <assignment> --force`` from the course directory gives the same grades.
"""

import glob
import shutil
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.api import Gradebook
from nbgrader.plugins import CsvExportPlugin
from tqdm.auto import tqdm

from autograder import parallel, release
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
    # Student id -> nbgrader's log, for each submission nbgrader could not autograde (a
    # notebook it could not run is graded all the same: see autograder.nbgrader_hooks).
    failed: dict[str, str]
    # Students whose submission holds no notebook: nbgrader matches nothing of theirs.
    empty: list[str] = field(default_factory=list)
    # Student id -> seconds per step of their grading (``parallel.Result.seconds``, "apply").
    times: dict[str, dict[str, float]] = field(default_factory=dict, compare=False)
    # Student id -> seconds from the start of grading to their being done (graded or given
    # up), in the order they were done.
    done_at: dict[str, float] = field(default_factory=dict, compare=False)


def autograde(
    course: Course,
    submissions: Path | None = None,
    progress: bool = False,
    workers: parallel.Workers = parallel.SEQUENTIAL,
) -> GradingRun:
    """Grade ``submissions`` (a folder or zip of ``<student_id>/<assignment>/*.ipynb``).

    Each student found replaces their previous submission and is regraded
    (``nbgrader autograde --force``); a submission nbgrader cannot grade is reported, not
    fatal, and one without notebooks is not graded (plain nbgrader matches none of it).
    Without ``submissions``, every submission already collected is regraded. Feedback is
    regenerated for the students graded, and the grades exported (``ExportPlugin.to``).
    Rerunning changes nothing. ``progress`` shows a bar over the students, with an ETA (on
    stderr). ``workers``: where each student is graded (``autograder.parallel``: this
    process, local workers or a Dask cluster), always with the same step and the same grades;
    a sandbox that cannot start a kernel stops the run before any grade (``SandboxUnavailable``).
    """
    students = collect(course, submissions) if submissions else submitted_students(course)
    if not students:
        raise FileNotFoundError(f"no submissions collected in {course.submitted('*')}")
    release.register(course)
    empty = [s for s in students if not any(course.submitted(s).glob("*.ipynb"))]
    graded = [s for s in students if s not in empty]
    bar = tqdm(total=len(graded), desc="autograde", unit="student", disable=not progress)
    times: dict[str, dict[str, float]] = {}
    done_at: dict[str, float] = {}
    started = time.perf_counter()

    def done(student: str) -> None:
        done_at[student] = time.perf_counter() - started
        bar.update()

    with bar:
        failed = parallel.grade_all(course, graded, workers, done, times)
    export(course)
    return GradingRun(scores(course), failed, empty, times, done_at)


def feedback(course: Course) -> list[Path]:
    """Regenerate the HTML feedback of every autograded submission; return its files."""
    check(course.api().generate_feedback(course.assignment, force=True), "generate_feedback")
    return sorted(Path(path) for path in glob.glob(str(course.feedback("*") / "*.html")))


def submitted_students(course: Course) -> list[str]:
    """Ids of the students whose submission is in the submitted folder, sorted."""
    return sorted(course.api().get_submitted_students(course.assignment))


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
