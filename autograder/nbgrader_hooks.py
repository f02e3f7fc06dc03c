"""The course's grading rules as nbgrader extension points, named in ``nbgrader_config.py``.

Plain ``nbgrader autograde``, ``generate_assignment`` and ``generate_feedback``, the Python
API, formgrader's buttons and ``python -m autograder`` all read that config, so they all
grade alike:

- ``GuardedExecute`` (``Autograde.autograde_preprocessors``, in place of nbgrader's
  ``Execute``): a notebook whose kernel dies is still graded: the cells after the death
  score 0 with the reason (mistake ``kernel_died``), the cells before keep their scores, and
  the student's other notebooks are graded as usual (nbgrader would drop the submission);
- ``ReadAnyFile`` (``Autograde.exporter_class``): a submitted file that is not a notebook
  is graded as an empty one (every test scores 0, mistake ``unreadable_notebook``) instead
  of failing the whole submission;
- ``WithholdTampered`` (``Autograde.autograde_preprocessors``, after ``SaveAutoGrades``):
  a notebook whose student code matches ``TAMPERING`` scores 0 on its tests, flagged for a
  grade by hand (mistake ``tampering``);
- ``NormalizeRelease`` (``GenerateAssignment.preprocessors``, last): the release is
  byte-stable, whoever generates it;
- ``HideHiddenTests`` (``GenerateFeedback.preprocessors``): feedback shows each hidden
  test's result and message, not its code (which holds the reference values).
"""

from __future__ import annotations

import re

import nbformat
from nbclient.exceptions import DeadKernelError
from nbconvert.exporters import NotebookExporter
from nbformat import NotebookNode
from nbgrader.api import Gradebook
from nbgrader.preprocessors import ClearHiddenTests, Execute, NbGraderPreprocessor

from autograder.cells import is_test
from course_utils.exercises import tagged

#: Where ``ReadAnyFile`` notes, in the notebook it grades instead, why the file was unreadable.
UNREADABLE = "unreadable_submission"

#: Code a solution has no reason to contain and that can make tests pass unearned, by what
#: it does: id -> (what it does, the pattern of a line that does it). Found in a code cell
#: the student wrote, it withholds the notebook's points for review. Student code runs in
#: the kernel that runs the tests, so no scan is complete: this catches the usual tricks,
#: the hidden tests and the instructor the rest.
TAMPERING: dict[str, tuple[str, re.Pattern]] = {
    "module_attribute": (
        "assigns to an attribute of a module the tests use",
        re.compile(
            r"\b(?:torch|math|numpy|np|builtins|course_utils|densities|elbo|iwae|common)(?:\.\w+)+"
            r"\s*(?:=(?!=)|[-+*/]=)"
        ),
    ),
    "setattr": ("calls setattr or delattr", re.compile(r"\b(?:setattr|delattr)\s*\(")),
    "ipython_hooks": (
        "changes how IPython runs or reports cells",
        re.compile(
            r"\b(?:input_transformers\w*|ast_transformers|events\.register|run_cell"
            r"|showtraceback|set_custom_exc|settrace|setprofile)\b"
        ),
    ),
    "builtins": (
        "replaces modules or builtins",
        re.compile(r"\bsys\.modules\b|\b__builtins__\b|\bbuiltins\b"),
    ),
    "comparisons": (
        "defines how its results compare",
        re.compile(r"\bdef\s+__(?:eq|ne|lt|le|gt|ge|bool)__\b"),
    ),
}


def error_output(ename: str, message: str) -> NotebookNode:
    """An error output as the kernel would record it, without a traceback."""
    return nbformat.v4.new_output(
        "error", ename=ename, evalue=message, traceback=[f"{ename}: {message}"]
    )


class GuardedExecute(Execute):
    """nbgrader's ``Execute`` that never gives up a notebook.

    When the kernel dies, the cell that was running records why, and every later code
    cell is left unrun, its tests scoring 0 with the reason; nbgrader's own ``Execute``
    raises instead, and nbgrader then drops every notebook of the submission. A notebook
    that ``ReadAnyFile`` could not read is not run at all: its tests score 0 with the reason.
    """

    def preprocess(self, nb: NotebookNode, resources=None, km=None):
        unreadable = nb.metadata.get(UNREADABLE)
        if unreadable:
            for cell in nb.cells:
                if is_test(cell):
                    cell.outputs = [
                        error_output(
                            "UnreadableNotebook",
                            tagged(
                                f"not run: the submitted file is not a notebook ({unreadable})",
                                "unreadable_notebook",
                            ),
                        )
                    ]
            return nb, resources
        self._death: str | None = None
        return super().preprocess(nb, resources, km)

    def preprocess_cell(self, cell: NotebookNode, resources, index: int):
        if self._death is not None:
            if cell.cell_type == "code":
                cell.outputs = [error_output("KernelDied", self._death)] if is_test(cell) else []
            return cell, resources
        try:
            return super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            self._death = tagged(
                f"not run: the kernel died in cell {index} (its own code ended the process)",
                "kernel_died",
            )
            cell.outputs.append(
                error_output(
                    "KernelDied", tagged("the kernel died while running this cell", "kernel_died")
                )
            )
            self.log.warning("the kernel died in cell %d; the later cells are not run", index)
            return cell, resources


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
            nb = _unanswered(resources["nbgrader"], reason)
        return self.from_notebook_node(nb, resources, **kw)


def _unanswered(where: dict, reason: str) -> NotebookNode:
    """The notebook ``where["notebook"]`` as released (its cells as the gradebook records
    them: locked cells, tests and unanswered solution cells), after a note of ``reason``."""
    cells = [
        nbformat.v4.new_markdown_cell(
            f"**The submitted file could not be read as a notebook** ({reason}): every test "
            "of it scores 0. The cells below are the released ones, put back by the grader."
        )
    ]
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


def tampering(nb: NotebookNode, instructors: set[str]) -> list[str]:
    """What ``TAMPERING`` finds in the code cells of ``nb`` the student wrote (those whose
    source is none of the ``instructors`` cells'), with the offending line."""
    found = []
    for cell in nb.cells:
        if cell.cell_type != "code" or cell.source in instructors:
            continue
        for line in cell.source.splitlines():
            for what, pattern in TAMPERING.values():
                if pattern.search(line):
                    found.append(f"{what}: {line.strip()}")
    return found


class WithholdTampered(NbGraderPreprocessor):
    """Scores 0 on every test of a notebook whose student code tampers (``TAMPERING``), and
    flags those grades for a grade by hand; each test cell records why. Runs after
    ``SaveAutoGrades``, whose scores it overrides in the gradebook."""

    def preprocess(self, nb: NotebookNode, resources: dict):
        where = resources["nbgrader"]
        with Gradebook(where["db_url"]) as gradebook:
            notebook = gradebook.find_notebook(where["notebook"], where["assignment"])
            found = tampering(nb, {cell.source for cell in notebook.source_cells})
            if not found:
                return nb, resources
            reason = tagged(
                "withheld for review: the student's code " + "; ".join(found), "tampering"
            )
            for cell in nb.cells:
                if is_test(cell):  # first: the verdict of a cell is its first error
                    cell.outputs.insert(0, error_output("WithheldForReview", reason))
            submission = gradebook.find_submission_notebook(
                where["notebook"], where["assignment"], where["student"]
            )
            for grade in submission.grades:
                if grade.cell.cell_type == "code":
                    grade.auto_score = 0
                    grade.needs_manual_grade = True
            gradebook.db.commit()
        self.log.warning("%s: tests scored 0 for review (%s)", where["notebook"], found[0])
        return nb, resources


class NormalizeRelease(NbGraderPreprocessor):
    """The release in canonical form: no outputs, execution counts, cell timings or widget
    state, whatever the author's last save left (nbgrader clears outputs only)."""

    def preprocess(self, nb: NotebookNode, resources: dict):
        nb.metadata.pop("widgets", None)
        for cell in nb.cells:
            cell.metadata.pop("execution", None)
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
        lines, hidden = [], False
        for line in cell.source.splitlines():
            if self.begin_test_delimeter in line:
                hidden = True
                lines.append("# (hidden tests ran here: their result is below, not their code)")
            elif self.end_test_delimeter in line:
                hidden = False
            elif not hidden:
                lines.append(line)
        cell.source = "\n".join(lines)
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                output.traceback = [f"{output.ename}: {output.evalue}"]
        return cell, resources
