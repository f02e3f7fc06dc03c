"""The variational autoencoders of the course (the models of Stanford CS236's VAE homework):
``VAE``, with a standard normal prior, and ``GMVAE``, with a learned mixture-of-Gaussians prior.

Their bounds, ``negative_elbo_bound`` and ``negative_iwae_bound``, are declared here and
implemented by the student in the notebooks (the VAE's in notebooks 2 and 3, the GMVAE's in
notebook 4)::

    @add_to_class(VAE)
    def negative_elbo_bound(self, x):
        ...

Also here: the priors as objects (``GaussianPrior``, ``MixturePrior``), the VAE seen as a
GMVAE with one fixed component (``one_component_gmvae``), and what the figures and widgets
compute from a trained model (``encode_means``, ``decode_means``).
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from torch.distributions import Categorical, Independent, MixtureSameFamily, Normal

from course_utils.data import check_images
from course_utils.distributions import gaussian_parameters
from course_utils.networks import architecture
from course_utils.stubs import add_to_class, not_implemented

__all__ = [
    "GMVAE",
    "VAE",
    "GaussianPrior",
    "MixturePrior",
    "add_to_class",
    "check_latent_2d",
    "check_objective",
    "decode_means",
    "encode_means",
    "one_component_gmvae",
]


def check_objective(iw: int, beta: float) -> None:
    """Raise a ValueError unless ``VAE.loss(x, iw, beta)`` defines an objective.

    ``beta`` weights the KL term of the ELBO, so it must be finite and ``>= 0``, and 1
    whenever ``iw > 1`` (the IWAE bound has no separate KL term to weight).
    """
    if not (math.isfinite(beta) and beta >= 0):
        raise ValueError(f"beta weights the KL term and must be finite and >= 0, got {beta!r}")
    if iw != 1 and beta != 1:
        raise ValueError(
            f"beta={beta!r} with iw={iw}: beta weights the KL term of the ELBO (iw=1); the "
            "IWAE bound has no separate KL term to weight, so use beta=1 with iw > 1"
        )


@dataclass(frozen=True)
class GaussianPrior:
    """The prior ``p(z) = N(z; m, diag(v))`` over ``z_dim`` latent dimensions.

    What a model needs from its prior: the log density of latents (``log_prob``) and draws
    from it (``sample``). A model builds this object from its own tensors each time it is
    asked (``VAE.prior``), so it always reads the model's current buffers, whatever their
    device or dtype, and a prior with learned parameters keeps its autograd graph.

    Attributes:
        m: mean, shape ``(z_dim,)`` or ``(1,)``, broadcasting against ``(batch, z_dim)``.
        v: variance (not std, not log-variance), the same shape as ``m``, positive.
        z_dim: the latent dimension.
    """

    m: Tensor
    v: Tensor
    z_dim: int

    def log_prob(self, z: Tensor) -> Tensor:
        """``log p(z)``, summed over the latent dimensions: ``(..., z_dim)`` -> ``(...)``.

        Computed in the dtype of ``z`` (the prior's parameters are cast to it), so float64
        latents give a float64 density throughout.
        """
        if z.dim() == 0 or z.shape[-1] != self.z_dim:
            raise ValueError(
                f"the prior is over z_dim={self.z_dim} dimensions; "
                f"got latents of shape {tuple(z.shape)}"
            )
        return self._normal(z.dtype).log_prob(z).sum(-1)

    def sample(self, n: int) -> Tensor:
        """``n`` reparameterized draws from the prior: shape ``(n, z_dim)``."""
        if int(n) != n or n < 0:
            raise ValueError(f"the number of draws must be a non-negative integer, got {n!r}")
        return self._normal(self.m.dtype).expand((n, self.z_dim)).rsample()

    def _normal(self, dtype: torch.dtype) -> Normal:
        """The prior per dimension as ``torch.distributions``, whose scale is ``sqrt(v)``."""
        return Normal(self.m.to(dtype), self.v.to(dtype).sqrt())


class VAE(torch.nn.Module):
    """A VAE with a standard normal prior, Gaussian q(z|x) and Bernoulli p(x|z).

    The argument ``nn`` keeps the name of CS236's constructor; inside this module ``torch.nn``
    is always written in full, so the parameter shadows nothing.

    Args:
        nn: architecture name in ``course_utils.networks.ARCHITECTURES`` (``'v1'``).
        name: a label used for checkpoints and plots.
        z_dim: latent dimension.

    Attributes:
        enc: ``x (..., 784)`` -> ``(m, v)`` of q(z|x), each ``(..., z_dim)``, v a variance.
        dec: ``z (..., z_dim)`` -> Bernoulli logits ``(..., 784)``; leading dimensions
            pass through, so ``(iw, batch, z_dim)`` samples decode in one call.
        z_prior_m, z_prior_v: prior mean 0 and variance 1, buffers of shape ``(1,)``
            that broadcast against ``(batch, z_dim)`` (saved in the state dict under
            these names).
        prior: the ``GaussianPrior`` these buffers define.
    """

    def __init__(self, nn: str = "v1", name: str = "vae", z_dim: int = 2) -> None:
        super().__init__()
        if int(z_dim) != z_dim or z_dim < 1:
            raise ValueError(f"z_dim must be a positive integer, got {z_dim!r}")
        self.arch = nn
        self.name = name
        self.z_dim = int(z_dim)
        encoder, decoder = architecture(nn)
        self.enc = encoder(self.z_dim)
        self.dec = decoder(self.z_dim)
        self.register_buffer("z_prior_m", torch.zeros(1))
        self.register_buffer("z_prior_v", torch.ones(1))

    @property
    def prior(self) -> GaussianPrior:
        """p(z), built from ``z_prior_m`` and ``z_prior_v`` as they are now."""
        return GaussianPrior(self.z_prior_m, self.z_prior_v, self.z_dim)

    @property
    def z_prior(self) -> tuple[Tensor, Tensor]:
        """``(z_prior_m, z_prior_v)``, the name CS236's code gives the prior's parameters."""
        return self.z_prior_m, self.z_prior_v

    def negative_elbo_bound(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The negative ELBO with one sample of z, and its two terms.

        Args:
            x: binarized images, shape ``(batch, 784)`` in ``{0, 1}``.

        Returns:
            ``(nelbo, kl, rec)``, each a scalar: batch means of
            ``KL(q(z|x) || p(z))`` (closed form), ``rec = -log p(x|z)`` with
            ``z ~ q(z|x)``, and ``nelbo = kl + rec``.
        """
        raise not_implemented("VAE", "negative_elbo_bound", "@add_to_class(VAE)")

    def negative_iwae_bound(self, x: Tensor, iw: int) -> tuple[Tensor, Tensor, Tensor]:
        """The negative importance-weighted bound with ``iw`` samples (Burda et al. 2016, eq. 8).

        Args:
            x: binarized images, shape ``(batch, 784)`` in ``{0, 1}``.
            iw: the number of importance samples per image.

        Returns:
            ``(niwae, kl, rec)``, each a scalar batch mean: ``niwae = -log mean_i w_i``
            with ``w_i = p(x, z_i) / q(z_i | x)``, and the ELBO's ``kl`` and ``rec``
            estimated over the same samples.
        """
        raise not_implemented("VAE", "negative_iwae_bound", "@add_to_class(VAE)")

    def loss(self, x: Tensor, iw: int = 1, beta: float = 1.0) -> tuple[Tensor, dict[str, Tensor]]:
        """The training loss and its summaries: the negative ELBO with its KL term weighted
        by ``beta``, or with ``iw > 1`` the negative IWAE bound with ``iw`` samples.

        With ``iw == 1`` the loss is ``rec + beta * kl``: ``beta = 1`` is the negative ELBO,
        other values the beta-VAE objective (Higgins et al. 2017, eq. 4), which trades
        reconstruction (``beta < 1``) against closeness to the prior (``beta > 1``). With
        ``iw > 1`` the loss is the negative IWAE bound (Burda et al. 2016, sec. 3); it has no
        separate KL term to weight (its ``kl`` is a diagnostic over the same samples), so
        ``beta`` must be 1 there.

        Args:
            x: binarized images, shape ``(batch, 784)``.
            iw: importance samples per image; 1 trains the plain VAE.
            beta: the weight of the KL term, ``>= 0``; only 1 when ``iw > 1``.

        Returns:
            ``(loss, summaries)``; summaries has ``train/loss`` (the loss), ``gen/elbo``,
            ``gen/kl_z`` and ``gen/rec`` (and ``gen/iwae`` when ``iw > 1``), each a scalar
            tensor. ``gen/elbo`` is the ELBO ``-(kl + rec)`` whatever ``beta``; with
            ``iw > 1`` it is taken over the IWAE bound's samples.
        """
        check_objective(iw, beta)
        if iw == 1:
            nelbo, kl, rec = self.negative_elbo_bound(x)
            # beta = 1 keeps the bound's own sum, so the plain VAE trains exactly as before
            loss = nelbo if beta == 1 else rec + beta * kl
            extra = {}
        else:
            loss, kl, rec = self.negative_iwae_bound(x, iw)
            extra = {"gen/iwae": -loss}
        summaries = {
            "train/loss": loss,
            "gen/elbo": -(kl + rec),
            "gen/kl_z": kl,
            "gen/rec": rec,
            **extra,
        }
        return loss, summaries

    def sample_z(self, batch: int) -> Tensor:
        """``batch`` draws from the prior: shape ``(batch, z_dim)``."""
        return self.prior.sample(batch)

    def compute_sigmoid_given(self, z: Tensor) -> Tensor:
        """Bernoulli means ``sigmoid(dec(z))``: ``(batch, z_dim)`` -> ``(batch, 784)``."""
        return torch.sigmoid(self.dec(z))

    def sample_sigmoid(self, batch: int) -> Tensor:
        """Bernoulli means for ``batch`` prior draws: shape ``(batch, 784)`` in ``(0, 1)``."""
        return self.compute_sigmoid_given(self.sample_z(batch))

    def sample_x_given(self, z: Tensor) -> Tensor:
        """Binary images drawn from p(x | z): ``(batch, z_dim)`` -> ``(batch, 784)``."""
        return torch.bernoulli(self.compute_sigmoid_given(z))

    def sample_x(self, batch: int) -> Tensor:
        """``batch`` binary images from the model: shape ``(batch, 784)``."""
        return self.sample_x_given(self.sample_z(batch))

    def extra_repr(self) -> str:
        return f"nn={self.arch!r}, name={self.name!r}, z_dim={self.z_dim}"


@dataclass(frozen=True)
class MixturePrior:
    """The prior ``p(z) = (1 / k) sum_j N(z; m_j, diag(v_j))``: an equally weighted mixture of
    ``k`` diagonal Gaussians over ``z_dim`` latent dimensions.

    Built from the model's parameters each time it is asked (``GMVAE.prior``), so it keeps
    their autograd graph: draws and log densities are differentiable in ``m`` and ``v``.

    Attributes:
        m: the components' means, shape ``(k, z_dim)``.
        v: their variances (not std, not log-variance), shape ``(k, z_dim)``, positive.
        z_dim: the latent dimension.
    """

    m: Tensor
    v: Tensor
    z_dim: int

    @property
    def k(self) -> int:
        """The number of components."""
        return len(self.m)

    def log_prob(self, z: Tensor) -> Tensor:
        """``log p(z)``: ``(..., z_dim)`` -> ``(...)``, computed in the dtype of ``z``."""
        if z.dim() == 0 or z.shape[-1] != self.z_dim:
            raise ValueError(
                f"the prior is over z_dim={self.z_dim} dimensions; "
                f"got latents of shape {tuple(z.shape)}"
            )
        m, v = self.m.to(z.dtype), self.v.to(z.dtype)
        weights = Categorical(logits=torch.zeros(self.k, dtype=z.dtype, device=z.device))
        components = Independent(Normal(m, v.sqrt()), 1)
        return MixtureSameFamily(weights, components).log_prob(z)

    def sample(self, n: int) -> Tensor:
        """``n`` draws: a component chosen uniformly, then a reparameterized draw from it
        (differentiable in ``m`` and ``v``). Shape ``(n, z_dim)``."""
        if int(n) != n or n < 0:
            raise ValueError(f"the number of draws must be a non-negative integer, got {n!r}")
        return self.sample_component(torch.randint(self.k, (int(n),), device=self.m.device))

    def sample_component(self, components: Tensor) -> Tensor:
        """One reparameterized draw from each of the given components: ``components`` ``(n,)``
        integer indices -> ``(n, z_dim)``."""
        m, v = self.m[components], self.v[components]  # (n, z_dim) each
        return m + v.sqrt() * torch.randn_like(m)


class GMVAE(VAE):
    """A VAE whose prior is a learned mixture of ``k`` Gaussians (CS236's GMVAE).

    The prior's parameters are ``z_pre``, of shape ``(1, 2 k, z_dim)``, trained with the rest
    of the model; ``gaussian_parameters(self.z_pre, dim=1)`` reads them as the components'
    means and variances, each ``(1, k, z_dim)`` (softplus + 1e-8 for the variances). The
    components are equally weighted. The encoder and decoder are the VAE's.

    Args:
        nn: architecture name in ``course_utils.networks.ARCHITECTURES`` (``'v1'``).
        name: a label used for checkpoints and plots.
        z_dim: latent dimension.
        k: the number of mixture components.

    Attributes:
        z_pre: the prior's parameters, a ``torch.nn.Parameter`` ``(1, 2 k, z_dim)``,
            initialized as in CS236: standard normal draws divided by ``sqrt(k z_dim)``.
        prior: the ``MixturePrior`` they define.
    """

    def __init__(self, nn: str = "v1", name: str = "gmvae", z_dim: int = 2, k: int = 500) -> None:
        super().__init__(nn=nn, name=name, z_dim=z_dim)
        if int(k) != k or k < 1:
            raise ValueError(f"k (the number of components) must be a positive integer, got {k!r}")
        self.k = int(k)
        del self.z_prior_m, self.z_prior_v  # the VAE's N(0, I) buffers: this prior is learned
        pre = torch.randn(1, 2 * self.k, self.z_dim) / math.sqrt(self.k * self.z_dim)
        self.z_pre = torch.nn.Parameter(pre)

    @property
    def z_prior(self) -> tuple[Tensor, Tensor]:
        """The components' means and variances, each ``(1, k, z_dim)``."""
        return gaussian_parameters(self.z_pre, dim=1)

    @property
    def prior(self) -> MixturePrior:
        """p(z), built from ``z_pre`` as it is now (with its autograd graph)."""
        m, v = self.z_prior
        return MixturePrior(m[0], v[0], self.z_dim)

    def negative_elbo_bound(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The negative ELBO with one sample of z, its KL term a Monte Carlo estimate.

        Args:
            x: binarized images, shape ``(batch, 784)`` in ``{0, 1}``.

        Returns:
            ``(nelbo, kl, rec)``, each a scalar: batch means of
            ``kl = log q(z|x) - log p(z)`` and ``rec = -log p(x|z)`` at one sample
            ``z ~ q(z|x)`` (the mixture has no closed-form KL), and ``nelbo = kl + rec``.
        """
        raise not_implemented("GMVAE", "negative_elbo_bound", "@add_to_class(GMVAE)")

    def negative_iwae_bound(self, x: Tensor, iw: int) -> tuple[Tensor, Tensor, Tensor]:
        """The negative importance-weighted bound with ``iw`` samples, under the mixture prior.

        Args:
            x: binarized images, shape ``(batch, 784)`` in ``{0, 1}``.
            iw: the number of importance samples per image.

        Returns:
            ``(niwae, kl, rec)``, each a scalar batch mean, as ``VAE.negative_iwae_bound``
            with ``log p(z)`` the mixture's.
        """
        raise not_implemented("GMVAE", "negative_iwae_bound", "@add_to_class(GMVAE)")

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, k={self.k}"


#: VAE -> the one-component GMVAE sharing its networks (made once per model).
_ONE_COMPONENT: weakref.WeakKeyDictionary[VAE, GMVAE] = weakref.WeakKeyDictionary()


def one_component_gmvae(model: VAE) -> GMVAE:
    """``model``'s N(0, I) prior as a mixture of one component: a ``GMVAE`` with ``k = 1``
    whose ``z_pre`` is fixed (no gradient) at mean 0 and variance 1, and whose encoder and
    decoder *are* ``model``'s (shared modules, so training one trains the other).

    A GMVAE bound computed on it is the VAE's bound, its KL a Monte Carlo estimate; notebook 4
    attaches the VAE's bounds this way. Made once per model, then reused.
    """
    if isinstance(model, GMVAE):
        raise TypeError(f"{model.name!r} is a GMVAE already; its prior is its own")
    view = _ONE_COMPONENT.get(model)
    if view is None:
        view = GMVAE(nn=model.arch, name=model.name, z_dim=model.z_dim, k=1)
        view.enc, view.dec = model.enc, model.dec
        view.z_pre.requires_grad_(False)
        _ONE_COMPONENT[model] = view
    with torch.no_grad():  # on the device of the model's buffers, whichever it is now
        m = model.z_prior_m.expand(model.z_dim)
        v = model.z_prior_v.expand(model.z_dim) - 1e-8  # softplus(h) + 1e-8 = the prior's v
        h = v + torch.log(-torch.expm1(-v))  # the inverse of softplus
        view.z_pre.data = torch.stack([m, h]).unsqueeze(0)  # (1, 2, z_dim)
    return view


# What a trained model maps images and latents to, for pictures and widgets


def _device(model: VAE) -> torch.device:
    return next(model.parameters()).device


def check_latent_2d(model: VAE, caller: str) -> None:
    """Raise a ValueError naming ``caller`` unless ``model`` has a latent plane to draw."""
    if model.z_dim != 2:
        raise ValueError(
            f"{caller} needs a model with z_dim=2 (a latent plane it can draw), "
            f"got {model.name!r} with z_dim={model.z_dim}; train a VAE(z_dim=2) for it"
        )


@torch.no_grad()
def encode_means(model: VAE, x: Tensor, *, batch_size: int = 1000) -> Tensor:
    """The means of q(z | x), computed in batches without autograd.

    Args:
        model: the VAE.
        x: ``(n, 784)`` in [0, 1], on any device.
        batch_size: images per encoder call.

    Returns:
        ``(n, z_dim)`` float tensor on the CPU.
    """
    check_images(x, "encode_means")
    device = _device(model)
    chunks = (x[i : i + batch_size].to(device) for i in range(0, len(x), batch_size))
    means = [model.enc(chunk)[0].cpu() for chunk in chunks]
    return torch.cat(means) if means else torch.empty(0, model.z_dim)


@torch.no_grad()
def decode_means(model: VAE, z: Tensor | np.ndarray) -> Tensor:
    """Bernoulli means ``sigmoid(dec(z))`` without autograd.

    ``z``: ``(n, z_dim)`` tensor or array -> ``(n, 784)`` float tensor on the CPU.
    """
    z = torch.as_tensor(z, dtype=torch.float32, device=_device(model))
    return model.compute_sigmoid_given(z).cpu()
