"""The course's grading rules as nbgrader extension points, named in ``nbgrader_config.py``.

Plain ``nbgrader autograde``, ``generate_assignment`` and ``generate_feedback``, the Python
API, formgrader's buttons and ``python -m autograder`` all read that config, so they all
grade alike:

- ``GuardedExecute`` (``Autograde.autograde_preprocessors``, in place of nbgrader's
  ``Execute``): each kernel runs in the grading sandbox (``autograder.sandbox``); a notebook
  has a deadline and its cells an output cap; a notebook whose kernel dies is still graded:
  the cells after the death score 0 with the reason (mistake ``kernel_died``), the cells
  before keep their scores, and the student's other notebooks are graded as usual
  (nbgrader would drop the submission);
- ``ReadAnyFile`` (``Autograde.exporter_class``): a submitted file that is not a notebook
  is graded as the unanswered release (every test scores 0, mistake ``unreadable_notebook``)
  instead of failing the whole submission;
- ``WithholdTampered`` (``Autograde.autograde_preprocessors``, after ``SaveAutoGrades``):
  a notebook whose student code tampers with what the tests rely on (``autograder.tampering``)
  scores 0 on its tests, flagged for a grade by hand (mistake ``tampering``);
- ``WithholdBorrowed`` (just before ``WithholdTampered``, whose verdict then prevails): an
  exercise whose solution answers it with the course's own code (``autograder.borrowing``)
  scores 0 on its tests, flagged for a grade by hand (mistake ``borrowed_answer``); the
  notebook's other exercises keep theirs;
- ``RestoreDeletedCells`` (``Autograde.sanitize_preprocessors``, in place of nbgrader's
  ``OverwriteCells``): a test cell the student deleted is put back where the release had
  it, whatever cell came before it (nbgrader's own raises ``KeyError`` when that was a
  locked cell, and drops the whole submission);
- ``TranslatedStubs`` (``GenerateAssignment.preprocessors``, in place of nbgrader's
  ``ClearSolutions``): a translated edition's release carries the stubs in its language
  (``autograder.translation``), every other release the configured ones;
- ``NormalizeRelease`` (``GenerateAssignment.preprocessors``, last): the release is
  byte-stable, whoever generates it;
- ``HideHiddenTests`` (``GenerateFeedback.preprocessors``): feedback shows each hidden
  test's result and message, not its code (which holds the reference values).

Importing this module also has nbgrader check its cell-metadata schema once instead of for
every cell (``autograder.metadata_schema``).
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import nbformat
from nbclient.exceptions import DeadKernelError
from nbconvert.exporters import NotebookExporter
from nbformat import NotebookNode
from nbgrader.api import Gradebook
from nbgrader.preprocessors import (
    ClearHiddenTests,
    ClearSolutions,
    Execute,
    NbGraderPreprocessor,
    OverwriteCells,
)
from traitlets import Bool, Enum, Integer, Unicode

from autograder import execution_cache, metadata_schema, translation
from autograder.borrowing import aliases, borrowed
from autograder.cells import grade_id_of, is_test
from autograder.sandbox import (
    SandboxedKernelManager,
    SandboxUnavailable,
    check_available,
    preflight,
)
from autograder.tampering import findings, module_names
from autograder.time_limits import Plan, display_only, plan, released_limits, source_folder
from course_utils.exercises import EXERCISES, tagged
from course_utils.language import Message, msg, of_assignment
from course_utils.nbgrader_settings import LIMIT

metadata_schema.install()  # nbgrader checks its metadata schema once, not for every cell

#: Where ``ReadAnyFile`` notes, in the notebook it grades instead, why the file was unreadable.
UNREADABLE = "unreadable_submission"


def language_of(resources: dict | None) -> str:
    """The language of the notebook being graded: its assignment's (an edition's, or English),
    or, under Validate (no assignment), that of the folder it runs in, as its kernel has it
    (``course_utils.language``). The grader's own verdicts are said in it."""
    resources = resources or {}
    assignment = resources.get("nbgrader", {}).get("assignment")
    folder = Path(resources.get("metadata", {}).get("path") or ".").resolve().name
    return of_assignment(assignment or folder)


def error_output(ename: str, message: str) -> NotebookNode:
    """An error output as the kernel would record it, without a traceback."""
    return nbformat.v4.new_output(
        "error", ename=ename, evalue=message, traceback=[f"{ename}: {message}"]
    )


class GuardedExecute(Execute):
    """nbgrader's ``Execute``, in a sandbox, with a deadline, that never gives up a notebook.

    - ``sandbox``: each kernel runs in ``autograder.sandbox`` (bubblewrap, resource limits);
    - time limits from the solutions' own times (``autograder.time_limits``): each cell a
      multiple of its reference time, the notebook a multiple of its own; past the
      notebook's, the remaining cells are not run and their tests score 0 with the reason
      (a cell's own timeout is cut to the time left), so a test that loops forever costs one
      cell's limit, not one per test; ``deadline`` caps it (and is the limit of a notebook
      without reference times);
    - under autograde, the display-only cells (plots, widgets, demonstrations) are not run:
      nothing graded reads them (``time_limits.display_only``);
    - ``max_output_bytes``: what a cell's outputs may hold; past it they are dropped with a
      note (errors are always kept), so a flood costs neither memory nor minutes;
    - a dead kernel: the cell that was running records why, every later cell is left unrun,
      its tests scoring 0 with the reason; nbgrader's own ``Execute`` raises instead, and
      nbgrader then drops every notebook of the submission;
    - a notebook that ``ReadAnyFile`` could not read is not run: its tests score 0;
    - ``cache_dir`` (set by ``parallel.grade_all`` for its run): a notebook identical to one
      executed earlier in the run is not run again (``autograder.execution_cache``);
    - before the first notebook, ``autograder.sandbox.preflight``: a sandboxed kernel that
      cannot import the course's packages stops grading with one message;
    - the kernel is killed once its last cell has run (``shutdown_kernel``): its outputs are
      in, and its files are on a tmpfs that goes with it. A graceful shutdown waited 1.2-1.4
      s per notebook for torch's kernel to exit.
    """

    sandbox = Bool(True, help="run each kernel in autograder.sandbox (bubblewrap)").tag(config=True)
    deadline = Integer(600, help="seconds a notebook may run in all, at most").tag(config=True)
    max_output_bytes = Integer(4 * 2**20, help="bytes of output a cell may keep").tag(config=True)
    shutdown_kernel = Enum(
        ["graceful", "immediate"], "immediate", help="how the kernel ends after the last cell"
    ).tag(config=True)
    cache_dir = Unicode(
        "", help="a grading run's folder of executed notebooks (autograder.execution_cache)"
    ).tag(config=True)
    #: The language of the grader's verdicts in the notebook being run (``language_of``).
    _language = "en"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        if self.sandbox:
            check_available()
            self.kernel_manager_class = SandboxedKernelManager
        else:
            self.log.warning("grading WITHOUT the sandbox: student code sees the course")

    def preprocess(self, nb: NotebookNode, resources=None, km=None):
        self._language = language_of(resources)
        unreadable = nb.metadata.get(UNREADABLE)
        if unreadable:
            reason = msg(
                "grader.unreadable_notebook",
                "not run: the submitted file is not a notebook ({why})",
                why=unreadable,
            ).said(self._language)
            self._stop_tests(nb.cells, "UnreadableNotebook", tagged(reason, "unreadable_notebook"))
            return nb, resources
        if self.sandbox:
            self._preflight()
        self._plan = self._plan_of(resources or {})
        self._skip = set()
        if os.environ.get("NBGRADER_EXECUTION") == "autograde":  # not Validate
            # The solutions' display-only cells that the student's own cells do not read.
            self._skip = self._plan.skip & set(display_only(nb))
        self._seconds = min(self.deadline, self._plan.deadline or self.deadline)
        self._stopped: tuple[str, str] | None = None
        self._ends = time.monotonic() + self._seconds
        if not self.cache_dir:
            return super().preprocess(nb, resources, km)
        folder = Path((resources or {}).get("metadata", {}).get("path", "."))
        name = execution_cache.key(nb, self._skip, folder)
        executed = execution_cache.load(self.cache_dir, name)
        if executed is not None:
            self.log.info("identical to a notebook executed earlier in this run: not run again")
            return executed, resources
        nb, resources = super().preprocess(nb, resources, km)
        execution_cache.store(self.cache_dir, name, nb)
        return nb, resources

    def _plan_of(self, resources: dict) -> Plan:
        """The notebook's ``Plan``: given (``release.measure_times``), or from its reference
        times in the course's source folder."""
        if "plan" in resources:
            return resources["plan"]
        where = resources.get("nbgrader", {})
        if "notebook" not in where:  # Validate has no course: the fixed limits
            return Plan()
        return plan(self.config, where["assignment"], where["notebook"])

    def _preflight(self) -> None:
        """``autograder.sandbox.preflight`` (once per process): if no sandboxed kernel can
        import the course's packages, grading stops here with its message. ``SystemExit``,
        not an error: nbgrader would record an error against each student and go on to the
        next, printing the same traceback for every one of them."""
        try:
            preflight(self.config)
        except SandboxUnavailable as error:
            self.log.error("%s", error)
            raise SystemExit(2) from error

    def preprocess_cell(self, cell: NotebookNode, resources, index: int):
        if self._stopped is None and time.monotonic() > self._ends:
            reason = msg(
                "grader.deadline",
                "not run: the notebook's {seconds:.0f} s to run were over by cell {index}",
                seconds=self._seconds,
                index=index,
            ).said(self._language)
            self._stopped = ("DeadlinePassed", tagged(reason, "deadline"))
        if self._stopped is not None:
            self._stop_tests([cell], *self._stopped)
            return cell, resources
        if grade_id_of(cell) in self._skip and not is_test(cell):
            cell.outputs = []  # display only: nothing graded reads it
            return cell, resources
        self._cell_bytes = 0
        try:
            return super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            reason = msg(
                "grader.kernel_died_before",
                "not run: the kernel died in cell {index} (its own code ended the process)",
                index=index,
            ).said(self._language)
            self._stopped = ("KernelDied", tagged(reason, "kernel_died"))
            died = msg("grader.kernel_died", "the kernel died while running this cell")
            died = tagged(died.said(self._language), "kernel_died")
            cell.outputs.append(error_output("KernelDied", died))
            cell.execution_count = None  # set or not, as the kernel's last message raced it
            self.log.warning("the kernel died in cell %d; the later cells are not run", index)
            return cell, resources

    def _get_timeout(self, cell: NotebookNode | None) -> int | None:
        """The cell's timeout (from its reference time, or the fixed one), cut to what is
        left of the notebook's. Never Validate's ``timeout_func``: it reads the submitted
        cell's metadata, which the student can edit."""
        limit = self._plan.cell_limit(grade_id_of(cell)) if cell is not None else None
        timeout = math.ceil(limit) if limit else self.timeout
        left = max(1, math.ceil(self._ends - time.monotonic()))
        return left if not timeout or timeout < 0 else min(timeout, left)

    def output(self, outs: list, message: dict, display_id, cell_index: int):
        if message["msg_type"] != "error":
            size = len(json.dumps(message["content"]))
            if self._cell_bytes + size > self.max_output_bytes:
                if self._cell_bytes <= self.max_output_bytes:
                    note = msg(
                        "grader.output_cut",
                        "[output cut: more than {bytes} bytes]",
                        bytes=self.max_output_bytes,
                    )
                    note = note.said(self._language) + "\n"
                    outs.append(nbformat.v4.new_output("stream", name="stdout", text=note))
                self._cell_bytes = self.max_output_bytes + 1
                return None
            self._cell_bytes += size
        return super().output(outs, message, display_id, cell_index)

    @staticmethod
    def _stop_tests(cells: list[NotebookNode], ename: str, reason: str) -> None:
        """Leave ``cells`` unrun: code cells without output, test cells with ``reason``."""
        for cell in cells:
            if cell.cell_type == "code":
                cell.outputs = [error_output(ename, reason)] if is_test(cell) else []


class ReadAnyFile(NotebookExporter):
    """nbgrader's notebook exporter, which grades a file that is not a notebook as the
    release of that notebook with a note of why (its tests then score 0: ``GuardedExecute``
    does not run it) instead of raising, which drops the whole submission."""

    def from_file(self, file_stream, resources=None, **kw):
        try:
            nb = nbformat.read(file_stream, as_version=4)
            nbformat.validate(nb)
        except Exception as error:  # what a corrupt file raises varies with its corruption
            lines = str(error).splitlines()
            reason = f"{type(error).__name__}: {lines[0] if lines else ''}"[:200]
            self.log.warning(
                "%s is not a notebook (%s): graded as unanswered", file_stream.name, reason
            )
            nb = _unanswered(resources["nbgrader"], reason, language_of(resources))
        return self.from_notebook_node(nb, resources, **kw)


def _unanswered(where: dict, reason: str, language: str) -> NotebookNode:
    """The notebook ``where["notebook"]`` as released (its cells as the gradebook records
    them: locked cells, tests and unanswered solution cells), after a note of ``reason``
    in ``language``."""
    note = msg(
        "grader.unanswered",
        "**The submitted file could not be read as a notebook** ({reason}): every test of it "
        "scores 0. The cells below are the released ones, put back by the grader.",
        reason=reason,
    )
    cells = [nbformat.v4.new_markdown_cell(note.said(language))]
    with Gradebook(where["db_url"]) as gradebook:
        notebook = gradebook.find_notebook(where["notebook"], where["assignment"])
        points = {cell.name: cell.max_score for cell in notebook.grade_cells}
        solutions = {cell.name for cell in notebook.solution_cells}
        for source in notebook.source_cells:
            meta = {
                "grade_id": source.name,
                "grade": source.name in points,
                "solution": source.name in solutions,
                "locked": source.locked,
                "task": False,
                "schema_version": 3,
                "checksum": source.checksum,
            }
            if meta["grade"]:
                meta["points"] = points[source.name]
            make = (
                nbformat.v4.new_code_cell
                if source.cell_type == "code"
                else (nbformat.v4.new_markdown_cell)
            )
            cells.append(make(source.source, metadata={"nbgrader": meta}))
    return nbformat.v4.new_notebook(cells=cells, metadata={UNREADABLE: reason})


def tampering(nb: NotebookNode, instructors: set[str]) -> list[Message]:
    """What ``autograder.tampering`` finds in the code cells of ``nb`` the student wrote
    (those whose source is none of the ``instructors`` cells'), with the offending line.
    A module any cell imports counts as a module wherever it is used."""
    code = [cell.source for cell in nb.cells if cell.cell_type == "code"]
    modules = module_names(code)
    return [
        found for source in code if source not in instructors for found in findings(source, modules)
    ]


def withhold(
    nb: NotebookNode, resources: dict, tests: set[str] | None, reason: str, ename: str
) -> None:
    """Score 0 on the test cells ``tests`` (grade_ids; None: every test) of the notebook being
    autograded, flag them for a grade by hand in the gradebook, and put ``reason`` first in
    each one's outputs (the verdict of a cell is its first error)."""
    where = resources["nbgrader"]
    for cell in nb.cells:
        if is_test(cell) and (tests is None or grade_id_of(cell) in tests):
            cell.outputs.insert(0, error_output(ename, reason))
    with Gradebook(where["db_url"]) as gradebook:
        submission = gradebook.find_submission_notebook(
            where["notebook"], where["assignment"], where["student"]
        )
        for grade in submission.grades:
            if grade.cell.cell_type == "code" and (tests is None or grade.name in tests):
                grade.auto_score = 0
                grade.needs_manual_grade = True
        gradebook.db.commit()


def instructor_sources(resources: dict) -> set[str]:
    """The sources of the notebook's cells as released (the gradebook's record of them)."""
    where = resources["nbgrader"]
    with Gradebook(where["db_url"]) as gradebook:
        notebook = gradebook.find_notebook(where["notebook"], where["assignment"])
        return {cell.source for cell in notebook.source_cells}


class WithholdTampered(NbGraderPreprocessor):
    """Scores 0 on every test of a notebook whose student code tampers (``tampering``), and
    flags those grades for a grade by hand; each test cell records why. Runs after
    ``SaveAutoGrades``, whose scores it overrides in the gradebook."""

    def preprocess(self, nb: NotebookNode, resources: dict):
        found = tampering(nb, instructor_sources(resources))
        if found:
            language = language_of(resources)
            reason = msg(
                "grader.tampering",
                "withheld for review: the student's code {found}",
                found="; ".join(finding.said(language) for finding in found),
            )
            reason = tagged(reason.said(language), "tampering")
            withhold(nb, resources, None, reason, "WithheldForReview")
            where = resources["nbgrader"]["notebook"]
            self.log.warning("%s: tests scored 0 for review (%s)", where, found[0])
        return nb, resources


class WithholdBorrowed(NbGraderPreprocessor):
    """Scores 0 on the tests of each exercise whose solution cell answers it with the course's
    own code (``autograder.borrowing``), and flags them for a grade by hand with the reason;
    the notebook's other exercises keep their scores. Runs after ``SaveAutoGrades``."""

    def preprocess(self, nb: NotebookNode, resources: dict):
        released = instructor_sources(resources)
        student = [
            cell.source
            for cell in nb.cells
            if cell.cell_type == "code" and cell.source not in released
        ]
        solutions = {grade_id_of(cell): cell.source for cell in nb.cells if grade_id_of(cell)}
        for where in EXERCISES:
            source = solutions.get(where.solution_cell)
            if source is None or source in released or not where.answered_by:
                continue
            found = borrowed(source, where, aliases(student, where))
            if not found:
                continue
            reason = msg(
                "grader.borrowed_answer",
                "withheld for a grade by hand: the solution of {title} calls the course's own "
                "code that computes its answer ({found}); write it yourself "
                "(torch.distributions is fine)",
                title=where.heading,
                found=", ".join(found),
            )
            reason = tagged(reason.said(language_of(resources)), "borrowed_answer")
            tests = {test.grade_id for test in where.tests}
            withhold(nb, resources, tests, reason, "WithheldForReview")
            self.log.warning("%s: %s withheld (%s)", where.notebook, where.name, found[0])
        return nb, resources


class RestoreDeletedCells(OverwriteCells):
    """nbgrader's ``OverwriteCells``, which puts back each grade cell missing from the
    submission (``add_missing_cells``) after the nearest earlier cell of the release that
    the submission still has, or first. nbgrader's own looks only for an earlier grade or
    solution cell, raises when the one before is a locked demonstration, and offsets its
    positions wrongly after the first cell it adds."""

    def add_missing_grade_cells(self, nb: NotebookNode, resources: dict):
        source = self.gradebook.find_notebook(self.notebook_id, self.assignment_id)
        points = {cell.name: cell.max_score for cell in source.grade_cells}
        solutions = {cell.name for cell in source.solution_cells}
        released = [cell.name for cell in source.source_cells]
        for position, cell in enumerate(source.source_cells):
            present = [grade_id_of(c) for c in nb.cells]
            if cell.name not in points or cell.name in present:
                continue
            self.log.warning("Missing grade cell %s encountered, adding to notebook", cell.name)
            restored = self.missing_cell_transform(
                cell, points[cell.name], is_solution=cell.name in solutions
            )
            earlier = [name for name in released[:position] if name in present]
            nb.cells.insert(present.index(earlier[-1]) + 1 if earlier else 0, restored)
        return nb, resources


class TranslatedStubs(ClearSolutions):
    """nbgrader's ``ClearSolutions``, writing the stubs of the assignment's language: those
    its source folder holds (``translation.read_stubs``: a translated edition's, which
    ``translation.build`` puts there), else the configured ``code_stub`` and ``text_stub``.
    The source folder travels with every grading task (``parallel.tasks``), so a worker
    records the edition's stubs in its gradebook as the release has them."""

    def preprocess(self, nb: NotebookNode, resources: dict):
        assignment = resources.get("nbgrader", {}).get("assignment")
        stubs = translation.read_stubs(source_folder(self.config, assignment)) if assignment else {}
        if not stubs:
            return super().preprocess(nb, resources)
        configured = self.code_stub, self.text_stub
        if "code_stub" in stubs:
            self.code_stub = {**self.code_stub, "python": stubs["code_stub"]}
        self.text_stub = stubs.get("text_stub", self.text_stub)
        try:
            return super().preprocess(nb, resources)
        finally:
            self.code_stub, self.text_stub = configured


class NormalizeRelease(NbGraderPreprocessor):
    """The release in canonical form: no outputs, execution counts, cell timings or widget
    state, whatever the author's last save left (nbgrader clears outputs only); each measured
    cell carries its time limit (``time_limits.released_limits``) for students' Validate."""

    def preprocess(self, nb: NotebookNode, resources: dict):
        where = resources.get("nbgrader", {})
        limits = {}
        if "notebook" in where:
            limits = released_limits(self.config, where["assignment"], where["notebook"])
        nb.metadata.pop("widgets", None)
        for cell in nb.cells:
            cell.metadata.pop("execution", None)
            cell.metadata.pop(LIMIT, None)
            if grade_id_of(cell) in limits:
                cell.metadata[LIMIT] = limits[grade_id_of(cell)]
            if cell.cell_type == "code":
                cell.outputs = []
                cell.execution_count = None
        return nb, resources


class HideHiddenTests(ClearHiddenTests):
    """Feedback without the code of hidden tests: each hidden block becomes a one-line note,
    and the errors of a cell that had one keep their message but lose their traceback
    (IPython's shows the code around the failing line)."""

    enforce_metadata = False

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int):
        if cell.cell_type != "code" or self.begin_test_delimeter not in cell.source:
            return cell, resources
        note = msg(
            "grader.hidden_tests",
            "# (hidden tests ran here: their result is below, not their code)",
        ).said(language_of(resources))
        lines, hidden = [], False
        for line in cell.source.splitlines():
            if self.begin_test_delimeter in line:
                hidden = True
                lines.append(note)
            elif self.end_test_delimeter in line:
                hidden = False
            elif not hidden:
                lines.append(line)
        cell.source = "\n".join(lines)
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                output.traceback = [f"{output.ename}: {output.evalue}"]
        return cell, resources
