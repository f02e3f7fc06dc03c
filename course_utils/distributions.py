"""Densities, divergences and sampling used by the VAE (math only, no I/O).

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

__all__ = [
    "duplicate",
    "gaussian_parameters",
    "kl_normal",
    "log_bernoulli_with_logits",
    "log_mean_exp",
    "log_normal",
    "log_sum_exp",
    "normal_quantiles",
    "sample_gaussian",
]

_LOG_2PI = math.log(2 * math.pi)


def _check_broadcastable(name: str, *tensors: Tensor) -> torch.Size:
    """Return the broadcast shape of ``tensors``, or raise a ValueError naming ``name``."""
    try:
        return torch.broadcast_shapes(*(t.shape for t in tensors))
    except RuntimeError:
        shapes = ", ".join(str(tuple(t.shape)) for t in tensors)
        raise ValueError(f"{name}: the shapes {shapes} do not broadcast together") from None


def sample_gaussian(m: Tensor, v: Tensor) -> Tensor:
    """Draw a reparameterized sample ``z = m + sqrt(v) * eps`` with ``eps ~ N(0, I)``.

    Gradients flow to ``m`` and ``v`` through the sample (Kingma & Welling 2014, sec. 2.4).

    Args:
        m: mean, shape ``(..., dim)``.
        v: variance (not std, not log-variance), broadcastable to ``m``, positive.

    Returns:
        A sample with the broadcast shape of ``m`` and ``v``.
    """
    shape = _check_broadcastable("sample_gaussian", m, v)
    eps = torch.randn(shape, dtype=m.dtype, device=m.device)
    return m + torch.sqrt(v) * eps


def log_normal(x: Tensor, m: Tensor, v: Tensor) -> Tensor:
    """Log density of a diagonal Gaussian, summed over the last dimension.

    Args:
        x: points, shape ``(..., dim)``.
        m: mean, broadcastable to ``x``.
        v: variance, broadcastable to ``x``, positive.

    Returns:
        ``log N(x; m, diag(v))`` with shape ``(...)``.
    """
    _check_broadcastable("log_normal", x, m, v)
    element_wise = -0.5 * (_LOG_2PI + torch.log(v) + (x - m).pow(2) / v)
    return element_wise.sum(-1)


def kl_normal(qm: Tensor, qv: Tensor, pm: Tensor, pv: Tensor) -> Tensor:
    """KL(N(qm, diag(qv)) || N(pm, diag(pv))) in closed form, summed over the last dimension.

    Per dimension: ``0.5 * (log pv - log qv + qv / pv + (qm - pm)^2 / pv - 1)``.

    Args:
        qm, qv: mean and variance of q, shape ``(..., dim)``.
        pm, pv: mean and variance of p, broadcastable to ``qm``.

    Returns:
        The divergence, shape ``(...)``; zero where q equals p.
    """
    _check_broadcastable("kl_normal", qm, qv, pm, pv)
    element_wise = 0.5 * (torch.log(pv) - torch.log(qv) + qv / pv + (qm - pm).pow(2) / pv - 1)
    return element_wise.sum(-1)


def log_bernoulli_with_logits(x: Tensor, logits: Tensor) -> Tensor:
    """Log-likelihood of binary data under independent Bernoullis, summed over the last dimension.

    ``x log sigmoid(l) + (1 - x) log(1 - sigmoid(l))``, computed from the logits so
    that it stays finite for logits of any size.

    Args:
        x: observations in ``{0, 1}`` (values in ``[0, 1]`` are accepted), shape ``(..., dim)``.
        logits: Bernoulli logits, broadcastable to ``x``.

    Returns:
        ``log p(x | logits)`` with shape ``(...)``; ``-dim * log 2`` for zero logits.
    """
    shape = _check_broadcastable("log_bernoulli_with_logits", x, logits)
    x, logits = x.expand(shape), logits.expand(shape)
    return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)


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
