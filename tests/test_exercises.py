"""The exercise registry (``course_utils.exercises``) says what the notebooks hold: each
exercise's solution cell and heading, its test cells and the checks each calls, visible and
hidden; and every mistake id the course uses is registered."""

import ast
import re

import nbformat
import pytest
from nbgrader.utils import is_grade, is_solution

from autograder.course import Course
from autograder.examples.corpus import IMPLEMENTATIONS
from autograder.reference.values import HIDDEN_BLOCK
from course_utils.exercises import EXERCISES, MISTAKES, exercise, mistake_of, tagged

COURSE = Course()


def cells(notebook: str) -> list[nbformat.NotebookNode]:
    return nbformat.read(COURSE.source / f"{notebook}.ipynb", as_version=4).cells


def called_checks(source: str, module: str) -> tuple[str, ...]:
    """The ``module.check_*`` functions a piece of code calls, in order."""
    return tuple(
        node.func.attr
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == module
        and node.func.attr.startswith("check_")
    )


@pytest.mark.parametrize("where", EXERCISES, ids=lambda e: e.name)
def test_the_notebook_holds_the_exercise(where):
    found = cells(where.notebook)
    solution = [
        c for c in found if is_solution(c) and c.metadata.nbgrader.grade_id == where.solution_cell
    ]
    assert len(solution) == 1 and f"def {where.defines}(" in solution[0].source
    headings = [line for c in found if c.cell_type == "markdown" for line in c.source.splitlines()]
    assert any(line.startswith("#") and where.title in line for line in headings)
    tests = {
        c.metadata.nbgrader.grade_id: c.source
        for c in found
        if c.cell_type == "code" and is_grade(c)
    }
    for test in where.tests:
        source = tests[test.grade_id]
        hidden = "\n".join(block for block in HIDDEN_BLOCK.findall(source))
        visible = HIDDEN_BLOCK.sub("", source)
        if where.module:
            assert tuple(dict.fromkeys(called_checks(visible, where.module))) == test.checks
            assert called_checks(hidden, where.module) == test.hidden


def test_every_test_cell_belongs_to_an_exercise():
    registered = {(e.notebook, t.grade_id) for e in EXERCISES for t in e.tests}
    for path in sorted(COURSE.source.glob("*.ipynb")):
        for cell in cells(path.stem):
            if cell.cell_type == "code" and is_grade(cell):
                assert (path.stem, cell.metadata.nbgrader.grade_id) in registered


def test_every_mistake_id_in_the_notebooks_and_the_corpus_is_registered():
    used = set()
    for path in sorted(COURSE.source.glob("*.ipynb")):
        for cell in cells(path.stem):
            used |= set(re.findall(r"\(mistake: (\w+)\)", cell.source))
    for entries in IMPLEMENTATIONS.values():
        for implementation in entries.values():
            used |= set(implementation.fails.values())
    assert used <= MISTAKES.keys(), used - MISTAKES.keys()


def test_mistake_ids_are_tagged_and_read_back():
    message = tagged("kl = 3.2 for an encoder with v = [0.3]", "std_for_variance")
    assert message.endswith("(mistake: std_for_variance)")
    assert mistake_of(message + "\n") == "std_for_variance"
    assert mistake_of("no id here") is None
    with pytest.raises(KeyError, match="unknown mistake id"):
        tagged("x", "not_an_id")


def test_exercises_are_found_by_function_or_solution_cell():
    assert exercise("jensen_gap_solution") is exercise("jensen_gap")
    with pytest.raises(KeyError, match="no exercise 'nothing'"):
        exercise("nothing")


def test_methods_of_the_same_name_are_told_apart_by_their_class():
    """The GMVAE's bounds share their names with the VAE's: ``owner.method`` finds each."""
    assert exercise("negative_elbo_bound").notebook == "02_negative_elbo"
    gmvae = exercise("GMVAE.negative_elbo_bound")
    assert gmvae.name == "gmvae_negative_elbo_bound" and gmvae.defines == "negative_elbo_bound"
    assert exercise("GMVAE.negative_iwae_bound").notebook == "04_priors_and_collapse"
    assert len({e.name for e in EXERCISES}) == len(EXERCISES)
    assert all("-" not in e.name for e in EXERCISES)  # case ids are "<exercise>-<entry>"


BOUNDS = [e for e in EXERCISES if e.shape_test]


@pytest.mark.parametrize("where", BOUNDS, ids=lambda e: e.name)
def test_only_the_shape_test_judges_the_shapes(where):
    """One test, one property: the checks of a bound's output shapes run in its shape test
    alone; every other test cell judges values (which average what they receive)."""
    shape_checks = [c for c in where.checks if c.endswith("_outputs")]
    assert shape_checks, f"{where.name}: no shape check"
    for check in shape_checks:
        assert where.cells_running(check) == (where.shape_test,)


@pytest.mark.parametrize("where", BOUNDS, ids=lambda e: e.name)
def test_a_bound_is_graded_with_the_reference_versions_of_what_it_calls(where):
    """The registry's ``uses`` name exercises whose reference versions the checks can put in
    place, and every check a bound's test cells run grades it alone."""
    from course_utils.grading import common

    assert set(where.uses) <= set(common.REFERENCE_HELPERS)
    module = __import__(f"course_utils.grading.{where.module}", fromlist=["_"])
    for check in where.checks + where.hidden_checks:
        assert hasattr(getattr(module, check), "__wrapped__"), f"{check} is not graded alone"
