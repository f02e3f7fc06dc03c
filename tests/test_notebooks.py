"""The course's own notebooks under nbgrader: release in sync, solutions pass, release fails.

Each validation executes every notebook of the assignment in a kernel, in nbgrader's fast
path (``NBGRADER_EXECUTION=validate``: shipped checkpoints instead of training). The real
training path is the slow check at the end (``make test-slow``).
"""

import time

import nbformat
import pytest
from nbconvert.preprocessors import ExecutePreprocessor

from autograder import release, validation
from autograder.course import Course

pytestmark = [pytest.mark.filterwarnings("ignore::nbformat.warnings.MissingIDFieldWarning")]

COURSE = Course()
SOLUTIONS = sorted(COURSE.source.glob("*.ipynb"))
#: The learning path's notebooks, in order (COURSE_DESIGN.md).
NOTEBOOKS = ["01_jensen_elbo.ipynb", "02_negative_elbo.ipynb", "03_iwae.ipynb"]


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
