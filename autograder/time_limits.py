"""Time limits that follow the work: a submission may take a multiple of what the solutions
take when graded, on this machine.

At release (``release.measure_times``), each solution notebook is run as autograde runs it
(in the sandbox, one thread, ``NBGRADER_EXECUTION=autograde``, its display-only cells left
out) and its cells' times and its own are written to ``reference_times.json`` in the
assignment's source folder (the config tells nbgrader not to copy it into the release), with
a short calibration of the machine that measured (``course_utils.calibration``). When
grading, ``plan`` turns a notebook's entry into a ``Plan``: each cell may take
``cell_multiple`` times its reference time plus ``cell_margin`` seconds, a cell the solutions
do not have (one the student added) ``cell_margin``, the notebook ``notebook_multiple`` times
its own plus ``notebook_margin``, all scaled by how much slower this machine is than the one
that measured (never faster than the reference: the factor is at least 1). A correct but
slower solution keeps its points; an infinite loop costs about a minute, not the fixed
deadline. The release's cells carry their limits (``released_limits``), so that students'
Validate, which has neither this package nor the source folder, cuts a cell where autograde
would (``course_utils.nbgrader_settings.cell_timeout``).

Display-only cells (``display_only``): the locked cells that only show (plots, widgets,
tables, demonstrations): no graded or solution cell reads what they define. Under autograde
they are not run (those of the solutions that are display-only in the submission too: a
student's answer may read a name a demonstration binds); Validate and students run every
cell. An entry whose notebook changed since it was measured (its SHA-256) is ignored: the
fixed ``GuardedExecute.deadline`` then applies and every cell runs.
"""

from __future__ import annotations

import ast
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from nbformat import NotebookNode
from nbgrader.coursedir import CourseDirectory
from traitlets import Float
from traitlets.config import Configurable

from course_utils import calibration

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


def plan(config, assignment: str, notebook: str, factor: float | None = None) -> Plan:
    """The ``Plan`` of one notebook of ``assignment`` under ``config``'s limits, scaled by
    ``factor`` (default: ``calibration.machine_factor``, this machine now against the one that
    measured); the empty plan (every cell run, the fixed limits) if the notebook has no
    up-to-date entry."""
    found = _entry(config, assignment, notebook)
    if found is None:
        return Plan()
    entry, reference = found
    if factor is None:
        factor = calibration.machine_factor(reference)
    limits = TimeLimits(config=config)
    cells = {
        grade_id: factor * (limits.cell_multiple * seconds + limits.cell_margin)
        for grade_id, seconds in entry["cells"].items()
    }
    deadline = factor * (limits.notebook_multiple * entry["seconds"] + limits.notebook_margin)
    return Plan(frozenset(entry["display_only"]), cells, deadline, factor * limits.cell_margin)


def released_limits(config, assignment: str, notebook: str) -> dict[str, dict]:
    """What the release's cells carry for students' Validate (``nbgrader_settings.LIMIT``),
    by grade id: each measured cell's limit on the machine that measured, and that machine's
    calibration, by which Validate scales it on the student's (``cell_timeout``)."""
    found = _entry(config, assignment, notebook)
    if found is None:
        return {}
    reference = found[1]
    cells = plan(config, assignment, notebook, factor=1.0).cells
    return {
        grade_id: {"seconds": round(seconds, 1), "calibration": round(reference, 5)}
        for grade_id, seconds in cells.items()
    }


def _entry(config, assignment: str, notebook: str) -> tuple[dict, float] | None:
    """The notebook's up-to-date entry and the calibration it was measured with, or None."""
    folder = source_folder(config, assignment)
    reference = read(folder)
    entry = reference.get("notebooks", {}).get(notebook)
    source = folder / f"{notebook}.ipynb"
    if not entry or not source.is_file() or entry["sha256"] != digest(source):
        return None
    return entry, reference["calibration"]


def stale(folder: Path) -> list[str]:
    """The source notebooks of ``folder`` whose reference times are missing or out of date."""
    entries = read(folder).get("notebooks", {})
    return [
        path.stem
        for path in sorted(folder.glob("*.ipynb"))
        if entries.get(path.stem, {}).get("sha256") != digest(path)
    ]
