import itertools
import math

import pytest
import torch
from torch.distributions import MultivariateNormal, Normal, kl_divergence
from torch.testing import assert_close

from autograder.reference.bounds import log_normal
from course_utils import exact_models
from course_utils.exact_models import ExactModel, LinearGaussianModel, LogisticModel

F64 = torch.float64


def scalar_model():
    return LinearGaussianModel.scalar(a=2.0, b=0.5, s2=0.5)


def vector_model():
    """x_dim=3, z_dim=2: the posterior covariance is not diagonal."""
    weight = torch.tensor([[1.0, 0.8], [0.9, 1.2], [0.3, 0.4]])
    return LinearGaussianModel(weight, [0.1, -0.2, 0.3], [0.3, 0.5, 0.8])


def tall_model():
    """x_dim=3, z_dim=1: a scalar latent, so quadrature over z is one-dimensional."""
    return LinearGaussianModel([[1.5], [-0.5], [0.8]], [0.0, 1.0, -0.5], [0.4, 0.9, 0.2])


def logistic_model():
    return LogisticModel([4.0, -3.0, 2.5, 5.0], [0.5, 0.0, -1.0, 1.0])


LINEAR_MODELS = [scalar_model, vector_model, tall_model]


def random_q(batch, z_dim):
    m = 2 * torch.randn(batch, z_dim, dtype=F64)
    v = torch.rand(batch, z_dim, dtype=F64) * 3 + 0.05
    return m, v


def trapezoid_log_integral(log_f, grid):
    """log int exp(log_f) dz over a uniform grid (the last dimension of log_f), trapezoidal rule."""
    step = grid[1] - grid[0]
    log_w = torch.full_like(grid, math.log(step))
    log_w[0] = log_w[-1] = math.log(step / 2)
    return torch.logsumexp(log_f + log_w, dim=-1)


GRID = torch.linspace(-16, 16, 32_001, dtype=F64)


def monte_carlo_log_weights(model, x, m, v, n):
    """log p(x, z) - log q(z) for n draws of z ~ q: shape (n, batch)."""
    z = m + v.sqrt() * torch.randn(n, *m.shape, dtype=F64)
    return model.log_joint(x, z) - log_normal(z, m, v)


def assert_within_standard_errors(samples, expected, n_se=5.0):
    """The mean of samples (n, ...) is within n_se standard errors of expected (...)."""
    mean = samples.mean(0)
    se = samples.std(0) / math.sqrt(samples.shape[0])
    assert ((mean - expected).abs() <= n_se * se + 1e-9).all(), (
        f"Monte Carlo mean {mean} vs {expected}, standard error {se}"
    )


# -- linear-Gaussian model: exact identities ---------------------------------------------


@pytest.mark.parametrize("make_model", LINEAR_MODELS)
def test_log_px_is_elbo_plus_kl_for_any_q(make_model):
    model = make_model()
    _, x = model.sample(20)
    m, v = random_q(20, model.z_dim)
    elbo, kl = model.elbo(x, m, v), model.kl_to_posterior(x, m, v)
    assert_close(elbo + kl, model.log_marginal(x))
    assert (kl > 0).all() and (elbo < model.log_marginal(x)).all()


@pytest.mark.parametrize("make_model", [scalar_model, tall_model])
def test_the_bound_is_tight_at_the_true_posterior(make_model):
    model = make_model()
    _, x = model.sample(10)
    mean, covariance = model.posterior(x)
    v = torch.diagonal(covariance).expand_as(mean)
    assert_close(model.kl_to_posterior(x, mean, v), torch.zeros(10, dtype=F64))
    assert_close(model.elbo(x, mean, v), model.log_marginal(x))
    assert_close(model.optimal_q(x), (mean, v))


def test_scalar_model_matches_the_textbook_formulas():
    a, b, s2 = 2.0, 0.5, 0.5
    model = LinearGaussianModel.scalar(a, b, s2)
    x = torch.tensor([[-1.0], [0.5], [3.0]], dtype=F64)
    expected_log_px = Normal(b, math.sqrt(a**2 + s2)).log_prob(x).squeeze(-1)
    assert_close(model.log_marginal(x), expected_log_px)
    mean, covariance = model.posterior(x)
    assert_close(mean, a * (x - b) / (a**2 + s2))
    assert_close(covariance, torch.tensor([[s2 / (a**2 + s2)]], dtype=F64))


@pytest.mark.parametrize("make_model", LINEAR_MODELS)
def test_log_marginal_matches_torch_distributions(make_model):
    model = make_model()
    _, x = model.sample(15)
    expected = MultivariateNormal(model.bias, model.marginal_covariance()).log_prob(x)
    assert_close(model.log_marginal(x), expected)


@pytest.mark.parametrize("make_model", [scalar_model, tall_model])
def test_log_marginal_matches_quadrature_over_z(make_model):
    model = make_model()
    _, x = model.sample(5)
    log_joint = model.log_joint(x.unsqueeze(-2), GRID.unsqueeze(-1))  # (5, n_grid)
    assert_close(model.log_marginal(x), trapezoid_log_integral(log_joint, GRID))


@pytest.mark.parametrize("make_model", LINEAR_MODELS)
def test_posterior_is_bayes_rule(make_model):
    model = make_model()
    _, x = model.sample(6)
    z = torch.randn(6, model.z_dim, dtype=F64)
    mean, covariance = model.posterior(x)
    expected = model.log_joint(x, z) - model.log_marginal(x)
    assert_close(MultivariateNormal(mean, covariance).log_prob(z), expected)


@pytest.mark.parametrize("make_model", LINEAR_MODELS)
def test_kl_to_posterior_matches_torch_distributions(make_model):
    model = make_model()
    _, x = model.sample(8)
    m, v = random_q(8, model.z_dim)
    mean, covariance = model.posterior(x)
    q = MultivariateNormal(m, torch.diag_embed(v))
    expected = kl_divergence(q, MultivariateNormal(mean, covariance))
    assert_close(model.kl_to_posterior(x, m, v), expected)


@pytest.mark.parametrize("make_model", LINEAR_MODELS)
def test_kl_to_prior_matches_torch_distributions(make_model):
    model = make_model()
    m, v = random_q(8, model.z_dim)
    expected = kl_divergence(Normal(m, v.sqrt()), Normal(0.0, 1.0)).sum(-1)
    assert_close(model.kl_to_prior(m, v), expected)


def test_correlated_posterior_leaves_a_gap_for_the_best_diagonal_q():
    model = vector_model()
    _, x = model.sample(4)
    m, v = model.optimal_q(x)
    precision = model.posterior_precision()
    expected_gap = 0.5 * (torch.log(torch.diagonal(precision)).sum() - torch.logdet(precision))
    assert expected_gap > 0.01
    assert_close(model.kl_to_posterior(x, m, v), expected_gap.expand(4))


@pytest.mark.parametrize("make_model", LINEAR_MODELS)
def test_the_elbo_is_stationary_at_the_optimal_q(make_model):
    model = make_model()
    _, x = model.sample(3)
    m, v = (t.clone().requires_grad_() for t in model.optimal_q(x))
    model.elbo(x, m, v).sum().backward()
    assert_close(m.grad, torch.zeros_like(m), atol=1e-10, rtol=0)
    assert_close(v.grad, torch.zeros_like(v), atol=1e-10, rtol=0)


@pytest.mark.parametrize("make_model", LINEAR_MODELS)
def test_sampled_data_have_the_marginal_covariance(make_model):
    model = make_model()
    n = 200_000
    _, x = model.sample(n, generator=torch.Generator().manual_seed(1))
    covariance = model.marginal_covariance()
    # standard error of a sample covariance entry: sqrt((S_ii S_jj + S_ij^2) / n)
    se = ((torch.outer(covariance.diagonal(), covariance.diagonal()) + covariance**2) / n).sqrt()
    assert ((torch.cov(x.T) - covariance).abs() <= 5 * se).all()
    assert ((x.mean(0) - model.bias).abs() <= 5 * (covariance.diagonal() / n).sqrt()).all()


# -- linear-Gaussian model: Monte Carlo agreement ----------------------------------------


@pytest.mark.parametrize("make_model", LINEAR_MODELS)
def test_closed_form_elbo_matches_monte_carlo(make_model):
    model = make_model()
    _, x = model.sample(4)
    m, v = random_q(4, model.z_dim)
    log_w = monte_carlo_log_weights(model, x, m, v, 100_000)  # (n, 4)
    assert_within_standard_errors(log_w, model.elbo(x, m, v))


@pytest.mark.parametrize("make_model", LINEAR_MODELS)
def test_expected_log_likelihood_matches_monte_carlo(make_model):
    model = make_model()
    _, x = model.sample(4)
    m, v = random_q(4, model.z_dim)
    z = m + v.sqrt() * torch.randn(100_000, *m.shape, dtype=F64)
    log_lik = model.log_likelihood(x, z)  # (n, 4)
    assert_within_standard_errors(log_lik, model.expected_log_likelihood(x, m, v))


def test_float32_inputs_are_accepted():
    model = vector_model()
    x = torch.randn(5, 3)
    m, v = torch.randn(5, 2), torch.rand(5, 2) + 0.1
    z = torch.randn(7, 5, 2)
    assert model.log_joint(x, z).shape == (7, 5)
    assert_close(model.elbo(x, m, v), model.elbo(x.double(), m.double(), v.double()))


def test_shapes_broadcast_over_leading_dimensions():
    model = tall_model()
    x = torch.randn(4, 3, dtype=F64)
    m, v = torch.zeros(1), torch.ones(1)  # one q shared by the batch
    assert model.elbo(x, m, v).shape == (4,)
    assert model.log_likelihood(x, torch.randn(10, 4, 1, dtype=F64)).shape == (10, 4)
    assert model.log_marginal(x[0]).shape == ()


# -- logistic model: quadrature against independent computations -------------------------


def all_binary_vectors(x_dim):
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=x_dim)), dtype=F64)


def test_logistic_marginal_sums_to_one_over_all_binary_vectors():
    model = logistic_model()
    x = all_binary_vectors(model.x_dim)  # (16, 4)
    assert_close(model.log_marginal(x).exp().sum(), torch.tensor(1.0, dtype=F64))


def test_logistic_marginal_matches_monte_carlo_over_the_prior():
    model = logistic_model()
    x = all_binary_vectors(model.x_dim)
    z = torch.randn(200_000, 1, 1, dtype=F64)
    likelihood = model.log_likelihood(x, z).exp()  # (n, 16): p(x|z) for z ~ p(z)
    assert_within_standard_errors(likelihood, model.log_marginal(x).exp())


def test_logistic_posterior_integrates_to_one():
    model = logistic_model()
    density = model.posterior_on_grid(all_binary_vectors(model.x_dim))  # (16, n_grid)
    integral = torch.trapezoid(density, model.grid, dim=-1)
    assert_close(integral, torch.ones(16, dtype=F64))


def grid_elbo_and_kl(model, x, m, v):
    """ELBO and KL(q || p(z|x)) of a 1-D Gaussian q as integrals on GRID."""
    z = GRID.unsqueeze(-1)  # (n_grid, 1)
    log_q = Normal(m, v.sqrt()).log_prob(GRID)  # (..., n_grid)
    q = log_q.exp()
    log_joint = model.log_joint(x.unsqueeze(-2), z)
    log_post = model.log_posterior(x.unsqueeze(-2), z)
    elbo = torch.trapezoid(q * (log_joint - log_q), GRID, dim=-1)
    kl = torch.trapezoid(q * (log_q - log_post), GRID, dim=-1)
    return elbo, kl


def test_logistic_elbo_and_gap_match_grid_integrals():
    model = logistic_model()
    x = all_binary_vectors(model.x_dim)
    m = torch.linspace(-2, 2, 16, dtype=F64).unsqueeze(-1)
    v = torch.linspace(0.05, 3, 16, dtype=F64).unsqueeze(-1)
    elbo, kl = grid_elbo_and_kl(model, x, m, v)
    assert_close(model.elbo(x, m, v), elbo)
    assert_close(model.kl_to_posterior(x, m, v), kl)
    assert_close(elbo + kl, model.log_marginal(x))


def test_logistic_elbo_matches_monte_carlo():
    model = logistic_model()
    x = all_binary_vectors(model.x_dim)[[3, 9, 14]]
    m = torch.tensor([[0.5], [-1.0], [1.5]], dtype=F64)
    v = torch.tensor([[0.2], [1.0], [2.5]], dtype=F64)
    log_w = monte_carlo_log_weights(model, x, m, v, 100_000)
    assert_within_standard_errors(log_w, model.elbo(x, m, v))


def test_best_gaussian_q_leaves_a_gap_for_a_non_gaussian_posterior():
    model = LogisticModel([5.0], [0.0])
    x = torch.ones(1, 1, dtype=F64)  # p(z|x) ~ N(z; 0, 1) sigmoid(5 z): skewed
    m = torch.zeros(1, 1, dtype=F64, requires_grad=True)
    log_v = torch.zeros(1, 1, dtype=F64, requires_grad=True)
    optimizer = torch.optim.LBFGS([m, log_v], max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = -model.elbo(x, m, log_v.exp()).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    gap = model.kl_to_posterior(x, m, log_v.exp()).item()
    assert 0.005 < gap < 0.5


# -- bad input -----------------------------------------------------------------------------


def test_negative_variances_are_rejected():
    model = scalar_model()
    x = torch.zeros(2, 1, dtype=F64)
    m, v = torch.zeros(2, 1), torch.tensor([[1.0], [-0.5]])
    for method in (model.elbo, model.kl_to_posterior, model.expected_log_likelihood):
        with pytest.raises(ValueError, match="v is a variance and must be positive"):
            method(x, m, v)
    with pytest.raises(ValueError, match="v is a variance"):
        logistic_model().elbo(torch.ones(2, 4), m, torch.zeros(2, 1))
    with pytest.raises(ValueError, match="noise_variance is a variance"):
        LinearGaussianModel.scalar(1.0, 0.0, -1.0)


def test_wrong_shapes_are_rejected_with_the_expected_shape():
    model = vector_model()  # x_dim=3, z_dim=2
    x = torch.zeros(4, 3)
    with pytest.raises(ValueError, match=r"x must have shape \(\.\.\., x_dim=3\), got \(4, 2\)"):
        model.log_marginal(torch.zeros(4, 2))
    with pytest.raises(ValueError, match=r"m must have shape \(\.\.\., z_dim=2\), got \(4, 3\)"):
        model.elbo(x, torch.zeros(4, 3), torch.ones(4, 3))
    with pytest.raises(ValueError, match=r"z must have shape \(\.\.\., z_dim=2\)"):
        model.log_joint(x, torch.zeros(4))
    with pytest.raises(ValueError, match="leading dimensions"):
        model.elbo(x, torch.zeros(5, 2), torch.ones(5, 2))
    with pytest.raises(ValueError, match=r"z must have shape \(\.\.\., z_dim=1\)"):
        logistic_model().log_likelihood(torch.ones(4), torch.zeros(3, 2))
    with pytest.raises(TypeError, match=r"must be a torch\.Tensor"):
        model.log_marginal([0.0, 0.0, 0.0])


def test_bad_model_parameters_are_rejected():
    with pytest.raises(ValueError, match="weight must have 2 dimension"):
        LinearGaussianModel([1.0, 2.0], [0.0, 0.0], [1.0, 1.0])
    with pytest.raises(ValueError, match=r"bias must have shape \(x_dim,\) = \(2,\)"):
        LinearGaussianModel([[1.0], [2.0]], [0.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="must be finite"):
        LinearGaussianModel.scalar(math.nan, 0.0, 1.0)
    with pytest.raises(ValueError, match=r"bias must have shape \(x_dim,\) = \(2,\), got \(1,\)"):
        LogisticModel([1.0, 2.0], [0.0])
    with pytest.raises(ValueError, match=r"weight must have shape \(x_dim, z_dim\) with no empty"):
        LinearGaussianModel(torch.zeros(2, 0), [0.0, 0.0], [1.0, 1.0])
    with pytest.raises(ValueError, match=r"noise_variance must have shape \(x_dim,\) = \(2,\)"):
        LinearGaussianModel([[1.0], [2.0]], [0.0, 0.0], [1.0])
    with pytest.raises(ValueError, match="uniform"):
        LogisticModel([1.0], [0.0], grid=torch.tensor([0.0, 1.0, 3.0]))
    with pytest.raises(ValueError, match="positive integer"):
        scalar_model().sample(0)


def test_the_students_estimator_is_not_shipped():
    """The Monte Carlo ELBO is the exercise of notebook 1; course_utils ships to students."""
    names = {name.lower() for name in dir(exact_models)}
    assert not {name for name in names if "monte" in name or "estimat" in name}


def test_densities_only_hides_the_exact_answers():
    model = vector_model()
    view = exact_models.DensitiesOnly(model)
    x, z = torch.randn(4, 3, dtype=F64), torch.randn(4, 2, dtype=F64)
    assert (view.x_dim, view.z_dim) == (3, 2)
    assert_close(view.log_joint(x, z), model.log_joint(x, z))
    for name in (
        "elbo",
        "log_marginal",
        "posterior",
        "kl_to_posterior",
        "optimal_q",
        "log_posterior",
    ):
        with pytest.raises(AttributeError, match="samples of z"):
            getattr(view, name)


# -- what the two models share ---------------------------------------------------------------


@pytest.mark.parametrize("make_model", [*LINEAR_MODELS, logistic_model])
def test_both_models_share_the_prior_the_joint_and_the_checks(make_model):
    model = make_model()
    assert isinstance(model, ExactModel)
    z = torch.randn(6, model.z_dim, dtype=F64)
    _, x = model.sample(6)
    assert_close(model.log_prior(z), Normal(0.0, 1.0).log_prob(z).sum(-1))
    assert_close(model.log_joint(x, z), model.log_prior(z) + model.log_likelihood(x, z))
    m, v = random_q(6, model.z_dim)
    expected = kl_divergence(Normal(m, v.sqrt()), Normal(0.0, 1.0)).sum(-1)
    assert_close(model.kl_to_prior(m, v), expected)
    with pytest.raises(ValueError, match=r"x must have shape \(\.\.\., x_dim="):
        model.log_likelihood(torch.zeros(6, model.x_dim + 1), z)


def test_sampling_draws_z_then_x_from_the_generator():
    """The joint draw is z ~ N(0, I) first, then x given z, from the same generator."""
    linear, logistic = vector_model(), logistic_model()
    z, x = linear.sample(5, generator=torch.Generator().manual_seed(2))
    g = torch.Generator().manual_seed(2)
    z_expected = torch.randn(5, 2, dtype=F64, generator=g)
    noise = torch.randn(5, 3, dtype=F64, generator=g)
    x_expected = z_expected @ linear.weight.T + linear.bias + linear.noise_variance.sqrt() * noise
    assert_close(z, z_expected, rtol=0, atol=0)
    assert_close(x, x_expected)
    z, x = logistic.sample(5, generator=torch.Generator().manual_seed(2))
    g = torch.Generator().manual_seed(2)
    z_expected = torch.randn(5, 1, dtype=F64, generator=g)
    probs = torch.sigmoid(z_expected * logistic.weight + logistic.bias)
    assert_close(z, z_expected, rtol=0, atol=0)
    assert_close(x, torch.bernoulli(probs, generator=g), rtol=0, atol=0)


def test_the_linear_posterior_density_is_the_gaussian_posterior():
    model = vector_model()
    _, x = model.sample(4)
    z = torch.randn(4, 2, dtype=F64)
    mean, covariance = model.posterior(x)
    assert_close(model.log_posterior(x, z), MultivariateNormal(mean, covariance).log_prob(z))


def test_the_shared_base_is_abstract():
    with pytest.raises(TypeError, match="abstract"):
        ExactModel([1.0], [0.0])
