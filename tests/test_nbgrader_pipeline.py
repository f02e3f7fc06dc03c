"""The instructor pipeline on a temporary one-notebook course, with nbgrader for real.

The course is ``tests/fixtures/course`` plus the repository's ``nbgrader_config.py``; the
submissions are ``tests/fixtures/submissions`` (see the README there). Scores are read back
from the gradebook with ``nbgrader.api.Gradebook``.
"""

import shutil
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook
from traitlets.config import Config

from autograder import grading, release, report, validation
from autograder.__main__ import main
from autograder.cells import grade_id_of
from autograder.course import REPO_ROOT, Course

# Known noise of nbgrader 0.9.6: cells that add_missing_cells puts back have no id (nbformat
# warns with a FutureWarning, an error under this project's pytest settings), and its
# gradebook code trips SQLAlchemy 2 autoflush warnings.

FIXTURES = Path(__file__).parent / "fixtures"
SUBMISSIONS = FIXTURES / "submissions"
EXPECTED_SCORES = {"alice": 4.0, "bob": 2.0, "carol": 2.0}


def make_course(root: Path, overrides: Config | None = None) -> Course:
    """A course directory with the repository's config and the fixture solutions."""
    shutil.copy(REPO_ROOT / "nbgrader_config.py", root)
    shutil.copytree(FIXTURES / "course" / "solutions", root / "solutions")
    return Course(root, overrides=overrides)


def cells_by_id(path: Path) -> dict[str, nbformat.NotebookNode]:
    nb = nbformat.read(path, as_version=4)
    return {grade_id_of(cell) or cell.id: cell for cell in nb.cells}


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> Course:
    """A course whose release has been generated."""
    course = make_course(tmp_path_factory.mktemp("released"))
    release.generate(course)
    return course


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> tuple[Course, list[grading.Score], str]:
    """A fresh course (no release, no gradebook) after autograding the fixture folder."""
    course = make_course(tmp_path_factory.mktemp("graded"))
    run = grading.autograde(course, SUBMISSIONS)
    assert run.failed == {}
    return course, run.scores, grading.grades_csv(course).read_text()


def test_release_has_stubs_and_no_hidden_tests(released):
    cells = cells_by_id(released.release / "add.ipynb")
    solution = cells["add_solution"].source
    assert solution.startswith('def add(a, b):\n    """Return a + b."""\n')
    assert "    # YOUR CODE HERE: implement what the docstring describes" in solution
    assert solution.endswith("    raise NotImplementedError()")
    assert "return a + b" not in solution
    assert cells["add_negatives"].source == 'assert add(0, 0) == 0, "add(0, 0) should be 0"'
    for test in ("add_small_ints", "add_negatives", "add_with_stderr"):
        assert cells[test].metadata.editable is False
        assert cells[test].metadata.deletable is False
    code = [cell for cell in cells.values() if cell.cell_type == "code"]
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code)


def test_release_is_byte_stable(released):
    """A second generation (into a temporary folder) gives the committed bytes."""
    assert release.differences(released) == []


def test_check_release_names_what_differs(released, tmp_path):
    committed = tmp_path / "vae"
    shutil.copytree(released.release, committed)
    nb = nbformat.read(committed / "add.ipynb", as_version=4)
    nb.cells[3].source = "assert True"  # add_small_ints
    nbformat.write(nb, committed / "add.ipynb")
    (committed / "notes.txt").write_text("stray")

    found = release.compare_trees(committed, released.release, released.ignored)

    assert len(found) == 2
    assert found[0].endswith("notes.txt: not produced by generate_assignment")
    assert "cell 3 (add_small_ints)" in found[1]
    assert '-  "assert True"' in found[1]
    assert '+  "assert add(1, 2) == 3, \\"add(1, 2) should be 3\\""' in found[1]


def test_validate_passes_on_solutions_despite_stderr(released):
    assert validation.check_solutions(released) == {released.source / "add.ipynb": []}


def test_validate_release_fails_cleanly(released):
    assert validation.check_release(released) == {released.release / "add.ipynb": []}


def test_validate_release_reports_passing_and_timed_out_cells(released, tmp_path):
    overrides = Config()
    overrides.Execute.timeout = 2
    course = make_course(tmp_path, overrides)
    shutil.copytree(released.release, course.release)
    path = course.release / "add.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells[2].source = "def add(a, b):\n    return a + b"
    nb.cells.append(nbformat.v4.new_code_cell("import time\n\ntime.sleep(60)"))
    nbformat.write(nb, path)

    problems = validation.check_release(course)[path]

    assert problems[0] == "cell timed out:\n    import time\n    \n    time.sleep(60)"
    assert [p.splitlines()[0] for p in problems[1:]] == ["test cell passes on the release:"] * 3


def test_autograde_scores_from_the_gradebook(graded):
    course, scores, _ = graded
    assert {s.student: s.score for s in scores} == EXPECTED_SCORES
    assert {s.max_score for s in scores} == {4.0}
    with Gradebook(course.db_url) as gradebook:

        def grade(cell: str, student: str) -> float:
            return gradebook.find_grade(cell, "add", "vae", student).score

        assert grade("add_with_stderr", "alice") == 1  # stderr did not zero the cell
        assert grade("add_small_ints", "bob") == 1
        assert grade("add_negatives", "bob") == 0  # hidden tests restored and failed
        assert grade("add_small_ints", "carol") == 1  # edited test cell restored
        assert grade("add_negatives", "carol") == 0  # deleted test cell put back


def test_autograde_runs_this_interpreter_and_keeps_stderr_text(graded):
    course, _, _ = graded
    cells = cells_by_id(
        course.step_dir(course.coursedir.autograded_directory, "alice") / "add.ipynb"
    )
    assert cells["setup"].outputs[0].text == f"{sys.executable} autograde\n"
    stderr_cell = cells["add_with_stderr"].outputs
    assert [out.name for out in stderr_cell] == ["stdout"]
    assert "UserWarning: a harmless warning from a test cell" in stderr_cell[0].text


def test_autograde_writes_feedback_and_csv(graded):
    course, _, csv = graded
    for student in EXPECTED_SCORES:
        assert (course.feedback(student) / "add.html").is_file()
    # Feedback shows the restored hidden tests and their failure.
    assert "did you drop the sign" in (course.feedback("bob") / "add.html").read_text()
    rows = [line.split(",") for line in csv.splitlines()]
    assert rows[0][3] == "student_id" and rows[0][-2:] == ["score", "max_score"]
    assert {row[3]: float(row[-2]) for row in rows[1:]} == EXPECTED_SCORES
    assert not course.release.exists()  # the gradebook was filled without a release


def test_autograde_again_from_a_zip_is_idempotent(graded, tmp_path):
    course, scores, csv = graded
    archive = shutil.make_archive(str(tmp_path / "submissions"), "zip", SUBMISSIONS)

    started = time.perf_counter()
    run = grading.autograde(course, Path(archive))
    assert run == grading.GradingRun(scores, {})
    assert grading.grades_csv(course).read_text() == csv
    # When each student was done, in seconds from the start, in the order they were done.
    assert set(run.done_at) == set(EXPECTED_SCORES)
    done = list(run.done_at.values())
    assert done == sorted(done) and done[0] > 0 and done[-1] < time.perf_counter() - started
    with Gradebook(course.db_url) as gradebook:
        assert len(gradebook.find_assignment("vae").submissions) == len(EXPECTED_SCORES)


def test_autograde_grades_a_broken_file_as_unanswered_and_the_rest_as_usual(released, tmp_path):
    """Uses the released course's gradebook, which no other test reads."""
    shutil.copytree(SUBMISSIONS / "alice", tmp_path / "alice")
    (tmp_path / "mallory" / "vae").mkdir(parents=True)
    (tmp_path / "mallory" / "vae" / "add.ipynb").write_text("{ not a notebook")
    (tmp_path / "trudy" / "vae").mkdir(parents=True)  # no notebook at all

    run = grading.autograde(released, tmp_path)

    assert run.failed == {} and run.empty == ["trudy"]
    assert {s.student: s.score for s in run.scores} == {"alice": 4.0, "mallory": 0.0}
    mallory = next(s for s in report.build(released).students if s.student == "mallory")
    assert mallory.problems == {"add": "unreadable_notebook"}
    feedback = (released.feedback("mallory") / "add.html").read_text()
    assert "could not be read as a notebook" in feedback and "NotJSONError" in feedback


def test_collect_explains_the_expected_layout(released, tmp_path):
    (tmp_path / "alice" / "notebooks").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"expected <student_id>/vae/\*\.ipynb"):
        grading.collect(released, tmp_path)


def test_cli_exit_codes(released, tmp_path, capsys):
    assert main(["--root", str(released.root), "check-release"]) == 0
    assert capsys.readouterr().out.endswith("notebooks/vae matches the solutions\n")
    assert main(["--root", str(tmp_path), "release"]) == 1
    assert "'nbgrader_config.py' does not exist" in capsys.readouterr().err


def test_deleted_tests_come_back_where_the_release_had_them(tmp_path):
    """A test cell after a locked demonstration (nbgrader's own ``OverwriteCells`` raises
    KeyError there and drops the submission), deleted with every other test: each comes back
    in its place and is graded; the student who kept them is graded as usual."""
    (tmp_path / "course").mkdir()
    course = make_course(tmp_path / "course")
    source = course.source / "add.ipynb"
    nb = nbformat.read(source, as_version=4)
    demo = nbformat.v4.new_code_cell("print(add(1, 1))  # a demonstration")
    demo.metadata.nbgrader = {
        "grade": False,
        "solution": False,
        "locked": True,
        "grade_id": "add_demo",
        "schema_version": 3,
        "task": False,
    }
    first_test = next(i for i, cell in enumerate(nb.cells) if grade_id_of(cell) == "add_small_ints")
    nb.cells.insert(first_test, demo)
    nbformat.write(nb, source)
    release.generate(course)
    released = nbformat.read(course.release / "add.ipynb", as_version=4)
    submissions = tmp_path / "submitted"
    for student in ("kept", "deleted"):
        (submissions / student / "vae").mkdir(parents=True)
        mine = nbformat.from_dict(released)
        answer = next(c for c in mine.cells if grade_id_of(c) == "add_solution")
        answer.source = "def add(a, b):\n    return a + b"
        if student == "deleted":
            mine.cells = [c for c in mine.cells if not c.metadata.get("nbgrader", {}).get("grade")]
        nbformat.write(mine, submissions / student / "vae" / "add.ipynb")

    run = grading.autograde(course, submissions)

    assert run.failed == {}
    assert {s.student: s.score for s in run.scores} == {"kept": 4.0, "deleted": 4.0}
    autograded = course.step_dir(course.coursedir.autograded_directory, "deleted")
    order = [grade_id_of(c) for c in nbformat.read(autograded / "add.ipynb", as_version=4).cells]
    assert order == [grade_id_of(c) for c in released.cells]
