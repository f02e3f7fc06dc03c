import io
import itertools
import math

import ipywidgets
import matplotlib.image
import numpy as np
import pytest
import torch

from course_utils import widgets
from course_utils.models import GMVAE, VAE, decode_means
from course_utils.plotting import tile_images
from course_utils.widgets import (
    JENSEN_DISTRIBUTIONS,
    JensenExplorer,
    LatentExplorer,
    MixtureExplorer,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def pixels(png: bytes) -> np.ndarray:
    """PNG bytes -> float RGBA array (h, w, 4) in [0, 1]."""
    return matplotlib.image.imread(io.BytesIO(bytes(png)), format="png")


# The Jensen explorer


def jensen_terms(samples):
    """(E[log X], log E[X]) of a sample's empirical distribution."""
    return float(np.mean(np.log(samples))), float(np.log(np.mean(samples)))


def reference_gap(samples: torch.Tensor) -> torch.Tensor:
    """The Jensen gap of notebook 1's exercise, as a student writes it."""
    return torch.log(samples.mean(dim=0)) - torch.log(samples).mean(dim=0)


def parameter_grid(spec):
    """Every combination of each parameter's minimum, default and maximum."""
    names = list(spec.parameters)
    levels = [(low, value, high) for value, low, high, _ in spec.parameters.values()]
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*levels)]


@pytest.mark.parametrize("name", ["log-normal", "uniform", "gamma", "two-point"])
def test_every_distribution_satisfies_jensen_exactly_and_in_its_sample(name):
    spec = JENSEN_DISTRIBUTIONS[name]
    checked = 0
    for parameters in parameter_grid(spec):
        try:
            e_log, log_e = spec.exact(**parameters)
        except ValueError:  # a uniform with a >= b
            continue
        samples = spec.sample(np.random.default_rng(0), 100, **parameters)
        sample_e_log, sample_log_e = jensen_terms(samples)
        assert e_log <= log_e + 1e-12, f"{name} {parameters}"
        assert sample_e_log <= sample_log_e + 1e-12, f"{name} {parameters}"
        checked += 1
    assert checked >= 3


@pytest.mark.parametrize("name", list(JENSEN_DISTRIBUTIONS))
def test_the_exact_values_agree_with_a_large_sample(name):
    spec = JENSEN_DISTRIBUTIONS[name]
    defaults = {key: value for key, (value, *_) in spec.parameters.items()}
    samples = spec.sample(np.random.default_rng(1), 200_000, **defaults)
    assert np.all(samples > 0)
    np.testing.assert_allclose(jensen_terms(samples), spec.exact(**defaults), atol=0.01)


def test_the_exact_values_of_known_cases():
    exact = {name: spec.exact for name, spec in JENSEN_DISTRIBUTIONS.items()}
    assert exact["gamma"](shape=1.0, scale=1.0) == pytest.approx((-0.5772156649, 0.0))  # Euler
    assert exact["uniform"](a=1.0, b=math.e) == pytest.approx(
        (1 / (math.e - 1), math.log((1 + math.e) / 2))
    )
    assert exact["log-normal"](mu=0.5, sigma=2.0) == pytest.approx((0.5, 2.5))
    assert exact["two-point"](x1=1.0, x2=4.0, p=0.75) == pytest.approx(
        (math.log(4) / 4, math.log(1.75))
    )
    with pytest.raises(ValueError, match="0 < a < b, got a=2, b=1"):
        exact["uniform"](a=2.0, b=1.0)


@pytest.fixture
def jensen():
    return JensenExplorer(reference_gap, n_samples=200)


def test_jensen_explorer_exposes_its_parts_and_draws_at_once(jensen):
    assert isinstance(jensen, JensenExplorer) and isinstance(jensen, ipywidgets.Widget)
    assert [name for _, name in jensen.distribution.options] == list(JENSEN_DISTRIBUTIONS)
    assert [label for label, _ in jensen.distribution.options] == list(JENSEN_DISTRIBUTIONS)
    assert jensen.distribution.value == "log-normal"
    assert set(jensen.sliders) == {"mu", "sigma"}
    assert bytes(jensen.image.value).startswith(PNG_SIGNATURE)
    assert f"{jensen.values.gap:.4f}" in jensen.readout.value


def test_moving_a_slider_redraws_the_plot_and_the_numbers(jensen):
    before_image, before_gap = bytes(jensen.image.value), jensen.values.gap
    jensen.sliders["sigma"].value = 1.2
    assert bytes(jensen.image.value) != before_image
    assert jensen.values.gap == pytest.approx(1.2**2 / 2)
    assert jensen.values.gap > before_gap
    assert f"{jensen.values.gap:.4f}" in jensen.readout.value


def test_the_jensen_explorer_speaks_the_readers_language(portuguese):
    """In the pt-BR edition the dropdown shows Portuguese names (its values stay the
    distributions' names), and the readout and its errors are in Portuguese."""
    jensen = JensenExplorer(reference_gap, n_samples=200)
    labels = [label for label, _ in jensen.distribution.options]
    assert labels == ["log-normal", "uniforme", "gama", "dois pontos"]
    assert [name for _, name in jensen.distribution.options] == list(JENSEN_DISTRIBUTIONS)
    assert "<td>exato</td>" in jensen.readout.value and "<th>lacuna</th>" in jensen.readout.value
    assert "a sua jensen_gap, amostra de 200" in jensen.readout.value
    jensen.distribution.value = "gamma"
    assert [slider.description for slider in jensen.sliders.values()] == ["forma", "escala"]
    jensen.distribution.value = "uniform"
    jensen.sliders["b"].value = 0.1
    assert "a uniforme em [a, b] exige 0 &lt; a &lt; b; recebeu a=0.2, b=0.1" in (
        jensen.readout.value
    )


def test_the_two_point_readout_shows_the_exact_values(jensen):
    jensen.distribution.value = "two-point"
    x1, x2, p = (jensen.sliders[name].value for name in ("x1", "x2", "p"))
    e_log, log_e = p * math.log(x1) + (1 - p) * math.log(x2), math.log(p * x1 + (1 - p) * x2)
    values = jensen.values
    assert (values.e_log_x, values.log_e_x) == pytest.approx((e_log, log_e))
    assert values.gap == pytest.approx(log_e - e_log) and values.gap > 0
    assert values.sample_gap > 0
    for number in (e_log, log_e, log_e - e_log, values.sample_gap):
        assert f"{number:.4f}" in jensen.readout.value


def test_the_sample_gap_is_the_one_the_given_function_computes():
    """The widget shows the student's jensen_gap on its sample, and computes no Jensen term
    of the sample itself: a function returning a constant is what it shows and draws."""
    explorer = JensenExplorer(lambda samples: torch.tensor(0.125), n_samples=50)
    assert explorer.values.sample_gap == 0.125
    assert "0.1250" in explorer.readout.value
    reference = JensenExplorer(reference_gap, n_samples=50)
    samples = JENSEN_DISTRIBUTIONS["log-normal"].sample(np.random.default_rng(0), 50, 0.0, 0.75)
    e_log, log_e = jensen_terms(samples)
    assert reference.values.sample_gap == pytest.approx(log_e - e_log)


def test_an_invalid_uniform_is_reported_and_the_plot_kept(jensen):
    jensen.distribution.value = "uniform"
    image = bytes(jensen.image.value)
    jensen.sliders["b"].value = 0.1  # below a = 0.2
    assert jensen.values is None
    assert "0 &lt; a &lt; b, got a=0.2, b=0.1" in jensen.readout.value
    assert bytes(jensen.image.value) == image
    jensen.sliders["b"].value = 5.0
    assert jensen.values is not None and bytes(jensen.image.value) != image


def test_changing_the_distribution_replaces_and_closes_the_sliders(jensen):
    old = jensen.sliders["mu"]
    jensen.distribution.value = "gamma"
    assert set(jensen.sliders) == {"shape", "scale"}
    assert old.comm is None, "the previous distribution's sliders should be closed"
    assert len(jensen.children[1].children) == 2


# The latent explorer


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return VAE(z_dim=2, name="untrained")


@pytest.fixture(scope="module")
def shared_explorer(model):
    x = torch.bernoulli(torch.full((30, 784), 0.3), generator=torch.Generator().manual_seed(1))
    return LatentExplorer(model, x, torch.arange(30) % 10)


@pytest.fixture
def explorer(shared_explorer):
    """The module's explorer (drawing the scatter takes a while), back at z = (0, 0)."""
    shared_explorer.set_z(0.0, 0.0)
    return shared_explorer


def test_latent_explorer_exposes_its_parts_and_draws_at_once(explorer):
    assert isinstance(explorer, LatentExplorer) and isinstance(explorer, ipywidgets.Widget)
    assert (explorer.z1.min, explorer.z1.max, explorer.z1.step) == (-3.0, 3.0, 0.05)
    assert explorer.z == (0.0, 0.0)
    assert bytes(explorer.scatter.value).startswith(PNG_SIGNATURE)
    assert bytes(explorer.decoded.value).startswith(PNG_SIGNATURE)
    assert "z = (0.00, 0.00)" in explorer.caption.value


def test_a_slider_moves_the_marker_and_changes_the_decoded_image(explorer):
    scatter, decoded = bytes(explorer.scatter.value), bytes(explorer.decoded.value)
    explorer.z1.value = 1.0
    assert bytes(explorer.scatter.value) != scatter
    assert bytes(explorer.decoded.value) != decoded
    assert "z = (1.00, 0.00)" in explorer.caption.value
    explorer.z2.value = -2.0
    assert explorer.z == (1.0, -2.0)


def test_the_decoded_image_is_the_upscaled_bernoulli_means_at_z(explorer, model):
    explorer.set_z(0.5, -1.5)
    image = pixels(explorer.decoded.value)
    assert image.shape[:2] == (28 * 12, 28 * 12)
    grey = image[::12, ::12, 0]  # one pixel per 12 x 12 block, (28, 28)
    expected = decode_means(model, [[0.5, -1.5]])[0].reshape(28, 28).numpy()
    np.testing.assert_allclose(grey, expected, atol=0.5 / 255 + 1e-6)
    assert np.all(image[:12, :12, 0] == image[0, 0, 0]), "each decoded pixel is a 12 x 12 block"


def test_only_the_marker_changes_on_the_scatter(explorer):
    start = pixels(explorer.scatter.value)
    explorer.set_z(2.0, 2.0)
    moved = pixels(explorer.scatter.value)
    assert moved.shape == start.shape
    changed = np.argwhere(np.any(start != moved, axis=-1))  # (pixels, 2) row, column
    height, width = (changed.max(axis=0) - changed.min(axis=0)) + 1
    assert 0 < height < start.shape[0] / 2 and 0 < width < start.shape[1] / 2
    explorer.set_z(0.0, 0.0)
    assert np.array_equal(pixels(explorer.scatter.value), start), "the background must be restored"


def test_set_z_rejects_points_outside_the_sliders(explorer):
    with pytest.raises(
        ValueError, match=r"z2=4 is outside the sliders' range \[-3, 3\].*LatentExplorer"
    ):
        explorer.set_z(1.0, 4.0)
    assert explorer.z == (0.0, 0.0), "a rejected point must leave z unchanged"


def test_latent_explorer_needs_a_two_dimensional_latent_space():
    with pytest.raises(ValueError, match=r"LatentExplorer needs a model with z_dim=2.*z_dim=10"):
        LatentExplorer(VAE(z_dim=10), torch.zeros(5, 784), torch.zeros(5))


def test_each_widget_is_made_one_way_by_its_class():
    public = {name for name in widgets.__all__ if callable(getattr(widgets, name))}
    makers = {name for name in public if name.endswith("Explorer")}
    assert makers == {"JensenExplorer", "LatentExplorer", "MixtureExplorer"}
    assert not {name for name in dir(widgets) if name.endswith("_explorer")}


# The mixture explorer (a z_dim=2 GMVAE's prior)


@pytest.fixture(scope="module")
def mixture_explorer():
    torch.manual_seed(0)
    model = GMVAE(z_dim=2, k=4, name="untrained")
    x = torch.bernoulli(torch.full((30, 784), 0.3), generator=torch.Generator().manual_seed(1))
    return MixtureExplorer(model, x, torch.arange(30) % 10, n_samples=5)


def test_mixture_explorer_shows_the_first_component_at_once(mixture_explorer):
    assert (mixture_explorer.component.min, mixture_explorer.component.max) == (0, 3)
    assert bytes(mixture_explorer.scatter.value).startswith(PNG_SIGNATURE)
    assert bytes(mixture_explorer.samples.value).startswith(PNG_SIGNATURE)
    assert mixture_explorer.caption.value.startswith("component 0 of 4: mean (")


def test_mixture_explorer_decodes_seeded_draws_of_the_chosen_component(mixture_explorer):
    explorer = mixture_explorer
    explorer.component.value = 2
    m, v = (t[0, 2] for t in explorer.model.z_prior)  # (2,) each
    g = torch.Generator().manual_seed(explorer.seed + 2)
    z = m + v.sqrt() * torch.randn(5, 2, generator=g)  # (5, 2)
    expected = tile_images(decode_means(explorer.model, z), 1)  # (28, 5 tiles and pads)
    image = pixels(explorer.samples.value)[..., 0]
    assert image.shape == (expected.shape[0] * 3, expected.shape[1] * 3)
    np.testing.assert_allclose(image[::3, ::3], expected, atol=0.5 / 255 + 1e-6)
    assert "component 2 of 4" in explorer.caption.value


def test_mixture_explorer_moves_only_the_highlight_on_the_scatter(mixture_explorer):
    mixture_explorer.component.value = 0
    start = pixels(mixture_explorer.scatter.value)
    mixture_explorer.component.value = 1
    assert not np.array_equal(pixels(mixture_explorer.scatter.value), start)
    mixture_explorer.component.value = 0
    assert np.array_equal(pixels(mixture_explorer.scatter.value), start)


def test_mixture_explorer_needs_a_two_dimensional_gmvae():
    with pytest.raises(ValueError, match="MixtureExplorer needs a GMVAE, got VAE"):
        MixtureExplorer(VAE(z_dim=2), torch.zeros(5, 784), torch.zeros(5))
    with pytest.raises(ValueError, match=r"MixtureExplorer needs a model with z_dim=2"):
        MixtureExplorer(GMVAE(z_dim=3, k=2), torch.zeros(5, 784), torch.zeros(5))
