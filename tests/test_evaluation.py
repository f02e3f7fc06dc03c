import math

import pytest
import torch
from torch.distributions import Bernoulli, Normal, kl_divergence

from course_utils import evaluation
from course_utils.evaluation import evaluate, evaluate_elbo, evaluate_iwae
from course_utils.grading.common import binary_batch, probe_vae
from course_utils.models import VAE


@pytest.fixture
def binary_images():
    return torch.bernoulli(torch.full((60, 784), 0.2))


class Recorder(VAE):
    """A VAE whose bounds are deterministic per-image values, recording every call."""

    def __init__(self):
        super().__init__(z_dim=2)
        self.calls = []

    def negative_elbo_bound(self, x):
        per_image = x.sum(1)
        self.calls.append(("elbo", len(x), None))
        return per_image.mean(), 0.25 * per_image.mean(), 0.75 * per_image.mean()

    def negative_iwae_bound(self, x, iw):
        self.calls.append(("iwae", len(x), iw))
        return (x.sum(1) - math.log(iw)).mean(), torch.tensor(0.0), torch.tensor(0.0)


def test_chunked_means_are_weighted_by_chunk_size(binary_images, monkeypatch):
    monkeypatch.setattr(evaluation, "MAX_ROWS", 700)  # 7 images at k=100: chunks 7,7,...,4
    model = Recorder()
    result = evaluate_iwae(model, binary_images, ks=(1, 100))
    exact = binary_images.sum(1).mean().item()
    assert result[1] == pytest.approx(exact)
    assert result[100] == pytest.approx(exact - math.log(100))
    assert max(n * iw for kind, n, iw in model.calls if kind == "iwae") <= 700
    assert {n for _, n, iw in model.calls if iw == 100} == {7, 4}


def test_elbo_terms_are_averaged_over_all_images(binary_images):
    result = evaluate_elbo(Recorder(), binary_images, batch_size=25)
    exact = binary_images.sum(1).mean().item()
    assert (result.nelbo, result.kl, result.rec) == pytest.approx((exact, exact / 4, 3 * exact / 4))
    assert result.n_images == 60


def test_reference_bounds_obey_the_iwae_ordering(reference_vae, binary_images):
    torch.manual_seed(0)
    model = VAE(z_dim=2)
    result = evaluate(model, binary_images, ks=(1, 10, 100))
    # -IWAE-k is non-increasing in k; IWAE-1 estimates the ELBO (1 sample each, 60 images)
    assert result.niwae[1] >= result.niwae[10] >= result.niwae[100]
    assert result.niwae[1] == pytest.approx(result.nelbo, rel=0.02)
    table = result.table()
    assert "-IWAE-100" in table and "60 test images" in table


def test_evaluation_rejects_grey_or_misshapen_images():
    with pytest.raises(ValueError, match="binarize_fixed"):
        evaluate_elbo(Recorder(), torch.full((4, 784), 0.5))
    with pytest.raises(ValueError, match=r"\(n, 784\)"):
        evaluate_elbo(Recorder(), torch.zeros(4, 28, 28))
    with pytest.raises(ValueError, match="k must be in"):
        evaluate_iwae(Recorder(), torch.zeros(4, 784), ks=(0,))


class PixelMeans(torch.nn.Module):
    """An encoder whose posterior means are 2 x pixel 0, 0.1 x pixel 1 and 0."""

    def forward(self, x):
        m = torch.stack([2 * x[:, 0], 0.1 * x[:, 1], torch.zeros(len(x))], dim=1)
        return m, torch.ones_like(m)


def test_active_units_counts_means_that_vary_more_than_the_threshold():
    model = VAE(z_dim=3)
    model.enc = PixelMeans()
    x = torch.zeros(8, 784)
    x[::2, :2] = 1  # pixels 0 and 1 on in half the images: variances 4/4, 0.01/4, 0
    count, variances = evaluation.active_units(model, x)
    assert count == 1
    torch.testing.assert_close(variances, torch.tensor([1.0, 0.0025, 0.0]))
    assert evaluation.active_units(model, x, threshold=0.001)[0] == 2
    with pytest.raises(ValueError, match="at least 2 images"):
        evaluation.active_units(model, x[:1])


def test_best_gaussian_elbo_reaches_log_px_when_the_posterior_is_the_prior():
    """A decoder with constant logits makes p(z|x) = p(z): the encoder's q = N(1, 0.3) has the
    ELBO log p(x) - KL(q || p), exactly; the best Gaussian is the prior, whose ELBO is log p(x)."""
    m, v = torch.full((2,), 1.0), torch.full((2,), 0.3)
    model = probe_vae(m, v, logits=-0.5)
    x = binary_batch(4)
    log_px = Bernoulli(logits=torch.full((784,), -0.5)).log_prob(x).sum(-1)
    kl = kl_divergence(Normal(m, v.sqrt()), Normal(0.0, 1.0)).sum()
    encoder, best = evaluation.best_gaussian_elbo(model, x, steps=300)
    torch.testing.assert_close(encoder, log_px - kl, rtol=0, atol=1e-3)
    assert (best > encoder + 0.9 * kl).all()
    assert (best <= log_px + 1e-3).all() and (best >= log_px - 0.05).all()
    assert all(p.requires_grad for p in model.parameters())
