"""Identical notebooks run once per grading run (``autograder.execution_cache``): what the
key depends on, what is not kept, and, through ``grading.autograde``, students with the
same notebook share its one execution while a different one is run and graded on its own."""

import nbformat
import pytest
from test_autograde_corpus import FIXTURE_NOTEBOOK, gradebook_rows

from autograder import execution_cache, grading
from autograder.cells import grade_id_of
from autograder.course import new_course
from autograder.nbgrader_hooks import error_output
from autograder.parallel import Workers
from autograder.release import generate


def test_the_key_follows_the_notebook_the_cells_left_out_and_the_folder_s_other_files(tmp_path):
    nb = nbformat.read(FIXTURE_NOTEBOOK, as_version=4)
    (tmp_path / "data.csv").write_text("1,2\n")
    first = execution_cache.key(nb, set(), tmp_path)
    (tmp_path / "other.ipynb").write_text("{}")  # another notebook of the submission
    (tmp_path / execution_cache.TIMESTAMP).write_text("2026-12-07 10:00:00")
    assert execution_cache.key(nb, set(), tmp_path) == first
    assert execution_cache.key(nb, {"picture"}, tmp_path) != first
    (tmp_path / "data.csv").write_text("1,3\n")
    assert execution_cache.key(nb, set(), tmp_path) != first
    changed = nbformat.read(FIXTURE_NOTEBOOK, as_version=4)
    changed.cells[-1].source += "\n"
    assert execution_cache.key(changed, set(), tmp_path) != execution_cache.key(nb, set(), tmp_path)


@pytest.mark.parametrize("ename", sorted(execution_cache.CUT_SHORT))
def test_a_run_cut_short_is_not_kept(tmp_path, ename):
    nb = nbformat.read(FIXTURE_NOTEBOOK, as_version=4)
    execution_cache.store(str(tmp_path), "whole", nb)
    assert execution_cache.load(str(tmp_path), "whole") == nb
    test = next(c for c in nb.cells if grade_id_of(c) == "add_small_ints")
    test.outputs = [error_output(ename, "cut short")]
    execution_cache.store(str(tmp_path), "cut", nb)
    assert execution_cache.load(str(tmp_path), "cut") is None
    execution_cache.store(str(tmp_path / "gone"), "whole", nb)  # the run has ended
    assert not (tmp_path / "gone").exists()


def test_students_with_the_same_notebook_share_one_execution(tmp_path):
    course = new_course(tmp_path / "course", [FIXTURE_NOTEBOOK])
    generate(course)
    solutions = nbformat.read(course.source / "add.ipynb", as_version=4)
    wrong = nbformat.read(course.source / "add.ipynb", as_version=4)
    answer = next(c for c in wrong.cells if grade_id_of(c) == "add_solution")
    answer.source = "def add(a, b):\n    return a - b"
    folder = tmp_path / "submitted"
    for student, nb in (("ada", solutions), ("bob", wrong), ("cy", solutions), ("di", solutions)):
        (folder / student / "vae").mkdir(parents=True)
        nbformat.write(nb, folder / student / "vae" / "add.ipynb")

    # One student after another: which of two workers runs a notebook first is a race.
    run = grading.autograde(course, folder, workers=Workers(threads=1))

    assert not run.failed
    scores = {score.student: score.score for score in run.scores}
    assert scores == {"ada": 4, "bob": scores["bob"], "cy": 4, "di": 4} and scores["bob"] < 4
    rows = gradebook_rows(course)
    assert {key[2] for key in rows if key[0] == "bob" and rows[key][0] == 0}  # its own fails

    def started(student: str) -> list[str]:
        """When each code cell of the student's autograded notebook started (nbclient)."""
        path = course.step_dir(course.coursedir.autograded_directory, student) / "add.ipynb"
        nb = nbformat.read(path, as_version=4)
        return [
            c.metadata.get("execution", {}).get("iopub.execute_input")
            for c in nb.cells
            if c.cell_type == "code"
        ]

    executions = {student: tuple(started(student)) for student in scores}
    assert all(all(executions[student]) for student in executions)  # every cell ran
    # cy's and di's notebooks are ada's, as it was run; bob's was run on its own.
    assert executions["ada"] == executions["cy"] == executions["di"]
    assert executions["bob"] != executions["ada"]
