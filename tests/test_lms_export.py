"""Grades for a learning-management system (``autograder/lms_export.py``), from a gradebook
made with nbgrader's API: two notebooks, two students, a manual grade with a comment, a
late penalty, a student who skipped a notebook.

The Canvas file is read back as Canvas's gradebook import reads it (``tests/canvas_import.py``):
scores, penalties and comments must be the gradebook's.
"""

from __future__ import annotations

import csv
import html
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from canvas_import import canvas_import
from nbgrader.api import Gradebook

from autograder import lms_export, report, report_page
from autograder.course import Course

pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = "vae"
DUE = datetime(2026, 3, 1, 12, 0)
#: notebook -> {cell: (max score, auto score of alice, of bob)}; one written answer each.
CELLS = {
    "01_jensen_elbo": {"jensen_values": (2.0, 2.0, 1.0), "written_jensen": (3.0, None, None)},
    "02_negative_elbo": {"elbo_shapes": (1.0, 1.0, 0.0), "written_kl": (2.0, None, None)},
}
COMMENT = 'Right idea; say which expectation is the entropy, and "why", with commas.'
PENALTY = 1.5


@pytest.fixture
def course(tmp_path) -> Course:
    """A course (the repository's config) whose gradebook holds the two submissions:
    alice on time with a manual grade and a comment, bob late without notebook 02."""
    (tmp_path / "nbgrader_config.py").write_text((ROOT / "nbgrader_config.py").read_text())
    course = Course(tmp_path)
    with Gradebook(course.db_url) as gradebook:
        gradebook.update_or_create_assignment(ASSIGNMENT, duedate=DUE)
        for notebook, cells in CELLS.items():
            gradebook.update_or_create_notebook(notebook, ASSIGNMENT)
            for cell, (points, *_) in cells.items():
                kind = "markdown" if cell.startswith("written") else "code"
                gradebook.update_or_create_grade_cell(
                    cell, notebook, ASSIGNMENT, max_score=points, cell_type=kind
                )
                if kind == "markdown":
                    gradebook.update_or_create_solution_cell(cell, notebook, ASSIGNMENT)
        gradebook.update_or_create_student("alice", first_name="Alice", last_name="Souza")
        gradebook.update_or_create_student("bob")
        gradebook.add_submission(ASSIGNMENT, "alice", timestamp=DUE - timedelta(hours=1))
        gradebook.add_submission(ASSIGNMENT, "bob", timestamp=DUE + timedelta(days=1))
        for notebook, cells in CELLS.items():
            for cell, (_, alice, bob) in cells.items():
                for student, score in (("alice", alice), ("bob", bob)):
                    gradebook.find_grade(cell, notebook, ASSIGNMENT, student).auto_score = score
        gradebook.find_grade(
            "written_kl", "02_negative_elbo", ASSIGNMENT, "alice"
        ).manual_score = 1.5
        comment = gradebook.find_comment("written_kl", "02_negative_elbo", ASSIGNMENT, "alice")
        comment.manual_comment = COMMENT
        bob = gradebook.find_submission(ASSIGNMENT, "bob")
        bob.notebooks[0].late_submission_penalty = PENALTY
        gradebook.db.delete(next(n for n in bob.notebooks if n.name == "02_negative_elbo"))
        gradebook.db.commit()
    return course


def read(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8-sig") as file:
        return list(csv.reader(file))


def test_canvas_file_imports_as_canvas_reads_it(course):
    path = lms_export.export(course, "canvas")
    imported = canvas_import(path, custom_columns={lms_export.CANVAS_NOTES})
    notebook = f"{ASSIGNMENT} 02_negative_elbo"
    assert imported["assignments"] == {
        f"{ASSIGNMENT} 01_jensen_elbo": "5",
        notebook: "3",
        f"{ASSIGNMENT} total": "8",
    }
    students = imported["students"]
    assert set(students) == {"alice", "bob"}
    alice, bob = students["alice"], students["bob"]
    for student in (alice, bob):  # a number in every score cell: Canvas's grade for it
        assert all(float(grade) >= 0 for grade in student["grades"].values())
    assert float(alice["grades"][notebook]) == 1.0 + 1.5
    assert float(alice["grades"][f"{ASSIGNMENT} total"]) == 2.0 + 1.0 + 1.5
    assert float(bob["grades"][notebook]) == 0.0  # not submitted
    assert float(bob["grades"][f"{ASSIGNMENT} total"]) == max(0.0, 1.0 - PENALTY)
    assert alice["custom"] == {"Notes": f"02_negative_elbo/written_kl: {COMMENT}"}
    assert bob["custom"] == {"Notes": f"late penalty: -{PENALTY:g} points"}
    header, points, *rows = read(path)
    assert header[:5] == lms_export.CANVAS_STUDENT_COLUMNS  # in the order Canvas exports them
    assert {row[header.index("Student")] for row in rows} == {"Souza, Alice", "bob"}
    assert points[0] == lms_export.CANVAS_POINTS_ROW


def test_canvas_file_without_notes_for_a_course_without_the_column(course):
    """A course whose gradebook has no Notes column: with ``notes = False`` every column
    Canvas reads as an assignment is a score (with notes, Canvas would offer "Notes" as a
    new assignment)."""
    with_notes = canvas_import(lms_export.export(course, "canvas"), custom_columns=set())
    assert lms_export.CANVAS_NOTES in with_notes["assignments"]
    course.config.CanvasExportPlugin.notes = False
    imported = canvas_import(lms_export.export(course, "canvas"), custom_columns=set())
    assert list(imported["assignments"]) == [
        f"{ASSIGNMENT} 01_jensen_elbo",
        f"{ASSIGNMENT} 02_negative_elbo",
        f"{ASSIGNMENT} total",
    ]


def test_moodle_and_csv_files(course):
    header, *rows = read(lms_export.export(course, "moodle"))
    assert header[0] == "Username" and header[-4:] == ["Score", "Late penalty", "Total", "Feedback"]
    table = {row[0]: dict(zip(header, row, strict=True)) for row in rows}
    assert float(table["alice"]["Total"]) == 4.5 and COMMENT in table["alice"]["Feedback"]
    assert float(table["bob"]["Late penalty"]) == PENALTY and float(table["bob"]["Total"]) == 0.0
    csv_path = lms_export.export(course, "csv")
    assert csv_path.name == "grades.csv" and len(read(csv_path)) == 3


def test_plain_nbgrader_export_takes_the_plugin(course):
    """``nbgrader export --exporter=...`` from the course writes the Canvas file where the
    course's config says, not over nbgrader's own CSV."""
    nbgrader = Path(sys.executable).parent / "nbgrader"
    exporter = "--exporter=autograder.lms_export.CanvasExportPlugin"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout's autograder
    result = subprocess.run(
        [nbgrader, "export", exporter], cwd=course.root, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    canvas = course.root / "build" / "grades-canvas.csv"
    assert read(canvas)[0][:5] == lms_export.CANVAS_STUDENT_COLUMNS
    assert not (course.root / "build" / "grades.csv").exists()


def test_class_report_shows_the_graders_comments(course, tmp_path):
    found = report.build(course)
    comments = {s.student: s.comments for s in found.students}
    assert comments == {"alice": (f"02_negative_elbo/written_kl: {COMMENT}",), "bob": ()}
    assert f"comment 02_negative_elbo/written_kl: {COMMENT}" in found.summary()
    page = report_page.write(found, tmp_path / "report")["report.html"].read_text()
    assert html.escape(COMMENT) in page
