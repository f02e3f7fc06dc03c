"""Grade a batch of submissions: collect, autograde, write feedback, export, report scores."""

import glob
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.apps import NbGraderAPI
from nbgrader.plugins import CsvExportPlugin
from tqdm.auto import tqdm
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


def autograde(
    course: Course, submissions: Path | None = None, progress: bool = False
) -> GradingRun:
    """Grade ``submissions`` (a folder or zip of ``<student_id>/<assignment>/*.ipynb``).

    Each student found replaces their previous submission and is regraded; a submission
    nbgrader cannot grade is reported, not fatal. Without ``submissions``, every submission
    already collected is regraded. Feedback is regenerated for every graded student and
    the grades exported (``ExportPlugin.to``). Rerunning changes nothing. ``progress``
    shows a bar over the submissions (on stderr).
    """
    students = collect(course, submissions) if submissions else submitted_students(course)
    if not students:
        raise FileNotFoundError(f"no submissions collected in {course.submitted('*')}")
    register(course)
    api = course.api()
    failed = {}
    for student in tqdm(students, desc="autograde", unit="submission", disable=not progress):
        problems = autograde_student(course, api, student)
        if problems:
            failed[student] = problems
    feedback(course)
    export(course)
    return GradingRun(scores(course), failed)


def feedback(course: Course) -> list[Path]:
    """Regenerate the HTML feedback of every autograded submission; return its files."""
    check(course.api().generate_feedback(course.assignment, force=True), "generate_feedback")
    return sorted(Path(path) for path in glob.glob(str(course.feedback("*") / "*.html")))


def submitted_students(course: Course) -> list[str]:
    """Ids of the students whose submission is in the submitted folder, sorted."""
    return sorted(course.api().get_submitted_students(course.assignment))


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
        overrides.merge(course.config)  # the course's own overrides (its gradebook) included
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


#: Code a solution has no reason to contain and that can make tests pass unearned, by what
#: it does. Found in a code cell the student wrote, it withholds the notebook's points for
#: review (``autograde_student``). Student code runs in the kernel that runs the tests, so
#: no scan is complete: this catches the usual tricks, the hidden tests and the instructor
#: the rest.
TAMPERING = {
    "assigns to an attribute of a module the tests use": re.compile(
        r"\b(?:torch|math|numpy|np|builtins|course_utils|elbo|iwae|common)(?:\.\w+)+"
        r"\s*(?:=(?!=)|[-+*/]=)"
    ),
    "calls setattr or delattr": re.compile(r"\b(?:setattr|delattr)\s*\("),
    "changes how IPython runs or reports cells": re.compile(
        r"\b(?:input_transformers\w*|ast_transformers|events\.register|run_cell|showtraceback"
        r"|set_custom_exc|settrace|setprofile)\b"
    ),
    "replaces modules or builtins": re.compile(r"\bsys\.modules\b|\b__builtins__\b|\bbuiltins\b"),
    "defines how its results compare": re.compile(r"\bdef\s+__(?:eq|ne|lt|le|gt|ge|bool)__\b"),
}


def autograde_student(course: Course, api: NbGraderAPI, student: str) -> str:
    """Autograde one collected submission; return what went wrong ("" if nothing).

    nbgrader gives up on the whole submission when one notebook cannot run (a corrupt
    file, a kernel that dies, no notebook at all). Then each notebook is graded on its
    own, so the others still count, and every notebook left ungraded scores 0 (as nbgrader
    scores a missing one): stale scores of an earlier submission never survive. A notebook
    whose student code matches ``TAMPERING`` scores 0 on its tests, marked for review.
    """
    result = api.autograde(course.assignment, student, force=True)
    problems = [] if result["success"] else [_log(result)]
    notebooks = sorted(course.submitted(student).glob("*.ipynb"))
    if problems and notebooks:
        problems = []
        for path in notebooks:
            single = _single_notebook(course, path.stem).api()
            retry = single.autograde(course.assignment, student, force=True)
            if not retry["success"]:
                problems.append(f"{path.name}: autograde failed, scored 0\n{_log(retry)}")
    graded = course.step_dir(course.coursedir.autograded_directory, student)
    with Gradebook(course.db_url) as gradebook:
        gradebook.update_or_create_student(student)
        gradebook.update_or_create_submission(course.assignment, student)
        for notebook in gradebook.find_assignment(course.assignment).notebooks:
            path = graded / f"{notebook.name}.ipynb"
            if not path.exists():
                _zero(gradebook, course, notebook.name, student, review=False)
                continue
            found = tampering(course, path)
            if found:
                _zero(gradebook, course, notebook.name, student, review=True)
                problems.append(
                    f"{path.name}: tests scored 0 for review, the student's code "
                    + "; ".join(found)
                )
    return "\n".join(problems)


def tampering(course: Course, notebook: Path) -> list[str]:
    """What ``TAMPERING`` finds in the code cells of an autograded notebook that the
    student wrote (cells not in the source notebook), with the offending line."""
    source = course.source / notebook.name
    theirs = nbformat.read(notebook, as_version=4).cells
    ours = nbformat.read(source, as_version=4).cells if source.exists() else []
    instructors = {cell.source for cell in ours}
    found = []
    for cell in theirs:
        if cell.cell_type != "code" or cell.source in instructors:
            continue
        for line in cell.source.splitlines():
            for what, pattern in TAMPERING.items():
                if pattern.search(line):
                    found.append(f"{what}: {line.strip()}")
    return found


def _zero(gradebook: Gradebook, course: Course, notebook: str, student: str, review: bool) -> None:
    """Score 0 on the notebook: every grade cell if it was not graded, else (``review``) its
    auto-graded cells, which then wait for a grade by hand."""
    submission = gradebook.find_submission_notebook(notebook, course.assignment, student)
    for grade in submission.grades:
        if review and grade.cell.cell_type != "code":
            continue
        grade.auto_score = 0
        grade.needs_manual_grade = review
    gradebook.db.commit()


def _single_notebook(course: Course, notebook: str) -> Course:
    """The course, restricted to one notebook (``CourseDirectory.notebook_id``)."""
    overrides = Config()
    overrides.merge(course.config)
    overrides.CourseDirectory.notebook_id = notebook
    return Course(course.root, course.assignment, overrides)


def _log(result: dict) -> str:
    """nbgrader's log and error of a failed ``NbGraderAPI`` call."""
    return f"{result.get('log', '')}\n{result.get('error', '')}"
