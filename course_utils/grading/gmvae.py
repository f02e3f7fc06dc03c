"""Checks of notebook 04's exercises: ``log_normal_mixture`` and the bounds of the ``GMVAE``,
a VAE whose prior is a learned mixture of Gaussians (CS236's GMVAE).

``log_normal_mixture`` is compared with ``torch.distributions.MixtureSameFamily`` on inputs
where each usual mistake gives a different value: the component log densities averaged (a
lower bound, by Jensen's inequality), the ``- log k`` of the equal weights forgotten,
components mixed dimension by dimension, a variance read as a standard deviation or a
log-variance, the density computed and then its log (``-inf`` far from every component).

The bounds run on *probe* GMVAEs whose encoder and decoder output numbers we choose and whose
``z_pre`` holds a prior we choose (``common.probe_gmvae``):

- one component with mean 0 and variance 1 makes the GMVAE a VAE: the Monte Carlo KL averages
  to the closed-form ``KL(q || N(0, I))``, and the bound to the VAE's;
- a mixture of three unequal components, against which the expectations
  ``E_q[log q(z|x) - log p(z)]`` and ``Var_q`` are computed here with 400,000 samples in
  float64 (``MixtureSameFamily``), distinguishes the KL to the mixture from the KL to
  ``N(0, I)``, a missing ``- log k`` and averaged component log densities;
- for the IWAE bound, components all equal to ``N(0, I)`` and ``q(z|x) = N(0, I)`` make every
  importance weight ``p(x)``, so the bound is exact for every number of samples.

Gradients must reach the encoder through the sample, the decoder, and the prior's ``z_pre``
(the mixture is learned). The probes and the checks these bounds share with the VAE's are in
``probes``. The checkpoint checks run the shipped ``gmvae_z10``: loosely against its provenance
(visible), tightly against the reference values in the hidden tests; they are in
``checkpoints``, with the other notebooks', and are offered here by their names.
"""

from __future__ import annotations

import functools
import math

import torch
from torch import Tensor
from torch.distributions import Normal

from course_utils import distributions
from course_utils.data import IMAGE_DIM
from course_utils.grading import common, probes
from course_utils.grading.checkpoints import (
    check_gmvae_elbo_checkpoint_loose,
    check_gmvae_elbo_reference,
    check_gmvae_iwae_checkpoint_loose,
    check_gmvae_iwae_reference,
)
from course_utils.language import msg
from course_utils.models import GMVAE

__all__ = [
    "check_gmvae_elbo_checkpoint_loose",
    "check_gmvae_elbo_gradients",
    "check_gmvae_elbo_mixture_kl",
    "check_gmvae_elbo_outputs",
    "check_gmvae_elbo_reference",
    "check_gmvae_elbo_sampling",
    "check_gmvae_elbo_standard_prior",
    "check_gmvae_iwae_checkpoint_loose",
    "check_gmvae_iwae_exact_at_prior",
    "check_gmvae_iwae_gradients",
    "check_gmvae_iwae_increases_with_k",
    "check_gmvae_iwae_k1_matches_elbo",
    "check_gmvae_iwae_outputs",
    "check_gmvae_iwae_reference",
    "check_log_normal_mixture_shape",
    "check_log_normal_mixture_stable",
    "check_log_normal_mixture_values",
]


def _component_log_densities(z: Tensor, m: Tensor, v: Tensor) -> Tensor:
    """``log N(z; m_j, diag(v_j))`` of every component: ``(..., dim)`` -> ``(..., mix)``."""
    return common.gaussian_log_density(z.unsqueeze(-2), m, v)


# -- log_normal_mixture -------------------------------------------------------------------------


#: The student's function, read from ``course_utils.distributions`` at call time (where the
#: solution cell attaches it).
MIXTURE_DENSITY = "log_normal_mixture"


def _call(z: Tensor, m: Tensor, v: Tensor, *, finite: bool = True) -> Tensor:
    """``distributions.log_normal_mixture(z, m, v)``, checked to be a finite ``(batch,)``."""
    out = getattr(distributions, MIXTURE_DENSITY)(z, m, v)
    if not isinstance(out, Tensor):
        common.fail(
            msg(
                "gmvae.not_a_tensor_result",
                "log_normal_mixture must return a torch tensor, got {type}",
                type=type(out).__name__,
            ),
            "not_a_tensor_result",
        )
    batch, mix, dim = m.shape
    if tuple(out.shape) != (batch,):
        found = tuple(out.shape)
        message = msg(
            "gmvae.mixture_shape",
            "log_normal_mixture of z {z_shape}, m and v {m_shape} returned shape {found}; "
            "expected ({batch},), one log density per row of z",
            z_shape=tuple(z.shape),
            m_shape=tuple(m.shape),
            found=found,
            batch=batch,
        )
        if found in ((batch, mix, dim), (batch, dim, mix)):
            hint = msg(
                "gmvae.dimensions_not_summed",
                "sum each component's log density over the last dimension (the latents)",
            )
            common.fail(f"{message}: {hint}", "dimensions_not_summed")
        if found == (batch, mix):
            hint = msg(
                "gmvae.components_not_combined",
                "combine the components' log densities with log-mean-exp over dimension 1",
            )
            common.fail(f"{message}: {hint}", "components_not_combined")
        common.fail(message, "wrong_result_shape")
    if finite and not torch.isfinite(out).all():
        common.fail(
            msg(
                "gmvae.nonfinite_output",
                "log_normal_mixture returned non-finite values for ordinary inputs: {out}",
                out=out,
            ),
            "nonfinite_output",
        )
    return out


def _mixture_inputs(batch: int = 5, mix: int = 3, dim: int = 4, seed: int = 0):
    """Points ``z (batch, dim)`` and components ``m, v (batch, mix, dim)`` within a few
    standard deviations of each other, with variances from 0.3 to 4 (each convention for v
    gives a different density)."""
    g = torch.Generator().manual_seed(seed)
    m = torch.randn(batch, mix, dim, generator=g)
    v = 0.3 + 3.7 * torch.rand(batch, mix, dim, generator=g)
    z = torch.randn(batch, dim, generator=g)
    return z, m, v


def check_log_normal_mixture_shape() -> None:
    """``log_normal_mixture(z, m, v)`` returns one value per row of ``z``: ``(batch,)`` for
    ``z`` of shape ``(batch, dim)`` and ``m``, ``v`` of shape ``(batch, mix, dim)``, for a
    mixture of several components and of one."""
    for mix in (3, 1):
        _call(*_mixture_inputs(batch=5, mix=mix, dim=4))


def _mixture_mistakes(z: Tensor, m: Tensor, v: Tensor) -> dict[str, float]:
    """Mistake id -> the batch mean of ``log_normal_mixture`` under that mistake."""
    mix = m.shape[-2]
    components = _component_log_densities(z, m, v)  # (batch, mix)
    per_dimension = Normal(m, v.sqrt()).log_prob(z.unsqueeze(-2))  # (batch, mix, dim)
    return {
        "mean_of_component_log_densities": components.mean(-1).mean().item(),
        "mixture_missing_log_k": torch.logsumexp(components, -1).mean().item(),
        "mixture_per_dimension": (
            (torch.logsumexp(per_dimension, -2) - math.log(mix)).sum(-1).mean().item()
        ),
        "std_for_variance": common.mixture_log_density(z, m, v**2).mean().item(),
        "log_variance_for_variance": common.mixture_log_density(z, m, v.exp()).mean().item(),
        "missing_log_2pi": (
            common.mixture_log_density(z, m, v) + 0.5 * z.shape[-1] * math.log(2 * math.pi)
        )
        .mean()
        .item(),
    }


def check_log_normal_mixture_values() -> None:
    """The log densities equal ``MixtureSameFamily``'s (equal weights, diagonal Gaussian
    components), for a mixture of three components in four dimensions and for one component
    (where the mixture is a Gaussian)."""
    for mix in (3, 1):
        z, m, v = _mixture_inputs(batch=5, mix=mix, dim=4, seed=1)
        out = _call(z, m, v)
        exact = common.mixture_log_density(z, m, v)
        if torch.allclose(out, exact, rtol=1e-4, atol=1e-4):
            continue
        value, expected = out.mean().item(), exact.mean().item()
        sentence, mistake = common.diagnose(
            value, _mixture_mistakes(z, m, v), otherwise="log_normal_mixture_wrong", atol=1e-3
        )
        common.fail(
            msg(
                "gmvae.mixture_values",
                "log_normal_mixture averages {value:.4f} over 5 points for a mixture of {mix} "
                "diagonal Gaussian component(s) in 4 dimensions (variances from 0.3 to 4); "
                "torch.distributions.MixtureSameFamily gives {expected:.4f}: "
                "log (1/k) sum_j N(z; m_j, diag(v_j)); {sentence}",
                value=value,
                mix=mix,
                expected=expected,
                sentence=sentence,
            ),
            mistake,
        )


def check_log_normal_mixture_stable() -> None:
    """Finite and exact far from every component: a point 40 units from components of
    variance about 1 (log densities near -3,000 nats) and a point 1 unit from components of
    variance 1e-4 (near -5,000 nats); ``exp`` of either underflows to 0, even in float64."""
    g = torch.Generator().manual_seed(2)
    m = torch.randn(2, 3, 4, generator=g)
    v = torch.stack([0.5 + torch.rand(3, 4, generator=g), torch.full((3, 4), 1e-4)])
    z = torch.stack([torch.full((4,), 40.0), m[1, 0] + 1.0])
    out = _call(z, m, v, finite=False)
    exact = common.mixture_log_density(z, m, v)
    exact_shown = [round(e, 1) for e in exact.tolist()]
    if not torch.isfinite(out).all():
        common.fail(
            msg(
                "gmvae.density_then_log",
                "log_normal_mixture is {out} far from every component (exact: {exact}): each "
                "component's density underflows to 0 there, so its log is -inf. Combine the "
                "components' log densities with log-mean-exp, "
                "torch.logsumexp(log_densities, dim) - math.log(k), which never leaves log "
                "space.",
                out=common.shown(out),
                exact=exact_shown,
            ),
            "density_then_log",
        )
    if not torch.allclose(out, exact, rtol=1e-4):
        common.fail(
            msg(
                "gmvae.mixture_far",
                "log_normal_mixture is {out} far from every component; the exact values are "
                "{exact}",
                out=[round(o, 1) for o in out.tolist()],
                exact=exact_shown,
            ),
            "log_normal_mixture_wrong",
        )


# -- the probes of the bounds -------------------------------------------------------------------

#: The prior N(0, I) as a mixture of one component, in the four dimensions of elbo's probe.
STANDARD_M, STANDARD_V = torch.zeros(1, 4), torch.ones(1, 4)
#: A mixture of three unequal components in two dimensions, and the posterior probed against it.
MIXTURE_M = torch.tensor([[-2.0, 0.0], [2.0, 0.5], [0.0, 2.5]])
MIXTURE_V = torch.tensor([[0.5, 1.0], [0.3, 0.8], [1.5, 0.4]])
Q_M, Q_V = torch.tensor([0.5, 0.5]), torch.tensor([1.0, 0.6])
Q_TEXT = "N([0.5, 0.5], diag([1.0, 0.6]))"
#: Images per call of the Monte Carlo KL checks: the KL's standard error is then about 0.01.
MC_BATCH = 10_000
#: Logits spread over [-3, 3]: the reconstruction term is exact whatever z is.
SPREAD_LOGITS = torch.linspace(-3, 3, IMAGE_DIM)
MIXTURE = msg("gmvae.mixture_prior", "a prior of three unequal Gaussian components")


@functools.cache
def _mixture_expectations(
    qm: tuple[float, ...], qv: tuple[float, ...], samples: int = 400_000
) -> dict[str, float]:
    """Under ``z ~ q = N(qm, diag(qv))`` and the prior ``MIXTURE_M``, ``MIXTURE_V``, in float64
    over ``samples`` seeded draws: the mean and standard deviation of ``log q - log p``, the
    mean under the mistakes, and ``Var(p(z) / q(z))``."""
    g = torch.Generator().manual_seed(0)
    qm_, qv_ = torch.tensor(qm, dtype=torch.float64), torch.tensor(qv, dtype=torch.float64)
    z = qm_ + qv_.sqrt() * torch.randn(samples, len(qm), generator=g, dtype=torch.float64)
    pm, pv = MIXTURE_M.double(), MIXTURE_V.double()
    log_q = common.gaussian_log_density(z, qm_, qv_)
    log_p = common.mixture_log_density(z, pm, pv)
    ratio = log_q - log_p
    mean_of_components = _component_log_densities(z, pm, pv).mean(-1)
    return {
        "kl": ratio.mean().item(),
        "sd": ratio.std().item(),
        "mean_of_component_log_densities": (log_q - mean_of_components).mean().item(),
        "weight_variance": (-ratio).exp().var().item(),
    }


def _kl_of(qm: Tensor, qv: Tensor) -> dict[str, float]:
    return _mixture_expectations(tuple(qm.tolist()), tuple(qv.tolist()))


def _mixture_kl_mistakes(qm: Tensor, qv: Tensor, batch: int) -> dict[str, float]:
    """Mistake id -> the expected KL term under that mistake, for q = N(qm, qv) and the
    mixture prior."""
    found = _kl_of(qm, qv)
    exact = found["kl"]
    return {
        "kl_to_standard_normal": probes.kl_to_standard_normal(qm, qv),
        "mixture_missing_log_k": exact - math.log(len(MIXTURE_M)),
        "mean_of_component_log_densities": found["mean_of_component_log_densities"],
        "kl_wrong_sign": -exact,
        "sum_over_batch": exact * batch,
    }


# -- GMVAE.negative_elbo_bound ------------------------------------------------------------------


@common.graded_alone("gmvae_negative_elbo_bound")
def check_gmvae_elbo_outputs(batch: int = 97) -> None:
    """``negative_elbo_bound`` of a GMVAE (10 latent dimensions, 5 components) returns three
    finite scalars for a batch of ``batch`` images."""
    model = common.probe_gmvae(torch.randn(5, 10), 0.5 + torch.rand(5, 10))
    common.check_bound_shapes(model.negative_elbo_bound, common.binary_batch(batch))


@common.graded_alone("gmvae_negative_elbo_bound")
def check_gmvae_elbo_standard_prior(batch: int = MC_BATCH) -> None:
    """With one component of mean 0 and variance 1 the GMVAE is a VAE: its bound averages to
    the VAE's. For the probe encoder of notebook 2's KL check and constant decoder logits,
    ``rec`` is exact, ``kl`` (a Monte Carlo estimate) is the closed-form ``KL(q || N(0, I))``
    within ``Z_SCORE`` standard errors, and ``nelbo = kl + rec``."""
    m, v = common.PROBE_M, common.PROBE_V
    model = common.probe_gmvae(STANDARD_M, STANDARD_V, m, v, logits=SPREAD_LOGITS)
    x = common.binary_batch(batch)
    nelbo, kl, rec = (t.item() for t in common.call_bound(model.negative_elbo_bound, x))
    probes.check_nelbo_is_kl_plus_rec(nelbo, kl, rec)
    probes.check_rec_exact(rec, x, SPREAD_LOGITS)
    exact = probes.kl_to_standard_normal(m, v)
    sd = (0.5 * (1 - v) ** 2 + m**2 * v).sum().sqrt().item()  # of log q - log p, p = N(0, I)
    tolerance = common.Z_SCORE * sd / math.sqrt(batch)
    if not common.close(kl, exact, tolerance):
        sentence, mistake = common.diagnose(
            kl, probes.kl_mistakes(m, v, batch), otherwise="mc_kl_wrong", atol=tolerance
        )
        common.fail(
            msg(
                "gmvae.standard_prior",
                "kl = {kl:.4f} over {batch} images for an encoder with m = {m} and variance "
                "v = {v}, and a prior of one component N(0, I): the GMVAE is then a VAE, and "
                "E_q[log q(z|x) - log p(z)] is the closed-form KL(q || N(0, I)) = {exact:.4f} "
                "(within {tolerance:.3f}); {sentence}",
                kl=kl,
                batch=batch,
                m=common.shown(m),
                v=common.shown(v),
                exact=exact,
                tolerance=tolerance,
                sentence=sentence,
            ),
            mistake,
        )


@common.graded_alone("gmvae_negative_elbo_bound")
def check_gmvae_elbo_mixture_kl(batch: int = MC_BATCH) -> None:
    """Against a mixture of three unequal components, ``kl`` averages to
    ``E_q[log q(z|x) - log p(z)]`` (computed here with 400,000 samples), within ``Z_SCORE``
    standard errors: not the KL to ``N(0, I)``, not without the ``- log k`` of the mixture,
    not with the component log densities averaged."""
    model = common.probe_gmvae(MIXTURE_M, MIXTURE_V, Q_M, Q_V, logits=SPREAD_LOGITS)
    kl = common.call_bound(model.negative_elbo_bound, common.binary_batch(batch), judge=("kl",))[
        1
    ].item()
    expected = _kl_of(Q_M, Q_V)
    tolerance = common.Z_SCORE * expected["sd"] * math.sqrt(1 / batch + 1 / 400_000)
    if not common.close(kl, expected["kl"], tolerance):
        sentence, mistake = common.diagnose(
            kl, _mixture_kl_mistakes(Q_M, Q_V, batch), otherwise="mc_kl_wrong", atol=tolerance
        )
        common.fail(
            msg(
                "gmvae.mixture_kl",
                "kl = {kl:.4f} over {batch} images for q(z|x) = {q} and {mixture}; "
                "E_q[log q(z|x) - log p(z)] is {expected:.4f} (within {tolerance:.3f}), with "
                "log p(z) the mixture's log density; {sentence}",
                kl=kl,
                batch=batch,
                q=Q_TEXT,
                mixture=MIXTURE,
                expected=expected["kl"],
                tolerance=tolerance,
                sentence=sentence,
            ),
            mistake,
        )


@common.graded_alone("gmvae_negative_elbo_bound")
def check_gmvae_elbo_sampling(rows: int = 4000) -> None:
    """The z that reaches the decoder is a sample from ``q(z|x) = N(m, diag(v))`` (not from
    the prior): per-dimension mean and variance within ``Z_SCORE`` standard errors."""
    model = common.probe_gmvae(
        MIXTURE_M.repeat(1, 2), MIXTURE_V.repeat(1, 2), common.PROBE_M, common.PROBE_V
    )
    probes.check_sampled_latents(model, rows, common.PROBE_M, common.PROBE_V)


def _check_prior_gradient(model: GMVAE, value: Tensor, name: str) -> None:
    """``value`` (the bound, computed from ``model``) has a non-zero gradient for z_pre."""
    (grad,) = torch.autograd.grad(value, [model.z_pre], allow_unused=True, retain_graph=True)
    if grad is None or not grad.abs().sum() > 0:
        common.fail(
            msg(
                "gmvae.prior_no_gradient",
                "the gradient of {name} does not reach the prior's parameters self.z_pre, so "
                "training would never move the mixture: read them with "
                "gaussian_parameters(self.z_pre, dim=1) inside the bound, without .detach(), "
                ".data or torch.no_grad()",
                name=name,
            ),
            "prior_no_gradient",
        )
    if not torch.isfinite(grad).all():
        common.fail(
            msg(
                "gmvae.prior_nonfinite_gradient",
                "the gradient of {name} reaching z_pre is not finite",
                name=name,
            ),
            "nonfinite_gradient",
        )


@common.graded_alone("gmvae_negative_elbo_bound")
def check_gmvae_elbo_gradients() -> None:
    """Gradients of the bound reach the encoder's mean and variance through the sample (the
    reparameterization trick), the decoder, and the mixture prior's ``z_pre``."""
    model = common.probe_gmvae(MIXTURE_M, MIXTURE_V)
    nelbo, _, rec = common.call_bound(
        model.negative_elbo_bound, common.binary_batch(), judge=("bound", "rec")
    )
    if not (rec.requires_grad and nelbo.requires_grad):
        common.fail(
            msg(
                "gmvae.no_gradient",
                "the bound carries no gradient: was it computed under torch.no_grad() or detached?",
            ),
            "no_gradient",
        )
    _check_prior_gradient(model, nelbo, "nelbo")
    weights = [model.enc.net[-1].weight, model.dec.net[-1].weight]
    grad_enc, grad_dec = torch.autograd.grad(rec, weights, allow_unused=True)
    probes.check_rec_gradients(grad_enc, grad_dec, model.z_dim)


# -- GMVAE.negative_iwae_bound ------------------------------------------------------------------


@common.graded_alone("gmvae_negative_iwae_bound")
def check_gmvae_iwae_outputs(batch: int = 97, iw: int = 10) -> None:
    """``negative_iwae_bound`` of a GMVAE (10 latent dimensions, 5 components) returns three
    finite scalars for ``batch`` images and ``iw`` samples each, and for 1 image and 1 sample."""
    model = common.probe_gmvae(torch.randn(5, 10), 0.5 + torch.rand(5, 10))
    common.check_bound_shapes(
        model.negative_iwae_bound, common.binary_batch(batch), iw, nonfinite=probes.UNSTABLE
    )
    common.check_bound_shapes(
        model.negative_iwae_bound, common.binary_batch(1), 1, nonfinite=probes.UNSTABLE
    )


#: Three components all equal to N(0, I) in two dimensions: the mixture is N(0, I).
EQUAL_M, EQUAL_V = torch.zeros(3, 2), torch.ones(3, 2)


@common.graded_alone("gmvae_negative_iwae_bound")
def check_gmvae_iwae_exact_at_prior(batch: int = 23, ks: tuple[int, ...] = (1, 4, 10)) -> None:
    """``IWAE_k = log p(x)`` exactly, for every k, when the mixture's three components are all
    ``N(0, I)``, ``q(z|x) = N(0, I)`` and the decoder's logits are constant: every weight is
    then ``p(x)``. A missing ``- log k`` of the importance samples, or of the mixture, or a
    reduction over the batch gives a value the message names."""
    model = common.probe_gmvae(
        EQUAL_M, EQUAL_V, torch.zeros(2), torch.ones(2), logits=probes.LOGITS
    )
    probe = msg(
        "gmvae.equal_components_probe",
        "a decoder with constant logits, q(z|x) = N(0, I) and a prior of three components all "
        "N(0, I) (so p(z) = N(0, I))",
    )
    # A constant: log p(z) is off by log 3 everywhere, so the bound by -log 3.
    exact = (
        -common.bernoulli_log_likelihood(common.binary_batch(batch), probes.LOGITS).mean().item()
    )
    missing = {"mixture_missing_log_k": exact - math.log(len(EQUAL_M))}
    probes.exact_at_prior(model, batch, ks, probe, missing)


@common.graded_alone("gmvae_negative_iwae_bound")
def check_gmvae_iwae_k1_matches_elbo(batch: int = 4000) -> None:
    """With one sample the IWAE bound is the ELBO: ``E[IWAE_1] = log p(x) - KL(q || p)`` for a
    decoder with constant logits, the posterior ``Q_M``, ``Q_V`` of the ELBO's mixture check
    (whose KL to ``N(0, I)`` is far from its KL to the mixture) and the prior of three unequal
    components, the KL to the mixture computed here with 400,000 samples."""
    model = common.probe_gmvae(MIXTURE_M, MIXTURE_V, Q_M, Q_V, logits=probes.LOGITS)
    expected = _kl_of(Q_M, Q_V)
    tolerance = common.Z_SCORE * expected["sd"] * math.sqrt(1 / batch + 1 / 400_000)
    kls = _mixture_kl_mistakes(Q_M, Q_V, 1)
    named = ("kl_to_standard_normal", "mixture_missing_log_k", "mean_of_component_log_densities")
    probe = msg(
        "gmvae.mixture_probe",
        "a decoder with constant logits, q(z|x) = {q} and {mixture}",
        q=Q_TEXT,
        mixture=MIXTURE,
    )
    mistakes = {name: kls[name] for name in named}
    probes.check_iwae1_is_elbo(model, batch, expected["kl"], tolerance, probe, mistakes)


@common.graded_alone("gmvae_negative_iwae_bound")
def check_gmvae_iwae_increases_with_k(repeats: int = 20) -> None:
    """``IWAE_k`` rises with k from the ELBO to ``log p(x)`` for a decoder with constant logits,
    ``q(z|x) = N(0, 4 I)`` and the prior of three unequal components, and never exceeds
    ``log p(x)``: the weights ``p(z) / q(z)`` are bounded (every component is narrower than
    q), so the gap at the largest k is at most about ``Var(w / p(x)) / (2k)``."""
    model = common.probe_gmvae(
        MIXTURE_M, MIXTURE_V, probes.WIDE_M, probes.WIDE_V, logits=probes.LOGITS
    )
    expected = _kl_of(probes.WIDE_M, probes.WIDE_V)
    probe = msg(
        "gmvae.wide_mixture_probe",
        "a decoder with constant logits, q(z|x) = N(0, 4 I) and {mixture}",
        mixture=MIXTURE,
    )
    probes.rises_to_log_px(
        model, expected["kl"], expected["weight_variance"], probe, repeats, len(MIXTURE_M)
    )


@common.graded_alone("gmvae_negative_iwae_bound")
def check_gmvae_iwae_gradients(batch: int = 20, iw: int = 10) -> None:
    """The bound is differentiable: the samples stay in the graph, and finite, non-zero
    gradients of ``niwae`` reach the encoder, the decoder and the prior's ``z_pre``."""
    model = common.probe_gmvae(MIXTURE_M, MIXTURE_V)
    niwae = probes.niwae_of(model, common.binary_batch(batch), iw)
    if niwae.requires_grad:
        _check_prior_gradient(model, niwae, "niwae")
    probes.gradients_reach_the_networks(model, batch=batch, iw=iw)
