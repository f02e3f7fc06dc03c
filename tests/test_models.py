import pytest
import torch
from torch.testing import assert_close

from course_utils.exercises import exercise
from course_utils.models import VAE, add_to_class
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
    with pytest.raises(ValueError, match=r"\(batch, 784\), got \(3, 1, 28, 28\).*flatten"):
        model.enc(torch.zeros(3, 1, 28, 28))
    with pytest.raises(ValueError, match=r"decoder expects latents of shape \(batch, 2\)"):
        model.dec(torch.zeros(3, 10))


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
