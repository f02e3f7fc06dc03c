"""Densities, divergences and sampling used by the VAE (math only, no I/O).

Five of them are exercises, declared here as stubs (``course_utils.stubs``):
``sample_gaussian``, ``log_normal``, ``kl_normal`` and ``log_bernoulli_with_logits`` of
notebook 2, and ``log_normal_mixture`` of notebook 4. The student's solution cells attach
their versions with ``@add_to_module(distributions)``; the rest of the package does not call
them (it uses ``torch.distributions``).

Conventions, kept from the Stanford CS236 code the course builds on:

- Gaussians are parameterized by a mean ``m`` and a **variance** ``v`` (not a
  standard deviation, not a log-variance).
- Per-example quantities are summed over the last dimension: an input of shape
  ``(..., dim)`` gives an output of shape ``(...)``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from course_utils.stubs import not_implemented

__all__ = [
    "duplicate",
    "gaussian_parameters",
    "kl_normal",
    "log_bernoulli_with_logits",
    "log_mean_exp",
    "log_normal",
    "log_normal_mixture",
    "log_sum_exp",
    "normal_quantiles",
    "sample_gaussian",
]

_STUB = "@add_to_module(distributions)"


def sample_gaussian(m: Tensor, v: Tensor) -> Tensor:
    """A reparameterized sample ``z = m + sqrt(v) * eps`` with fresh noise ``eps ~ N(0, I)``.

    Gradients flow to ``m`` and ``v`` through the sample (Kingma & Welling 2014, sec. 2.4).
    Written by the student in notebook 2.

    Args:
        m: mean, shape ``(..., dim)``.
        v: variance (not std, not log-variance), the shape of ``m``, positive.

    Returns:
        A sample of the shape of ``m``, differentiable in ``m`` and ``v``.
    """
    raise not_implemented("distributions", "sample_gaussian", _STUB)


def log_normal(x: Tensor, m: Tensor, v: Tensor) -> Tensor:
    """``log N(x; m, diag(v))``, the log density of a diagonal Gaussian, summed over the last
    dimension. Written by the student in notebook 2.

    Args:
        x: points, shape ``(..., dim)``.
        m: mean, broadcastable to ``x``.
        v: variance (not std, not log-variance), broadcastable to ``x``, positive.

    Returns:
        Shape ``(...)``: the broadcast shape of ``x``, ``m`` and ``v`` without its last
        dimension. Finite however far ``x`` is from ``m``.
    """
    raise not_implemented("distributions", "log_normal", _STUB)


def kl_normal(qm: Tensor, qv: Tensor, pm: Tensor, pv: Tensor) -> Tensor:
    """``KL(N(qm, diag(qv)) || N(pm, diag(pv)))`` in closed form, summed over the last
    dimension. Written by the student in notebook 2.

    Args:
        qm, qv: mean and variance of q, shape ``(..., dim)``.
        pm, pv: mean and variance of p, broadcastable to ``qm``.

    Returns:
        The divergence, shape ``(...)``; zero where q equals p.
    """
    raise not_implemented("distributions", "kl_normal", _STUB)


def log_bernoulli_with_logits(x: Tensor, logits: Tensor) -> Tensor:
    """``log p(x | logits)`` under independent Bernoullis with the given logits, summed over
    the last dimension. Written by the student in notebook 2.

    Args:
        x: observations in ``{0, 1}`` (values in ``[0, 1]`` are accepted), shape ``(..., dim)``.
        logits: Bernoulli logits, broadcastable to ``x``.

    Returns:
        Shape ``(...)``: the broadcast shape without its last dimension; ``-dim * log 2`` for
        zero logits, and finite for logits of any size.
    """
    raise not_implemented("distributions", "log_bernoulli_with_logits", _STUB)


def log_normal_mixture(z: Tensor, m: Tensor, v: Tensor) -> Tensor:
    """``log p(z)`` under the equally weighted mixture of ``mix`` diagonal Gaussians,
    ``p(z) = (1 / mix) sum_j N(z; m_j, diag(v_j))``. Written by the student in notebook 4.

    Args:
        z: points, shape ``(batch, dim)``.
        m: the components' means, shape ``(batch, mix, dim)``.
        v: their variances (not std, not log-variance), shape ``(batch, mix, dim)``, positive.

    Returns:
        Shape ``(batch,)``. Finite however far ``z`` is from every component.
    """
    raise not_implemented("distributions", "log_normal_mixture", _STUB)


def log_sum_exp(x: Tensor, dim: int = 0) -> Tensor:
    """Stable ``log(sum(exp(x), dim))``; finite for inputs of any size.

    Args:
        x: log-values, any shape.
        dim: the dimension reduced.

    Returns:
        ``x`` with ``dim`` removed.
    """
    return torch.logsumexp(x, dim)


def log_mean_exp(x: Tensor, dim: int) -> Tensor:
    """Stable ``log(mean(exp(x), dim))`` (Burda et al. 2016, eq. 8 uses it on log-weights).

    Args:
        x: log-values, any shape.
        dim: the dimension averaged over.

    Returns:
        ``x`` with ``dim`` removed.
    """
    return log_sum_exp(x, dim) - math.log(x.size(dim))


def gaussian_parameters(h: Tensor, dim: int = -1) -> tuple[Tensor, Tensor]:
    """Split a network output into a Gaussian mean and a positive variance.

    The second half goes through ``softplus(.) + 1e-8``, so it is a variance
    bounded away from zero (not a log-variance).

    Args:
        h: shape ``(..., 2 * z_dim, ...)`` along ``dim``.
        dim: the dimension split in two halves.

    Returns:
        ``(m, v)``, each with ``z_dim`` entries along ``dim``.
    """
    if h.size(dim) % 2:
        raise ValueError(
            f"gaussian_parameters: dimension {dim} of h has odd size {h.size(dim)}; "
            "it must hold a mean and a variance of equal size"
        )
    m, h = torch.split(h, h.size(dim) // 2, dim=dim)
    v = F.softplus(h) + 1e-8
    return m, v


def duplicate(x: Tensor, rep: int) -> Tensor:
    """Stack ``rep`` copies of a batch, sample-major.

    Args:
        x: shape ``(batch, ...)``.
        rep: the number of copies.

    Returns:
        Shape ``(rep * batch, ...)``; row ``i * batch + b`` is ``x[b]``, so a result
        computed per row reshapes with ``.reshape(rep, batch)`` (samples first).
    """
    if rep < 1:
        raise ValueError(f"duplicate: rep must be a positive integer, got {rep}")
    return x.expand(rep, *x.shape).reshape(-1, *x.shape[1:])


def normal_quantiles(n: int, low: float = 0.05, high: float = 0.95) -> Tensor:
    """Quantiles of the standard normal at ``n`` evenly spaced probabilities in ``[low, high]``.

    ``Phi^-1(linspace(low, high, n))``: latent values that cut the prior N(0, 1) into cells of
    equal mass, as in the manifold figures of Kingma & Welling 2014 (fig. 4).

    Returns:
        ``(n,)`` float64, increasing.
    """
    if int(n) != n or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if not 0 < low <= high < 1:
        raise ValueError(f"need probabilities 0 < low <= high < 1, got low={low}, high={high}")
    return torch.special.ndtri(torch.linspace(low, high, int(n), dtype=torch.float64))
