"""Time limits that follow the work: a submission may take a multiple of what the solutions
take when graded, on this machine.

At release (``release.measure_times``), each solution notebook is run as autograde runs it (in the
sandbox, one thread, ``NBGRADER_EXECUTION=autograde``, its display-only cells left out) and
its cells' times and its own are written to ``reference_times.json`` in the assignment's
source folder (the config tells nbgrader not to copy it into the release), with a short
calibration of the machine that measured (``calibrate``). When grading, ``plan`` turns a
notebook's entry into a ``Plan``: each cell may take ``cell_multiple`` times its reference
time plus ``cell_margin`` seconds, a cell the solutions do not have (one the student
added) ``cell_margin``, the notebook ``notebook_multiple`` times its own plus
``notebook_margin``, all scaled by how much slower this machine is than the one that
measured (never faster than the reference: the factor is at least 1). A correct but slower
solution keeps its points; an infinite loop costs about a minute, not the fixed deadline.

Display-only cells (``display_only``): the locked cells that only show (plots, widgets,
tables, demonstrations): no graded or solution cell reads what they define. Under autograde
they are not run (those of the solutions that are display-only in the submission too: a
student's answer may read a name a demonstration binds); Validate and students run every
cell. An entry whose notebook changed
since it was measured (its SHA-256) is ignored: the fixed ``GuardedExecute.deadline`` then
applies and every cell runs.
"""

from __future__ import annotations

import ast
import hashlib
import json
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from nbformat import NotebookNode
from nbgrader.coursedir import CourseDirectory
from traitlets import Float
from traitlets.config import Configurable

#: The reference times of an assignment, in its source folder.
FILE = "reference_times.json"


class TimeLimits(Configurable):
    """How much more than the solutions a submission may take (``nbgrader_config.py``)."""

    cell_multiple = Float(10.0, help="a cell may take this many times its reference time").tag(
        config=True
    )
    cell_margin = Float(15.0, help="seconds every cell may take on top").tag(config=True)
    notebook_multiple = Float(4.0, help="a notebook may take this many times its own").tag(
        config=True
    )
    notebook_margin = Float(30.0, help="seconds every notebook may take on top").tag(config=True)


@dataclass(frozen=True)
class Plan:
    """How autograde runs one notebook: the cells it leaves out (grade ids) and the seconds
    each cell and the whole notebook may take (``None``: no reference, the fixed limits)."""

    skip: frozenset[str] = frozenset()
    cells: dict[str, float] = field(default_factory=dict)
    deadline: float | None = None
    other_cells: float | None = None  # a cell the solutions do not have (a student's own)

    def cell_limit(self, grade_id: str | None) -> float | None:
        return self.cells.get(grade_id, self.other_cells) if grade_id else self.other_cells


# -- display-only cells ----------------------------------------------------------------------


def display_only(nb: NotebookNode) -> list[str]:
    """Grade ids of the locked code cells that only show: neither graded nor a solution,
    not the set-up, and nothing they bind is read by a later cell that is kept."""
    kept_reads: set[str] = set()
    shown: list[str] = []
    for cell in reversed([c for c in nb.cells if c.cell_type == "code"]):
        meta = cell.metadata.get("nbgrader", {})
        binds, reads = _names(cell.source)
        graded = meta.get("grade") or meta.get("solution") or not meta.get("locked")
        if graded or meta.get("grade_id") == "setup" or binds & kept_reads:
            kept_reads |= reads
        else:
            shown.append(meta["grade_id"])
    return sorted(shown)


def _names(source: str) -> tuple[set[str], set[str]]:
    """The names a cell binds and the names it reads (IPython magics left out)."""
    code = "\n".join(
        line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))
    )
    binds, reads = set(), set()
    try:
        tree = ast.parse(code)
    except SyntaxError:  # a student's cell that cannot run binds and reads nothing
        return binds, reads
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (binds if isinstance(node.ctx, ast.Store | ast.Del) else reads).add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            binds.add(node.name)
        elif isinstance(node, ast.alias):
            binds.add((node.asname or node.name).split(".")[0])
    return binds, reads


# -- calibration ------------------------------------------------------------------------------


def calibrate(repeats: int = 3) -> float:
    """Seconds this machine takes, now, for a fixed piece of one-threaded work like the
    notebooks' (interpreted Python and array arithmetic): the median of ``repeats``."""
    return statistics.median(_workload() for _ in range(repeats))


def _workload() -> float:
    import numpy as np

    start = time.perf_counter()
    total = 0.0
    for i in range(200_000):
        total += (i % 7) * 0.5  # interpreted work: the sum itself is not used
    values = np.linspace(0.01, 1.0, 400_000)
    for _ in range(10):
        values = np.log1p(np.exp(-values)) + np.sqrt(values)
    return time.perf_counter() - start


_calibration: float | None = None


def machine_factor(reference: float) -> float:
    """How much slower this machine is than the one whose calibration was ``reference``
    (at least 1); measured once per process."""
    global _calibration
    if _calibration is None:
        _calibration = calibrate()
    return max(1.0, _calibration / reference)


# -- the reference file -------------------------------------------------------------------------


def source_folder(config, assignment: str) -> Path:
    coursedir = CourseDirectory(config=config)
    return Path(coursedir.format_path(coursedir.source_directory, ".", assignment))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read(folder: Path) -> dict:
    """The reference times of the assignment whose source is ``folder`` (empty if none)."""
    path = folder / FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def plan(config, assignment: str, notebook: str) -> Plan:
    """The ``Plan`` of one notebook of ``assignment`` under ``config``'s limits; the empty
    plan (every cell run, the fixed limits) if the notebook has no up-to-date entry."""
    folder = source_folder(config, assignment)
    reference = read(folder)
    entry = reference.get("notebooks", {}).get(notebook)
    source = folder / f"{notebook}.ipynb"
    if not entry or not source.is_file() or entry["sha256"] != digest(source):
        return Plan()
    limits = TimeLimits(config=config)
    factor = machine_factor(reference["calibration"])
    cells = {
        grade_id: factor * (limits.cell_multiple * seconds + limits.cell_margin)
        for grade_id, seconds in entry["cells"].items()
    }
    deadline = factor * (limits.notebook_multiple * entry["seconds"] + limits.notebook_margin)
    return Plan(frozenset(entry["display_only"]), cells, deadline, factor * limits.cell_margin)


def stale(folder: Path) -> list[str]:
    """The source notebooks of ``folder`` whose reference times are missing or out of date."""
    entries = read(folder).get("notebooks", {})
    return [
        path.stem
        for path in sorted(folder.glob("*.ipynb"))
        if entries.get(path.stem, {}).get("sha256") != digest(path)
    ]
