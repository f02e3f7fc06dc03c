"""Hostile submissions: each attacks or breaks the grader in one way, and must cost only
its own points.

An untouched release; cells that raise, loop forever, exit, kill the kernel or print
without end; NaN answers; edited and deleted test cells; redefined grading helpers; a
corrupt notebook file and a missing one. ``HOSTILE`` maps each case's student id to the
function that makes it from any release.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable

from nbformat import NotebookNode

from autograder.cells import grade_id_of, is_test
from autograder.examples.submission import Expected, Release, Submission, insert_after_setup

RAISING_CELL = 'raise RuntimeError("a cell of the student\'s own that raises")'
INFINITE_LOOP = "while True:\n    pass"
SYS_EXIT = "import sys\n\nsys.exit(3)"
KILL_KERNEL = "import os\n\nos.kill(os.getpid(), 9)"
HUGE_OUTPUT = "for i in range(200_000):\n    print(f'line {i} of a student who prints a lot')"
# Tampering with what the tests use: torch's comparisons, every check function of the
# course's grading modules, and equality itself.
REDEFINE_HELPERS = """\
import sys

import torch

torch.allclose = lambda *args, **kwargs: True
torch.testing.assert_close = lambda *args, **kwargs: None
for module_name, module in list(sys.modules.items()):
    if module_name.startswith("course_utils.grading"):
        for attribute in dir(module):
            if attribute.startswith("check_") or attribute in ("fail", "close"):
                setattr(module, attribute, lambda *args, **kwargs: None)
"""
NAN_RESULTS = '''\
import functools as _functools


def _nan_results(function):
    """The function, returning NaN in place of every number it returns."""

    def nan(value):
        if hasattr(value, "is_floating_point"):  # a tensor
            return (value if value.is_floating_point() else value.double()) * float("nan")
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float("nan")
        if isinstance(value, tuple | list):
            return type(value)(nan(item) for item in value)
        return value

    @_functools.wraps(function)
    def wrapped(*args, **kwargs):
        return nan(function(*args, **kwargs))

    return wrapped


'''


def _with_nan_results(source: str) -> str:
    """A solution cell whose top-level functions return NaN (decorated innermost, so
    ``@add_to_class`` attaches the NaN version)."""
    lines = source.splitlines()
    defs = [n.lineno for n in ast.parse(source).body if isinstance(n, ast.FunctionDef)]
    for lineno in sorted(defs, reverse=True):
        indent = re.match(r"\s*", lines[lineno - 1]).group()
        lines.insert(lineno - 1, f"{indent}@_nan_results")
    return NAN_RESULTS + "\n".join(lines)


def _solutions(release: Release) -> tuple[Submission, Expected]:
    return release.solved(), release.expect("the reference solutions")


def _untouched(release: Release) -> tuple[Submission, Expected]:
    expected = release.expect("the release, untouched", _every_cell(release, "NotImplementedError"))
    return release.untouched(), expected


def _added_cell(source: str, description: str, fragment: str, every: bool = True) -> Callable:
    """Reference solutions plus a student cell ``source`` after the setup cell (of every
    notebook, or of the first): every test must still pass."""

    def make(release: Release) -> tuple[Submission, Expected]:
        notebooks = release.solved()
        names = list(notebooks) if every else [release.first]
        for name in names:
            insert_after_setup(notebooks[name], source)
        feedback = {name: (fragment,) for name in names}
        return notebooks, release.expect(description, feedback=feedback)

    return make


def _every_cell(release: Release, verdict: str | None, notebooks=None) -> dict:
    """Every auto-graded cell of ``notebooks`` (default: all) -> ``verdict``."""
    return dict.fromkeys(release.all_cells(notebooks), verdict)


def _killed_kernel(release: Release) -> tuple[Submission, Expected]:
    notebooks = release.solved()
    insert_after_setup(notebooks[release.first], KILL_KERNEL)
    expected = release.expect(
        "a cell that kills its kernel (first notebook), reference solutions elsewhere",
        _every_cell(release, "kernel_died", [release.first]),
    )
    return notebooks, expected


#: The tests that judge how a bound samples and decodes, not what it returns: each test
#: judges one thing, and a bound whose body is right but whose results are made NaN on
#: return samples and decodes as it should (``_nan_everywhere``).
JUDGE_THE_DECODER_INPUTS = {"elbo_sampling", "iwae_vectorized", "gmvae_elbo_sampling"}


def _nan_everywhere(release: Release) -> tuple[Submission, Expected]:
    nan_solutions = {
        grade_id: _with_nan_results(source)
        for grade_id, source in release.solutions.items()
        if _is_code_solution(release, grade_id)
    }
    fail = {key: None for key in release.all_cells() if key[1] not in JUDGE_THE_DECODER_INPUTS}
    description = "every function returns NaN (the bounds sample and decode as they should)"
    return release.solved(nan_solutions), release.expect(description, fail)


def _is_code_solution(release: Release, grade_id: str) -> bool:
    return any(
        grade_id_of(cell) == grade_id and cell.cell_type == "code"
        for nb in release.notebooks.values()
        for cell in nb.cells
    )


def _edit_tests(nb: NotebookNode) -> None:
    """Replace every test cell by ``pass``, unlocked and worth 1000 points."""
    for cell in nb.cells:
        if is_test(cell):
            cell.source = "pass"
            cell.metadata.nbgrader.update(points=1000, locked=False)


def _delete_tests(nb: NotebookNode) -> None:
    nb.cells = [cell for cell in nb.cells if not is_test(cell)]


def _add_helper_redefinitions(nb: NotebookNode) -> None:
    insert_after_setup(nb, REDEFINE_HELPERS)


def _tampered(edit: Callable[[NotebookNode], None], description: str, verdict: str) -> Callable:
    """The release, no solution written, each notebook changed by ``edit``: every test must
    fail with ``verdict``."""

    def make(release: Release) -> tuple[Submission, Expected]:
        notebooks = release.untouched()
        for nb in notebooks.values():
            edit(nb)
        return notebooks, release.expect(description, _every_cell(release, verdict))

    return make


def _corrupt_notebook(release: Release) -> tuple[Submission, Expected]:
    notebooks: Submission = release.solved()
    notebooks[release.first] = '{"cells": [{"cell_type": "code", "source": "'
    expected = release.expect(
        "the first notebook is not valid JSON, reference solutions elsewhere",
        _every_cell(release, "unreadable_notebook", [release.first]),
    )
    return notebooks, expected


def _missing_notebook(release: Release) -> tuple[Submission, Expected]:
    notebooks = release.solved()
    del notebooks[release.first]
    expected = release.expect(
        "the first notebook is missing, reference solutions elsewhere",
        _every_cell(release, "missing_notebook", [release.first]),
    )
    return notebooks, expected


#: Case name -> what makes it; every case applies to any release.
HOSTILE: dict[str, Callable[[Release], tuple[Submission, Expected]]] = {
    "solutions": _solutions,
    "untouched": _untouched,
    "raising_cell": _added_cell(
        RAISING_CELL, "reference solutions and a cell that raises", "a cell of the student"
    ),
    "infinite_loop": _added_cell(
        INFINITE_LOOP,
        "reference solutions and a cell that loops forever (first notebook)",
        "CellTimeoutError",
        every=False,
    ),
    "sys_exit": _added_cell(SYS_EXIT, "reference solutions and sys.exit(3)", "SystemExit"),
    "killed_kernel": _killed_kernel,
    "huge_output": _added_cell(
        HUGE_OUTPUT, "reference solutions and 200,000 printed lines", "Output truncated"
    ),
    "nan_everywhere": _nan_everywhere,
    "edited_tests": _tampered(
        _edit_tests,
        "no solutions; every test cell `pass`, worth 1000 points",
        "NotImplementedError",
    ),
    "deleted_tests": _tampered(
        _delete_tests, "no solutions; every test cell deleted", "NotImplementedError"
    ),
    "redefined_helpers": _tampered(
        _add_helper_redefinitions,
        "no solutions; torch.allclose and the grading checks redefined to pass",
        "tampering",
    ),
    "corrupt_notebook": _corrupt_notebook,
    "missing_notebook": _missing_notebook,
}
