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
(the mixture is learned). The checkpoint checks run the shipped ``gmvae_z10``: loosely against
its provenance (visible), tightly against the reference values in the hidden tests.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping

import torch
from torch import Tensor
from torch.distributions import Normal

from course_utils import distributions
from course_utils.grading.common import (
    Z_SCORE,
    bernoulli_log_likelihood,
    binary_batch,
    call_bound,
    check_against_reference,
    check_bound_shapes,
    check_sample_moments,
    close,
    diagnose,
    fail,
    gaussian_kl,
    gaussian_log_density,
    graded_alone,
    mixture_log_density,
    probe_gmvae,
    recorded_latents,
)
from course_utils.grading.elbo import (
    LOOSE_TOLERANCE,
    PROBE_M,
    PROBE_V,
    _kl_mistakes,
    _rec_mistakes,
    provenance_check,
    reference_batch,
)
from course_utils.grading.iwae import (
    LOGITS,
    UNSTABLE,
    WIDE_M,
    WIDE_V,
    exact_at_prior,
    gradients_reach_the_networks,
    iwae_provenance_check,
    iwae_reference_check,
    niwae_of,
    rises_to_log_px,
)
from course_utils.models import GMVAE
from course_utils.networks import IMAGE_DIM

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
    return gaussian_log_density(z.unsqueeze(-2), m, v)


# -- log_normal_mixture -------------------------------------------------------------------------


#: The student's function, read from ``course_utils.distributions`` at call time (where the
#: solution cell attaches it).
MIXTURE_DENSITY = "log_normal_mixture"


def _call(z: Tensor, m: Tensor, v: Tensor, *, finite: bool = True) -> Tensor:
    """``distributions.log_normal_mixture(z, m, v)``, checked to be a finite ``(batch,)``."""
    out = getattr(distributions, MIXTURE_DENSITY)(z, m, v)
    if not isinstance(out, Tensor):
        fail(
            f"log_normal_mixture must return a torch tensor, got {type(out).__name__}",
            "not_a_tensor_result",
        )
    batch, mix, dim = m.shape
    if tuple(out.shape) != (batch,):
        shapes = f"z {tuple(z.shape)}, m and v {tuple(m.shape)}"
        found = tuple(out.shape)
        if found in ((batch, mix, dim), (batch, dim, mix)):
            hint = ": sum each component's log density over the last dimension (the latents)"
            mistake = "dimensions_not_summed"
        elif found == (batch, mix):
            hint = ": combine the components' log densities with log-mean-exp over dimension 1"
            mistake = "components_not_combined"
        else:
            hint, mistake = "", "wrong_result_shape"
        fail(
            f"log_normal_mixture of {shapes} returned shape {found}; expected ({batch},), one "
            f"log density per row of z{hint}",
            mistake,
        )
    if finite and not torch.isfinite(out).all():
        fail(
            f"log_normal_mixture returned non-finite values for ordinary inputs: {out}",
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
        "std_for_variance": mixture_log_density(z, m, v**2).mean().item(),
        "log_variance_for_variance": mixture_log_density(z, m, v.exp()).mean().item(),
        "missing_log_2pi": (
            mixture_log_density(z, m, v) + 0.5 * z.shape[-1] * math.log(2 * math.pi)
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
        exact = mixture_log_density(z, m, v)
        if torch.allclose(out, exact, rtol=1e-4, atol=1e-4):
            continue
        value, expected = out.mean().item(), exact.mean().item()
        sentence, mistake = diagnose(
            value, _mixture_mistakes(z, m, v), otherwise="log_normal_mixture_wrong", atol=1e-3
        )
        fail(
            f"log_normal_mixture averages {value:.4f} over 5 points for a mixture of {mix} "
            f"diagonal Gaussian component(s) in 4 dimensions (variances from 0.3 to 4); "
            f"torch.distributions.MixtureSameFamily gives {expected:.4f}: "
            f"log (1/k) sum_j N(z; m_j, diag(v_j)). {sentence}",
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
    exact = mixture_log_density(z, m, v)
    if not torch.isfinite(out).all():
        fail(
            f"log_normal_mixture is {out.tolist()} far from every component (exact: "
            f"{[round(e, 1) for e in exact.tolist()]}): each component's density underflows "
            "to 0 there, so its log is -inf. Combine the components' log densities with "
            "log-mean-exp, torch.logsumexp(log_densities, dim) - math.log(k), which never "
            "leaves log space.",
            "density_then_log",
        )
    if not torch.allclose(out, exact, rtol=1e-4):
        fail(
            f"log_normal_mixture is {[round(o, 1) for o in out.tolist()]} far from every "
            f"component; the exact values are {[round(e, 1) for e in exact.tolist()]}",
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
MIXTURE = "a prior of three unequal Gaussian components"


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
    log_q = gaussian_log_density(z, qm_, qv_)
    log_p = mixture_log_density(z, pm, pv)
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
        "kl_to_standard_normal": gaussian_kl(qm, qv, torch.zeros(1), torch.ones(1)).item(),
        "mixture_missing_log_k": exact - math.log(len(MIXTURE_M)),
        "mean_of_component_log_densities": found["mean_of_component_log_densities"],
        "kl_wrong_sign": -exact,
        "sum_over_batch": exact * batch,
    }


# -- GMVAE.negative_elbo_bound ------------------------------------------------------------------


@graded_alone("gmvae_negative_elbo_bound")
def check_gmvae_elbo_outputs(batch: int = 97) -> None:
    """``negative_elbo_bound`` of a GMVAE (10 latent dimensions, 5 components) returns three
    finite scalars for a batch of ``batch`` images."""
    model = probe_gmvae(torch.randn(5, 10), 0.5 + torch.rand(5, 10))
    check_bound_shapes(model.negative_elbo_bound, binary_batch(batch))


@graded_alone("gmvae_negative_elbo_bound")
def check_gmvae_elbo_standard_prior(batch: int = MC_BATCH) -> None:
    """With one component of mean 0 and variance 1 the GMVAE is a VAE: its bound averages to
    the VAE's. For the probe encoder of notebook 2's KL check and constant decoder logits,
    ``rec`` is exact, ``kl`` (a Monte Carlo estimate) is the closed-form ``KL(q || N(0, I))``
    within ``Z_SCORE`` standard errors, and ``nelbo = kl + rec``."""
    m, v = PROBE_M, PROBE_V
    model = probe_gmvae(STANDARD_M, STANDARD_V, m, v, logits=SPREAD_LOGITS)
    x = binary_batch(batch)
    nelbo, kl, rec = (t.item() for t in call_bound(model.negative_elbo_bound, x))
    if not close(nelbo, kl + rec):
        sentence, mistake = diagnose(
            nelbo, {"returns_elbo": -(kl + rec)}, otherwise="nelbo_not_kl_plus_rec"
        )
        fail(
            f"nelbo = {nelbo:.4f}, but kl + rec = {kl + rec:.4f}: the negative ELBO is "
            f"KL + Rec; {sentence}",
            mistake,
        )
    exact_rec = -bernoulli_log_likelihood(x, SPREAD_LOGITS).mean().item()
    if not close(rec, exact_rec):
        sentence, mistake = diagnose(rec, _rec_mistakes(x, SPREAD_LOGITS), otherwise="rec_wrong")
        fail(
            f"rec = {rec:.4f} for a decoder that outputs logits spread over [-3, 3]; expected "
            f"{exact_rec:.4f}, -log p(x|z) summed over the 784 pixels and averaged over the "
            f"batch. {sentence}",
            mistake,
        )
    exact = gaussian_kl(m, v, torch.zeros(1), torch.ones(1)).item()
    sd = (0.5 * (1 - v) ** 2 + m**2 * v).sum().sqrt().item()  # of log q - log p, p = N(0, I)
    tolerance = Z_SCORE * sd / math.sqrt(batch)
    if not close(kl, exact, tolerance):
        sentence, mistake = diagnose(
            kl, _kl_mistakes(m, v, batch), otherwise="mc_kl_wrong", atol=tolerance
        )
        fail(
            f"kl = {kl:.4f} over {batch} images for an encoder with m = {m.tolist()} and "
            f"variance v = {v.tolist()}, and a prior of one component N(0, I): the GMVAE is "
            f"then a VAE, and E_q[log q(z|x) - log p(z)] is the closed-form KL(q || N(0, I)) = "
            f"{exact:.4f} (within {tolerance:.3f}). {sentence}",
            mistake,
        )


@graded_alone("gmvae_negative_elbo_bound")
def check_gmvae_elbo_mixture_kl(batch: int = MC_BATCH) -> None:
    """Against a mixture of three unequal components, ``kl`` averages to
    ``E_q[log q(z|x) - log p(z)]`` (computed here with 400,000 samples), within ``Z_SCORE``
    standard errors: not the KL to ``N(0, I)``, not without the ``- log k`` of the mixture,
    not with the component log densities averaged."""
    model = probe_gmvae(MIXTURE_M, MIXTURE_V, Q_M, Q_V, logits=SPREAD_LOGITS)
    kl = call_bound(model.negative_elbo_bound, binary_batch(batch), judge=("kl",))[1].item()
    expected = _kl_of(Q_M, Q_V)
    tolerance = Z_SCORE * expected["sd"] * math.sqrt(1 / batch + 1 / 400_000)
    if not close(kl, expected["kl"], tolerance):
        sentence, mistake = diagnose(
            kl, _mixture_kl_mistakes(Q_M, Q_V, batch), otherwise="mc_kl_wrong", atol=tolerance
        )
        fail(
            f"kl = {kl:.4f} over {batch} images for q(z|x) = {Q_TEXT} and {MIXTURE}; "
            f"E_q[log q(z|x) - log p(z)] is "
            f"{expected['kl']:.4f} (within {tolerance:.3f}), with log p(z) the mixture's "
            f"log density. {sentence}",
            mistake,
        )


@graded_alone("gmvae_negative_elbo_bound")
def check_gmvae_elbo_sampling(rows: int = 4000) -> None:
    """The z that reaches the decoder is a sample from ``q(z|x) = N(m, diag(v))`` (not from
    the prior): per-dimension mean and variance within ``Z_SCORE`` standard errors."""
    model = probe_gmvae(MIXTURE_M.repeat(1, 2), MIXTURE_V.repeat(1, 2), PROBE_M, PROBE_V)
    with recorded_latents(model) as latents:
        call_bound(model.negative_elbo_bound, binary_batch(rows), judge=())
    if not latents:
        fail(
            "negative_elbo_bound never called the decoder self.dec on a sample z",
            "decoder_not_called",
        )
    check_sample_moments(torch.cat(latents), PROBE_M, PROBE_V, "the z given to the decoder")


def _check_prior_gradient(model: GMVAE, value: Tensor, name: str) -> None:
    """``value`` (the bound, computed from ``model``) has a non-zero gradient for z_pre."""
    (grad,) = torch.autograd.grad(value, [model.z_pre], allow_unused=True, retain_graph=True)
    if grad is None or not grad.abs().sum() > 0:
        fail(
            f"the gradient of {name} does not reach the prior's parameters self.z_pre, so "
            "training would never move the mixture: read them with "
            "gaussian_parameters(self.z_pre, dim=1) inside the bound, without .detach(), "
            ".data or torch.no_grad()",
            "prior_no_gradient",
        )
    if not torch.isfinite(grad).all():
        fail(f"the gradient of {name} reaching z_pre is not finite", "nonfinite_gradient")


@graded_alone("gmvae_negative_elbo_bound")
def check_gmvae_elbo_gradients() -> None:
    """Gradients of the bound reach the encoder's mean and variance through the sample (the
    reparameterization trick), the decoder, and the mixture prior's ``z_pre``."""
    model = probe_gmvae(MIXTURE_M, MIXTURE_V)
    nelbo, _, rec = call_bound(model.negative_elbo_bound, binary_batch(), judge=("bound", "rec"))
    if not (rec.requires_grad and nelbo.requires_grad):
        fail(
            "the bound carries no gradient: was it computed under torch.no_grad() or detached?",
            "no_gradient",
        )
    _check_prior_gradient(model, nelbo, "nelbo")
    weights = [model.enc.net[-1].weight, model.dec.net[-1].weight]
    grad_enc, grad_dec = torch.autograd.grad(rec, weights, allow_unused=True)
    z_dim = model.z_dim
    if grad_enc is None or not grad_enc[:z_dim].abs().sum() > 0:
        fail(
            "the gradient of rec does not reach the encoder: the sample z is cut off from the "
            "graph. Use z = m + sqrt(v) * eps (or .rsample()), not .sample(), .detach() or "
            "torch.no_grad().",
            "sample_cut_from_graph",
        )
    if not grad_enc[z_dim:].abs().sum() > 0:
        fail(
            "the gradient of rec reaches the encoder's mean but not its variance: z must "
            "depend on v through the noise term, z = m + sqrt(v) * eps.",
            "gradient_misses_variance",
        )
    if grad_dec is None:
        fail(
            "the gradient of rec does not reach the decoder: is rec computed from self.dec(z)?",
            "gradient_misses_decoder",
        )


#: The shipped GMVAE of the checkpoint checks, on the images of the VAE's (``elbo``).
REFERENCE_CHECKPOINT = "gmvae_z10"
REFERENCE_DESCRIPTION = (
    f"the shipped checkpoint {REFERENCE_CHECKPOINT!r} and 97 test images of the offline "
    "MNIST subset"
)
#: The numbers of importance samples of the IWAE checkpoint checks.
REFERENCE_KS = (1, 10)


def _checkpoint_and_test_images() -> tuple[GMVAE, Tensor, str]:
    from course_utils.checkpoints import load_pretrained
    from course_utils.data import load_data

    model = load_pretrained(REFERENCE_CHECKPOINT)
    x = load_data("mnist-subset", verbose=False).x_test
    description = f"the shipped checkpoint {REFERENCE_CHECKPOINT!r} and the {len(x)} test images"
    return model, x, description


@graded_alone("gmvae_negative_elbo_bound")
def check_gmvae_elbo_checkpoint_loose(tolerance: float = LOOSE_TOLERANCE) -> None:
    """One call of the bound of the shipped ``gmvae_z10`` on the 1,000 test images of the
    offline subset gives a NELBO, KL and Rec within ``tolerance`` nats of those its provenance
    records. The hidden test compares the same bound more tightly with the reference."""
    model, x, description = _checkpoint_and_test_images()
    with torch.no_grad():
        nelbo, kl, rec = (t.item() for t in call_bound(model.negative_elbo_bound, x))
    measured = {"nelbo": nelbo, "kl": kl, "rec": rec}
    provenance_check(description, model.metadata["test"], measured, tolerance, REFERENCE_CHECKPOINT)


@graded_alone("gmvae_negative_elbo_bound")
def check_gmvae_elbo_reference(reference: Mapping[str, tuple[float, float]]) -> None:
    """The bound of the shipped ``gmvae_z10`` on ``elbo.reference_batch()`` agrees with the
    ``reference`` implementation's: ``{"bound": (mean, se), "kl": ..., "rec": ...}``, the
    values ``python -m autograder.reference.values`` writes into the hidden test."""
    from course_utils.checkpoints import load_pretrained

    model = load_pretrained(REFERENCE_CHECKPOINT)
    check_against_reference(
        REFERENCE_DESCRIPTION, reference, model.negative_elbo_bound, reference_batch()
    )


# -- GMVAE.negative_iwae_bound ------------------------------------------------------------------


@graded_alone("gmvae_negative_iwae_bound")
def check_gmvae_iwae_outputs(batch: int = 97, iw: int = 10) -> None:
    """``negative_iwae_bound`` of a GMVAE (10 latent dimensions, 5 components) returns three
    finite scalars for ``batch`` images and ``iw`` samples each, and for 1 image and 1 sample."""
    model = probe_gmvae(torch.randn(5, 10), 0.5 + torch.rand(5, 10))
    check_bound_shapes(model.negative_iwae_bound, binary_batch(batch), iw, nonfinite=UNSTABLE)
    check_bound_shapes(model.negative_iwae_bound, binary_batch(1), 1, nonfinite=UNSTABLE)


#: Three components all equal to N(0, I) in two dimensions: the mixture is N(0, I).
EQUAL_M, EQUAL_V = torch.zeros(3, 2), torch.ones(3, 2)


@graded_alone("gmvae_negative_iwae_bound")
def check_gmvae_iwae_exact_at_prior(batch: int = 23, ks: tuple[int, ...] = (1, 4, 10)) -> None:
    """``IWAE_k = log p(x)`` exactly, for every k, when the mixture's three components are all
    ``N(0, I)``, ``q(z|x) = N(0, I)`` and the decoder's logits are constant: every weight is
    then ``p(x)``. A missing ``- log k`` of the importance samples, or of the mixture, or a
    reduction over the batch gives a value the message names."""
    model = probe_gmvae(EQUAL_M, EQUAL_V, torch.zeros(2), torch.ones(2), logits=LOGITS)
    probe = (
        "a decoder with constant logits, q(z|x) = N(0, I) and a prior of three components all "
        "N(0, I) (so p(z) = N(0, I))"
    )
    # A constant: log p(z) is off by log 3 everywhere, so the bound by -log 3.
    exact = -bernoulli_log_likelihood(binary_batch(batch), LOGITS).mean().item()
    missing = {"mixture_missing_log_k": exact - math.log(len(EQUAL_M))}
    exact_at_prior(model, batch, ks, probe, missing)


@graded_alone("gmvae_negative_iwae_bound")
def check_gmvae_iwae_k1_matches_elbo(batch: int = 4000) -> None:
    """With one sample the IWAE bound is the ELBO: ``E[IWAE_1] = log p(x) - KL(q || p)`` for a
    decoder with constant logits, the posterior ``Q_M``, ``Q_V`` of the ELBO's mixture check
    (whose KL to ``N(0, I)`` is far from its KL to the mixture) and the prior of three unequal
    components, the KL to the mixture computed here with 400,000 samples."""
    model = probe_gmvae(MIXTURE_M, MIXTURE_V, Q_M, Q_V, logits=LOGITS)
    x = binary_batch(batch)
    log_px = bernoulli_log_likelihood(x, LOGITS).mean().item()
    expected = _kl_of(Q_M, Q_V)
    tolerance = Z_SCORE * expected["sd"] * math.sqrt(1 / batch + 1 / 400_000)
    niwae = niwae_of(model, x, 1).item()
    target = -log_px + expected["kl"]
    if not close(niwae, target, tolerance):
        kls = _mixture_kl_mistakes(Q_M, Q_V, 1)
        mistakes = {
            name: -log_px + kls[name]
            for name in (
                "kl_to_standard_normal",
                "mixture_missing_log_k",
                "mean_of_component_log_densities",
            )
        }
        mistakes["likelihood_only_weights"] = -log_px
        mistakes["prior_ratio_wrong_sign"] = -log_px - expected["kl"]
        sentence, mistake = diagnose(niwae, mistakes, otherwise="iwae1_not_elbo", atol=tolerance)
        fail(
            f"niwae = {niwae:.3f} with iw=1; with one sample the IWAE bound is the ELBO: for a "
            f"decoder with constant logits, q(z|x) = {Q_TEXT} and {MIXTURE}, "
            f"-log p(x) + KL(q || p) = {target:.3f} within {tolerance:.2f}; {sentence}",
            mistake,
        )


@graded_alone("gmvae_negative_iwae_bound")
def check_gmvae_iwae_increases_with_k(repeats: int = 20) -> None:
    """``IWAE_k`` rises with k from the ELBO to ``log p(x)`` for a decoder with constant logits,
    ``q(z|x) = N(0, 4 I)`` and the prior of three unequal components, and never exceeds
    ``log p(x)``: the weights ``p(z) / q(z)`` are bounded (every component is narrower than
    q), so the gap at the largest k is at most about ``Var(w / p(x)) / (2k)``."""
    model = probe_gmvae(MIXTURE_M, MIXTURE_V, WIDE_M, WIDE_V, logits=LOGITS)
    expected = _kl_of(WIDE_M, WIDE_V)
    probe = f"a decoder with constant logits, q(z|x) = N(0, 4 I) and {MIXTURE}"
    rises_to_log_px(
        model, expected["kl"], expected["weight_variance"], probe, repeats, len(MIXTURE_M)
    )


@graded_alone("gmvae_negative_iwae_bound")
def check_gmvae_iwae_gradients(batch: int = 20, iw: int = 10) -> None:
    """The bound is differentiable: the samples stay in the graph, and finite, non-zero
    gradients of ``niwae`` reach the encoder, the decoder and the prior's ``z_pre``."""
    model = probe_gmvae(MIXTURE_M, MIXTURE_V)
    niwae = niwae_of(model, binary_batch(batch), iw)
    if niwae.requires_grad:
        _check_prior_gradient(model, niwae, "niwae")
    gradients_reach_the_networks(model, batch=batch, iw=iw)


@graded_alone("gmvae_negative_iwae_bound")
def check_gmvae_iwae_checkpoint_loose(
    ks: tuple[int, ...] = REFERENCE_KS, tolerance: float = LOOSE_TOLERANCE
) -> None:
    """One call of the bound of the shipped ``gmvae_z10`` on the 1,000 test images of the
    offline subset, for each k in ``ks``, within ``tolerance`` nats of the -IWAE-k its
    provenance records. The hidden test compares the same bound more tightly with the
    reference."""
    model, x, description = _checkpoint_and_test_images()
    iwae_provenance_check(model, x, ks, tolerance, description, REFERENCE_CHECKPOINT)


@graded_alone("gmvae_negative_iwae_bound")
def check_gmvae_iwae_reference(
    references: Mapping[int, Mapping[str, tuple[float, float]]],
) -> None:
    """The bound of the shipped ``gmvae_z10`` on ``elbo.reference_batch()`` agrees, for each k
    of ``references``, with the reference implementation's within ``Z_SCORE`` combined
    standard errors; ``references`` as for ``iwae.check_iwae_reference``."""
    iwae_reference_check(REFERENCE_CHECKPOINT, REFERENCE_DESCRIPTION, references)
