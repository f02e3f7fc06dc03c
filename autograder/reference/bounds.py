"""The reference implementation of the exercises of notebooks 2 and 3 (the four densities and
the two bounds): the instructor's, never shipped to students.

``install()`` attaches all six over the stubs of ``course_utils`` (the densities to
``course_utils.distributions``, the bounds to ``VAE``), as the notebooks' solution cells do;
``uninstall()`` restores the stubs. Used by the tests of course_utils, the reference values
of the hidden tests, the checkpoints, the smoke run and the benchmark."""

import math

import torch
import torch.nn.functional as F

from course_utils import distributions
from course_utils.distributions import duplicate
from course_utils.models import VAE


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


def negative_iwae_bound(self, x, iw):
    m, v = self.enc(x)
    m, v, x_rep = duplicate(m, iw), duplicate(v, iw), duplicate(x, iw)
    z = sample_gaussian(m, v)  # (iw * batch, z_dim)
    log_px_z = log_bernoulli_with_logits(x_rep, self.dec(z))
    log_pz = log_normal(z, self.z_prior_m, self.z_prior_v)
    log_qz = log_normal(z, m, v)
    log_w = (log_px_z + log_pz - log_qz).reshape(iw, -1)  # (iw * batch,) -> (iw, batch)
    niwae = -(torch.logsumexp(log_w, 0) - math.log(iw))
    kl = (log_qz - log_pz).reshape(iw, -1).mean(0)
    rec = -log_px_z.reshape(iw, -1).mean(0)
    return niwae.mean(), kl.mean(), rec.mean()


#: Module of the stub -> the names of the reference functions installed over it.
DENSITIES = ("sample_gaussian", "log_normal", "kl_normal", "log_bernoulli_with_logits")
BOUNDS = ("negative_elbo_bound", "negative_iwae_bound")
STUBS = {
    **{name: getattr(distributions, name) for name in DENSITIES},
    **{name: getattr(VAE, name) for name in BOUNDS},
}


def install() -> None:
    """Attach the reference densities to course_utils.distributions and the bounds to VAE."""
    for name in DENSITIES:
        setattr(distributions, name, globals()[name])
    for name in BOUNDS:
        setattr(VAE, name, globals()[name])


def uninstall() -> None:
    """Restore the stubs."""
    for name in DENSITIES:
        setattr(distributions, name, STUBS[name])
    for name in BOUNDS:
        setattr(VAE, name, STUBS[name])
