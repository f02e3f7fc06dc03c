"""The example submissions, graded in a course build of their own.

The main job grades the example corpus (``autograder.submissions``) to run the whole
pipeline and to check that each example gets the score it was written for. It works in
``build/examples/``: its own submitted, autograded and feedback folders, gradebook, grades
and report, wiped at every run, so a class's gradebook in ``build/`` is never touched.
"""

import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from traitlets.config import Config

from autograder import grading, report, report_page
from autograder.course import Course

#: Relative to the course directory.
EXAMPLES_DIR = Path("build", "examples")

#: Writes example submissions ``<student>/<assignment>/*.ipynb`` from the course's release
#: into a folder; returns student id -> expected score.
CorpusWriter = Callable[[Course, Path], Mapping[str, float]]


@dataclass(frozen=True)
class ExampleRun:
    """What grading the examples gives: the run, its report and the report's files."""

    run: grading.GradingRun
    report: report.ClassReport
    pages: dict[str, Path]
    course: Course


def example_course(course: Course) -> Course:
    """``course`` with every grading output (folders, gradebook, CSV) in ``build/examples``."""
    folder = course.root / EXAMPLES_DIR
    overrides = Config()
    overrides.merge(course.overrides)
    for step in ("submitted", "autograded", "feedback"):
        # Relative, as in nbgrader_config.py (nbgrader makes regexes of these paths).
        setattr(overrides.CourseDirectory, f"{step}_directory", f"{EXAMPLES_DIR.as_posix()}/{step}")
    overrides.CourseDirectory.db_url = f"sqlite:///{folder / 'gradebook.db'}"
    overrides.ExportPlugin.to = str(folder / "grades.csv")
    return Course(course.root, course.assignment, overrides)


def grade_examples(
    course: Course,
    write_corpus: CorpusWriter,
    progress: bool = False,
    workers: grading.Workers = grading.SEQUENTIAL,
) -> ExampleRun:
    """Write the corpus into ``build/examples/corpus``, autograde it afresh on ``workers``,
    report on it (``progress``: a bar over the submissions)."""
    folder = course.root / EXAMPLES_DIR
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    expected = write_corpus(course, folder / "corpus")
    examples = example_course(course)
    run = grading.autograde(examples, folder / "corpus", progress, workers)
    found = report.build(examples, expected)
    return ExampleRun(run, found, report_page.write(found, folder / "report"), examples)
