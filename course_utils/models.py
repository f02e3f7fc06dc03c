"""The variational autoencoder of the course (the model of Stanford CS236's VAE homework).

The two bounds, ``negative_elbo_bound`` and ``negative_iwae_bound``, are declared
here and implemented by the student in the notebooks::

    @add_to_class(VAE)
    def negative_elbo_bound(self, x):
        ...
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import TypeVar

import torch
from torch import Tensor, nn

from course_utils.distributions import sample_gaussian
from course_utils.exercises import exercise
from course_utils.networks import architecture

__all__ = ["VAE", "add_to_class"]

F = TypeVar("F", bound=Callable)


def _not_implemented(method: str) -> NotImplementedError:
    """The error of a declared method the student has not written yet, naming where to."""
    where = exercise(method)
    return NotImplementedError(
        f"VAE.{method} is not implemented yet: write it in notebook {where.notebook}.ipynb, "
        f"'{where.title}', and run that cell (it attaches your function with @add_to_class(VAE))."
    )


def add_to_class(cls: type) -> Callable[[F], F]:
    """Attach the decorated function to ``cls`` as the method of the same name.

    The method must already be declared in ``cls`` (as the bounds are in ``VAE``), so
    a misspelt name fails here instead of silently adding a second method.
    The idea is d2l's ``add_to_class`` (Zhang et al., Dive into Deep Learning, sec. 3.2).
    """

    def attach(function: F) -> F:
        name = function.__name__
        if not hasattr(cls, name):
            close = difflib.get_close_matches(name, dir(cls), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise AttributeError(f"{cls.__name__} declares no method {name!r} to implement{hint}")
        setattr(cls, name, function)
        return function

    return attach


class VAE(nn.Module):
    """A VAE with a standard normal prior, Gaussian q(z|x) and Bernoulli p(x|z).

    Args:
        nn: architecture name in ``course_utils.networks.ARCHITECTURES`` (``'v1'``).
        name: a label used for checkpoints and plots.
        z_dim: latent dimension.

    Attributes:
        enc: ``x (batch, 784)`` -> ``(m, v)`` of q(z|x), each ``(batch, z_dim)``, v a variance.
        dec: ``z (batch, z_dim)`` -> Bernoulli logits ``(batch, 784)``.
        z_prior_m, z_prior_v: prior mean 0 and variance 1, buffers of shape ``(1,)``
            that broadcast against ``(batch, z_dim)``.
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
    def z_prior(self) -> tuple[Tensor, Tensor]:
        """``(z_prior_m, z_prior_v)``: mean and variance of p(z)."""
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
        raise _not_implemented("negative_elbo_bound")

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
        raise _not_implemented("negative_iwae_bound")

    def loss(self, x: Tensor, iw: int = 1) -> tuple[Tensor, dict[str, Tensor]]:
        """The training loss and its summaries: the negative ELBO, or with ``iw > 1``
        the negative IWAE bound with ``iw`` samples (Burda et al. 2016, sec. 3).

        Args:
            x: binarized images, shape ``(batch, 784)``.
            iw: importance samples per image; 1 trains the plain VAE.

        Returns:
            ``(loss, summaries)``; summaries has ``train/loss``, ``gen/elbo``,
            ``gen/kl_z`` and ``gen/rec`` (and ``gen/iwae`` when ``iw > 1``), each a
            scalar tensor. With ``iw > 1``, ``gen/elbo`` is ``-(kl + rec)`` over the
            same samples.
        """
        if iw == 1:
            loss, kl, rec = self.negative_elbo_bound(x)
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
        m, v = (p.expand(batch, self.z_dim) for p in self.z_prior)
        return sample_gaussian(m, v)

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
