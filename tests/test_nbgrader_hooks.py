"""The course's nbgrader extension points (``autograder.nbgrader_hooks``) on their own; the
corpus tests (``test_autograde_corpus``) grade with all of them, both through
``python -m autograder`` and through plain nbgrader."""

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.course import REPO_ROOT, Course
from autograder.nbgrader_hooks import (
    UNREADABLE,
    GuardedExecute,
    HideHiddenTests,
    NormalizeRelease,
    error_output,
    language_of,
    tampering,
)
from autograder.tampering import FINDINGS


def test_feedback_shows_a_hidden_tests_result_not_its_code():
    source = (
        "check_visible()\n"
        "### BEGIN HIDDEN TESTS\n"
        "check_hidden(reference=(119.400247, 0.010915))\n"
        "### END HIDDEN TESTS"
    )
    traceback = ["----> 3 check_hidden(reference=(119.400247, 0.010915))", "AssertionError: off"]
    cell = nbformat.v4.new_code_cell(source, metadata={"nbgrader": {"grade": True}})
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="printed\n"),
        nbformat.v4.new_output(
            "error", ename="AssertionError", evalue="off (mistake: x)", traceback=traceback
        ),
    ]
    nb = nbformat.v4.new_notebook(cells=[cell])

    HideHiddenTests().preprocess(nb, {})

    assert "119.400247" not in nbformat.writes(nb)
    assert cell.source.splitlines()[0] == "check_visible()"
    assert cell.source.splitlines()[1].startswith("# (hidden tests ran here")
    assert cell.outputs[0].text == "printed\n"
    assert cell.outputs[1].traceback == ["AssertionError: off (mistake: x)"]


def test_the_graders_verdicts_are_in_the_language_of_the_assignment():
    """The grader says its own verdicts (a notebook it could not read, the note over hidden
    tests) in the graded assignment's language, or the folder's under Validate."""
    assert language_of({"nbgrader": {"assignment": "vae-pt"}}) == "pt_BR"
    assert language_of({"nbgrader": {"assignment": "vae"}}) == "en"
    assert language_of({"metadata": {"path": "/home/student/vae-pt"}}) == "pt_BR"
    test = nbformat.v4.new_code_cell("check()\n### BEGIN HIDDEN TESTS\nx\n### END HIDDEN TESTS")
    test.metadata = {"nbgrader": {"grade": True, "grade_id": "t", "points": 1}}
    for assignment, said in (
        ("vae", "not run: the submitted file is not a notebook (no JSON)"),
        ("vae-pt", "não executada: o arquivo entregue não é um notebook (no JSON)"),
    ):
        nb = nbformat.v4.new_notebook(cells=[test.copy()], metadata={UNREADABLE: "no JSON"})
        GuardedExecute(sandbox=False).preprocess(nb, {"nbgrader": {"assignment": assignment}})
        assert nb.cells[0].outputs[0].evalue == f"{said} (mistake: unreadable_notebook)"
    nb = nbformat.v4.new_notebook(cells=[test.copy()])
    HideHiddenTests().preprocess(nb, {"nbgrader": {"assignment": "vae-pt"}})
    assert nb.cells[0].source.splitlines()[1] == (
        "# (os testes ocultos rodaram aqui: o resultado deles está abaixo, o código não)"
    )


def test_a_cell_without_hidden_tests_keeps_its_traceback():
    cell = nbformat.v4.new_code_cell("check_visible()")
    cell.outputs = [error_output("AssertionError", "off")]
    cell.outputs[0].traceback = ["----> 1 check_visible()", "AssertionError: off"]
    nb = nbformat.v4.new_notebook(cells=[cell])
    HideHiddenTests().preprocess(nb, {})
    assert len(cell.outputs[0].traceback) == 2


def test_release_normalization_drops_what_the_authors_last_save_left():
    cell = nbformat.v4.new_code_cell("1 + 1", execution_count=3)
    cell.outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "2"})]
    cell.metadata["execution"] = {"iopub.execute_input": "2026-11-29T17:00:00Z"}
    nb = nbformat.v4.new_notebook(cells=[cell], metadata={"widgets": {"state": {}}})
    NormalizeRelease().preprocess(nb, {})
    assert (cell.outputs, cell.execution_count, "execution" in cell.metadata) == ([], None, False)
    assert "widgets" not in nb.metadata


@pytest.mark.parametrize(
    "line, found",
    [
        ("torch.allclose = lambda *a, **k: True", "module_attribute"),
        ("import torch as t\nt.allclose = lambda *a: True", "module_attribute"),
        ("setattr(torch, 'allclose', None)", "setattr"),
        ("vars(torch)['allclose'] = None", "module_namespace"),
        ("densities.check_kl_normal_values = print", "module_attribute"),
        ("get_ipython().events.register('post_run_cell', f)", "ipython_hooks"),
        ("modules = sys.modules", "modules_or_builtins"),
        ("class R:\n    def __eq__(self, other):\n        return True", "comparisons"),
        ("db = __import__('sqlite3')", "dynamic_code"),
        ("exec(open('x.py').read())", "dynamic_code"),
    ],
)
def test_tampering_is_flagged_with_what_the_line_does(line, found):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(line)])
    flagged = tampering(nb, instructors=set())
    assert flagged and str(flagged[0]).startswith(f"{FINDINGS[found]}: ")
    assert tampering(nb, instructors={line}) == []  # the instructor's own cells are not scanned


@pytest.mark.parametrize(
    "source",
    [
        "# no builtins or sys.modules here, only a comment\nz = m + v.sqrt() * eps",
        'note = "setattr(torch, ...) and sys.modules in a string"',
        "class Box:\n    def __init__(self, value):\n        setattr(self, 'value', value)",
        "model = torch.compile(model)",
        "def f(:",
    ],
)
def test_correct_code_is_not_flagged(source):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    assert tampering(nb, instructors=set()) == []


def test_plain_generate_assignment_writes_the_committed_release_byte_for_byte(tmp_path):
    """What formgrader's Generate button runs: ``nbgrader generate_assignment``, with the
    course's config from its directory."""
    course = Course()
    shutil.copy(REPO_ROOT / "nbgrader_config.py", tmp_path)
    shutil.copytree(course.source, tmp_path / "solutions" / course.assignment)
    nbgrader = Path(sys.executable).parent / "nbgrader"
    result = subprocess.run(
        [str(nbgrader), "generate_assignment", course.assignment, "--force"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    for committed in sorted(course.release.glob("*.ipynb")):
        generated = tmp_path / "notebooks" / course.assignment / committed.name
        assert generated.read_bytes() == committed.read_bytes(), committed.name
