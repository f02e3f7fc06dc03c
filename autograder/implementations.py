"""Students' implementations of the bounds: correct variants and the known mistakes.

Each entry is the source of a notebook solution cell (it attaches the function with
``@add_to_class(VAE)``) and the grading checks it must fail, each with a fragment of
the message that names the mistake. Correct variants fail nothing. The tests grade
every entry; the example submissions of the autograder are made from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PRELUDE = """\
import math
import torch
import torch.nn.functional as F
from torch.distributions import Bernoulli, Independent, Normal, kl_divergence
from course_utils.distributions import (
    duplicate, kl_normal, log_bernoulli_with_logits, log_mean_exp, log_normal, sample_gaussian,
)
from course_utils.models import VAE, add_to_class
"""


@dataclass(frozen=True)
class Implementation:
    """A solution cell and what grading must say of it.

    Attributes:
        source: the cell's code, defining the method with ``@add_to_class(VAE)``.
        fails: check name -> a fragment of its failure message; empty when correct.
    """

    source: str
    fails: dict[str, str] = field(default_factory=dict)


def _elbo(body: str) -> str:
    return (
        "@add_to_class(VAE)\ndef negative_elbo_bound(self, x):\n"
        + "\n".join("    " + line for line in body.strip().splitlines())
        + "\n"
    )


ELBO = {
    "correct_sample_gaussian": Implementation(
        _elbo("""
m, v = self.enc(x)
z = sample_gaussian(m, v)
rec = -log_bernoulli_with_logits(x, self.dec(z))
kl = kl_normal(m, v, self.z_prior_m, self.z_prior_v)
nelbo = kl + rec
return nelbo.mean(), kl.mean(), rec.mean()
""")
    ),
    "correct_randn_like": Implementation(
        _elbo("""
qm, qv = self.enc.encode(x)
z = qm + qv.sqrt() * torch.randn_like(qm)
logits = self.dec.decode(z)
rec = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(dim=1).mean()
kl = (0.5 * (qv + qm**2 - 1 - qv.log())).sum(-1).mean()
return kl + rec, kl, rec
""")
    ),
    "correct_torch_distributions": Implementation(
        _elbo("""
m, v = self.enc(x)
q = Independent(Normal(m, v.sqrt()), 1)
prior = Independent(Normal(torch.zeros_like(m), torch.ones_like(v)), 1)
z = q.rsample()
rec = -Independent(Bernoulli(logits=self.dec(z)), 1).log_prob(x)
kl = kl_divergence(q, prior)
return (rec + kl).mean(), kl.mean(), rec.mean()
""")
    ),
    "correct_monte_carlo_kl": Implementation(
        _elbo("""
m, v = self.enc(x)
z = sample_gaussian(m, v)
rec = -log_bernoulli_with_logits(x, self.dec(z)).mean()
kl = (log_normal(z, m, v) - log_normal(z, self.z_prior_m, self.z_prior_v)).mean()
return rec + kl, kl, rec
""")
    ),
    "correct_sigmoid_then_bce": Implementation(
        _elbo("""
m, v = self.enc(x)
eps = torch.randn(m.shape)
z = m + torch.sqrt(v) * eps
probs = torch.sigmoid(self.dec(z)).clamp(1e-7, 1 - 1e-7)
rec = F.binary_cross_entropy(probs, x, reduction="sum") / x.shape[0]
kl = kl_normal(m, v, torch.zeros_like(m), torch.ones_like(v)).mean()
return rec + kl, kl, rec
""")
    ),
    "mistake_std_for_variance": Implementation(
        _elbo("""
m, v = self.enc(x)
z = m + v * torch.randn_like(m)
rec = -log_bernoulli_with_logits(x, self.dec(z))
kl = kl_normal(m, v**2, self.z_prior_m, self.z_prior_v)
return (kl + rec).mean(), kl.mean(), rec.mean()
"""),
        {
            "check_elbo_kl": "treating v as a standard deviation",
            "check_elbo_sampling": "you used v as a standard deviation",
        },
    ),
    "mistake_log_variance": Implementation(
        _elbo("""
z_mean, z_logvar = self.enc(x)
z = sample_gaussian(z_mean, z_logvar.exp())
rec = -log_bernoulli_with_logits(x, self.dec(z))
kl = kl_normal(z_mean, z_logvar.exp(), self.z_prior_m, self.z_prior_v)
return (kl + rec).mean(), kl.mean(), rec.mean()
"""),
        {
            "check_elbo_kl": "treating v as a log-variance",
            "check_elbo_sampling": "you treated v as a log-variance",
        },
    ),
    "mistake_mean_over_pixels": Implementation(
        _elbo("""
m, v = self.enc(x)
z = sample_gaussian(m, v)
rec = F.binary_cross_entropy_with_logits(self.dec(z), x)
kl = kl_normal(m, v, self.z_prior_m, self.z_prior_v).mean()
return kl + rec, kl, rec
"""),
        {"check_elbo_rec": "averaging over the 784 pixels instead of summing"},
    ),
    "mistake_sum_over_batch": Implementation(
        _elbo("""
m, v = self.enc(x)
z = sample_gaussian(m, v)
rec = -log_bernoulli_with_logits(x, self.dec(z)).sum()
kl = kl_normal(m, v, self.z_prior_m, self.z_prior_v).sum()
return kl + rec, kl, rec
"""),
        {
            "check_elbo_kl": "summing over the batch instead of averaging",
            "check_elbo_rec": "summing over the batch instead of averaging",
        },
    ),
    "mistake_kl_mean_over_latents": Implementation(
        _elbo("""
m, v = self.enc(x)
z = sample_gaussian(m, v)
rec = -log_bernoulli_with_logits(x, self.dec(z)).mean()
kl = (0.5 * (v + m**2 - 1 - v.log())).mean()
return kl + rec, kl, rec
"""),
        {"check_elbo_kl": "averaging over the latent dimensions instead of summing"},
    ),
    "mistake_detached_sample": Implementation(
        _elbo("""
m, v = self.enc(x)
z = Normal(m, v.sqrt()).sample()
rec = -log_bernoulli_with_logits(x, self.dec(z)).mean()
kl = kl_normal(m, v, self.z_prior_m, self.z_prior_v).mean()
return kl + rec, kl, rec
"""),
        {"check_elbo_gradients": "cut off from the graph"},
    ),
    "mistake_no_noise": Implementation(
        _elbo("""
m, v = self.enc(x)
rec = -log_bernoulli_with_logits(x, self.dec(m)).mean()
kl = kl_normal(m, v, self.z_prior_m, self.z_prior_v).mean()
return kl + rec, kl, rec
"""),
        {
            "check_elbo_sampling": "z has no noise",
            "check_elbo_gradients": "reaches the encoder's mean but not its variance",
        },
    ),
    "mistake_prior_sample": Implementation(
        _elbo("""
m, v = self.enc(x)
z = torch.randn_like(m)
rec = -log_bernoulli_with_logits(x, self.dec(z)).mean()
kl = kl_normal(m, v, self.z_prior_m, self.z_prior_v).mean()
return kl + rec, kl, rec
"""),
        {
            "check_elbo_sampling": "draw from the prior",
            "check_elbo_gradients": "cut off from the graph",
        },
    ),
    "mistake_probabilities_as_logits": Implementation(
        _elbo("""
m, v = self.enc(x)
z = sample_gaussian(m, v)
rec = -log_bernoulli_with_logits(x, torch.sigmoid(self.dec(z))).mean()
kl = kl_normal(m, v, self.z_prior_m, self.z_prior_v).mean()
return kl + rec, kl, rec
"""),
        {"check_elbo_rec": "passing probabilities"},
    ),
    "mistake_squared_error": Implementation(
        _elbo("""
m, v = self.enc(x)
z = sample_gaussian(m, v)
rec = (x - torch.sigmoid(self.dec(z))).pow(2).sum(-1).mean()
kl = kl_normal(m, v, self.z_prior_m, self.z_prior_v).mean()
return kl + rec, kl, rec
"""),
        {"check_elbo_rec": "a squared error"},
    ),
    "mistake_returns_elbo": Implementation(
        _elbo("""
m, v = self.enc(x)
z = sample_gaussian(m, v)
rec = -log_bernoulli_with_logits(x, self.dec(z)).mean()
kl = kl_normal(m, v, self.z_prior_m, self.z_prior_v).mean()
return -(kl + rec), kl, rec
"""),
        {"check_elbo_sum": "returning the ELBO instead of its negative"},
    ),
    "mistake_per_image_values": Implementation(
        _elbo("""
m, v = self.enc(x)
z = sample_gaussian(m, v)
rec = -log_bernoulli_with_logits(x, self.dec(z))
kl = kl_normal(m, v, self.z_prior_m, self.z_prior_v)
return kl + rec, kl, rec
"""),
        {
            name: "average them over the batch with .mean()"
            for name in (
                "check_elbo_outputs",
                "check_elbo_sum",
                "check_elbo_kl",
                "check_elbo_rec",
                "check_elbo_sampling",
                "check_elbo_gradients",
            )
        },
    ),
}
