"""What the instructor side asks of a notebook cell, through nbgrader's own metadata helpers."""

from nbformat import NotebookNode
from nbgrader.utils import is_grade


def grade_id_of(cell: NotebookNode) -> str | None:
    """The cell's nbgrader ``grade_id`` (None for a cell nbgrader does not track)."""
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def is_test(cell: NotebookNode) -> bool:
    """An auto-graded test cell: a grade cell of code."""
    return cell.cell_type == "code" and is_grade(cell)
