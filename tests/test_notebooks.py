"""The course's own notebooks under nbgrader: release in sync, solutions pass, release fails.

Each validation executes every notebook of the assignment in a kernel, in nbgrader's fast
path (``NBGRADER_EXECUTION=validate``: shipped checkpoints instead of training). The real
training path is the slow check at the end (``make test-slow``).
"""

import itertools
import re
import time

import nbformat
import pytest
from nbconvert.preprocessors import ExecutePreprocessor

from autograder import release, validation
from autograder.course import Course
from course_utils.exercises import EXERCISES

COURSE = Course()
SOLUTIONS = sorted(COURSE.source.glob("*.ipynb"))
#: The learning path's notebooks, in order (COURSE_DESIGN.md).
NOTEBOOKS = [
    "01_jensen_elbo.ipynb",
    "02_negative_elbo.ipynb",
    "03_iwae.ipynb",
    "04_priors_and_collapse.ipynb",
]


def test_the_assignment_has_the_learning_paths_notebooks():
    assert [path.name for path in SOLUTIONS] == NOTEBOOKS


def test_committed_release_is_what_nbgrader_generates():
    found = release.differences(COURSE)
    assert found == [], "\n".join(found) + "\nrun `make release`"


def test_release_holds_no_solution_or_hidden_test():
    for path in sorted(COURSE.release.glob("*.ipynb")):
        text = path.read_text()
        for marker in (
            "BEGIN SOLUTION",
            "END SOLUTION",
            "BEGIN HIDDEN TESTS",
            "check_elbo_reference",
            "check_iwae_reference",
            "check_iwae_quadrature_reference",
            "check_gmvae_elbo_reference",
            "check_gmvae_iwae_reference",
        ):
            assert marker not in text, f"{path.name} contains {marker!r}"


@pytest.mark.slow  # in the default run, the corpus and the browser's Validate button cover it
def test_solutions_pass_every_test_cell():
    problems = validation.check_solutions(COURSE)
    assert problems == {path: [] for path in SOLUTIONS}, _explain(problems)


def test_untouched_release_fails_every_test_cell_cleanly():
    problems = validation.check_release(COURSE)
    assert not any(problems.values()), _explain(problems)


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_solution_runs_top_to_bottom_with_real_training(name, tmp_path):
    """What a student's laptop does: train for real (no ``NBGRADER_EXECUTION``)."""
    nb = nbformat.read(COURSE.source / name, as_version=4)
    start = time.perf_counter()
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("NBGRADER_EXECUTION", raising=False)
        ExecutePreprocessor(timeout=600, kernel_name="python3").preprocess(
            nb, {"metadata": {"path": str(COURSE.source)}}
        )
    print(f"{name}: {time.perf_counter() - start:.0f} s with real training")


def _explain(problems: dict) -> str:
    return "\n".join(
        f"{path.name}:\n" + "\n".join(found) for path, found in problems.items() if found
    )


# What the notebooks say of themselves (issue 15: metadata, points, first-n images, answers)

POINTS = re.compile(r"\((?:written, )?(\d+) points?(?: over \w+ tests?)?\)")


def _cells(name: str) -> list[nbformat.NotebookNode]:
    return nbformat.read(COURSE.source / name, as_version=4).cells


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_cell_carries_nbgrader_metadata(name):
    """Locked unless the student writes in it: a question left unlocked could be edited away."""
    for cell in _cells(name):
        meta = cell.metadata.get("nbgrader")
        assert meta and meta.get("grade_id"), cell.source[:60]
        assert meta["locked"] != bool(meta["solution"]), meta["grade_id"]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_question_headings_state_the_points_of_their_answer(name):
    """Each written question says its points, those of the answer cell right after it."""
    cells = _cells(name)
    questions = 0
    for cell, after in itertools.pairwise(cells):
        heading = re.search(r"^(?:#+ |\*\*)Question \d+\.\d+", cell.source, re.MULTILINE)
        if cell.cell_type == "markdown" and heading:
            stated = POINTS.search(cell.source)
            assert stated, cell.source[:60]
            assert after.metadata.nbgrader.get("solution") and after.metadata.nbgrader["grade"]
            assert int(stated.group(1)) == after.metadata.nbgrader["points"], cell.source[:60]
            questions += 1
    assert questions >= 3


@pytest.mark.parametrize("where", EXERCISES, ids=lambda e: e.name)
def test_exercise_headings_state_the_points_of_their_tests(where):
    cells = _cells(f"{where.notebook}.ipynb")
    heading = next(
        line
        for c in cells
        if c.cell_type == "markdown"
        for line in c.source.splitlines()
        if line.startswith("#") and where.title in line
    )
    points = {c.metadata.nbgrader["grade_id"]: c.metadata.nbgrader.get("points", 0) for c in cells}
    stated = POINTS.search(heading)
    assert stated, heading
    assert int(stated.group(1)) == sum(points[test.grade_id] for test in where.tests)


def test_notebook_1_computes_no_jensen_term_outside_the_solution():
    """Exercise 1.1's answer is nowhere else in the notebook: no locked cell takes the log of
    the samples and their mean (the package's plot and widget take the student's gap)."""
    for cell in _cells("01_jensen_elbo.ipynb"):
        if cell.cell_type == "code" and not cell.metadata.nbgrader["solution"]:
            assert "log(samples" not in cell.source.replace(" ", ""), cell.source[:80]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_no_cell_takes_the_first_images_of_the_sorted_subset(name):
    """The offline subset is sorted by digit, so data.x_test[:n] are zeros: cells that show
    or evaluate images take them at even intervals or one per digit. (Shapes-only demos of a
    few images and the untrained model's print are left out.)"""
    first = re.compile(r"data\.x_(?:test|train)\[:\s*(\w+)\]")
    for cell in _cells(name):
        for n in first.findall(cell.source):
            assert n in {"5", "97"}, f"{name}: {cell.source[:80]}"


@pytest.mark.parametrize(
    "name, cell, result",
    [
        ("01_jensen_elbo.ipynb", "68c96e39", "trace"),
        ("02_negative_elbo.ipynb", "code-17", "model"),
        ("02_negative_elbo.ipynb", "code-19", "model"),
        ("02_negative_elbo.ipynb", "latent-views", "model_2d"),
        ("02_negative_elbo.ipynb", "code-22", "model_2d"),
        ("02_negative_elbo.ipynb", "code-24", "model"),
        ("03_iwae.ipynb", "training-comparison", "models"),
        ("03_iwae.ipynb", "training-plots", "models"),
        *(
            ("04_priors_and_collapse.ipynb", cell, "models")
            for cell in ("comparison", "prior-2d", "mixture-explorer", "sampling", "interpolation")
        ),
    ],
)
def test_cells_after_a_training_cell_stop_if_it_did_not_finish(name, cell, result):
    """Each cell that shows a trained model (or an optimization's trace) starts with
    require_finished on it, and the cell that makes it sets it to None first and only
    assigns it at the end."""
    cells = {c.id: c.source for c in _cells(name)}
    assert cells[cell].startswith(f"require_finished({result}, "), cells[cell][:80]
    makers = [s for s in cells.values() if re.search(rf"^{result} = None", s, re.MULTILINE)]
    assert len(makers) == 1
    lines = makers[0].splitlines()
    assigned = [i for i, line in enumerate(lines) if re.match(rf"\s*{result} = (?!None)", line)]
    assert assigned and all(i > 0 for i in assigned), makers[0][:80]
