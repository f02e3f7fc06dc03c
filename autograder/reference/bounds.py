"""The reference implementation of the exercises of notebooks 2 to 4 (the four densities and
the two bounds of the VAE, the mixture density and the two bounds of the GMVAE): the
instructor's, never shipped to students.

``install()`` attaches all nine over the stubs of ``course_utils`` (the densities to
``course_utils.distributions``, the bounds to ``VAE`` and ``GMVAE``), as the notebooks'
solution cells do; ``uninstall()`` restores the stubs. Used by the tests of course_utils, the
reference values of the hidden tests, the checkpoints, the smoke run and the benchmark."""

import math

import torch
import torch.nn.functional as F

from course_utils import distributions
from course_utils.distributions import duplicate, gaussian_parameters
from course_utils.models import GMVAE, VAE


def sample_gaussian(m, v):
    return m + torch.sqrt(v) * torch.randn_like(m)


def log_normal(x, m, v):
    element_wise = -0.5 * (math.log(2 * math.pi) + torch.log(v) + (x - m).pow(2) / v)
    return element_wise.sum(-1)


def kl_normal(qm, qv, pm, pv):
    element_wise = 0.5 * (torch.log(pv) - torch.log(qv) + qv / pv + (qm - pm).pow(2) / pv - 1)
    return element_wise.sum(-1)


def log_bernoulli_with_logits(x, logits):
    x, logits = torch.broadcast_tensors(x, logits)
    return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)


def negative_elbo_bound(self, x):
    m, v = self.enc(x)
    z = sample_gaussian(m, v)
    rec = -log_bernoulli_with_logits(x, self.dec(z))
    kl = kl_normal(m, v, self.z_prior_m, self.z_prior_v)
    return (kl + rec).mean(), kl.mean(), rec.mean()


def _iwae_terms(log_px_z, log_pz, log_qz, iw):
    """The negative IWAE bound and the ELBO's terms, batch means, from the log densities at
    the ``iw * batch`` samples (each ``(iw * batch,)``, sample-major as ``duplicate`` repeats)."""
    log_w = (log_px_z + log_pz - log_qz).reshape(iw, -1)  # (iw * batch,) -> (iw, batch)
    niwae = -(torch.logsumexp(log_w, 0) - math.log(iw))
    kl = (log_qz - log_pz).reshape(iw, -1).mean(0)
    rec = -log_px_z.reshape(iw, -1).mean(0)
    return niwae.mean(), kl.mean(), rec.mean()


def negative_iwae_bound(self, x, iw):
    m, v = self.enc(x)
    m, v, x_rep = duplicate(m, iw), duplicate(v, iw), duplicate(x, iw)
    z = sample_gaussian(m, v)  # (iw * batch, z_dim)
    log_px_z = log_bernoulli_with_logits(x_rep, self.dec(z))
    log_pz = log_normal(z, self.z_prior_m, self.z_prior_v)
    log_qz = log_normal(z, m, v)
    return _iwae_terms(log_px_z, log_pz, log_qz, iw)


def log_normal_mixture(z, m, v):
    log_components = log_normal(z.unsqueeze(-2), m, v)  # (batch, 1, dim) vs (batch, mix, dim)
    return torch.logsumexp(log_components, dim=-1) - math.log(m.size(-2))


def gmvae_negative_elbo_bound(self, x):
    m, v = self.enc(x)
    z = sample_gaussian(m, v)  # (batch, z_dim)
    prior_m, prior_v = gaussian_parameters(self.z_pre, dim=1)  # (1, k, z_dim) each
    rec = -log_bernoulli_with_logits(x, self.dec(z))
    kl = log_normal(z, m, v) - log_normal_mixture(z, prior_m, prior_v)
    return (kl + rec).mean(), kl.mean(), rec.mean()


def gmvae_negative_iwae_bound(self, x, iw):
    m, v = self.enc(x)
    m, v, x_rep = duplicate(m, iw), duplicate(v, iw), duplicate(x, iw)
    z = sample_gaussian(m, v)  # (iw * batch, z_dim)
    prior_m, prior_v = gaussian_parameters(self.z_pre, dim=1)
    log_px_z = log_bernoulli_with_logits(x_rep, self.dec(z))
    log_pz = log_normal_mixture(z, prior_m, prior_v)
    log_qz = log_normal(z, m, v)
    return _iwae_terms(log_px_z, log_pz, log_qz, iw)


#: The reference functions installed over the stubs: the densities of notebook 2 (in
#: ``course_utils.distributions``), the VAE's bounds, the mixture density of notebook 4 and
#: the GMVAE's bounds (class -> method -> reference function).
DENSITIES = ("sample_gaussian", "log_normal", "kl_normal", "log_bernoulli_with_logits")
MIXTURE = ("log_normal_mixture",)
BOUNDS = ("negative_elbo_bound", "negative_iwae_bound")
METHODS = {
    VAE: {name: globals()[name] for name in BOUNDS},
    GMVAE: {name: globals()[f"gmvae_{name}"] for name in BOUNDS},
}
STUBS = {name: getattr(distributions, name) for name in DENSITIES + MIXTURE}
METHOD_STUBS = {cls: {name: cls.__dict__[name] for name in BOUNDS} for cls in METHODS}


def install() -> None:
    """Attach the reference densities to course_utils.distributions and the bounds to VAE and
    GMVAE."""
    for name in DENSITIES + MIXTURE:
        setattr(distributions, name, globals()[name])
    for cls, methods in METHODS.items():
        for name, function in methods.items():
            setattr(cls, name, function)


def uninstall() -> None:
    """Restore the stubs."""
    for name, stub in STUBS.items():
        setattr(distributions, name, stub)
    for cls, stubs in METHOD_STUBS.items():
        for name, stub in stubs.items():
            setattr(cls, name, stub)
