"""Solutions that answer an exercise with the course's own code (``autograder.borrowing``):
flagged exactly when they do, through any name, and never for ``torch.distributions``. The
withholding itself, by nbgrader, is graded in test_autograde_corpus (notebook 2's cases)."""

import pytest

from autograder.borrowing import aliases, borrowed
from autograder.course import Course
from autograder.examples.corpus import IMPLEMENTATIONS
from autograder.examples.submission import solution_sources
from course_utils.exercises import EXERCISES, exercise

CASES = [
    pytest.param(e, name, id=f"{e.name}-{name}")
    for e in EXERCISES
    for name in IMPLEMENTATIONS[e.name]
]


@pytest.mark.parametrize("where, name", CASES)
def test_a_corpus_entry_is_flagged_exactly_when_it_borrows(where, name):
    implementation = IMPLEMENTATIONS[where.name][name]
    found = borrowed(implementation.source, where, aliases([implementation.source], where))
    assert bool(found) == implementation.borrowed, found


@pytest.mark.parametrize("where", EXERCISES, ids=lambda e: e.name)
def test_the_reference_solutions_borrow_nothing(where):
    source = solution_sources(Course(), where.notebook)[where.solution_cell]
    assert borrowed(source, where) == []


def test_a_name_bound_in_another_cell_is_followed():
    where = exercise("kl_normal")
    cells = ["from course_utils.grading import common\nkl_of = common.gaussian_kl"]
    solution = "def kl_normal(qm, qv, pm, pv):\n    return kl_of(qm, qv, pm, pv)\n"
    assert borrowed(solution, where, aliases(cells, where)) == ["kl_of"]
    helper = ["def mine(*a):\n    from course_utils.grading.common import gaussian_kl\n"]
    assert borrowed("def kl_normal(*a):\n    return mine(*a)", where, aliases(helper, where))


def test_a_string_path_is_read_too():
    where = exercise("log_normal")
    source = 'module = __import__("course_utils.grading.common", fromlist=["x"])\n'
    assert "grading" in borrowed(source, where)


def test_the_model_prior_is_borrowed_in_exercise_4_1_only_as_an_attribute():
    where = exercise("log_normal_mixture")
    assert borrowed("def f(z, m, v):\n    return model.prior.log_prob(z)", where) == ["prior"]
    own = "def f(z, m, v):\n    prior = MixtureSameFamily(w, c)\n    return prior.log_prob(z)"
    assert borrowed(own, where) == []


def test_what_answers_a_helper_is_fair_game_in_a_bound():
    """A bound may compute its KL any correct way: the grading package's KL answers
    Exercise 2.3, not the ELBO."""
    source = "kl = common.gaussian_kl(m, v, self.z_prior_m, self.z_prior_v)"
    assert borrowed(source, exercise("kl_normal")) == ["gaussian_kl"]
    assert borrowed(source, exercise("negative_elbo_bound")) == []
    torch_only = "q = Normal(m, v.sqrt()); kl = kl_divergence(q, p).sum(-1)"
    assert borrowed(torch_only, exercise("kl_normal")) == []
