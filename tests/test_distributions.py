"""course_utils.distributions: the four densities of notebook 2 are stubs that name their
exercise, attached by add_to_module, and used by nothing else in the package; the reference
versions (autograder.reference.bounds, which the corpus and the reference values use) match
torch.distributions (as course_utils.reference_densities computes with it, the answers the
grading checks compare with); the rest of the module is tested as is."""

import ast
import math
from pathlib import Path
from statistics import NormalDist

import pytest
import torch
from torch.distributions import Normal
from torch.testing import assert_close

from autograder.reference.bounds import (
    DENSITIES,
    MIXTURE,
    kl_normal,
    log_bernoulli_with_logits,
    log_normal,
    log_normal_mixture,
    sample_gaussian,
)
from course_utils import distributions
from course_utils.distributions import (
    duplicate,
    gaussian_parameters,
    log_mean_exp,
    log_sum_exp,
    normal_quantiles,
)
from course_utils.exercises import exercise
from course_utils.reference_densities import (
    bernoulli_log_likelihood,
    gaussian_kl,
    gaussian_log_density,
    mixture_log_density,
)
from course_utils.stubs import add_to_module

PACKAGE = Path(distributions.__file__).parent


@pytest.mark.parametrize("name", DENSITIES + MIXTURE)
def test_density_stubs_name_their_notebook_and_exercise(name):
    where = exercise(name)
    arguments = {"sample_gaussian": 2, "kl_normal": 4, "log_bernoulli_with_logits": 2}.get(name, 3)
    with pytest.raises(NotImplementedError) as error:
        getattr(distributions, name)(*[torch.zeros(2, 3)] * arguments)
    message = str(error.value)
    assert name in message and where.notebook in message and where.title in message
    assert "@add_to_module(distributions)" in message


def test_add_to_module_replaces_the_declared_function_only():
    stub = distributions.log_normal
    try:

        @add_to_module(distributions)
        def log_normal(x, m, v):
            return torch.zeros(x.shape[:-1])

        assert distributions.log_normal is log_normal
        assert distributions.log_normal(torch.ones(4, 3), 0, 1).shape == (4,)
        with pytest.raises(AttributeError, match="did you mean 'log_normal'"):

            @add_to_module(distributions)
            def log_normals(x, m, v):
                return x

    finally:
        distributions.log_normal = stub


def _uses(path: Path, names: set[str]) -> set[str]:
    """The names of ``names`` that the module at ``path`` imports from, or reads as
    attributes of, ``course_utils.distributions``."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module == "course_utils.distributions":
            found |= {alias.name for alias in node.names} & names
        attribute = isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
        if attribute and node.attr in names and node.value.id == "distributions":
            found.add(node.attr)
    return found


def test_the_package_does_not_depend_on_the_students_densities():
    """Training, plotting, evaluation, likelihood, models and the grading checks compute with
    torch.distributions; the checks of the densities themselves call them by name
    (``getattr(distributions, name)``), nothing imports them."""
    users = {
        path.relative_to(PACKAGE).as_posix(): _uses(path, set(DENSITIES + MIXTURE))
        for path in PACKAGE.rglob("*.py")
    }
    assert {path: names for path, names in users.items() if names} == {}


def random_gaussian(*shape):
    return torch.randn(shape, dtype=torch.float64), torch.rand(shape, dtype=torch.float64) + 0.1


def test_log_normal_matches_torch_distributions():
    x = torch.randn(5, 3, dtype=torch.float64)
    m, v = random_gaussian(5, 3)
    assert_close(log_normal(x, m, v), gaussian_log_density(x, m, v))


def test_log_normal_broadcasts_the_prior_parameters():
    x = torch.randn(4, 2)
    expected = Normal(0.0, 1.0).log_prob(x).sum(-1)
    assert_close(log_normal(x, torch.zeros(1), torch.ones(1)), expected)


def test_log_normal_mixture_matches_torch_distributions_and_is_stable():
    z = torch.randn(5, 3, dtype=torch.float64)
    m, v = random_gaussian(5, 4, 3)
    assert_close(log_normal_mixture(z, m, v), mixture_log_density(z, m, v))
    far = log_normal_mixture(torch.full((5, 3), 1e3, dtype=torch.float64), m, v)
    assert torch.isfinite(far).all() and (far < -1e5).all()


def test_kl_normal_matches_torch_distributions():
    qm, qv = random_gaussian(6, 4)
    pm, pv = random_gaussian(6, 4)
    assert_close(kl_normal(qm, qv, pm, pv), gaussian_kl(qm, qv, pm, pv))


def test_kl_is_zero_at_the_prior():
    zeros, ones = torch.zeros(3, 10), torch.ones(3, 10)
    assert_close(kl_normal(zeros, ones, torch.zeros(1), torch.ones(1)), torch.zeros(3))


def test_kl_of_shifted_unit_gaussian_is_two_per_dimension():
    qm = torch.full((2, 5), 2.0)
    kl = kl_normal(qm, torch.ones(2, 5), torch.zeros(1), torch.ones(1))
    assert_close(kl, torch.full((2,), 2.0 * 5))


def test_kl_is_positive_away_from_the_prior():
    qm, qv = random_gaussian(100, 3)
    assert (kl_normal(qm, qv, torch.zeros(1), torch.ones(1)) > 0).all()


def test_log_bernoulli_with_zero_logits_is_784_log_half():
    x = torch.bernoulli(torch.full((3, 784), 0.5))
    assert_close(
        log_bernoulli_with_logits(x, torch.zeros(3, 784)), torch.full((3,), -784 * math.log(2))
    )


def test_log_bernoulli_matches_torch_distributions():
    logits = 3 * torch.randn(4, 784, dtype=torch.float64)
    x = torch.bernoulli(torch.sigmoid(logits))
    assert_close(log_bernoulli_with_logits(x, logits), bernoulli_log_likelihood(x, logits))


def test_log_bernoulli_is_finite_for_extreme_logits():
    logits = torch.tensor([[1000.0, -1000.0, 1000.0, -1000.0]])
    x = torch.tensor([[1.0, 0.0, 0.0, 1.0]])
    assert_close(log_bernoulli_with_logits(x, logits), torch.tensor([-2000.0]))


def test_log_bernoulli_broadcasts_samples_against_data():
    x = torch.bernoulli(torch.full((1, 784), 0.3))
    logits = torch.randn(5, 784)
    assert log_bernoulli_with_logits(x, logits).shape == (5,)


@pytest.mark.parametrize("scale", [1.0, 1000.0, -1000.0])
def test_log_sum_exp_and_log_mean_exp_are_stable(scale):
    x = scale + torch.tensor([[0.0, math.log(3.0)], [0.0, 0.0]], dtype=torch.float64)
    assert_close(
        log_sum_exp(x, dim=1),
        scale + torch.tensor([math.log(4.0), math.log(2.0)], dtype=torch.float64),
    )
    assert_close(
        log_mean_exp(x, dim=1), scale + torch.tensor([math.log(2.0), 0.0], dtype=torch.float64)
    )


def test_log_mean_exp_reduces_the_named_dimension():
    x = torch.randn(7, 3)
    assert log_mean_exp(x, dim=0).shape == (3,)
    assert_close(log_mean_exp(x, dim=0), torch.logsumexp(x, 0) - math.log(7))


def test_log_sum_exp_of_all_minus_infinity_is_minus_infinity():
    assert log_sum_exp(torch.full((3,), -math.inf)).item() == -math.inf


def test_sample_gaussian_has_the_requested_moments():
    m, v = torch.full((200_000, 1), 1.5), torch.full((200_000, 1), 4.0)
    z = sample_gaussian(m, v)
    # standard errors: 2 / sqrt(n) for the mean, about v * sqrt(2 / n) for the variance
    assert abs(z.mean().item() - 1.5) < 5 * 2 / math.sqrt(200_000)
    assert abs(z.var().item() - 4.0) < 5 * 4 * math.sqrt(2 / 200_000)


def test_sample_gaussian_passes_gradients_to_mean_and_variance():
    m = torch.zeros(10, 2, requires_grad=True)
    v = torch.ones(10, 2, requires_grad=True)
    sample_gaussian(m, v).pow(2).sum().backward()
    assert m.grad.abs().sum() > 0 and v.grad.abs().sum() > 0


def test_gaussian_parameters_gives_a_positive_variance():
    h = torch.tensor([[0.5, -2.0, -1000.0, 3.0]])
    m, v = gaussian_parameters(h)
    assert_close(m, torch.tensor([[0.5, -2.0]]))
    assert_close(v, torch.nn.functional.softplus(torch.tensor([[-1000.0, 3.0]])) + 1e-8)
    assert (v > 0).all()


def test_gaussian_parameters_rejects_an_odd_split():
    with pytest.raises(ValueError, match="odd size 3"):
        gaussian_parameters(torch.zeros(2, 3))


def test_duplicate_is_sample_major():
    x = torch.arange(6.0).reshape(3, 2)
    d = duplicate(x, 4)
    assert d.shape == (12, 2)
    assert_close(d.reshape(4, 3, 2), x.expand(4, 3, 2))


def test_duplicate_rejects_zero_copies():
    with pytest.raises(ValueError, match="rep must be a positive integer"):
        duplicate(torch.zeros(2, 2), 0)


def test_normal_quantiles_cut_the_prior_into_equal_masses():
    values = normal_quantiles(20)
    assert values.shape == (20,) and values.dtype == torch.float64
    expected = [NormalDist().inv_cdf(0.05 + 0.9 * i / 19) for i in range(20)]
    assert_close(values, torch.tensor(expected, dtype=torch.float64), rtol=0, atol=1e-12)
    assert_close(values, -values.flip(0), rtol=0, atol=1e-12)  # symmetric about 0
    assert values[0].item() == pytest.approx(-1.6449, abs=1e-4)
    assert_close(normal_quantiles(3, 0.5, 0.5), torch.zeros(3, dtype=torch.float64))


@pytest.mark.parametrize("args", [(0,), (5, 0.0, 0.9), (5, 0.9, 0.1), (5, 0.1, 1.0)])
def test_normal_quantiles_need_points_and_probabilities_inside_0_1(args):
    with pytest.raises(ValueError, match=r"positive integer|0 < low <= high < 1"):
        normal_quantiles(*args)
