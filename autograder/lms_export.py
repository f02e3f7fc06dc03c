"""Grades a learning-management system imports: nbgrader export plugins for Canvas and
Moodle, next to nbgrader's own CSV.

Each row is one student's submission of an assignment: a score per notebook, the total,
the late penalty nbgrader assigned (``AssignLatePenalties``) and the total after it, and the
comments the graders wrote in formgrader. Run by ``python -m autograder export --format
canvas|moodle|csv``, or by plain nbgrader:
``nbgrader export --exporter=autograder.lms_export.CanvasExportPlugin``.

- **Canvas** (Gradebook > Import): the columns ``Student``, ``ID``, ``SIS User ID``,
  ``SIS Login ID``, ``Section`` first, as Canvas's Gradebook export writes them, then the
  ``Notes`` column where Canvas's export puts its custom columns (before the assignments:
  its importer counts them among the student columns), then one column per score, each a
  new assignment in Canvas (``<assignment> <notebook>``, and the total after the late
  penalty), with a ``Points Possible`` row under the header. Students are matched by
  ``SIS Login ID``: their login on the hub, nbgrader's student id. Canvas imports no
  comments in this file, so they go to ``Notes``, which Canvas imports into its
  gradebook's Notes column when the course shows one; for a course without it,
  ``c.CanvasExportPlugin.notes = False`` leaves the column out (Canvas would otherwise
  offer it as a new assignment).
- **Moodle** (Grades > Import > CSV file): a ``Username`` column to map to the user field
  *username*, a column per score and one of feedback to map to the total's grade item.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from nbgrader.api import Gradebook
from nbgrader.plugins import ExportPlugin
from traitlets import Bool

#: The columns Canvas requires first in a gradebook import, in its export's order.
CANVAS_STUDENT_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
CANVAS_POINTS_ROW = "Points Possible"
CANVAS_NOTES = "Notes"


@dataclass(frozen=True)
class Grades:
    """One student's graded submission of one assignment."""

    student: str
    first_name: str
    last_name: str
    email: str
    assignment: str
    # notebook -> (score, max score), in the assignment's notebook order.
    notebooks: dict[str, tuple[float, float]]
    late_penalty: float
    # "notebook/cell: comment" for each comment a grader wrote.
    comments: tuple[str, ...]

    @property
    def score(self) -> float:
        """The total before the late penalty."""
        return sum(score for score, _ in self.notebooks.values())

    @property
    def max_score(self) -> float:
        return sum(points for _, points in self.notebooks.values())

    @property
    def final(self) -> float:
        """The total after the late penalty (never below 0)."""
        return max(0.0, self.score - self.late_penalty)

    @property
    def display_name(self) -> str:
        """``Last, First`` as Canvas lists students; the id when the names are unknown."""
        if self.first_name or self.last_name:
            return ", ".join(n for n in (self.last_name, self.first_name) if n)
        return self.student

    def notes(self) -> str:
        """The comments, and the late penalty when there is one, in one line each."""
        lines = list(self.comments)
        if self.late_penalty:
            lines.append(f"late penalty: -{self.late_penalty:g} points")
        return "\n".join(lines)


def graded(gradebook: Gradebook, assignments: list[str] | None = None, students=None) -> list:
    """Every submission in ``gradebook`` (of ``assignments`` and ``students`` if given) as
    ``Grades``, by assignment then student; a notebook not submitted scores 0."""
    found = []
    for assignment in gradebook.assignments:
        if assignments and assignment.name not in assignments:
            continue
        order = [notebook.name for notebook in assignment.notebooks]
        for submission in sorted(assignment.submissions, key=lambda s: s.student_id):
            if students and submission.student_id not in students:
                continue
            student = submission.student
            notebooks = {name: (0.0, 0.0) for name in order}
            comments, penalty = [], 0.0
            for notebook in submission.notebooks:
                notebooks[notebook.name] = (notebook.score, notebook.max_score)
                penalty += notebook.late_submission_penalty or 0.0
                comments += manual_comments(notebook)
            maxima = {n.name: n.max_score for n in assignment.notebooks}
            notebooks = {name: (score, maxima[name]) for name, (score, _) in notebooks.items()}
            found.append(
                Grades(
                    submission.student_id,
                    student.first_name or "",
                    student.last_name or "",
                    student.email or "",
                    assignment.name,
                    notebooks,
                    penalty,
                    tuple(comments),
                )
            )
    return found


def manual_comments(notebook) -> list[str]:
    """``notebook/cell: comment`` for each comment a grader wrote on a submitted notebook
    (nbgrader's ``SubmittedNotebook``), by cell."""
    return [
        f"{notebook.name}/{comment.name}: {comment.manual_comment.strip()}"
        for comment in sorted(notebook.comments, key=lambda c: c.name)
        if comment.manual_comment and comment.manual_comment.strip()
    ]


def _number(value: float) -> str:
    return f"{value:g}"


def canvas_rows(grades: list[Grades], notes: bool = True) -> list[list[str]]:
    """The Canvas gradebook import: header, Points Possible row, a row per student (one
    row per student, a column per assignment's scores; students missing an assignment have
    blank cells); the ``Notes`` column after ``Section`` unless ``notes`` is False."""
    columns: dict[str, float] = {}  # column -> points possible
    for g in grades:
        for notebook, (_, points) in g.notebooks.items():
            columns.setdefault(f"{g.assignment} {notebook}", points)
        columns.setdefault(f"{g.assignment} total", g.max_score)
    info = [*CANVAS_STUDENT_COLUMNS, *([CANVAS_NOTES] if notes else [])]
    header = [*info, *columns]
    points = [CANVAS_POINTS_ROW, *[""] * (len(info) - 1), *map(_number, columns.values())]
    several = len({g.assignment for g in grades}) > 1
    students: dict[str, dict[str, str]] = {}
    for g in grades:
        row = students.setdefault(
            g.student,
            {"Student": g.display_name, "SIS Login ID": g.student, CANVAS_NOTES: ""},
        )
        for notebook, (score, _) in g.notebooks.items():
            row[f"{g.assignment} {notebook}"] = _number(score)
        row[f"{g.assignment} total"] = _number(g.final)
        if g.notes():
            prefix = f"{g.assignment}: " if several else ""
            row[CANVAS_NOTES] = "\n".join(filter(None, [row[CANVAS_NOTES], prefix + g.notes()]))
    return [header, points, *([row.get(c, "") for c in header] for row in students.values())]


def moodle_rows(grades: list[Grades]) -> list[list[str]]:
    """The Moodle CSV grade import: a row per student and assignment; ``Username``, names,
    e-mail, the scores, the penalty, the total and its feedback."""
    header = ["Username", "First name", "Last name", "Email address", "Assignment"]
    notebooks = list(dict.fromkeys(n for g in grades for n in g.notebooks))
    header += [*notebooks, "Score", "Late penalty", "Total", "Feedback"]
    rows = [header]
    for g in grades:
        scores = [_number(g.notebooks[n][0]) if n in g.notebooks else "" for n in notebooks]
        rows.append(
            [
                g.student,
                g.first_name,
                g.last_name,
                g.email,
                g.assignment,
                *scores,
                _number(g.score),
                _number(g.late_penalty),
                _number(g.final),
                g.notes(),
            ]
        )
    return rows


def write_csv(path: Path, rows: list[list[str]]) -> None:
    """Write ``rows`` as UTF-8 CSV (a byte-order mark, so that spreadsheets read accents)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8-sig") as output:
        csv.writer(output).writerows(rows)


class _LmsExportPlugin(ExportPlugin):
    """An nbgrader export plugin writing ``rows(grades)`` to ``to``."""

    def rows(self, grades: list[Grades]) -> list[list[str]]:
        raise NotImplementedError

    def export(self, gradebook: Gradebook) -> None:
        assignments = list(self.assignment) or None
        students = list(self.student) or None
        path = Path(self.to or self.default_file)
        write_csv(path, self.rows(graded(gradebook, assignments, students)))
        self.log.info("Exported grades to %s", path)


class CanvasExportPlugin(_LmsExportPlugin):
    """Grades as Canvas's gradebook import reads them."""

    default_file = "grades-canvas.csv"
    notes = Bool(
        True,
        help="Write the graders' comments and late penalties into a Notes column (the "
        "Canvas course must show its gradebook's Notes column)",
    ).tag(config=True)

    def rows(self, grades: list[Grades]) -> list[list[str]]:
        return canvas_rows(grades, self.notes)


class MoodleExportPlugin(_LmsExportPlugin):
    """Grades as Moodle's CSV grade import reads them."""

    default_file = "grades-moodle.csv"

    def rows(self, grades: list[Grades]) -> list[list[str]]:
        return moodle_rows(grades)


#: ``python -m autograder export --format``: the plugin of each format (csv: nbgrader's).
PLUGINS = {"canvas": CanvasExportPlugin, "moodle": MoodleExportPlugin}
FORMATS = ["csv", *PLUGINS]


def export(course, format: str = "csv") -> Path:
    """Export the course's gradebook in ``format``; the file written. Each format has its
    file (``ExportPlugin.to`` for csv, ``<Plugin>.to`` for the others, in the course's
    config; by default ``build/grades-<format>.csv``)."""
    from autograder import grading

    if format == "csv":
        grading.export(course)
        return grading.grades_csv(course)
    plugin_class = PLUGINS[format]
    configured = course.config.get(plugin_class.__name__, {}).get("to")
    to = configured or str(course.root / "build" / plugin_class.default_file)
    plugin = plugin_class(config=course.config, to=to)
    with Gradebook(course.db_url) as gradebook:
        plugin.export(gradebook)
    return Path(plugin.to)
