"""The densities of the course computed with ``torch.distributions``: the exact answers the
grading checks compare with (``course_utils.grading``) and the densities of notebook 1's exact
models (``course_utils.exact_models``).

The students write their own versions of these as exercises (``course_utils.distributions``);
a solution that calls one of these for its own exercise's answer is withheld for a grade by
hand (``autograder.borrowing``). Conventions are those of ``course_utils.distributions``: ``v``
is a variance, and each density is summed over the last dimension.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.distributions import (
    Bernoulli,
    Categorical,
    Independent,
    MixtureSameFamily,
    Normal,
    kl_divergence,
)

__all__ = [
    "bernoulli_log_likelihood",
    "gaussian_kl",
    "gaussian_log_density",
    "gaussian_sample",
    "mixture_log_density",
]


def gaussian_log_density(x: Tensor, m: Tensor, v: Tensor) -> Tensor:
    """``log N(x; m, diag(v))`` summed over the last dimension, ``v`` a variance."""
    return Normal(m, v.sqrt()).log_prob(x).sum(-1)


def gaussian_kl(qm: Tensor, qv: Tensor, pm: Tensor, pv: Tensor) -> Tensor:
    """``KL(N(qm, diag(qv)) || N(pm, diag(pv)))`` summed over the last dimension."""
    return kl_divergence(Normal(qm, qv.sqrt()), Normal(pm, pv.sqrt())).sum(-1)


def bernoulli_log_likelihood(x: Tensor, logits: Tensor) -> Tensor:
    """``log p(x | logits)`` of independent Bernoullis, summed over the last dimension."""
    x, logits = torch.broadcast_tensors(x, logits)
    return Bernoulli(logits=logits, validate_args=False).log_prob(x).sum(-1)


def gaussian_sample(m: Tensor, v: Tensor) -> Tensor:
    """A reparameterized draw of ``N(m, diag(v))``, ``v`` a variance: the shape of ``m``."""
    return Normal(m, v.sqrt()).rsample()


def mixture_log_density(z: Tensor, m: Tensor, v: Tensor) -> Tensor:
    """``log (1/mix) sum_j N(z; m_j, diag(v_j))``: ``z`` ``(..., dim)`` against ``m``, ``v``
    ``(..., mix, dim)`` -> ``(...)``."""
    weights = Categorical(logits=torch.zeros(m.shape[:-1], dtype=m.dtype))
    return MixtureSameFamily(weights, Independent(Normal(m, v.sqrt()), 1)).log_prob(z)
