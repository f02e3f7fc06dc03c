"""Identical notebooks run once per grading run.

In a class, and far more in the example corpus (each example is the solutions with one
exercise changed), many submitted notebooks are byte for byte alike: the untouched release
of a notebook a student skipped, the solutions' other notebooks. What a kernel does with a
notebook depends on that notebook as nbgrader hands it to ``GuardedExecute`` (the student's
cells and the restored test cells), the other files of its folder, the cells left out, and
the run's settings, which one run shares. So ``GuardedExecute`` keeps each notebook it
executed under ``key`` of those inputs in a folder of the run (``parallel.grade_all`` makes
one per run and removes it at the end), and hands an identical notebook the executed copy.
A run that hit a time limit or lost its kernel is not kept: the machine's load, not the
notebook, may have decided it.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import nbformat
from nbformat import NotebookNode

#: nbgrader's record of when a submission came, in its folder: it differs between students.
TIMESTAMP = "timestamp.txt"
#: Error names of outputs that say the run was cut short (``GuardedExecute`` and nbgrader).
CUT_SHORT = {"CellTimeoutError", "DeadlinePassed", "KernelDied"}


def key(nb: NotebookNode, skip: set[str], folder: Path) -> str:
    """SHA-256 of what executing ``nb`` depends on in a run: the notebook, the grade ids of
    the cells left out (``skip``), and every file of ``folder`` (the notebook's) that is not
    a notebook or nbgrader's ``TIMESTAMP``, by name and content."""
    digest = hashlib.sha256(nbformat.writes(nb).encode())
    digest.update(repr(sorted(skip)).encode())
    for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
        if path.is_file() and path.suffix != ".ipynb" and path.name != TIMESTAMP:
            digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def load(cache_dir: str, name: str) -> NotebookNode | None:
    """The executed notebook kept under ``name``, or None."""
    path = Path(cache_dir, f"{name}.ipynb")
    return nbformat.read(path, as_version=4) if path.is_file() else None


def store(cache_dir: str, name: str, nb: NotebookNode) -> None:
    """Keep the executed ``nb`` under ``name``, unless its run was cut short or the run's
    folder is gone (the run ended). Written whole or not at all (a rename), as workers may
    store the same notebook at once."""
    if cut_short(nb) or not Path(cache_dir).is_dir():
        return
    handle, temporary = tempfile.mkstemp(dir=cache_dir, suffix=".partial")
    with os.fdopen(handle, "w") as file:
        nbformat.write(nb, file)
    os.replace(temporary, Path(cache_dir, f"{name}.ipynb"))


def cut_short(nb: NotebookNode) -> bool:
    """Whether a cell of ``nb`` timed out, or the notebook's deadline or kernel ended it."""
    return any(
        output.output_type == "error" and output.ename in CUT_SHORT
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )
