"""Run notebooks as the Validate button does, in the grading sandbox: solutions must pass,
the release must fail.

Uses nbgrader's ``Validator`` directly: ``nbgrader validate`` exits 0 even when validation
fails (jupyter/nbgrader#1908), so its exit code cannot gate CI.
"""

from pathlib import Path

import nbformat
from nbconvert.filters import strip_ansi
from nbgrader.preprocessors import CheckCellMetadata, ClearOutput
from nbgrader.validator import Validator

from autograder.cells import is_test
from autograder.course import Course
from autograder.nbgrader_hooks import GuardedExecute

# What nbgrader's Execute records when a cell outlives Execute.timeout.
TIMEOUT_ERROR = "CellTimeoutError"


def check_solutions(course: Course, every_cell: bool = False) -> dict[Path, list[str]]:
    """Problems per solution notebook: every test cell must pass (``nbgrader validate``);
    with ``every_cell``, every code cell must also run without an error or stderr output
    (nbgrader's ``validate_all``: a demonstration that breaks, which the tests do not read)."""
    return {
        path: _problems(course, path, release=False, every_cell=every_cell)
        for path in _notebooks(course.source)
    }


def check_release(course: Course) -> dict[Path, list[str]]:
    """Problems per release notebook: every test cell must fail, by an exception.

    What ``nbgrader validate --invert`` checks (no test passes), plus "cleanly": no cell
    ran into the timeout, the kernel did not die.
    """
    return {path: _problems(course, path, release=True) for path in _notebooks(course.release)}


def _notebooks(folder: Path) -> list[Path]:
    notebooks = sorted(folder.glob("*.ipynb"))
    if not notebooks:
        raise FileNotFoundError(f"no notebooks in {folder}")
    return notebooks


def _problems(course: Course, path: Path, *, release: bool, every_cell: bool = False) -> list[str]:
    """Run the notebook once, in the grading sandbox as autograde does; on the release (or
    with ``every_cell``), collect every failing cell (validate_all)."""
    # nbgrader's own list with the course's executor (not a config trait of Validator).
    preprocessors = [CheckCellMetadata, ClearOutput, GuardedExecute]
    validator = Validator(
        config=course.config, validate_all=release or every_cell, preprocessors=preprocessors
    )
    try:
        results = validator.validate(str(path))
    except Exception as error:  # a dead kernel or an nbgrader crash ends validation
        return [f"validation crashed: {type(error).__name__}: {error}"]
    if release:
        return _changed(results) + _release_problems(path, results)
    return _changed(results) + [
        f"cell failed:\n{_indent(cell['source'])}\n{_indent(cell['raw_error'])}"
        for cell in results.get("failed", [])
    ]


def _release_problems(path: Path, results: dict) -> list[str]:
    errors = {cell["source"]: cell["raw_error"] for cell in results.get("failed", [])}
    problems = [
        f"cell timed out:\n{_indent(source)}"
        for source, error in errors.items()
        if TIMEOUT_ERROR in error
    ]
    nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    tests = [cell.source.strip() for cell in nb.cells if is_test(cell)]
    return problems + [
        f"test cell passes on the release:\n{_indent(src)}" for src in tests if src not in errors
    ]


def _changed(results: dict) -> list[str]:
    """Cells whose type or locked content differs from the checksums nbgrader recorded."""
    changed = [
        f"locked cell was edited:\n{_indent(c['source'])}" for c in results.get("changed", [])
    ]
    return changed + [
        f"cell type changed from {c['old_type']} to {c['new_type']}:\n{_indent(c['source'])}"
        for c in results.get("type_changed", [])
    ]


def _indent(text: str) -> str:
    """Indent a cell's source or traceback under its heading, without terminal colours."""
    return "\n".join("    " + line for line in strip_ansi(text).splitlines())
