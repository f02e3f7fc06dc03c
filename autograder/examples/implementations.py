"""Students' implementations of the exercises: correct variants and the known mistakes.

Each entry is the source of a notebook solution cell (a bound attaches itself with
``@add_to_class(VAE)``) and the checks it must fail, each with the mistake id its failure
must end with (``course_utils.exercises.MISTAKES``). A check is a function of
``course_utils.grading`` or, for notebook 1's inline tests, a test cell's grade_id.
Correct variants fail nothing. The tests grade every entry; the example submissions of the
autograder are made from them.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field, replace

from autograder.reference import bounds as reference_bounds
from course_utils.exercises import exercise

#: The imports every solution cell of the corpus starts with: what the notebooks' setup cells
#: import (the densities of notebook 2 are not among them: in notebook 2 they are the
#: student's own, defined by the cells before; see ``cell_source``).
PRELUDE = """\
import math
import torch
import torch.nn.functional as F
from torch.distributions import Bernoulli, Categorical, Independent, MixtureSameFamily, Normal
from torch.distributions import kl_divergence
from course_utils import distributions
from course_utils.distributions import duplicate, gaussian_parameters, log_mean_exp
from course_utils.models import GMVAE, VAE, add_to_class
from course_utils.stubs import add_to_module
"""

#: Notebooks 3 and 4 run in kernels of their own, where notebook 2's densities are stubs: their
#: corpus entries start with the reference densities, as a student who copied their notebook 2
#: functions into the cell would.
DENSITIES = "\n\n".join(
    inspect.getsource(getattr(reference_bounds, name)) for name in reference_bounds.DENSITIES
)
PRELUDES = {
    "03_iwae": PRELUDE + "\n\n" + DENSITIES + "\n\n",
    "04_priors_and_collapse": PRELUDE + "\n\n" + DENSITIES + "\n\n",
}


def cell_source(name: str, implementation: Implementation) -> str:
    """The full source of the solution cell of the exercise ``name`` that holds
    ``implementation``: its notebook's prelude, then the implementation."""
    return PRELUDES.get(exercise(name).notebook, PRELUDE) + implementation.source


@dataclass(frozen=True)
class Implementation:
    """A solution cell and what grading must say of it.

    Attributes:
        source: the cell's code, defining the function (a bound with ``@add_to_class(VAE)``).
        fails: check -> the mistake id its failure must end with; empty when correct.
        borrowed: the cell answers with the course's own code (``Exercise.answered_by``):
            its checks pass, and grading withholds every test of the exercise for a grade by
            hand (``borrowed_answer``).
    """

    source: str
    fails: dict[str, str] = field(default_factory=dict)
    borrowed: bool = False


def _function(signature: str, body: str) -> str:
    """A solution cell defining the function ``signature`` with ``body``."""
    lines = "\n".join("    " + line for line in body.strip().splitlines())
    return f"def {signature}:\n{lines}\n"


def _cell(signature: str, body: str) -> str:
    """A solution cell defining ``signature`` with ``body`` and attaching it to VAE."""
    return "@add_to_class(VAE)\n" + _function(signature, body)


def _elbo(body: str) -> str:
    return _cell("negative_elbo_bound(self, x)", body)


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
            "check_elbo_kl": "std_for_variance",
            "check_elbo_sampling": "std_for_variance",
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
            "check_elbo_kl": "log_variance_for_variance",
            "check_elbo_sampling": "log_variance_for_variance",
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
        {"check_elbo_rec": "mean_over_pixels"},
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
            "check_elbo_kl": "sum_over_batch",
            "check_elbo_rec": "sum_over_batch",
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
        {"check_elbo_kl": "kl_mean_over_latents"},
    ),
    "mistake_detached_sample": Implementation(
        _elbo("""
m, v = self.enc(x)
z = Normal(m, v.sqrt()).sample()
rec = -log_bernoulli_with_logits(x, self.dec(z)).mean()
kl = kl_normal(m, v, self.z_prior_m, self.z_prior_v).mean()
return kl + rec, kl, rec
"""),
        {"check_elbo_gradients": "sample_cut_from_graph"},
    ),
    "mistake_no_noise": Implementation(
        _elbo("""
m, v = self.enc(x)
rec = -log_bernoulli_with_logits(x, self.dec(m)).mean()
kl = kl_normal(m, v, self.z_prior_m, self.z_prior_v).mean()
return kl + rec, kl, rec
"""),
        {
            "check_elbo_sampling": "no_noise",
            "check_elbo_gradients": "gradient_misses_variance",
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
            "check_elbo_sampling": "prior_sample",
            "check_elbo_gradients": "sample_cut_from_graph",
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
        {"check_elbo_rec": "probabilities_as_logits"},
    ),
    "mistake_squared_error": Implementation(
        _elbo("""
m, v = self.enc(x)
z = sample_gaussian(m, v)
rec = (x - torch.sigmoid(self.dec(z))).pow(2).sum(-1).mean()
kl = kl_normal(m, v, self.z_prior_m, self.z_prior_v).mean()
return kl + rec, kl, rec
"""),
        {"check_elbo_rec": "squared_error"},
    ),
    "mistake_returns_elbo": Implementation(
        _elbo("""
m, v = self.enc(x)
z = sample_gaussian(m, v)
rec = -log_bernoulli_with_logits(x, self.dec(z)).mean()
kl = kl_normal(m, v, self.z_prior_m, self.z_prior_v).mean()
return -(kl + rec), kl, rec
"""),
        {"check_elbo_sum": "returns_elbo"},
    ),
    "mistake_per_image_values": Implementation(
        _elbo("""
m, v = self.enc(x)
z = sample_gaussian(m, v)
rec = -log_bernoulli_with_logits(x, self.dec(z))
kl = kl_normal(m, v, self.z_prior_m, self.z_prior_v)
return kl + rec, kl, rec
"""),
        # One test, one property: the values, averaged, are right; the shape test owns shapes.
        {"check_elbo_outputs": "per_image_values"},
    ),
    "borrowed_evaluation_elbo": Implementation(
        _elbo("""
from course_utils.evaluation import _elbo_of_gaussian

m, v = self.enc(x)
elbo = _elbo_of_gaussian(self, x, m, v.log(), 1)
kl = kl_normal(m, v, self.z_prior_m, self.z_prior_v)
rec = -elbo - kl
return -elbo.mean(), kl.mean(), rec.mean()
"""),
        borrowed=True,
    ),
}


#: The checks the visible IWAE tests run (on probe models), from the exercise registry, and
#: those of them that judge niwae (a non-finite niwae fails these, and not those that judge
#: kl and rec, or only whether the samples go through the decoder together).
IWAE_CHECKS = exercise("negative_iwae_bound").checks
_NIWAE_CHECKS = tuple(
    c for c in IWAE_CHECKS if c not in ("check_iwae_kl_rec", "check_iwae_vectorized")
)


def _iwae(body: str) -> str:
    return _cell("negative_iwae_bound(self, x, iw)", body)


def _batch_major(ending: str, log_w: str = "log_px_z + log_pz - log_qz") -> str:
    """A bound that samples z as (batch, iw, z_dim) and decodes it in one call, computes the
    log-weights ``log_w`` (batch, iw), and ends with ``ending``."""
    start = f"""
m, v = self.enc(x)
z = sample_gaussian(m.unsqueeze(1).expand(-1, iw, -1), v.unsqueeze(1).expand(-1, iw, -1))
log_px_z = log_bernoulli_with_logits(x.unsqueeze(1), self.dec(z))  # (batch, iw)
log_pz = log_normal(z, self.z_prior_m, self.z_prior_v)
log_qz = log_normal(z, m.unsqueeze(1), v.unsqueeze(1))
log_w = {log_w}  # (batch, iw)
"""
    return _iwae(start + ending.lstrip("\n"))


IWAE = {
    "correct_duplicate_log_mean_exp": Implementation(
        _iwae("""
m, v = self.enc(x)
m, v, x = duplicate(m, iw), duplicate(v, iw), duplicate(x, iw)
z = sample_gaussian(m, v)
log_px_z = log_bernoulli_with_logits(x, self.dec(z))
log_pz = log_normal(z, self.z_prior_m, self.z_prior_v)
log_qz = log_normal(z, m, v)
log_w = (log_px_z + log_pz - log_qz).reshape(iw, -1)
kl = (log_qz - log_pz).mean()
rec = -log_px_z.mean()
niwae = -log_mean_exp(log_w, dim=0)
return niwae.mean(), kl, rec
""")
    ),
    "correct_batch_major_randn": Implementation(
        _iwae("""
m, v = self.enc(x)
batch, z_dim = m.shape
z = m.unsqueeze(1) + v.sqrt().unsqueeze(1) * torch.randn(batch, iw, z_dim)
logits = self.dec(z.reshape(-1, z_dim)).reshape(batch, iw, -1)
targets = x.unsqueeze(1).expand_as(logits)
log_px_z = -F.binary_cross_entropy_with_logits(logits, targets, reduction="none").sum(-1)
log_pz = log_normal(z, self.z_prior_m, self.z_prior_v)
log_qz = log_normal(z, m.unsqueeze(1), v.unsqueeze(1))
log_w = log_px_z + log_pz - log_qz
niwae = -(torch.logsumexp(log_w, dim=1) - math.log(iw)).mean()
kl = kl_normal(m, v, self.z_prior_m, self.z_prior_v).mean()
return niwae, kl, -log_px_z.mean()
""")
    ),
    "correct_torch_distributions": Implementation(
        _iwae("""
m, v = self.enc(x)
q = Independent(Normal(m, v.sqrt()), 1)
prior = Independent(Normal(torch.zeros_like(m), torch.ones_like(v)), 1)
z = q.rsample((iw,))
logits = self.dec(z.reshape(-1, z.shape[-1])).reshape(iw, len(x), -1)
log_px_z = Independent(Bernoulli(logits=logits), 1).log_prob(x)
log_w = log_px_z + prior.log_prob(z) - q.log_prob(z)
niwae = -(torch.logsumexp(log_w, dim=0) - math.log(iw)).mean()
return niwae, kl_divergence(q, prior).mean(), -log_px_z.mean()
""")
    ),
    "correct_max_shift_repeat": Implementation(
        _iwae("""
m, v = self.enc(x)
x_rep, m_rep, v_rep = x.repeat(iw, 1), m.repeat(iw, 1), v.repeat(iw, 1)
z = m_rep + torch.randn_like(m_rep) * v_rep.sqrt()
log_px_z = log_bernoulli_with_logits(x_rep, self.dec(z)).view(iw, -1)
log_pz = log_normal(z, torch.zeros_like(z), torch.ones_like(z)).view(iw, -1)
log_qz = log_normal(z, m_rep, v_rep).view(iw, -1)
log_w = log_px_z + log_pz - log_qz
top = log_w.max(dim=0, keepdim=True).values
iwae = top.squeeze(0) + torch.log(torch.exp(log_w - top).mean(dim=0))
return -iwae.mean(), (log_qz - log_pz).mean(), -log_px_z.mean()
""")
    ),
    "correct_expanded_sample_gaussian": Implementation(
        _iwae("""
m, v = self.enc(x)
z = sample_gaussian(m.expand(iw, *m.shape), v.expand(iw, *v.shape))
logits = self.dec(z.flatten(0, 1)).unflatten(0, (iw, -1))
log_px_z = log_bernoulli_with_logits(x, logits)
log_w = log_px_z + log_normal(z, self.z_prior_m, self.z_prior_v) - log_normal(z, m, v)
niwae = -log_mean_exp(log_w, 0).mean()
kl = kl_normal(m, v, self.z_prior_m, self.z_prior_v).mean()
return niwae, kl, -log_px_z.mean()
""")
    ),
    "correct_sample_major_decoded_whole": Implementation(
        _iwae("""
m, v = self.enc(x)
z = m + v.sqrt() * torch.randn(iw, *m.shape)  # (iw, batch, z_dim)
log_px_z = log_bernoulli_with_logits(x, self.dec(z))  # (iw, batch)
log_w = log_px_z + log_normal(z, self.z_prior_m, self.z_prior_v) - log_normal(z, m, v)
niwae = -log_mean_exp(log_w, 0)
kl = kl_normal(m, v, self.z_prior_m, self.z_prior_v)
return niwae.mean(), kl.mean(), -log_px_z.mean()
""")
    ),
    "correct_batch_major_decoded_whole": Implementation(
        _iwae("""
m, v = self.enc(x)
batch, z_dim = m.shape
z = m.unsqueeze(1) + v.sqrt().unsqueeze(1) * torch.randn(batch, iw, z_dim)  # (batch, iw, z_dim)
log_px_z = log_bernoulli_with_logits(x.unsqueeze(1), self.dec(z))  # (batch, iw)
log_pz = log_normal(z, self.z_prior_m, self.z_prior_v)
log_qz = log_normal(z, m.unsqueeze(1), v.unsqueeze(1))
log_w = log_px_z + log_pz - log_qz
niwae = -log_mean_exp(log_w, dim=1)
return niwae.mean(), (log_qz - log_pz).mean(), -log_px_z.mean()
""")
    ),
    "correct_batch_major_torch_distributions": Implementation(
        _iwae("""
m, v = self.enc(x)
q = Normal(m.unsqueeze(1), v.sqrt().unsqueeze(1))  # (batch, 1, z_dim)
z = q.rsample((iw,)).transpose(0, 1).squeeze(2)  # (batch, iw, z_dim)
log_px_z = Bernoulli(logits=self.dec(z)).log_prob(x.unsqueeze(1)).sum(-1)  # (batch, iw)
log_w = log_px_z + Normal(0.0, 1.0).log_prob(z).sum(-1) - q.log_prob(z).sum(-1)
niwae = -(torch.logsumexp(log_w, dim=1) - math.log(iw))
kl = kl_divergence(Normal(m, v.sqrt()), Normal(0.0, 1.0)).sum(-1)
return niwae.mean(), kl.mean(), -log_px_z.mean()
""")
    ),
    "correct_batch_major_encoded_repeated": Implementation(
        _iwae("""
x_rep = x.unsqueeze(1).expand(-1, iw, -1)  # (batch, iw, 784)
m, v = self.enc(x_rep)  # (batch, iw, z_dim) each
z = sample_gaussian(m, v)
log_px_z = log_bernoulli_with_logits(x_rep, self.dec(z))  # (batch, iw)
log_pz = log_normal(z, self.z_prior_m, self.z_prior_v)
log_qz = log_normal(z, m, v)
niwae = -log_mean_exp(log_px_z + log_pz - log_qz, dim=1)
return niwae.mean(), (log_qz - log_pz).mean(), -log_px_z.mean()
""")
    ),
    "mistake_batch_major_lse_over_batch": Implementation(
        _batch_major("""
niwae = -(torch.logsumexp(log_w, dim=0) - math.log(iw))
return niwae.mean(), (log_qz - log_pz).mean(), -log_px_z.mean()
"""),
        {
            "check_iwae_stable": "lse_over_batch",
            "check_iwae_exact_at_prior": "lse_over_batch",
            "check_iwae_exact_at_posterior": "lse_over_batch",
            "check_iwae_k1_matches_elbo": "iwae1_not_elbo",
            "check_iwae_increases_with_k": "above_log_px",
        },
    ),
    "mistake_batch_major_missing_log_k": Implementation(
        _batch_major("""
niwae = -torch.logsumexp(log_w, dim=1)
return niwae.mean(), (log_qz - log_pz).mean(), -log_px_z.mean()
"""),
        {
            "check_iwae_exact_at_prior": "missing_log_k",
            "check_iwae_exact_at_posterior": "missing_log_k",
            "check_iwae_increases_with_k": "missing_log_k",
        },
    ),
    "mistake_batch_major_mean_of_log_weights": Implementation(
        _batch_major("""
niwae = -log_w.mean(dim=1)
return niwae.mean(), (log_qz - log_pz).mean(), -log_px_z.mean()
"""),
        {"check_iwae_increases_with_k": "mean_of_log_weights"},
    ),
    "mistake_batch_major_exp_then_log": Implementation(
        _batch_major("""
niwae = -torch.log(torch.exp(log_w).mean(dim=1))
return niwae.mean(), (log_qz - log_pz).mean(), -log_px_z.mean()
"""),
        {name: "unstable_log_mean_exp" for name in _NIWAE_CHECKS},
    ),
    "mistake_batch_major_kl_rec_summed_over_samples": Implementation(
        _batch_major("""
niwae = -log_mean_exp(log_w, dim=1)
return niwae.mean(), (log_qz - log_pz).sum(1).mean(), -log_px_z.sum(1).mean()
"""),
        {"check_iwae_kl_rec": "sum_over_samples"},
    ),
    "mistake_batch_major_prior_ratio_wrong_sign": Implementation(
        _batch_major(
            log_w="log_px_z - log_pz + log_qz",
            ending="""
niwae = -log_mean_exp(log_w, dim=1)
return niwae.mean(), (log_qz - log_pz).mean(), -log_px_z.mean()
""",
        ),
        {
            "check_iwae_exact_at_posterior": "not_exact_at_posterior",
            "check_iwae_k1_matches_elbo": "prior_ratio_wrong_sign",
            "check_iwae_increases_with_k": "above_log_px",
        },
    ),
    "mistake_missing_log_k": Implementation(
        _iwae("""
m, v = self.enc(x)
m, v, x = duplicate(m, iw), duplicate(v, iw), duplicate(x, iw)
z = sample_gaussian(m, v)
log_px_z = log_bernoulli_with_logits(x, self.dec(z))
log_pz = log_normal(z, self.z_prior_m, self.z_prior_v)
log_qz = log_normal(z, m, v)
log_w = (log_px_z + log_pz - log_qz).reshape(iw, -1)
kl = (log_qz - log_pz).mean()
rec = -log_px_z.mean()
niwae = -torch.logsumexp(log_w, dim=0)
return niwae.mean(), kl, rec
"""),
        {
            "check_iwae_exact_at_prior": "missing_log_k",
            "check_iwae_exact_at_posterior": "missing_log_k",
            "check_iwae_increases_with_k": "missing_log_k",
        },
    ),
    "mistake_lse_over_batch": Implementation(
        _iwae("""
m, v = self.enc(x)
m, v, x = (t.repeat_interleave(iw, dim=0) for t in (m, v, x))
z = sample_gaussian(m, v)
log_px_z = log_bernoulli_with_logits(x, self.dec(z))
log_pz = log_normal(z, self.z_prior_m, self.z_prior_v)
log_qz = log_normal(z, m, v)
log_w = (log_px_z + log_pz - log_qz).reshape(-1, iw)
niwae = -(torch.logsumexp(log_w, dim=0) - math.log(iw))
return niwae.mean(), (log_qz - log_pz).mean(), -log_px_z.mean()
"""),
        {
            "check_iwae_exact_at_prior": "lse_over_batch",
            "check_iwae_exact_at_posterior": "lse_over_batch",
            "check_iwae_stable": "lse_over_batch",
            "check_iwae_k1_matches_elbo": "iwae1_not_elbo",
            "check_iwae_increases_with_k": "above_log_px",
        },
    ),
    "mistake_mean_of_log_weights": Implementation(
        _iwae("""
m, v = self.enc(x)
m, v, x = duplicate(m, iw), duplicate(v, iw), duplicate(x, iw)
z = sample_gaussian(m, v)
log_px_z = log_bernoulli_with_logits(x, self.dec(z))
log_pz = log_normal(z, self.z_prior_m, self.z_prior_v)
log_qz = log_normal(z, m, v)
log_w = (log_px_z + log_pz - log_qz).reshape(iw, -1)
kl = (log_qz - log_pz).mean()
rec = -log_px_z.mean()
niwae = -log_w.mean(dim=0)
return niwae.mean(), kl, rec
"""),
        {"check_iwae_increases_with_k": "mean_of_log_weights"},
    ),
    "mistake_exp_then_log": Implementation(
        _iwae("""
m, v = self.enc(x)
m, v, x = duplicate(m, iw), duplicate(v, iw), duplicate(x, iw)
z = sample_gaussian(m, v)
log_px_z = log_bernoulli_with_logits(x, self.dec(z))
log_pz = log_normal(z, self.z_prior_m, self.z_prior_v)
log_qz = log_normal(z, m, v)
log_w = (log_px_z + log_pz - log_qz).reshape(iw, -1)
kl = (log_qz - log_pz).mean()
rec = -log_px_z.mean()
niwae = -torch.log(torch.exp(log_w).mean(dim=0))
return niwae.mean(), kl, rec
"""),
        {name: "unstable_log_mean_exp" for name in _NIWAE_CHECKS},
    ),
    "mistake_exp_then_log_float64": Implementation(
        _iwae("""
m, v = self.enc(x)
m, v, x = duplicate(m, iw), duplicate(v, iw), duplicate(x, iw)
z = sample_gaussian(m, v)
log_px_z = log_bernoulli_with_logits(x, self.dec(z))
log_pz = log_normal(z, self.z_prior_m, self.z_prior_v)
log_qz = log_normal(z, m, v)
log_w = (log_px_z + log_pz - log_qz).reshape(iw, -1)
kl = (log_qz - log_pz).mean()
rec = -log_px_z.mean()
niwae = -torch.log(torch.exp(log_w.double()).mean(dim=0)).float()
return niwae.mean(), kl, rec
"""),
        {"check_iwae_stable": "unstable_log_mean_exp"},
    ),
    "mistake_global_max_shift": Implementation(
        _iwae("""
m, v = self.enc(x)
m, v, x = duplicate(m, iw), duplicate(v, iw), duplicate(x, iw)
z = sample_gaussian(m, v)
log_px_z = log_bernoulli_with_logits(x, self.dec(z))
log_pz = log_normal(z, self.z_prior_m, self.z_prior_v)
log_qz = log_normal(z, m, v)
log_w = (log_px_z + log_pz - log_qz).reshape(iw, -1)
kl = (log_qz - log_pz).mean()
rec = -log_px_z.mean()
top = log_w.max()
niwae = -(top + torch.log(torch.exp(log_w - top).mean(dim=0)))
return niwae.mean(), kl, rec
"""),
        {
            name: "unstable_log_mean_exp"
            for name in (
                "check_iwae_stable",
                "check_iwae_exact_at_prior",
                "check_iwae_exact_at_posterior",
                "check_iwae_k1_matches_elbo",
                "check_iwae_increases_with_k",
            )
        },
    ),
    "mistake_analytic_kl_in_weights": Implementation(
        _iwae("""
m, v = self.enc(x)
kl = kl_normal(m, v, self.z_prior_m, self.z_prior_v)
z = sample_gaussian(duplicate(m, iw), duplicate(v, iw))
log_px_z = log_bernoulli_with_logits(duplicate(x, iw), self.dec(z)).reshape(iw, -1)
log_w = log_px_z - kl
niwae = -log_mean_exp(log_w, dim=0)
return niwae.mean(), kl.mean(), -log_px_z.mean()
"""),
        {
            "check_iwae_increases_with_k": "constant_weights",
            "check_iwae_exact_at_posterior": "not_exact_at_posterior",
        },
    ),
    "mistake_x_batch_major_grouped_like_z": Implementation(
        _iwae("""
m, v = self.enc(x)
m, v = duplicate(m, iw), duplicate(v, iw)
z = sample_gaussian(m, v)
x_rep = x.repeat_interleave(iw, dim=0)
log_px_z = log_bernoulli_with_logits(x_rep, self.dec(z))
log_pz = log_normal(z, self.z_prior_m, self.z_prior_v)
log_qz = log_normal(z, m, v)
log_w = (log_px_z + log_pz - log_qz).reshape(iw, -1)
niwae = -log_mean_exp(log_w, dim=0)
return niwae.mean(), (log_qz - log_pz).mean(), -log_px_z.mean()
"""),
        {
            "check_iwae_exact_at_prior": "x_batch_major",
            "check_iwae_exact_at_posterior": "not_exact_at_posterior",
            "check_iwae_stable": "x_batch_major",
            "check_iwae_increases_with_k": "above_log_px",
        },
    ),
    "mistake_x_sample_major_grouped_like_z": Implementation(
        _iwae("""
m, v = self.enc(x)
m, v = m.repeat_interleave(iw, dim=0), v.repeat_interleave(iw, dim=0)
z = sample_gaussian(m, v)
x_rep = x.repeat(iw, 1)
log_px_z = log_bernoulli_with_logits(x_rep, self.dec(z))
log_pz = log_normal(z, self.z_prior_m, self.z_prior_v)
log_qz = log_normal(z, m, v)
log_w = (log_px_z + log_pz - log_qz).reshape(-1, iw)
niwae = -(torch.logsumexp(log_w, dim=1) - math.log(iw))
return niwae.mean(), (log_qz - log_pz).mean(), -log_px_z.mean()
"""),
        {
            "check_iwae_exact_at_prior": "x_sample_major",
            "check_iwae_exact_at_posterior": "not_exact_at_posterior",
            "check_iwae_stable": "x_sample_major",
            "check_iwae_increases_with_k": "above_log_px",
        },
    ),
    "mistake_z_batch_major_grouped_like_x": Implementation(
        _iwae("""
m, v = self.enc(x)
m, v = m.repeat_interleave(iw, dim=0), v.repeat_interleave(iw, dim=0)
z = sample_gaussian(m, v)
x_rep = duplicate(x, iw)
log_px_z = log_bernoulli_with_logits(x_rep, self.dec(z))
log_pz = log_normal(z, self.z_prior_m, self.z_prior_v)
log_qz = log_normal(z, m, v)
log_w = (log_px_z + log_pz - log_qz).reshape(iw, -1)
niwae = -log_mean_exp(log_w, dim=0)
return niwae.mean(), (log_qz - log_pz).mean(), -log_px_z.mean()
"""),
        {"check_iwae_exact_at_posterior": "not_exact_at_posterior"},
    ),
    "mistake_likelihood_only_weights": Implementation(
        _iwae("""
m, v = self.enc(x)
m, v, x = duplicate(m, iw), duplicate(v, iw), duplicate(x, iw)
z = sample_gaussian(m, v)
log_w = log_bernoulli_with_logits(x, self.dec(z)).reshape(iw, -1)
niwae = -log_mean_exp(log_w, dim=0)
kl = kl_normal(m, v, self.z_prior_m, self.z_prior_v).mean()
return niwae.mean(), kl, -log_w.mean()
"""),
        {
            "check_iwae_k1_matches_elbo": "likelihood_only_weights",
            "check_iwae_exact_at_posterior": "not_exact_at_posterior",
        },
    ),
    "mistake_python_loop": Implementation(
        _iwae("""
m, v = self.enc(x)
log_ws, log_px_zs, kls = [], [], []
for _ in range(iw):
    z = sample_gaussian(m, v)
    log_px_z = log_bernoulli_with_logits(x, self.dec(z))
    log_pz = log_normal(z, self.z_prior_m, self.z_prior_v)
    log_qz = log_normal(z, m, v)
    log_ws.append(log_px_z + log_pz - log_qz)
    log_px_zs.append(log_px_z)
    kls.append(log_qz - log_pz)
niwae = -log_mean_exp(torch.stack(log_ws), dim=0)
return niwae.mean(), torch.stack(kls).mean(), -torch.stack(log_px_zs).mean()
"""),
        {"check_iwae_vectorized": "python_loop"},
    ),
    "mistake_detached_sample": Implementation(
        _iwae("""
m, v = self.enc(x)
m, v, x = duplicate(m, iw), duplicate(v, iw), duplicate(x, iw)
z = Normal(m, v.sqrt()).sample()
log_px_z = log_bernoulli_with_logits(x, self.dec(z))
log_pz = log_normal(z, self.z_prior_m, self.z_prior_v)
log_qz = log_normal(z, m, v)
log_w = (log_px_z + log_pz - log_qz).reshape(iw, -1)
kl = (log_qz - log_pz).mean()
rec = -log_px_z.mean()
niwae = -log_mean_exp(log_w, dim=0)
return niwae.mean(), kl, rec
"""),
        {"check_iwae_gradients": "sample_cut_from_graph"},
    ),
    "mistake_kl_rec_summed_over_samples": Implementation(
        _iwae("""
m, v = self.enc(x)
m, v, x = duplicate(m, iw), duplicate(v, iw), duplicate(x, iw)
z = sample_gaussian(m, v)
log_px_z = log_bernoulli_with_logits(x, self.dec(z))
log_pz = log_normal(z, self.z_prior_m, self.z_prior_v)
log_qz = log_normal(z, m, v)
log_w = (log_px_z + log_pz - log_qz).reshape(iw, -1)
kl = (log_qz - log_pz).reshape(iw, -1).sum(0).mean()
rec = -log_px_z.reshape(iw, -1).sum(0).mean()
niwae = -log_mean_exp(log_w, dim=0)
return niwae.mean(), kl, rec
"""),
        {"check_iwae_kl_rec": "sum_over_samples"},
    ),
    "mistake_per_image_values": Implementation(
        _iwae("""
m, v = self.enc(x)
m, v, x = duplicate(m, iw), duplicate(v, iw), duplicate(x, iw)
z = sample_gaussian(m, v)
log_px_z = log_bernoulli_with_logits(x, self.dec(z))
log_pz = log_normal(z, self.z_prior_m, self.z_prior_v)
log_qz = log_normal(z, m, v)
log_w = (log_px_z + log_pz - log_qz).reshape(iw, -1)
niwae = -log_mean_exp(log_w, dim=0)
kl = (log_qz - log_pz).reshape(iw, -1).mean(0)
rec = -log_px_z.reshape(iw, -1).mean(0)
return niwae, kl, rec
"""),
        {"check_iwae_outputs": "per_image_values"},
    ),
    # A real CS236 solution's slip: kl and rec per sample, (iw, batch); niwae is right.
    "mistake_kl_rec_per_sample": Implementation(
        _iwae("""
m, v = self.enc(x)
m, v, x = duplicate(m, iw), duplicate(v, iw), duplicate(x, iw)
z = sample_gaussian(m, v)
log_px_z = log_bernoulli_with_logits(x, self.dec(z))
log_pz = log_normal(z, self.z_prior_m, self.z_prior_v)
log_qz = log_normal(z, m, v)
log_w = (log_px_z + log_pz - log_qz).reshape(iw, -1)  # (iw * batch,) -> (iw, batch)
niwae = -log_mean_exp(log_w, dim=0).mean()
kl = (log_qz - log_pz).reshape(iw, -1)
rec = -log_px_z.reshape(iw, -1)
return niwae, kl, rec
"""),
        {"check_iwae_outputs": "wrong_output_shape"},
    ),
}


#: The mistake ids of the checkpoint checks (the shipped checkpoints against their provenance,
#: visible and loose, and against the reference values in the hidden tests) for each entry
#: that fails one, as measured; tests/test_grading*.py run them on every entry.
_REFERENCE = "reference_mismatch"
_PER_IMAGE = "per_image_values"
_INF = "unstable_log_mean_exp"
_ABOVE = "above_log_px"
_BELOW = "far_below_log_px"
_HIDDEN_FAILS = {
    "elbo": {
        **{
            name: {"check_elbo_checkpoint_loose": _REFERENCE, "check_elbo_reference": _REFERENCE}
            for name in (
                "mistake_kl_mean_over_latents",
                "mistake_log_variance",
                "mistake_mean_over_pixels",
                "mistake_no_noise",
                "mistake_prior_sample",
                "mistake_probabilities_as_logits",
                "mistake_returns_elbo",
                "mistake_squared_error",
                "mistake_std_for_variance",
                "mistake_sum_over_batch",
            )
        },
    },
    "iwae": {
        "mistake_analytic_kl_in_weights": {"check_iwae_quadrature_reference": _BELOW},
        "mistake_batch_major_exp_then_log": {
            "check_iwae_reference": _INF,
            "check_iwae_quadrature_reference": _INF,
        },
        "mistake_batch_major_kl_rec_summed_over_samples": {"check_iwae_reference": _REFERENCE},
        "mistake_batch_major_lse_over_batch": {
            "check_iwae_checkpoint_loose": _REFERENCE,
            "check_iwae_quadrature_loose": _ABOVE,
            "check_iwae_reference": _REFERENCE,
            "check_iwae_quadrature_reference": _ABOVE,
        },
        "mistake_batch_major_mean_of_log_weights": {
            "check_iwae_checkpoint_loose": _REFERENCE,
            "check_iwae_quadrature_loose": _BELOW,
            "check_iwae_reference": _REFERENCE,
            "check_iwae_quadrature_reference": _BELOW,
        },
        "mistake_batch_major_missing_log_k": {
            "check_iwae_checkpoint_loose": _REFERENCE,
            "check_iwae_quadrature_loose": _ABOVE,
            "check_iwae_reference": _REFERENCE,
            "check_iwae_quadrature_reference": _ABOVE,
        },
        "mistake_batch_major_prior_ratio_wrong_sign": {
            "check_iwae_checkpoint_loose": _REFERENCE,
            "check_iwae_quadrature_loose": _ABOVE,
            "check_iwae_reference": _REFERENCE,
            "check_iwae_quadrature_reference": _ABOVE,
        },
        "mistake_exp_then_log": {
            "check_iwae_reference": _INF,
            "check_iwae_quadrature_reference": _INF,
        },
        "mistake_global_max_shift": {
            "check_iwae_checkpoint_loose": _INF,
            "check_iwae_quadrature_loose": _INF,
            "check_iwae_reference": _INF,
            "check_iwae_quadrature_reference": _INF,
        },
        "mistake_kl_rec_summed_over_samples": {"check_iwae_reference": _REFERENCE},
        "mistake_likelihood_only_weights": {
            "check_iwae_checkpoint_loose": _REFERENCE,
            "check_iwae_quadrature_loose": _ABOVE,
            "check_iwae_reference": _REFERENCE,
            "check_iwae_quadrature_reference": _ABOVE,
        },
        "mistake_lse_over_batch": {
            "check_iwae_checkpoint_loose": _REFERENCE,
            "check_iwae_quadrature_loose": _ABOVE,
            "check_iwae_reference": _REFERENCE,
            "check_iwae_quadrature_reference": _ABOVE,
        },
        "mistake_mean_of_log_weights": {
            "check_iwae_checkpoint_loose": _REFERENCE,
            "check_iwae_quadrature_loose": _BELOW,
            "check_iwae_reference": _REFERENCE,
            "check_iwae_quadrature_reference": _BELOW,
        },
        "mistake_missing_log_k": {
            "check_iwae_checkpoint_loose": _REFERENCE,
            "check_iwae_quadrature_loose": _ABOVE,
            "check_iwae_reference": _REFERENCE,
            "check_iwae_quadrature_reference": _ABOVE,
        },
        "mistake_x_batch_major_grouped_like_z": {
            "check_iwae_checkpoint_loose": _REFERENCE,
            "check_iwae_quadrature_loose": _ABOVE,
            "check_iwae_reference": _REFERENCE,
            "check_iwae_quadrature_reference": _ABOVE,
        },
        "mistake_x_sample_major_grouped_like_z": {
            "check_iwae_checkpoint_loose": _REFERENCE,
            "check_iwae_quadrature_loose": _ABOVE,
            "check_iwae_reference": _REFERENCE,
            "check_iwae_quadrature_reference": _ABOVE,
        },
        "mistake_z_batch_major_grouped_like_x": {
            "check_iwae_checkpoint_loose": _REFERENCE,
            "check_iwae_quadrature_loose": _BELOW,
            "check_iwae_reference": _REFERENCE,
            "check_iwae_quadrature_reference": _BELOW,
        },
    },
}
ELBO = {
    name: replace(entry, fails={**entry.fails, **_HIDDEN_FAILS["elbo"].get(name, {})})
    for name, entry in ELBO.items()
}
IWAE = {
    name: replace(entry, fails={**entry.fails, **_HIDDEN_FAILS["iwae"].get(name, {})})
    for name, entry in IWAE.items()
}


# Notebook 1 tests its exercises in the test cells themselves, not in course_utils: the
# "checks" of these entries are the grade_ids of the test cells they must fail.


def _jensen(body: str) -> str:
    return _function("jensen_gap(samples)", body)


JENSEN_GAP = {
    "correct_log_of_mean": Implementation(
        _jensen("return torch.log(samples.mean(dim=0)) - torch.log(samples).mean(dim=0)")
    ),
    "correct_logsumexp": Implementation(
        _jensen("""
log_x = samples.log()
n = samples.shape[0]
return torch.logsumexp(log_x, dim=0) - math.log(n) - log_x.sum(dim=0) / n
""")
    ),
    "mistake_flipped_sign": Implementation(
        _jensen("return torch.log(samples).mean(dim=0) - torch.log(samples.mean(dim=0))"),
        {"jensen_gap_values": "jensen_sign_flipped"},
    ),
    "mistake_sums": Implementation(
        _jensen("return torch.log(samples.sum(dim=0)) - torch.log(samples).sum(dim=0)"),
        {"jensen_gap_values": "sums_for_means"},
    ),
    "mistake_mean_over_everything": Implementation(
        _jensen("return torch.log(samples.mean()) - torch.log(samples).mean()"),
        {"jensen_gap_values": "mean_over_everything"},
    ),
}


def _elbo_mc(body: str) -> str:
    return _function("elbo_monte_carlo(model, x, m, v, n_samples)", body)


ELBO_MC = {
    "correct_by_hand": Implementation(
        _elbo_mc("""
z = m + v.sqrt() * torch.randn(n_samples, *m.shape, dtype=m.dtype)  # (n_samples, batch, z_dim)
log_q = (-0.5 * (math.log(2 * math.pi) + v.log() + (z - m) ** 2 / v)).sum(-1)
return (model.log_joint(x, z) - log_q).mean(dim=0)
""")
    ),
    "correct_torch_distributions": Implementation(
        _elbo_mc("""
q = Independent(Normal(m, v.sqrt()), 1)
z = q.rsample((n_samples,))
return (model.log_prior(z) + model.log_likelihood(x, z) - q.log_prob(z)).mean(dim=0)
""")
    ),
    "correct_python_loop": Implementation(
        _elbo_mc("""
total = torch.zeros(x.shape[0], dtype=m.dtype)
for _ in range(n_samples):
    z = m + v.sqrt() * torch.randn_like(m)
    total = total + model.log_joint(x, z) - Normal(m, v.sqrt()).log_prob(z).sum(-1)
return total / n_samples
""")
    ),
    "mistake_std_for_variance": Implementation(
        _elbo_mc("""
z = m + v * torch.randn(n_samples, *m.shape, dtype=m.dtype)
return (model.log_joint(x, z) - Normal(m, v.sqrt()).log_prob(z).sum(-1)).mean(dim=0)
"""),
        {
            "elbo_mc_unbiased": "biased_estimate",
            "elbo_mc_gradients": "gradient_biased",
        },
    ),
    "mistake_no_entropy": Implementation(
        _elbo_mc("""
z = Normal(m, v.sqrt()).rsample((n_samples,))
return model.log_joint(x, z).mean(dim=0)
"""),
        {
            "elbo_mc_unbiased": "no_entropy",
            "elbo_mc_gradients": "gradient_biased",
        },
    ),
    "mistake_log_mean_exp": Implementation(
        _elbo_mc("""
q = Normal(m, v.sqrt())
z = q.rsample((n_samples,))
log_w = model.log_joint(x, z) - q.log_prob(z).sum(-1)
return torch.logsumexp(log_w, dim=0) - math.log(n_samples)
"""),
        {
            "elbo_mc_unbiased": "log_mean_exp_for_elbo",
            "elbo_mc_averages_samples": "variance_not_one_over_n",
            "elbo_mc_gradients": "gradient_biased",
        },
    ),
    "mistake_detached_sample": Implementation(
        _elbo_mc("""
q = Normal(m, v.sqrt())
z = q.sample((n_samples,))
return (model.log_joint(x, z) - q.log_prob(z).sum(-1)).mean(dim=0)
"""),
        {"elbo_mc_gradients": "gradient_biased"},
    ),
    "mistake_one_sample": Implementation(
        _elbo_mc("""
q = Normal(m, v.sqrt())
z = q.rsample()
return model.log_joint(x, z) - q.log_prob(z).sum(-1)
"""),
        {"elbo_mc_averages_samples": "variance_not_one_over_n"},
    ),
    "mistake_sum_over_samples": Implementation(
        _elbo_mc("""
q = Normal(m, v.sqrt())
z = q.rsample((n_samples,))
return (model.log_joint(x, z) - q.log_prob(z).sum(-1)).sum(dim=0)
"""),
        {
            "elbo_mc_unbiased": "biased_estimate",
            "elbo_mc_averages_samples": "variance_not_one_over_n",
            "elbo_mc_gradients": "gradient_biased",
        },
    ),
    "mistake_no_average": Implementation(
        _elbo_mc("""
q = Normal(m, v.sqrt())
z = q.rsample((n_samples,))
return model.log_joint(x, z) - q.log_prob(z).sum(-1)
"""),
        {
            "elbo_mc_shape": "samples_not_averaged",
            "elbo_mc_unbiased": "log_mean_exp_for_elbo",
            "elbo_mc_averages_samples": "variance_not_one_over_n",
            "elbo_mc_gradients": "gradient_biased",
        },
    ),
    "mistake_latents_not_summed": Implementation(
        _elbo_mc("""
q = Normal(m, v.sqrt())
z = q.rsample((n_samples,))
return (model.log_joint(x, z).unsqueeze(-1) - q.log_prob(z)).mean(dim=0).squeeze(-1)
"""),
        {
            "elbo_mc_shape": "latents_not_summed",
            "elbo_mc_unbiased": "biased_estimate",
            "elbo_mc_gradients": "gradient_biased",
        },
    ),
}


# The densities of notebook 2 (course_utils.grading.densities). Each attaches itself to
# course_utils.distributions; the reference negative_elbo_bound of the notebook calls
# sample_gaussian, kl_normal and log_bernoulli_with_logits, so their mistakes fail the ELBO's
# tests too, and their entries list those checks as well.


def _density(signature: str, body: str) -> str:
    return "@add_to_module(distributions)\n" + _function(signature, body)


def _sample(body: str) -> str:
    return _density("sample_gaussian(m, v)", body)


SAMPLE_GAUSSIAN = {
    "correct_randn_like": Implementation(_sample("return m + torch.sqrt(v) * torch.randn_like(m)")),
    "correct_rsample": Implementation(_sample("return Normal(m, v.sqrt()).rsample()")),
    "correct_randn_shape": Implementation(
        _sample("""
eps = torch.randn(m.shape, dtype=m.dtype, device=m.device)
return m + v**0.5 * eps
""")
    ),
    "mistake_std_for_variance": Implementation(
        _sample("return m + v * torch.randn_like(m)"),
        {
            "check_sample_gaussian_moments": "std_for_variance",
            "check_sample_gaussian_gradients": "std_for_variance",
        },
    ),
    "mistake_log_variance": Implementation(
        _sample("return m + torch.exp(0.5 * v) * torch.randn_like(m)"),
        {
            "check_sample_gaussian_moments": "log_variance_for_variance",
            "check_sample_gaussian_gradients": "log_variance_for_variance",
        },
    ),
    "mistake_fourth_root": Implementation(
        _sample("return m + v**0.25 * torch.randn_like(m)"),
        {
            "check_sample_gaussian_moments": "fourth_root_noise",
            "check_sample_gaussian_gradients": "fourth_root_noise",
        },
    ),
    "mistake_no_noise": Implementation(
        _sample("return m + 0 * v"),
        {
            "check_sample_gaussian_shape": "same_sample_every_call",
            "check_sample_gaussian_moments": "no_noise",
            "check_sample_gaussian_gradients": "gradient_misses_variance",
        },
    ),
    "mistake_detached_sample": Implementation(
        _sample("return Normal(m, v.sqrt()).sample()"),
        {
            "check_sample_gaussian_gradients": "sample_cut_from_graph",
        },
    ),
    "mistake_prior_sample": Implementation(
        _sample("return torch.randn_like(m)"),
        {
            "check_sample_gaussian_moments": "prior_sample",
            "check_sample_gaussian_gradients": "sample_cut_from_graph",
        },
    ),
    "mistake_fixed_seed": Implementation(
        _sample("""
generator = torch.Generator().manual_seed(0)
eps = torch.randn(m.shape, generator=generator, dtype=m.dtype)
return m + torch.sqrt(v) * eps
"""),
        {
            "check_sample_gaussian_shape": "same_sample_every_call",
        },
    ),
}


def _log_normal(body: str) -> str:
    return _density("log_normal(x, m, v)", body)


LOG_NORMAL = {
    "correct_formula": Implementation(
        _log_normal("""
return (-0.5 * (math.log(2 * math.pi) + torch.log(v) + (x - m) ** 2 / v)).sum(-1)
""")
    ),
    "correct_torch_distributions": Implementation(
        _log_normal("return Normal(m, v.sqrt()).log_prob(x).sum(dim=-1)")
    ),
    "correct_log_of_std": Implementation(
        _log_normal("""
std = torch.sqrt(v)
log_density = -torch.log(std) - 0.5 * math.log(2 * math.pi) - 0.5 * ((x - m) / std) ** 2
return log_density.sum(-1)
""")
    ),
    "mistake_std_for_variance": Implementation(
        _log_normal("""
return (-0.5 * math.log(2 * math.pi) - torch.log(v) - (x - m) ** 2 / (2 * v**2)).sum(-1)
"""),
        {"check_log_normal_values": "std_for_variance"},
    ),
    "mistake_log_variance": Implementation(
        _log_normal("""
return (-0.5 * (math.log(2 * math.pi) + v + (x - m) ** 2 / v.exp())).sum(-1)
"""),
        {"check_log_normal_values": "log_variance_for_variance"},
    ),
    "mistake_missing_log_2pi": Implementation(
        _log_normal("return (-0.5 * (torch.log(v) + (x - m) ** 2 / v)).sum(-1)"),
        {"check_log_normal_values": "missing_log_2pi"},
    ),
    "mistake_missing_log_variance": Implementation(
        _log_normal("return (-0.5 * (math.log(2 * math.pi) + (x - m) ** 2 / v)).sum(-1)"),
        {"check_log_normal_values": "missing_log_variance"},
    ),
    "mistake_mean_over_dimensions": Implementation(
        _log_normal("return Normal(m, v.sqrt()).log_prob(x).mean(-1)"),
        {"check_log_normal_values": "mean_over_dimensions"},
    ),
    "mistake_density_then_log": Implementation(
        _log_normal("""
density = torch.exp(-((x - m) ** 2) / (2 * v)) / torch.sqrt(2 * math.pi * v)
return torch.log(density.prod(-1))
"""),
        {"check_log_normal_values": "density_then_log"},
    ),
    "mistake_not_summed": Implementation(
        _log_normal("return -0.5 * (math.log(2 * math.pi) + torch.log(v) + (x - m) ** 2 / v)"),
        {
            "check_log_normal_shape": "dimensions_not_summed",
            "check_log_normal_values": "dimensions_not_summed",
        },
    ),
    "borrowed_grading_density": Implementation(
        _log_normal("""
from course_utils.grading.common import gaussian_log_density

return gaussian_log_density(x, m, v)
"""),
        borrowed=True,
    ),
}


def _kl(body: str) -> str:
    return _density("kl_normal(qm, qv, pm, pv)", body)


KL_NORMAL = {
    "correct_formula": Implementation(
        _kl("""
return (0.5 * (torch.log(pv / qv) + (qv + (qm - pm) ** 2) / pv - 1)).sum(-1)
""")
    ),
    "correct_torch_distributions": Implementation(
        _kl("return kl_divergence(Normal(qm, qv.sqrt()), Normal(pm, pv.sqrt())).sum(-1)")
    ),
    "correct_cs236": Implementation(
        _kl("""
element_wise = 0.5 * (torch.log(pv) - torch.log(qv) + qv / pv + (qm - pm).pow(2) / pv - 1)
return element_wise.sum(-1)
""")
    ),
    "mistake_std_for_variance": Implementation(
        _kl("""
return (torch.log(pv / qv) + (qv**2 + (qm - pm) ** 2) / (2 * pv**2) - 0.5).sum(-1)
"""),
        {
            "check_kl_normal_values": "std_for_variance",
        },
    ),
    "mistake_log_variance": Implementation(
        _kl("""
return (0.5 * (pv - qv + (qv.exp() + (qm - pm) ** 2) / pv.exp() - 1)).sum(-1)
"""),
        {
            "check_kl_normal_values": "log_variance_for_variance",
        },
    ),
    "mistake_reversed": Implementation(
        _kl("""
return (0.5 * (torch.log(qv / pv) + (pv + (pm - qm) ** 2) / qv - 1)).sum(-1)
"""),
        {
            "check_kl_normal_values": "reversed_kl",
        },
    ),
    "mistake_mean_over_latents": Implementation(
        _kl("""
return (0.5 * (torch.log(pv / qv) + (qv + (qm - pm) ** 2) / pv - 1)).mean(-1)
"""),
        {
            "check_kl_normal_values": "kl_mean_over_latents",
        },
    ),
    "mistake_missing_half": Implementation(
        _kl("return (torch.log(pv / qv) + (qv + (qm - pm) ** 2) / pv - 1).sum(-1)"),
        {
            "check_kl_normal_values": "kl_missing_half",
        },
    ),
    "mistake_missing_minus_one": Implementation(
        _kl("return (0.5 * (torch.log(pv / qv) + (qv + (qm - pm) ** 2) / pv)).sum(-1)"),
        {
            "check_kl_normal_values": "kl_missing_minus_one",
        },
    ),
    "mistake_wrong_sign": Implementation(
        _kl("return (-0.5 * (torch.log(pv / qv) + (qv + (qm - pm) ** 2) / pv - 1)).sum(-1)"),
        {
            "check_kl_normal_values": "kl_wrong_sign",
        },
    ),
    "borrowed_grading_kl": Implementation(
        _kl("""
from course_utils.grading import common

return common.gaussian_kl(qm, qv, pm, pv)
"""),
        borrowed=True,
    ),
}


def _bernoulli(body: str) -> str:
    return _density("log_bernoulli_with_logits(x, logits)", body)


LOG_BERNOULLI = {
    "correct_bce_with_logits": Implementation(
        _bernoulli("""
x, logits = torch.broadcast_tensors(x, logits)
return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)
""")
    ),
    "correct_logsigmoid": Implementation(
        _bernoulli("return (x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits)).sum(-1)")
    ),
    "correct_softplus": Implementation(
        _bernoulli("return (x * logits - F.softplus(logits)).sum(-1)")
    ),
    "correct_torch_distributions": Implementation(
        _bernoulli("return Bernoulli(logits=logits).log_prob(x).sum(-1)")
    ),
    "mistake_sigmoid_then_log": Implementation(
        _bernoulli("""
p = torch.sigmoid(logits)
return (x * torch.log(p) + (1 - x) * torch.log(1 - p)).sum(-1)
"""),
        {"check_log_bernoulli_stable": "sigmoid_then_log"},
    ),
    "mistake_clamped_sigmoid": Implementation(
        _bernoulli("""
p = torch.sigmoid(logits).clamp(1e-7, 1 - 1e-7)
return (x * torch.log(p) + (1 - x) * torch.log(1 - p)).sum(-1)
"""),
        {"check_log_bernoulli_stable": "sigmoid_then_log"},
    ),
    "mistake_mean_over_pixels": Implementation(
        _bernoulli("return (x * logits - F.softplus(logits)).mean(-1)"),
        {
            "check_log_bernoulli_values": "mean_over_pixels",
            "check_log_bernoulli_stable": "mean_over_pixels",
        },
    ),
    "mistake_wrong_sign": Implementation(
        _bernoulli("return (F.softplus(logits) - x * logits).sum(-1)"),
        {
            "check_log_bernoulli_values": "rec_wrong_sign",
            "check_log_bernoulli_stable": "rec_wrong_sign",
        },
    ),
    "mistake_probabilities_as_logits": Implementation(
        _bernoulli("""
p = torch.sigmoid(logits)
return (x * p - F.softplus(p)).sum(-1)
"""),
        {
            "check_log_bernoulli_values": "probabilities_as_logits",
            "check_log_bernoulli_stable": "probabilities_as_logits",
        },
    ),
    "mistake_swapped_arguments": Implementation(
        _bernoulli("""
x, logits = torch.broadcast_tensors(x, logits)
return -F.binary_cross_entropy_with_logits(x, logits, reduction="none").sum(-1)
"""),
        {
            "check_log_bernoulli_values": "swapped_data_and_logits",
            "check_log_bernoulli_stable": "swapped_data_and_logits",
        },
    ),
    "borrowed_grading_likelihood": Implementation(
        _bernoulli("""
from course_utils.grading.common import bernoulli_log_likelihood as reference

return reference(x, logits)
"""),
        borrowed=True,
    ),
}


#: A GMVAE bound's checks when the notebook's log_normal_mixture, which it calls, is wrong.
_WRONG_MIXTURE = "log_normal_mixture_wrong"


# Notebook 4: the mixture density and the GMVAE's bounds. The GMVAE's bounds call the
# notebook's log_normal_mixture (the solution cell before them) unless they say otherwise; a
# mistake in log_normal_mixture therefore fails the bounds' tests too.


def _mixture(body: str) -> str:
    return _density("log_normal_mixture(z, m, v)", body)


LOG_NORMAL_MIXTURE = {
    "correct_normal_log_mean_exp": Implementation(
        _mixture("""
log_components = Normal(m, v.sqrt()).log_prob(z.unsqueeze(1)).sum(-1)  # (batch, mix)
return log_mean_exp(log_components, dim=1)
""")
    ),
    "correct_mixture_same_family": Implementation(
        _mixture("""
weights = Categorical(logits=torch.zeros(m.shape[:-1]))
return MixtureSameFamily(weights, Independent(Normal(m, v.sqrt()), 1)).log_prob(z)
""")
    ),
    "correct_log_normal_logsumexp": Implementation(
        _mixture("""
log_components = log_normal(z.unsqueeze(1), m, v)  # (batch, mix)
return torch.logsumexp(log_components, dim=1) - math.log(m.shape[1])
""")
    ),
    "correct_max_shift": Implementation(
        _mixture("""
a = -0.5 * (torch.log(2 * math.pi * v) + (z.unsqueeze(1) - m) ** 2 / v).sum(-1)
top = a.max(dim=1, keepdim=True).values
return top.squeeze(1) + torch.log(torch.exp(a - top).mean(dim=1))
""")
    ),
    "correct_loop_over_components": Implementation(
        _mixture("""
columns = [log_normal(z, m[:, j], v[:, j]) for j in range(m.shape[1])]
return log_mean_exp(torch.stack(columns, dim=1), 1)
""")
    ),
    "mistake_mean_of_component_log_densities": Implementation(
        _mixture("""
return Normal(m, v.sqrt()).log_prob(z.unsqueeze(1)).sum(-1).mean(dim=1)
"""),
        {
            "check_log_normal_mixture_values": "mean_of_component_log_densities",
            "check_log_normal_mixture_stable": _WRONG_MIXTURE,
        },
    ),
    "mistake_missing_log_k": Implementation(
        _mixture("""
return torch.logsumexp(Normal(m, v.sqrt()).log_prob(z.unsqueeze(1)).sum(-1), dim=1)
"""),
        {
            "check_log_normal_mixture_values": "mixture_missing_log_k",
            "check_log_normal_mixture_stable": _WRONG_MIXTURE,
        },
    ),
    "mistake_density_then_log": Implementation(
        _mixture("""
densities = Normal(m, v.sqrt()).log_prob(z.unsqueeze(1)).sum(-1).exp()  # (batch, mix)
return torch.log(densities.mean(dim=1))
"""),
        {"check_log_normal_mixture_stable": "density_then_log"},
    ),
    "mistake_std_for_variance": Implementation(
        _mixture("""
return log_mean_exp(Normal(m, v).log_prob(z.unsqueeze(1)).sum(-1), dim=1)
"""),
        {
            "check_log_normal_mixture_values": "std_for_variance",
            "check_log_normal_mixture_stable": _WRONG_MIXTURE,
        },
    ),
    "mistake_log_variance": Implementation(
        _mixture("""
return log_mean_exp(Normal(m, (0.5 * v).exp()).log_prob(z.unsqueeze(1)).sum(-1), dim=1)
"""),
        {
            "check_log_normal_mixture_values": "log_variance_for_variance",
            "check_log_normal_mixture_stable": _WRONG_MIXTURE,
        },
    ),
    "mistake_mixture_per_dimension": Implementation(
        _mixture("""
per_dimension = Normal(m, v.sqrt()).log_prob(z.unsqueeze(1))  # (batch, mix, dim)
return log_mean_exp(per_dimension, dim=1).sum(-1)
"""),
        {
            "check_log_normal_mixture_values": "mixture_per_dimension",
            "check_log_normal_mixture_stable": _WRONG_MIXTURE,
        },
    ),
    "mistake_components_not_combined": Implementation(
        _mixture("""
return Normal(m, v.sqrt()).log_prob(z.unsqueeze(1)).sum(-1)
"""),
        {
            "check_log_normal_mixture_shape": "components_not_combined",
            "check_log_normal_mixture_values": "components_not_combined",
            "check_log_normal_mixture_stable": "components_not_combined",
        },
    ),
    "borrowed_grading_mixture": Implementation(
        _mixture("""
from course_utils.grading.common import mixture_log_density

return mixture_log_density(z, m, v)
"""),
        borrowed=True,
    ),
    "borrowed_model_prior": Implementation(
        _mixture("""
from course_utils.models import MixturePrior

rows = [MixturePrior(m[b], v[b], z.shape[-1]).log_prob(z[b]) for b in range(len(z))]
return torch.stack(rows)
"""),
        borrowed=True,
    ),
}


def _gmvae_cell(signature: str, body: str) -> str:
    return "@add_to_class(GMVAE)\n" + _function(signature, body)


def _gmvae_elbo(body: str) -> str:
    return _gmvae_cell("negative_elbo_bound(self, x)", body)


GMVAE_ELBO = {
    "correct_log_normal_mixture": Implementation(
        _gmvae_elbo("""
m, v = self.enc(x)
z = sample_gaussian(m, v)
prior_m, prior_v = gaussian_parameters(self.z_pre, dim=1)
log_pz = log_normal_mixture(z, prior_m.expand(len(x), -1, -1), prior_v.expand(len(x), -1, -1))
kl = log_normal(z, m, v) - log_pz
rec = -log_bernoulli_with_logits(x, self.dec(z))
return (kl + rec).mean(), kl.mean(), rec.mean()
""")
    ),
    "correct_torch_distributions": Implementation(
        _gmvae_elbo("""
m, v = self.enc(x)
q = Independent(Normal(m, v.sqrt()), 1)
z = q.rsample()
prior_m, prior_v = gaussian_parameters(self.z_pre.squeeze(0), dim=0)  # (k, z_dim) each
components = Independent(Normal(prior_m, prior_v.sqrt()), 1)
prior = MixtureSameFamily(Categorical(logits=torch.zeros(self.k)), components)
kl = q.log_prob(z) - prior.log_prob(z)
rec = -Independent(Bernoulli(logits=self.dec(z)), 1).log_prob(x)
return (kl + rec).mean(), kl.mean(), rec.mean()
""")
    ),
    "correct_randn_bce": Implementation(
        _gmvae_elbo("""
m, v = self.enc(x)
z = m + torch.randn_like(m) * v.sqrt()
prior = gaussian_parameters(self.z_pre, dim=1)
log_pz = log_normal_mixture(z, *(p.expand(x.shape[0], *p.shape[1:]) for p in prior))
log_qz = Normal(m, v.sqrt()).log_prob(z).sum(1)
rec = F.binary_cross_entropy_with_logits(self.dec(z), x, reduction="none").sum(1).mean()
kl = (log_qz - log_pz).mean()
return kl + rec, kl, rec
""")
    ),
    "mistake_kl_to_standard_normal": Implementation(
        _gmvae_elbo("""
m, v = self.enc(x)
z = sample_gaussian(m, v)
kl = kl_normal(m, v, torch.zeros(1), torch.ones(1))
rec = -log_bernoulli_with_logits(x, self.dec(z))
return (kl + rec).mean(), kl.mean(), rec.mean()
"""),
        {
            "check_gmvae_elbo_mixture_kl": "kl_to_standard_normal",
            "check_gmvae_elbo_gradients": "prior_no_gradient",
            "check_gmvae_elbo_checkpoint_loose": _REFERENCE,
            "check_gmvae_elbo_reference": _REFERENCE,
        },
    ),
    "mistake_standard_normal_log_density": Implementation(
        _gmvae_elbo("""
m, v = self.enc(x)
z = sample_gaussian(m, v)
kl = log_normal(z, m, v) - log_normal(z, torch.zeros(1), torch.ones(1))
rec = -log_bernoulli_with_logits(x, self.dec(z))
return (kl + rec).mean(), kl.mean(), rec.mean()
"""),
        {
            "check_gmvae_elbo_mixture_kl": "kl_to_standard_normal",
            "check_gmvae_elbo_gradients": "prior_no_gradient",
            "check_gmvae_elbo_checkpoint_loose": _REFERENCE,
            "check_gmvae_elbo_reference": _REFERENCE,
        },
    ),
    "mistake_prior_detached": Implementation(
        _gmvae_elbo("""
m, v = self.enc(x)
z = sample_gaussian(m, v)
prior_m, prior_v = gaussian_parameters(self.z_pre.detach(), dim=1)
log_pz = log_normal_mixture(z, prior_m.expand(len(x), -1, -1), prior_v.expand(len(x), -1, -1))
kl = log_normal(z, m, v) - log_pz
rec = -log_bernoulli_with_logits(x, self.dec(z))
return (kl + rec).mean(), kl.mean(), rec.mean()
"""),
        {"check_gmvae_elbo_gradients": "prior_no_gradient"},
    ),
    "mistake_missing_log_k": Implementation(
        _gmvae_elbo("""
m, v = self.enc(x)
z = sample_gaussian(m, v)
prior_m, prior_v = gaussian_parameters(self.z_pre, dim=1)
log_pz = torch.logsumexp(log_normal(z.unsqueeze(1), prior_m, prior_v), dim=1)
kl = log_normal(z, m, v) - log_pz
rec = -log_bernoulli_with_logits(x, self.dec(z))
return (kl + rec).mean(), kl.mean(), rec.mean()
"""),
        {
            "check_gmvae_elbo_mixture_kl": "mixture_missing_log_k",
            "check_gmvae_elbo_checkpoint_loose": _REFERENCE,
            "check_gmvae_elbo_reference": _REFERENCE,
        },
    ),
    "mistake_mean_of_component_log_densities": Implementation(
        _gmvae_elbo("""
m, v = self.enc(x)
z = sample_gaussian(m, v)
prior_m, prior_v = gaussian_parameters(self.z_pre, dim=1)
log_pz = log_normal(z.unsqueeze(1), prior_m, prior_v).mean(dim=1)
kl = log_normal(z, m, v) - log_pz
rec = -log_bernoulli_with_logits(x, self.dec(z))
return (kl + rec).mean(), kl.mean(), rec.mean()
"""),
        {
            "check_gmvae_elbo_mixture_kl": "mean_of_component_log_densities",
            "check_gmvae_elbo_checkpoint_loose": _REFERENCE,
            "check_gmvae_elbo_reference": _REFERENCE,
        },
    ),
    "mistake_sample_cut_from_graph": Implementation(
        _gmvae_elbo("""
m, v = self.enc(x)
q = Normal(m, v.sqrt())
z = q.sample()
prior_m, prior_v = gaussian_parameters(self.z_pre, dim=1)
log_pz = log_normal_mixture(z, prior_m.expand(len(x), -1, -1), prior_v.expand(len(x), -1, -1))
kl = q.log_prob(z).sum(-1) - log_pz
rec = -Bernoulli(logits=self.dec(z)).log_prob(x).sum(-1)
return (kl + rec).mean(), kl.mean(), rec.mean()
"""),
        {"check_gmvae_elbo_gradients": "sample_cut_from_graph"},
    ),
    "mistake_std_for_variance": Implementation(
        _gmvae_elbo("""
m, v = self.enc(x)
q = Normal(m, v)
z = q.rsample()
prior_m, prior_v = gaussian_parameters(self.z_pre, dim=1)
log_pz = log_normal_mixture(z, prior_m.expand(len(x), -1, -1), prior_v.expand(len(x), -1, -1))
kl = q.log_prob(z).sum(-1) - log_pz
rec = -Bernoulli(logits=self.dec(z)).log_prob(x).sum(-1)
return (kl + rec).mean(), kl.mean(), rec.mean()
"""),
        {
            "check_gmvae_elbo_standard_prior": "std_for_variance",
            "check_gmvae_elbo_mixture_kl": "mc_kl_wrong",
            "check_gmvae_elbo_sampling": "std_for_variance",
            "check_gmvae_elbo_checkpoint_loose": _REFERENCE,
            "check_gmvae_elbo_reference": _REFERENCE,
        },
    ),
    "mistake_kl_wrong_sign": Implementation(
        _gmvae_elbo("""
m, v = self.enc(x)
z = sample_gaussian(m, v)
prior_m, prior_v = gaussian_parameters(self.z_pre, dim=1)
log_pz = log_normal_mixture(z, prior_m.expand(len(x), -1, -1), prior_v.expand(len(x), -1, -1))
kl = log_pz - log_normal(z, m, v)
rec = -log_bernoulli_with_logits(x, self.dec(z))
return (kl + rec).mean(), kl.mean(), rec.mean()
"""),
        {
            "check_gmvae_elbo_standard_prior": "kl_wrong_sign",
            "check_gmvae_elbo_mixture_kl": "kl_wrong_sign",
            "check_gmvae_elbo_checkpoint_loose": _REFERENCE,
            "check_gmvae_elbo_reference": _REFERENCE,
        },
    ),
    "mistake_per_image_values": Implementation(
        _gmvae_elbo("""
m, v = self.enc(x)
z = sample_gaussian(m, v)
prior_m, prior_v = gaussian_parameters(self.z_pre, dim=1)
log_pz = log_normal_mixture(z, prior_m.expand(len(x), -1, -1), prior_v.expand(len(x), -1, -1))
kl = log_normal(z, m, v) - log_pz
rec = -log_bernoulli_with_logits(x, self.dec(z))
return kl + rec, kl, rec
"""),
        {"check_gmvae_elbo_outputs": _PER_IMAGE},
    ),
}


def _gmvae_iwae(body: str) -> str:
    return _gmvae_cell("negative_iwae_bound(self, x, iw)", body)


def _gmvae_duplicate(ending: str, log_pz: str = "", prior: str = "self.z_pre") -> str:
    """A GMVAE bound that stacks the samples sample-major with duplicate, computes log p(z)
    with ``log_pz`` (default: the notebook's log_normal_mixture), and ends with ``ending``."""
    log_pz = log_pz or (
        "log_normal_mixture(z, prior_m.expand(len(z), -1, -1), prior_v.expand(len(z), -1, -1))"
    )
    start = f"""
m, v = self.enc(x)
m, v, x = duplicate(m, iw), duplicate(v, iw), duplicate(x, iw)
z = sample_gaussian(m, v)  # (iw * batch, z_dim)
prior_m, prior_v = gaussian_parameters({prior}, dim=1)
log_px_z = log_bernoulli_with_logits(x, self.dec(z)).reshape(iw, -1)
log_pz = ({log_pz}).reshape(iw, -1)
log_qz = log_normal(z, m, v).reshape(iw, -1)
log_w = log_px_z + log_pz - log_qz  # (iw, batch)
"""
    return _gmvae_iwae(start + ending.lstrip("\n"))


_GMVAE_IWAE_RETURN = """
niwae = -log_mean_exp(log_w, dim=0)
return niwae.mean(), (log_qz - log_pz).mean(), -log_px_z.mean()
"""

GMVAE_IWAE = {
    "correct_duplicate": Implementation(_gmvae_duplicate(_GMVAE_IWAE_RETURN)),
    "correct_torch_distributions": Implementation(
        _gmvae_iwae("""
m, v = self.enc(x)
q = Independent(Normal(m, v.sqrt()), 1)
z = q.rsample((iw,))  # (iw, batch, z_dim)
prior_m, prior_v = gaussian_parameters(self.z_pre[0], dim=0)  # (k, z_dim) each
components = Independent(Normal(prior_m, prior_v.sqrt()), 1)
prior = MixtureSameFamily(Categorical(logits=torch.zeros(self.k)), components)
log_px_z = Independent(Bernoulli(logits=self.dec(z)), 1).log_prob(x)  # (iw, batch)
log_pz, log_qz = prior.log_prob(z), q.log_prob(z)
log_w = log_px_z + log_pz - log_qz
niwae = -(torch.logsumexp(log_w, dim=0) - math.log(iw))
return niwae.mean(), (log_qz - log_pz).mean(), -log_px_z.mean()
""")
    ),
    "correct_batch_major": Implementation(
        _gmvae_iwae("""
m, v = self.enc(x)
batch, z_dim = m.shape
z = m.unsqueeze(1) + v.sqrt().unsqueeze(1) * torch.randn(batch, iw, z_dim)  # (batch, iw, z_dim)
prior_m, prior_v = gaussian_parameters(self.z_pre, dim=1)
rows = batch * iw
flat = z.reshape(rows, z_dim)
log_pz = log_normal_mixture(flat, prior_m.expand(rows, -1, -1), prior_v.expand(rows, -1, -1))
log_pz = log_pz.reshape(batch, iw)
log_qz = Normal(m.unsqueeze(1), v.sqrt().unsqueeze(1)).log_prob(z).sum(-1)  # (batch, iw)
log_px_z = Bernoulli(logits=self.dec(z)).log_prob(x.unsqueeze(1)).sum(-1)  # (batch, iw)
log_w = log_px_z + log_pz - log_qz
niwae = -log_mean_exp(log_w, dim=1)
return niwae.mean(), (log_qz - log_pz).mean(), -log_px_z.mean()
""")
    ),
    "mistake_missing_log_iw": Implementation(
        _gmvae_duplicate("""
niwae = -torch.logsumexp(log_w, dim=0)
return niwae.mean(), (log_qz - log_pz).mean(), -log_px_z.mean()
"""),
        {
            "check_gmvae_iwae_exact_at_prior": "missing_log_k",
            "check_gmvae_iwae_increases_with_k": "missing_log_k",
            "check_gmvae_iwae_checkpoint_loose": _REFERENCE,
            "check_gmvae_iwae_reference": _REFERENCE,
        },
    ),
    "mistake_standard_normal_prior": Implementation(
        _gmvae_duplicate(_GMVAE_IWAE_RETURN, log_pz="log_normal(z, torch.zeros(1), torch.ones(1))"),
        {
            "check_gmvae_iwae_k1_matches_elbo": "kl_to_standard_normal",
            "check_gmvae_iwae_gradients": "prior_no_gradient",
            "check_gmvae_iwae_checkpoint_loose": _REFERENCE,
            "check_gmvae_iwae_reference": _REFERENCE,
        },
    ),
    "mistake_mixture_missing_log_k": Implementation(
        _gmvae_duplicate(
            _GMVAE_IWAE_RETURN,
            log_pz="torch.logsumexp(log_normal(z.unsqueeze(1), prior_m, prior_v), dim=1)",
        ),
        {
            "check_gmvae_iwae_exact_at_prior": "mixture_missing_log_k",
            "check_gmvae_iwae_k1_matches_elbo": "mixture_missing_log_k",
            "check_gmvae_iwae_increases_with_k": "mixture_missing_log_k",
            "check_gmvae_iwae_checkpoint_loose": _REFERENCE,
            "check_gmvae_iwae_reference": _REFERENCE,
        },
    ),
    "mistake_mean_of_log_weights": Implementation(
        _gmvae_duplicate("""
niwae = -log_w.mean(dim=0)
return niwae.mean(), (log_qz - log_pz).mean(), -log_px_z.mean()
"""),
        {
            "check_gmvae_iwae_increases_with_k": "mean_of_log_weights",
            "check_gmvae_iwae_checkpoint_loose": _REFERENCE,
            "check_gmvae_iwae_reference": _REFERENCE,
        },
    ),
    "mistake_prior_detached": Implementation(
        _gmvae_duplicate(_GMVAE_IWAE_RETURN, prior="self.z_pre.detach()"),
        {"check_gmvae_iwae_gradients": "prior_no_gradient"},
    ),
    "mistake_lse_over_batch": Implementation(
        _gmvae_duplicate("""
niwae = -(torch.logsumexp(log_w, dim=1) - math.log(iw))
return niwae.mean(), (log_qz - log_pz).mean(), -log_px_z.mean()
"""),
        {
            "check_gmvae_iwae_exact_at_prior": "lse_over_batch",
            "check_gmvae_iwae_k1_matches_elbo": "iwae1_not_elbo",
            "check_gmvae_iwae_increases_with_k": "above_log_px",
            "check_gmvae_iwae_checkpoint_loose": _REFERENCE,
            "check_gmvae_iwae_reference": _REFERENCE,
        },
    ),
    "mistake_exp_then_log": Implementation(
        _gmvae_duplicate("""
niwae = -torch.log(torch.exp(log_w).mean(dim=0))
return niwae.mean(), (log_qz - log_pz).mean(), -log_px_z.mean()
"""),
        {
            "check_gmvae_iwae_outputs": _INF,
            "check_gmvae_iwae_exact_at_prior": _INF,
            "check_gmvae_iwae_k1_matches_elbo": _INF,
            "check_gmvae_iwae_increases_with_k": _INF,
            "check_gmvae_iwae_gradients": _INF,
            "check_gmvae_iwae_checkpoint_loose": _INF,
            "check_gmvae_iwae_reference": _INF,
        },
    ),
}
