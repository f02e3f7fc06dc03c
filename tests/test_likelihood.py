"""The quadrature's log p(x) against models whose log p(x) is known in closed form or by an
independent one-dimensional integral."""

import math

import pytest
import torch
from torch import nn
from torch.special import log_ndtr

from autograder.reference.bounds import log_bernoulli_with_logits
from course_utils.data import IMAGE_DIM
from course_utils.grading.common import binary_batch, probe_vae
from course_utils.likelihood import (
    QuadratureError,
    log_px_quadrature,
    midpoint_grid,
    quadrature_error,
)
from course_utils.models import VAE

OTHER_LOGIT = -0.5


class ProbitDecoder(nn.Module):
    """P(x_j = 1 | z) = Phi(w_j . z + b_j) for the first ``len(b)`` pixels; the other pixels
    have the constant logit ``OTHER_LOGIT``.

    Args:
        w: ``(n, 2)`` directions; b: ``(n,)`` offsets.
    """

    def __init__(self, w, b):
        super().__init__()
        self.w, self.b = w, b

    def forward(self, z):  # (rows, 2) -> (rows, 784)
        u = z @ self.w.T + self.b
        rest = torch.full((len(z), IMAGE_DIM - len(self.b)), OTHER_LOGIT)
        return torch.cat([log_ndtr(u) - log_ndtr(-u), rest], dim=1)


def probit_vae(w, b):
    model = VAE(z_dim=2)
    model.dec = ProbitDecoder(w, b)
    return model


def log_p_rest(x, n):
    """log p of the pixels from n on, whose logit is constant: ``(batch,)`` float64."""
    return log_bernoulli_with_logits(x[:, n:].double(), torch.tensor(OTHER_LOGIT).double())


def test_grid_covers_the_square_with_cell_midpoints():
    z, log_area = midpoint_grid(4, 2.0)
    assert z.shape == (16, 2)
    torch.testing.assert_close(z[:4, 1], torch.tensor([-1.5, -0.5, 0.5, 1.5]))
    assert log_area == pytest.approx(0.0)


def test_constant_decoder_gives_the_bernoulli_likelihood_exactly():
    """p(x|z) does not depend on z: the grid must integrate the prior to 1."""
    logits = torch.linspace(-2, 2, IMAGE_DIM)
    x = binary_batch(6)
    log_px = log_px_quadrature(probe_vae(logits=logits, z_dim=2), x, points=64)
    exact = log_bernoulli_with_logits(x, logits).double()
    torch.testing.assert_close(log_px, exact, rtol=0, atol=1e-4)


def test_one_probit_pixel_matches_its_closed_form():
    """E_z[Phi(w . z + b)] = Phi(b / sqrt(1 + |w|^2)) for z ~ N(0, I)."""
    w, b = torch.tensor([[3.0, -4.0]]), torch.tensor([2.0])
    x = binary_batch(4)
    x[:2, 0], x[2:, 0] = 1, 0
    log_px = log_px_quadrature(probit_vae(w, b), x, points=100)
    threshold = b.item() / math.sqrt(1 + 25)
    log_pixel = torch.tensor([log_ndtr(torch.tensor(s * threshold)).item() for s in (1, 1, -1, -1)])
    torch.testing.assert_close(log_px, log_p_rest(x, 1) + log_pixel.double(), rtol=0, atol=1e-6)


class SharpPosterior:
    """40 pixels depend on z_1 and 40 on z_2, each through a probit of slope 10 with
    thresholds spread over [-3, 3]: the posterior has a standard deviation of 0.094 in each
    dimension (a trained model's are 0.02 to 0.09), and log p(x) is a sum of two 1-d
    integrals over t ~ N(0, 1), each computed independently in float64 on 200,001 points."""

    n, slope = 40, 10.0
    b = slope * torch.linspace(-3, 3, n)

    def __init__(self):
        axes = torch.eye(2).repeat_interleave(self.n, dim=0)  # (2n, 2): z_1 then z_2
        self.model = probit_vae(self.slope * axes, self.b.repeat(2))
        self.x = binary_batch(3)
        on = torch.arange(self.n) >= torch.tensor([[13], [20], [26]])  # (3, n)
        self.x[:, : 2 * self.n] = torch.cat([on, on.flip(0)], dim=1).float()

    def log_px(self):
        t = torch.linspace(-10, 10, 200_001, dtype=torch.float64)
        u = self.slope * t[:, None] + self.b.double()  # (points, n)
        log_prior = -(t**2) / 2 - 0.5 * math.log(2 * math.pi) + math.log(t[1] - t[0])
        total = log_p_rest(self.x, 2 * self.n)
        for pixels in (slice(0, self.n), slice(self.n, 2 * self.n)):
            sign = 2 * self.x[:, None, pixels].double() - 1  # (3, 1, n)
            total += torch.logsumexp(log_ndtr(sign * u).sum(-1) + log_prior, dim=1)
        return total


@pytest.fixture(scope="module")
def sharp():
    return SharpPosterior()


def test_a_sharp_posterior_matches_a_one_dimensional_integral(sharp):
    log_px = log_px_quadrature(sharp.model, sharp.x, points=120)
    torch.testing.assert_close(log_px, sharp.log_px(), rtol=0, atol=1e-5)


def test_chunks_give_the_result_of_one_pass():
    torch.manual_seed(0)
    model, x = VAE(z_dim=2), binary_batch(5)
    whole = log_px_quadrature(model, x, points=60, chunk=3600, batch_size=5)
    chunked = log_px_quadrature(model, x, points=60, chunk=700, batch_size=2)
    torch.testing.assert_close(chunked, whole, rtol=0, atol=1e-9)


def test_quadrature_error_measures_the_error_of_a_coarse_grid(sharp):
    """On a grid too coarse for the posterior (spacing 0.24 for a standard deviation of
    0.094), the change on halving the spacing is the grid's error; doubling the extent
    changes nothing."""
    error = quadrature_error(sharp.model, sharp.x, points=50)
    torch.testing.assert_close(error.finer, sharp.log_px() - error.log_px, rtol=0, atol=1e-4)
    assert error.finer.abs().max() > 1e-3
    assert error.wider.abs().max() < 1e-9
    assert error.largest() == error.finer.abs().max().item()
    assert "twice the points" in error.summary()


def test_no_progress_bar_under_nbgrader(monkeypatch, capsys):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    log_px_quadrature(probe_vae(logits=0.0, z_dim=2), binary_batch(2), points=20)
    assert capsys.readouterr().err == ""


def test_clear_errors():
    x = binary_batch(2)
    with pytest.raises(ValueError, match="z_dim=3"):
        log_px_quadrature(VAE(z_dim=3), x)
    model = VAE(z_dim=2)
    with pytest.raises(ValueError, match="binarize"):
        log_px_quadrature(model, torch.full((2, IMAGE_DIM), 0.5))
    with pytest.raises(ValueError, match="chunk and batch_size"):
        log_px_quadrature(model, x, chunk=0)
    with pytest.raises(ValueError, match="extent > 0"):
        log_px_quadrature(model, x, extent=0.0)


def test_quadrature_error_reports_richardsons_estimate_of_the_finer_grid():
    """With an error ~ h^2, halving h removes 3/4 of it: the finer grid keeps a third of the
    change, and the summary says so."""
    error = QuadratureError(
        log_px=torch.tensor([-100.0, -50.0], dtype=torch.float64),
        finer=torch.tensor([0.03, -0.006], dtype=torch.float64),
        wider=torch.zeros(2, dtype=torch.float64),
        points=300,
        extent=6.0,
    )
    torch.testing.assert_close(error.finer_error, torch.tensor([0.01, -0.002], dtype=torch.float64))
    assert "error left on the 600^2 grid (Richardson, error ~ h^2): largest 1.0e-02" in (
        error.summary()
    )
