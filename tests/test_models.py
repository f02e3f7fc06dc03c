import numpy as np
import pytest
import torch
from torch.distributions import Normal
from torch.testing import assert_close

from course_utils import models
from course_utils.exercises import exercise
from course_utils.models import (
    VAE,
    GaussianPrior,
    add_to_class,
    check_latent_2d,
    decode_means,
    encode_means,
)
from course_utils.networks import ARCHITECTURES, MLPDecoder, MLPEncoder, architecture


@pytest.mark.parametrize(
    "method, args", [("negative_elbo_bound", ()), ("negative_iwae_bound", (5,))]
)
def test_bound_stubs_name_their_notebook_and_exercise(method, args):
    model = VAE(z_dim=2)
    where = exercise(method)
    with pytest.raises(NotImplementedError) as error:
        getattr(model, method)(torch.zeros(3, 784), *args)
    message = str(error.value)
    assert method in message and where.notebook in message and where.title in message


def test_loss_before_implementation_points_to_the_exercise():
    with pytest.raises(NotImplementedError, match=r"02_negative_elbo\.ipynb"):
        VAE().loss(torch.zeros(2, 784))


def test_add_to_class_replaces_the_declared_method(reference_vae):
    calls = []

    @add_to_class(VAE)
    def negative_elbo_bound(self, x):
        calls.append(x.shape)
        return torch.tensor(3.0), torch.tensor(1.0), torch.tensor(2.0)

    loss, summaries = VAE(z_dim=2).loss(torch.zeros(4, 784))
    assert calls == [(4, 784)]
    assert loss.item() == 3.0
    assert {k: v.item() for k, v in summaries.items()} == {
        "train/loss": 3.0,
        "gen/elbo": -3.0,
        "gen/kl_z": 1.0,
        "gen/rec": 2.0,
    }


@pytest.fixture
def fixed_bound():
    """VAE.negative_elbo_bound returning (nelbo, kl, rec) = (3, 1, 2) (the stub restored after)."""
    stub = VAE.negative_elbo_bound

    @add_to_class(VAE)
    def negative_elbo_bound(self, x):
        return torch.tensor(3.0), torch.tensor(1.0), torch.tensor(2.0)

    yield
    VAE.negative_elbo_bound = stub


@pytest.mark.parametrize("beta", [0.0, 0.5, 4.0])
def test_beta_weights_the_kl_term_of_the_loss_and_the_elbo_stays_the_elbo(fixed_bound, beta):
    loss, summaries = VAE(z_dim=2).loss(torch.zeros(4, 784), beta=beta)
    assert loss.item() == pytest.approx(2.0 + beta * 1.0)
    assert summaries["train/loss"] is loss
    values = {k: v.item() for k, v in summaries.items() if k != "train/loss"}
    assert values == {"gen/elbo": -3.0, "gen/kl_z": 1.0, "gen/rec": 2.0}


def test_beta_one_is_the_bound_itself(fixed_bound):
    loss, _ = VAE(z_dim=2).loss(torch.zeros(4, 784), beta=1.0)
    assert loss.item() == 3.0


def test_beta_other_than_one_is_rejected_with_the_iwae_bound():
    with pytest.raises(ValueError, match=r"beta=0\.5 with iw=5.*use beta=1 with iw > 1"):
        VAE(z_dim=2).loss(torch.zeros(4, 784), iw=5, beta=0.5)


@pytest.mark.parametrize("beta", [-0.1, float("nan"), float("inf")])
def test_beta_must_be_a_finite_non_negative_weight(beta):
    with pytest.raises(ValueError, match="beta weights the KL term and must be finite and >= 0"):
        VAE(z_dim=2).loss(torch.zeros(4, 784), beta=beta)


def test_add_to_class_rejects_a_misspelt_method():
    with pytest.raises(AttributeError, match="did you mean 'negative_elbo_bound'"):

        @add_to_class(VAE)
        def negative_elbo_bond(self, x):
            return x


def test_prior_buffers_are_standard_normal_and_saved():
    model = VAE(z_dim=3)
    assert_close(model.z_prior_m, torch.zeros(1))
    assert_close(model.z_prior_v, torch.ones(1))
    assert {"z_prior_m", "z_prior_v"} <= set(model.state_dict())
    assert all(p is not model.z_prior_m for p in model.parameters())


def test_the_prior_object_is_the_standard_normal_of_the_buffers():
    model = VAE(z_dim=3)
    prior = model.prior
    assert isinstance(prior, GaussianPrior) and prior.z_dim == 3
    assert prior.m is model.z_prior_m and prior.v is model.z_prior_v
    z = torch.randn(5, 3)
    assert_close(prior.log_prob(z), Normal(0.0, 1.0).log_prob(z).sum(-1))
    assert prior.log_prob(torch.randn(7, 5, 3)).shape == (7, 5)
    with pytest.raises(ValueError, match=r"z_dim=3 dimensions; got latents of shape \(5, 2\)"):
        prior.log_prob(torch.randn(5, 2))


def test_prior_samples_are_the_reparameterized_draws_of_before():
    """sample_z draws exactly what m + sqrt(v) * eps with the buffers expanded drew."""
    model = VAE(z_dim=4)
    torch.manual_seed(5)
    z = model.sample_z(6)
    torch.manual_seed(5)
    eps = torch.randn(6, 4)
    assert_close(z, model.z_prior_m + model.z_prior_v.sqrt() * eps, rtol=0, atol=0)
    assert model.prior.sample(0).shape == (0, 4)
    with pytest.raises(ValueError, match="non-negative integer"):
        model.prior.sample(-1)


def test_the_prior_follows_the_buffers_to_another_dtype():
    model = VAE(z_dim=2).double()
    assert model.prior.m.dtype == torch.float64
    assert model.sample_z(3).dtype == torch.float64
    assert model.prior.log_prob(torch.zeros(1, 2, dtype=torch.float64)).dtype == torch.float64
    z = torch.randn(4, 2, dtype=torch.float64)  # float64 latents, float32 buffers
    exact = Normal(0.0, 1.0).log_prob(z).sum(-1)
    assert_close(VAE(z_dim=2).prior.log_prob(z), exact, rtol=0, atol=1e-15)


def test_the_nn_parameter_shadows_nothing_in_models():
    """``VAE(nn=...)`` keeps CS236's name; the module never refers to torch.nn as ``nn``."""
    assert not hasattr(models, "nn")
    assert VAE.__mro__[1] is torch.nn.Module


def test_sampling_api_shapes_and_ranges():
    model = VAE(z_dim=4)
    with torch.no_grad():
        z = model.sample_z(6)
        means = model.compute_sigmoid_given(z)
        x = model.sample_x(6)
    assert z.shape == (6, 4)
    assert means.shape == (6, 784) and ((means > 0) & (means < 1)).all()
    assert model.sample_sigmoid(2).shape == (2, 784)
    assert x.shape == (6, 784) and set(x.unique().tolist()) <= {0.0, 1.0}
    assert model.sample_x_given(z).shape == (6, 784)


def test_encoder_returns_mean_and_positive_variance():
    model = VAE(z_dim=5)
    m, v = model.enc(torch.rand(7, 784))
    assert m.shape == v.shape == (7, 5)
    assert (v > 0).all()
    assert model.dec(m).shape == (7, 784)
    assert_close(model.enc.encode(torch.ones(1, 784))[0], model.enc(torch.ones(1, 784))[0])


def test_networks_reject_unflattened_images_with_a_hint():
    model = VAE(z_dim=2)
    with pytest.raises(ValueError, match=r"\(\.\.\., 784\), got \(3, 1, 28, 28\).*flatten"):
        model.enc(torch.zeros(3, 1, 28, 28))
    with pytest.raises(ValueError, match=r"decoder expects latents of shape \(\.\.\., 2\), got"):
        model.dec(torch.zeros(3, 10))
    with pytest.raises(ValueError, match=r"got \(97, 10, 10\)$"):
        model.dec(torch.zeros(97, 10, 10))


@pytest.mark.parametrize("leading", [(), (5,), (4, 3), (3, 4), (2, 3, 4)])
def test_networks_take_any_leading_dimensions_row_by_row(leading):
    """As nn.Linear does: (iw, batch, z_dim) and (batch, iw, z_dim) samples decode in one call,
    each row as it would alone."""
    model = VAE(z_dim=2)
    x = torch.rand(*leading, 784)
    m, v = model.enc(x)
    assert m.shape == v.shape == (*leading, 2)
    flat_m, flat_v = model.enc(x.reshape(-1, 784))
    assert_close(m.reshape(-1, 2), flat_m)
    assert_close(v.reshape(-1, 2), flat_v)
    logits = model.dec(m)
    assert logits.shape == (*leading, 784)
    assert_close(logits.reshape(-1, 784), model.dec(flat_m))


def test_architecture_registry_and_errors():
    assert ARCHITECTURES["v1"] == (MLPEncoder, MLPDecoder)
    assert architecture("v1") == (MLPEncoder, MLPDecoder)
    with pytest.raises(ValueError, match="unknown architecture 'v9'; known: 'v1'"):
        VAE(nn="v9")
    with pytest.raises(ValueError, match="z_dim must be a positive integer"):
        VAE(z_dim=0)


def test_v1_has_the_cs236_layer_sizes():
    model = VAE(z_dim=10)
    sizes = [
        (m.in_features, m.out_features) for m in model.modules() if isinstance(m, torch.nn.Linear)
    ]
    assert sizes == [(784, 300), (300, 300), (300, 20), (10, 300), (300, 300), (300, 784)]


# Encoder and decoder means, for pictures and widgets


def test_encode_means_matches_the_encoder_in_any_batch_size():
    model = VAE(z_dim=2)
    x = torch.bernoulli(torch.full((24, 784), 0.3), generator=torch.Generator().manual_seed(1))
    means = encode_means(model, x, batch_size=7)
    with torch.no_grad():
        expected, _ = model.enc(x)
    assert means.shape == (24, 2) and not means.requires_grad
    assert_close(means, expected)
    assert encode_means(model, x[:0]).shape == (0, 2)


def test_encode_means_rejects_unflattened_images():
    with pytest.raises(ValueError, match=r"encode_means expects .* \(n, 784\), got \(3, 28, 28\)"):
        encode_means(VAE(z_dim=2), torch.zeros(3, 28, 28))


def test_decode_means_returns_bernoulli_means_from_arrays_or_tensors():
    model = VAE(z_dim=2)
    z = np.array([[0.5, -1.0], [2.0, 0.0]])
    with torch.no_grad():
        expected = torch.sigmoid(model.dec(torch.tensor(z, dtype=torch.float32)))
    assert_close(decode_means(model, z), expected)
    assert decode_means(model, torch.zeros(3, 2)).shape == (3, 784)


def test_check_latent_2d_names_the_caller_and_the_model():
    check_latent_2d(VAE(z_dim=2), "a plot")
    with pytest.raises(ValueError, match=r"a plot needs a model with z_dim=2.*'wide' with z_dim=3"):
        check_latent_2d(VAE(z_dim=3, name="wide"), "a plot")
