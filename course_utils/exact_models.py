"""Small latent-variable models whose log p(x) and posterior p(z|x) are known exactly.

They make the variational identities of notebook 1 checkable with numbers:
for any Gaussian ``q(z|x) = N(m, diag(v))``,

    log p(x) = ELBO(q) + KL(q(z|x) || p(z|x)),    so    ELBO(q) <= log p(x),

with equality exactly when q is the posterior (Jordan et al. 1999; Blei et al. 2017, eq. 13).

- ``LinearGaussianModel``: ``z ~ N(0, I)``, ``x | z ~ N(W z + b, diag(s2))``. Everything is
  in closed form: p(x) and p(z|x) are Gaussian (Bishop 2006, sec. 2.3.3), and so are the
  ELBO and the KL of a Gaussian q.
- ``LogisticModel``: a scalar ``z ~ N(0, 1)`` and binary ``x_d | z ~ Bernoulli(sigmoid(w_d z +
  c_d))``. The posterior is not Gaussian, so no Gaussian q closes the gap; log p(x) is computed
  by dense quadrature on a grid, and so is the ELBO of a Gaussian q.

Conventions are those of ``course_utils.distributions``: ``v`` is a **variance** (not a
standard deviation, not a log-variance), and per-example quantities are summed over the last
dimension, so ``x: (..., x_dim)`` and ``m, v: (..., z_dim)`` give results of shape ``(...)``
(the broadcast of the leading dimensions). Parameters are stored in float64.

Both share ``ExactModel``: the prior, the joint density, sampling and the input checks.

The Monte Carlo estimator of the ELBO is not here: the student writes it in notebook 1.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import torch
from torch import Tensor
from torch.distributions import Normal

from course_utils.reference_densities import (
    bernoulli_log_likelihood,
    gaussian_kl,
    gaussian_log_density,
)

__all__ = ["DensitiesOnly", "ExactModel", "LinearGaussianModel", "LogisticModel"]

_LOG_2PI = math.log(2 * math.pi)


def _as_float64(name: str, value, dim: int) -> Tensor:
    """``value`` as a float64 tensor with ``dim`` dimensions, or a ValueError naming ``name``."""
    tensor = torch.as_tensor(value, dtype=torch.float64)
    if tensor.dim() != dim:
        raise ValueError(f"{name} must have {dim} dimension(s), got shape {tuple(tensor.shape)}")
    if not torch.isfinite(tensor).all():
        raise ValueError(f"{name} must be finite, got {tensor}")
    return tensor


def _check_last_dim(function: str, name: str, t: Tensor, size: int, label: str) -> None:
    if not isinstance(t, Tensor):
        raise TypeError(f"{function}: {name} must be a torch.Tensor, got {type(t).__name__}")
    if t.dim() == 0 or t.shape[-1] != size:
        raise ValueError(
            f"{function}: {name} must have shape (..., {label}={size}), got {tuple(t.shape)}"
        )


def _batch_shape(function: str, *tensors: Tensor) -> torch.Size:
    """Broadcast of the leading (all but the last) dimensions, or a ValueError."""
    try:
        return torch.broadcast_shapes(*(t.shape[:-1] for t in tensors))
    except RuntimeError:
        shapes = ", ".join(str(tuple(t.shape)) for t in tensors)
        raise ValueError(
            f"{function}: the leading dimensions of {shapes} do not broadcast together"
        ) from None


def _check_q(function: str, m: Tensor, v: Tensor, z_dim: int) -> None:
    """``m`` and ``v`` describe ``N(m, diag(v))`` over ``z_dim`` dimensions, with ``v > 0``."""
    _check_last_dim(function, "m", m, z_dim, "z_dim")
    _check_last_dim(function, "v", v, z_dim, "z_dim")
    _batch_shape(function, m, v)
    if not (v > 0).all():
        raise ValueError(
            f"{function}: v is a variance and must be positive everywhere; "
            f"its smallest entry is {v.min().item():.4g}"
        )


def _matvec(matrix: Tensor, vector: Tensor) -> Tensor:
    """``matrix @ vector``: ``matrix (rows, cols)``, ``vector (..., cols)`` -> ``(..., rows)``.

    Written as a broadcast product so that float32 inputs promote to float64 (``@`` does not).
    """
    return (vector.unsqueeze(-2) * matrix).sum(-1)


class ExactModel(ABC):
    """``z ~ N(0, I_{z_dim})``, ``x | z ~ p(x|z)``: a latent-variable model with exact answers.

    What both models share is written here once: the prior and the KL to it, the joint
    density, sampling from the joint, the checks of the parameters and inputs, the posterior
    density by Bayes' rule and the gap as ``KL(q || p(z|x)) = log p(x) - ELBO(q)``. A subclass
    stores its parameters ``weight`` (first dimension ``x_dim``) and ``bias`` ``(x_dim,)``
    through ``__init__``, defines ``WEIGHT_SHAPE`` and ``z_dim``, and implements
    ``log_likelihood``, ``log_marginal``, ``elbo`` and ``_sample_x_given``.

    Args:
        weight: the weights of p(x|z), shape ``(x_dim, ...)`` as given by ``WEIGHT_SHAPE``.
        bias: the offsets of p(x|z), shape ``(x_dim,)``.
    """

    #: The names of the dimensions of ``weight``, for its checks and their messages.
    WEIGHT_SHAPE: tuple[str, ...]
    z_dim: int

    def __init__(self, weight, bias) -> None:
        self.weight = _as_float64("weight", weight, len(self.WEIGHT_SHAPE))
        if self.weight.numel() == 0:
            raise ValueError(
                f"weight must have shape ({', '.join(self.WEIGHT_SHAPE)}) with no empty "
                f"dimension, got {tuple(self.weight.shape)}"
            )
        self.bias = _as_float64("bias", bias, 1)
        self._check_per_coordinate("bias", self.bias)

    @property
    def x_dim(self) -> int:
        return self.weight.shape[0]

    def _check_per_coordinate(self, name: str, t: Tensor) -> None:
        """``t`` holds one value per coordinate of x: shape ``(x_dim,)``."""
        if t.shape != (self.x_dim,):
            raise ValueError(
                f"{name} must have shape (x_dim,) = ({self.x_dim},), got {tuple(t.shape)}"
            )

    def _check_x_z(self, function: str, x: Tensor, z: Tensor) -> None:
        """``x (..., x_dim)`` and ``z (..., z_dim)`` with broadcasting leading dimensions."""
        _check_last_dim(function, "x", x, self.x_dim, "x_dim")
        _check_last_dim(function, "z", z, self.z_dim, "z_dim")
        _batch_shape(function, x, z)

    def _check_x_q(self, function: str, x: Tensor, m: Tensor, v: Tensor) -> None:
        """``x (..., x_dim)`` and ``q = N(m, diag(v))`` over z, with broadcasting leading dims."""
        _check_last_dim(function, "x", x, self.x_dim, "x_dim")
        _check_q(function, m, v, self.z_dim)
        _batch_shape(function, x, m, v)

    # -- the generative model ------------------------------------------------------------

    def log_prior(self, z: Tensor) -> Tensor:
        """``log p(z) = log N(z; 0, I)``: ``z (..., z_dim)`` -> ``(...)``."""
        _check_last_dim("log_prior", "z", z, self.z_dim, "z_dim")
        return gaussian_log_density(z, torch.zeros_like(z), torch.ones_like(z))

    @abstractmethod
    def log_likelihood(self, x: Tensor, z: Tensor) -> Tensor:
        """``log p(x|z)``: ``x (..., x_dim)``, ``z (..., z_dim)`` -> the broadcast ``(...)``."""

    def log_joint(self, x: Tensor, z: Tensor) -> Tensor:
        """``log p(x, z) = log p(z) + log p(x|z)``; shapes as in ``log_likelihood``."""
        return self.log_prior(z) + self.log_likelihood(x, z)

    @abstractmethod
    def _sample_x_given(self, z: Tensor, generator: torch.Generator | None) -> Tensor:
        """One draw of x from p(x|z) for each z: ``(n, z_dim)`` -> ``(n, x_dim)``."""

    def sample(self, n: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """``n`` draws from the joint: ``(z (n, z_dim), x (n, x_dim))``, float64."""
        if int(n) != n or n < 1:
            raise ValueError(f"sample: n must be a positive integer, got {n!r}")
        z = torch.randn(n, self.z_dim, dtype=torch.float64, generator=generator)
        return z, self._sample_x_given(z, generator)

    # -- exact answers -------------------------------------------------------------------

    @abstractmethod
    def log_marginal(self, x: Tensor) -> Tensor:
        """The exact ``log p(x)``: ``(..., x_dim)`` -> ``(...)``."""

    @abstractmethod
    def elbo(self, x: Tensor, m: Tensor, v: Tensor) -> Tensor:
        """The exact ``ELBO(q)`` for ``q = N(m, diag(v))``: m, v ``(..., z_dim)`` -> ``(...)``."""

    def log_posterior(self, x: Tensor, z: Tensor) -> Tensor:
        """``log p(z|x) = log p(x, z) - log p(x)`` (Bayes' rule).

        Args:
            x: ``(..., x_dim)``.
            z: ``(..., z_dim)``; leading dimensions broadcast against those of x.

        Returns:
            Shape ``(...)``.
        """
        return self.log_joint(x, z) - self.log_marginal(x)

    def kl_to_prior(self, m: Tensor, v: Tensor) -> Tensor:
        """``KL(q || p(z))`` for ``q = N(m, diag(v))``: ``(..., z_dim)`` -> ``(...)``."""
        _check_q("kl_to_prior", m, v, self.z_dim)
        return gaussian_kl(m, v, torch.zeros_like(m), torch.ones_like(v))

    def kl_to_posterior(self, x: Tensor, m: Tensor, v: Tensor) -> Tensor:
        """The gap ``KL(q || p(z|x)) = log p(x) - ELBO(q)`` for ``q = N(m, diag(v))``.

        Args:
            x: ``(..., x_dim)``.
            m, v: mean and variance of q, each ``(..., z_dim)``.

        Returns:
            Shape ``(...)``; zero when q is the posterior.
        """
        return self.log_marginal(x) - self.elbo(x, m, v)


class DensitiesOnly:
    """A view of an exact model that offers its densities but none of its exact answers.

    It exposes ``x_dim``, ``z_dim``, ``log_prior``, ``log_likelihood``, ``log_joint`` and
    ``sample``; the closed-form ``elbo``, ``log_marginal``, ``posterior`` and the rest raise an
    AttributeError that says why. Notebook 1's tests pass it to the student's estimator, which
    must work from samples of z alone.
    """

    _ALLOWED = frozenset({"x_dim", "z_dim", "log_prior", "log_likelihood", "log_joint", "sample"})

    def __init__(self, model: ExactModel) -> None:
        self._model = model

    def __getattr__(self, name: str):
        if name in DensitiesOnly._ALLOWED:
            return getattr(self._model, name)
        raise AttributeError(
            f"{name!r} is not available here: an estimator of the ELBO must work from samples "
            "of z and the model's densities (log_prior, log_likelihood, log_joint) alone"
        )

    def __repr__(self) -> str:
        return f"DensitiesOnly({self._model!r})"


class LinearGaussianModel(ExactModel):
    """``z ~ N(0, I_{z_dim})``, ``x | z ~ N(W z + b, diag(s2))``: exact p(x) and p(z|x).

    This is factor analysis (probabilistic PCA when s2 is constant; Tipping & Bishop 1999).
    With ``P = I + W^T diag(1/s2) W`` (the posterior precision):

    - ``p(x) = N(x; b, W W^T + diag(s2))``;
    - ``p(z|x) = N(z; P^{-1} W^T diag(1/s2) (x - b), P^{-1})`` (Bishop 2006, eqs. 2.113-2.117).

    For scalar z and x (``LinearGaussianModel.scalar(a, b, s2)``) these read
    ``p(x) = N(b, a^2 + s2)`` and ``p(z|x) = N(a (x - b) / (a^2 + s2), s2 / (a^2 + s2))``.

    Args:
        weight: ``W``, shape ``(x_dim, z_dim)``.
        bias: ``b``, shape ``(x_dim,)``.
        noise_variance: ``s2``, the variance (not std) of each coordinate of x given z,
            shape ``(x_dim,)``, positive.
    """

    WEIGHT_SHAPE = ("x_dim", "z_dim")

    def __init__(self, weight, bias, noise_variance) -> None:
        super().__init__(weight, bias)
        self.noise_variance = _as_float64("noise_variance", noise_variance, 1)
        self._check_per_coordinate("noise_variance", self.noise_variance)
        if not (self.noise_variance > 0).all():
            raise ValueError(
                f"noise_variance is a variance and must be positive, got {self.noise_variance}"
            )

    @classmethod
    def scalar(cls, a: float, b: float, s2: float) -> LinearGaussianModel:
        """The one-dimensional model ``z ~ N(0, 1)``, ``x | z ~ N(a z + b, s2)`` (s2 a variance)."""
        return cls([[a]], [b], [s2])

    @property
    def z_dim(self) -> int:
        return self.weight.shape[1]

    def __repr__(self) -> str:
        return (
            f"LinearGaussianModel(x_dim={self.x_dim}, z_dim={self.z_dim}, "
            f"weight={self.weight.tolist()}, bias={self.bias.tolist()}, "
            f"noise_variance={self.noise_variance.tolist()})"
        )

    # -- the generative model ------------------------------------------------------------

    def log_likelihood(self, x: Tensor, z: Tensor) -> Tensor:
        """``log p(x|z) = log N(x; W z + b, diag(s2))``.

        Args:
            x: ``(..., x_dim)``.
            z: ``(..., z_dim)``; the leading dimensions broadcast against those of x:
                ``z (n_samples, batch, z_dim)`` with ``x (batch, x_dim)`` gives
                ``(n_samples, batch)``.

        Returns:
            Shape ``(...)``, the broadcast of the leading dimensions.
        """
        self._check_x_z("log_likelihood", x, z)
        return gaussian_log_density(x, _matvec(self.weight, z) + self.bias, self.noise_variance)

    def _sample_x_given(self, z: Tensor, generator: torch.Generator | None) -> Tensor:
        noise = torch.randn(len(z), self.x_dim, dtype=torch.float64, generator=generator)
        return _matvec(self.weight, z) + self.bias + self.noise_variance.sqrt() * noise

    # -- exact inference -----------------------------------------------------------------

    def marginal_covariance(self) -> Tensor:
        """``Cov[x] = W W^T + diag(s2)``, shape ``(x_dim, x_dim)``."""
        return self.weight @ self.weight.T + torch.diag(self.noise_variance)

    def log_marginal(self, x: Tensor) -> Tensor:
        """The exact ``log p(x) = log N(x; b, W W^T + diag(s2))``: ``(..., x_dim)`` -> ``(...)``."""
        _check_last_dim("log_marginal", "x", x, self.x_dim, "x_dim")
        chol = torch.linalg.cholesky(self.marginal_covariance())  # (x_dim, x_dim)
        r = (x - self.bias).unsqueeze(-1)  # (..., x_dim, 1)
        white = torch.linalg.solve_triangular(chol, r, upper=False).squeeze(-1)  # (..., x_dim)
        log_det = 2 * torch.log(torch.diagonal(chol)).sum()
        return -0.5 * (self.x_dim * _LOG_2PI + log_det + white.pow(2).sum(-1))

    def posterior_precision(self) -> Tensor:
        """``P = I + W^T diag(1/s2) W``, shape ``(z_dim, z_dim)``; it does not depend on x."""
        eye = torch.eye(self.z_dim, dtype=torch.float64)
        return eye + self.weight.T @ (self.weight / self.noise_variance.unsqueeze(-1))

    def posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The exact posterior ``p(z|x) = N(mean, covariance)``.

        Args:
            x: ``(..., x_dim)``.

        Returns:
            ``(mean (..., z_dim), covariance (z_dim, z_dim))``; the covariance is ``P^{-1}``,
            the same for every x.
        """
        _check_last_dim("posterior", "x", x, self.x_dim, "x_dim")
        covariance = torch.linalg.inv(self.posterior_precision())
        projected = _matvec(self.weight.T, (x - self.bias) / self.noise_variance)  # (..., z_dim)
        return _matvec(covariance, projected), covariance

    def optimal_q(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The diagonal Gaussian ``q = N(m, diag(v))`` with the largest ELBO.

        ``m`` is the posterior mean and ``v = 1 / diag(P)`` (Bishop 2006, sec. 10.1.2). When the
        posterior covariance is diagonal (always when ``z_dim == 1``) this is the posterior and
        the gap is zero; otherwise the gap ``KL(q || p(z|x)) > 0`` is what the diagonal family
        cannot represent.

        Args:
            x: ``(..., x_dim)``.

        Returns:
            ``(m, v)``, each ``(..., z_dim)``; ``v`` is a variance.
        """
        mean, _ = self.posterior(x)
        v = 1 / torch.diagonal(self.posterior_precision())  # (z_dim,)
        return mean, v.expand_as(mean)

    # -- the bound, in closed form -------------------------------------------------------

    def expected_log_likelihood(self, x: Tensor, m: Tensor, v: Tensor) -> Tensor:
        """The reconstruction term ``E_{q}[log p(x|z)]`` for ``q = N(m, diag(v))``, in closed form.

        ``log N(x; W m + b, diag(s2)) - 0.5 * sum_i (sum_j W_ij^2 v_j) / s2_i``.

        Args:
            x: ``(..., x_dim)``.
            m, v: mean and variance of q, each ``(..., z_dim)``.

        Returns:
            Shape ``(...)``, the broadcast of the leading dimensions.
        """
        self._check_x_q("expected_log_likelihood", x, m, v)
        spread = _matvec(self.weight.pow(2), v)  # Var_q[(W z)_i], (..., x_dim)
        at_mean = gaussian_log_density(x, _matvec(self.weight, m) + self.bias, self.noise_variance)
        return at_mean - 0.5 * (spread / self.noise_variance).sum(-1)

    def elbo(self, x: Tensor, m: Tensor, v: Tensor) -> Tensor:
        """The exact ``ELBO = E_q[log p(x|z)] - KL(q || p(z))`` for ``q = N(m, diag(v))``.

        Args:
            x: ``(..., x_dim)``.
            m, v: mean and variance (not std) of q, each ``(..., z_dim)``.

        Returns:
            Shape ``(...)``; never above ``log_marginal(x)``.
        """
        return self.expected_log_likelihood(x, m, v) - self.kl_to_prior(m, v)

    def kl_to_posterior(self, x: Tensor, m: Tensor, v: Tensor) -> Tensor:
        """The exact gap ``KL(q || p(z|x))`` for ``q = N(m, diag(v))``.

        With the posterior ``N(mu, P^{-1})``:
        ``0.5 * (sum_j P_jj v_j + (mu - m)^T P (mu - m) - z_dim - log det P - sum_j log v_j)``.

        Args:
            x: ``(..., x_dim)``.
            m, v: mean and variance of q, each ``(..., z_dim)``.

        Returns:
            Shape ``(...)``; zero when q is the posterior.
        """
        self._check_x_q("kl_to_posterior", x, m, v)
        precision = self.posterior_precision()  # (z_dim, z_dim)
        mean, _ = self.posterior(x)
        d = mean - m  # (..., z_dim)
        trace = (torch.diagonal(precision) * v).sum(-1)
        mahalanobis = (d * _matvec(precision, d)).sum(-1)
        log_det = torch.logdet(precision)
        return 0.5 * (trace + mahalanobis - self.z_dim - log_det - torch.log(v).sum(-1))


class LogisticModel(ExactModel):
    """``z ~ N(0, 1)``, ``x_d | z ~ Bernoulli(sigmoid(w_d z + c_d))`` for ``d = 1..x_dim``.

    A one-dimensional relative of the VAE's Bernoulli decoder. The posterior ``p(z|x)`` is not
    Gaussian, so the best Gaussian q leaves a gap. Exact values are computed numerically:

    - ``log p(x) = log int p(x, z) dz`` by the trapezoidal rule on ``grid`` (a dense, uniform
      grid wide enough that the prior's mass outside it is negligible);
    - ``E_q[log p(x, z)]`` for ``q = N(m, v)`` by the trapezoidal rule in the standardized
      variable ``t = (z - m) / sqrt(v)`` on ``n_expectation`` points of ``[-8, 8]``. For smooth,
      fast-decaying integrands the rule converges exponentially in the number of points
      (Trefethen & Weideman 2014), to about 1e-12 here.

    Args:
        weight: ``w``, shape ``(x_dim,)``.
        bias: ``c``, shape ``(x_dim,)``.
        grid: the quadrature grid over z, shape ``(n_grid,)``, increasing and uniform;
            default ``linspace(-10, 10, 4001)``.
        n_expectation: the number of points of the standardized grid for expectations under q.
    """

    WEIGHT_SHAPE = ("x_dim",)
    z_dim = 1

    def __init__(self, weight, bias, grid: Tensor | None = None, n_expectation: int = 801) -> None:
        super().__init__(weight, bias)
        if grid is None:
            grid = torch.linspace(-10, 10, 4001, dtype=torch.float64)
        self.grid = _as_float64("grid", grid, 1)
        steps = self.grid.diff()
        if self.grid.numel() < 3 or not (steps > 0).all():
            raise ValueError("grid must hold at least 3 increasing points")
        if not torch.allclose(steps, steps.mean(), rtol=1e-6, atol=0):
            raise ValueError("grid must be uniform (equally spaced points)")
        if int(n_expectation) != n_expectation or n_expectation < 3:
            raise ValueError(f"n_expectation must be an integer >= 3, got {n_expectation!r}")
        # E[f(t)] for t ~ N(0, 1) as sum_k weights_k f(nodes_k): trapezoidal rule on [-8, 8]
        self._nodes = torch.linspace(-8, 8, int(n_expectation), dtype=torch.float64)
        weights = Normal(0.0, 1.0).log_prob(self._nodes).exp() * (16 / (n_expectation - 1))
        weights[0] /= 2
        weights[-1] /= 2
        self._weights = weights  # (n_expectation,)

    def __repr__(self) -> str:
        return (
            f"LogisticModel(x_dim={self.x_dim}, weight={self.weight.tolist()}, "
            f"bias={self.bias.tolist()})"
        )

    # -- the generative model ------------------------------------------------------------

    def log_likelihood(self, x: Tensor, z: Tensor) -> Tensor:
        """``log p(x|z) = sum_d log Bernoulli(x_d; sigmoid(w_d z + c_d))``.

        Args:
            x: ``(..., x_dim)`` in ``{0, 1}``.
            z: ``(..., 1)``; leading dimensions broadcast against those of x.

        Returns:
            Shape ``(...)``, the broadcast of the leading dimensions.
        """
        self._check_x_z("log_likelihood", x, z)
        return bernoulli_log_likelihood(x, z * self.weight + self.bias)

    def _sample_x_given(self, z: Tensor, generator: torch.Generator | None) -> Tensor:
        """x in ``{0, 1}``."""
        return torch.bernoulli(torch.sigmoid(z * self.weight + self.bias), generator=generator)

    # -- exact inference, by quadrature --------------------------------------------------

    def _log_joint_on_grid(self, x: Tensor) -> Tensor:
        """``log p(x, z)`` at every grid point: ``x (..., x_dim)`` -> ``(..., n_grid)``."""
        _check_last_dim("log_marginal", "x", x, self.x_dim, "x_dim")
        z = self.grid.unsqueeze(-1)  # (n_grid, 1)
        return self.log_joint(x.unsqueeze(-2), z)  # (..., 1, x_dim) with (n_grid, 1)

    def log_marginal(self, x: Tensor) -> Tensor:
        """``log p(x) = log int p(x, z) dz`` (trapezoidal rule): ``x (..., x_dim)`` -> ``(...)``."""
        log_joint = self._log_joint_on_grid(x)  # (..., n_grid)
        step = (self.grid[-1] - self.grid[0]) / (self.grid.numel() - 1)
        log_w = torch.full_like(self.grid, math.log(step))
        log_w[0] = log_w[-1] = math.log(step / 2)
        return torch.logsumexp(log_joint + log_w, dim=-1)

    def posterior_on_grid(self, x: Tensor) -> Tensor:
        """The density ``p(z|x)`` at the grid points: ``x (..., x_dim)`` -> ``(..., n_grid)``."""
        log_joint = self._log_joint_on_grid(x)
        return torch.exp(log_joint - self.log_marginal(x).unsqueeze(-1))

    # -- the bound, by quadrature --------------------------------------------------------

    def elbo(self, x: Tensor, m: Tensor, v: Tensor) -> Tensor:
        """``ELBO = E_q[log p(x, z)] + H[q]`` for ``q = N(m, v)``; differentiable in m and v.

        The expectation is taken at ``z_k = m + sqrt(v) t_k`` on the standardized grid; the
        entropy of a Gaussian is ``0.5 * log(2 pi e v)``.

        Args:
            x: ``(..., x_dim)``.
            m, v: mean and variance (not std) of q, each ``(..., 1)``.

        Returns:
            Shape ``(...)``; never above ``log_marginal(x)`` (up to quadrature error).
        """
        self._check_x_q("elbo", x, m, v)
        t = self._nodes.unsqueeze(-1)  # (n_expectation, 1)
        z = m.unsqueeze(-2) + v.sqrt().unsqueeze(-2) * t  # (..., n_expectation, 1)
        log_joint = self.log_joint(x.unsqueeze(-2), z)  # (..., n_expectation)
        expected = (self._weights * log_joint).sum(-1)
        entropy = 0.5 * (torch.log(v) + _LOG_2PI + 1).sum(-1)
        return expected + entropy
