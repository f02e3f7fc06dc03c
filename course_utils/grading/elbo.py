"""Checks of ``negative_elbo_bound`` (notebook 02), on probe models with known answers:

- the KL term against the closed form for chosen ``(m, v)``;
- the reconstruction term for constant decoder logits (zero logits: 784 log 2);
- the distribution of the ``z`` that reaches the decoder: mean ``m``, variance ``v``;
- gradients reaching the encoder through the sample (reparameterization);
- the shipped checkpoint ``vae_z10``: within a nat of its provenance's values (visible), and
  of the reference implementation's within the Monte Carlo error (hidden).

The student's bound may call the student's densities (notebook 2's first exercises): each
check grades the bound alone (``common.graded_alone``), with the reference densities in place
when the student's own chain fails, so a density's mistake costs that density's tests and
the check says which density to fix. The diagnoses still name the mistakes a bound makes by
itself (a variance read as a standard deviation, a cross-entropy with its arguments swapped).
Each check judges the outputs it is about (``common.call_bound``); the shape test alone owns
the shapes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor

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
    graded_alone,
    log_ratio_sd,
    probe_vae,
    recorded_latents,
)
from course_utils.models import VAE
from course_utils.networks import IMAGE_DIM

__all__ = [
    "check_elbo_checkpoint_loose",
    "check_elbo_gradients",
    "check_elbo_kl",
    "check_elbo_outputs",
    "check_elbo_rec",
    "check_elbo_reference",
    "check_elbo_sampling",
    "check_elbo_sum",
]


@graded_alone("negative_elbo_bound")
def check_elbo_outputs(model: VAE | None = None, batch: int = 97) -> None:
    """``negative_elbo_bound`` returns three finite scalars for a batch of ``batch`` images."""
    model = model or probe_vae(z_dim=10)
    check_bound_shapes(model.negative_elbo_bound, binary_batch(batch))


@graded_alone("negative_elbo_bound")
def check_elbo_sum(model: VAE | None = None) -> None:
    """``nelbo == kl + rec``, the negative ELBO being the sum of its two terms."""
    model = model or probe_vae(z_dim=10)
    nelbo, kl, rec = (t.item() for t in call_bound(model.negative_elbo_bound, binary_batch()))
    if not close(nelbo, kl + rec):
        sentence, mistake = diagnose(
            nelbo, {"returns_elbo": -(kl + rec)}, otherwise="nelbo_not_kl_plus_rec"
        )
        fail(
            f"nelbo = {nelbo:.4f}, but kl + rec = {kl + rec:.4f}: the negative ELBO is "
            f"KL + Rec; {sentence}",
            mistake,
        )
    if kl < 0 or rec < 0:
        fail(
            f"kl = {kl:.4f} and rec = {rec:.4f}: both terms of the negative ELBO are "
            "non-negative for binary images; check the signs",
            "negative_terms",
        )


#: The probe posterior of the KL and sampling checks: means and variances chosen so that
#: every variance convention gives a different answer.
PROBE_M = torch.tensor([0.5, -1.0, 2.0, 0.0])
PROBE_V = torch.tensor([0.3, 1.5, 4.0, 0.6])


def _kl_mistakes(m: Tensor, v: Tensor, batch: int) -> dict[str, float | tuple[float, ...]]:
    """Mistake id -> the KL it gives for the probe posterior ``(m, v)``, made in the bound or
    in ``kl_normal`` (which reads the prior's variance 1 the same wrong way)."""
    zero, one = torch.zeros(1), torch.ones(1)
    exact = gaussian_kl(m, v, zero, one).item()
    e = torch.full((1,), math.e)
    return {
        "std_for_variance": gaussian_kl(m, v**2, zero, one).item(),
        "log_variance_for_variance": (
            gaussian_kl(m, v.exp(), zero, one).item(),
            gaussian_kl(m, v.exp(), zero, e).item(),
        ),
        "sqrt_variance_to_kl": gaussian_kl(m, v.sqrt(), zero, one).item(),
        "kl_mean_over_latents": exact / len(m),
        "sum_over_batch": exact * batch,
        "kl_wrong_sign": -exact,
        "reversed_kl": gaussian_kl(zero, one, m, v).item(),
        "kl_missing_half": 2 * exact,
        "kl_missing_minus_one": exact + 0.5 * len(m),
    }


@graded_alone("negative_elbo_bound")
def check_elbo_kl(batch: int = 97, mc_batch: int = 20_000) -> None:
    """The KL term equals the closed-form KL(q(z|x) || p(z)) of a probe encoder.

    A Monte Carlo KL estimate (log q(z) - log p(z) at the sampled z) is also correct:
    when the KL is not exact, it is estimated again on ``mc_batch`` images and accepted
    within ``Z_SCORE`` standard errors (0.17 nats here, small enough to tell every
    listed mistake apart).
    """
    m, v = PROBE_M, PROBE_V
    model = probe_vae(m, v)
    exact = gaussian_kl(m, v, torch.zeros(1), torch.ones(1)).item()
    bound = model.negative_elbo_bound
    kl = call_bound(bound, binary_batch(batch), judge=("kl",))[1].item()
    if close(kl, exact):
        return
    batch = mc_batch
    kl = call_bound(bound, binary_batch(batch), judge=("kl",))[1].item()
    sd = log_ratio_sd(m, v) / math.sqrt(batch)
    if not close(kl, exact, Z_SCORE * sd):
        sentence, mistake = diagnose(
            kl, _kl_mistakes(m, v, batch), otherwise="kl_wrong", atol=Z_SCORE * sd
        )
        fail(
            f"kl = {kl:.4f} for an encoder with m = {m.tolist()} and variance v = {v.tolist()} "
            f"(N(0, I) prior); the closed-form KL is {exact:.4f}. {sentence}",
            mistake,
        )


def _rec_mistakes(x: Tensor, logits: Tensor) -> dict[str, float | tuple[float, ...]]:
    """Mistake id -> the reconstruction term it gives for constant decoder ``logits``."""

    def rec(per_image: Tensor) -> float:
        return per_image.mean().item()

    exact = rec(-bernoulli_log_likelihood(x, logits))
    p = torch.sigmoid(logits).expand_as(x)
    swapped = (
        F.binary_cross_entropy_with_logits(x, p, reduction="none").sum(1),
        F.binary_cross_entropy_with_logits(x, logits.expand_as(x), reduction="none").sum(1),
    )
    return {
        "mean_over_pixels": exact / IMAGE_DIM,
        "sum_over_batch": exact * len(x),
        "rec_wrong_sign": -exact,
        "probabilities_as_logits": rec(-bernoulli_log_likelihood(x, p)),
        "squared_error": rec((x - p).pow(2).sum(1)),
        "swapped_data_and_logits": tuple(rec(value) for value in swapped),
    }


@graded_alone("negative_elbo_bound")
def check_elbo_rec(batch: int = 97) -> None:
    """The reconstruction term for constant decoder logits, where it is known exactly.

    Zero logits give ``784 log 2`` per image whatever z is; logits spread over
    [-3, 3] check the sum over pixels and the mean over the batch.
    """
    x = binary_batch(batch)
    for logits in (torch.zeros(IMAGE_DIM), torch.linspace(-3, 3, IMAGE_DIM)):
        model = probe_vae(z_dim=4, logits=logits)
        rec = call_bound(model.negative_elbo_bound, x, judge=("rec",))[2].item()
        exact = -bernoulli_log_likelihood(x, logits).mean().item()
        if not close(rec, exact):
            what = "zero logits (784 log 2)" if not logits.any() else "logits spread over [-3, 3]"
            sentence, mistake = diagnose(rec, _rec_mistakes(x, logits), otherwise="rec_wrong")
            fail(
                f"rec = {rec:.4f} for a decoder that outputs {what}; expected {exact:.4f}, "
                f"-log p(x|z) summed over the 784 pixels and averaged over the batch. {sentence}",
                mistake,
            )


@graded_alone("negative_elbo_bound")
def check_elbo_sampling(rows: int = 4000) -> None:
    """The z that reaches the decoder is a sample from q(z|x) = N(m, diag(v)).

    Checks the per-dimension mean and variance of the recorded z against ``m`` and ``v``
    within ``Z_SCORE`` standard errors (``sqrt(v / n)`` and ``v sqrt(2 / n)``).
    """
    m, v = PROBE_M, PROBE_V
    model = probe_vae(m, v)
    with recorded_latents(model) as latents:
        call_bound(model.negative_elbo_bound, binary_batch(rows), judge=())
    if not latents:
        fail(
            "negative_elbo_bound never called the decoder self.dec on a sample z",
            "decoder_not_called",
        )
    z = torch.cat(latents)
    check_sample_moments(z, m, v, "the z given to the decoder")


@graded_alone("negative_elbo_bound")
def check_elbo_gradients(model: VAE | None = None) -> None:
    """Gradients of the reconstruction term reach the encoder's mean and variance
    through the sample (the reparameterization trick), and the decoder's weights."""
    model = model or probe_vae(z_dim=10)
    model.zero_grad()
    rec = call_bound(model.negative_elbo_bound, binary_batch(), judge=("rec",))[2]
    if not rec.requires_grad:
        fail(
            "rec carries no gradient: was it computed under torch.no_grad() or detached?",
            "no_gradient",
        )
    rec.backward()
    last = model.enc.net[-1].weight.grad
    z_dim = model.z_dim
    reaches_mean = last is not None and bool(last[:z_dim].abs().sum() > 0)
    reaches_variance = last is not None and bool(last[z_dim:].abs().sum() > 0)
    if not reaches_mean:
        fail(
            "the gradient of rec does not reach the encoder: the sample z is cut off from the "
            "graph. Use z = m + sqrt(v) * eps (or .rsample()), not .sample(), .detach() or "
            "torch.no_grad().",
            "sample_cut_from_graph",
        )
    if not reaches_variance:
        fail(
            "the gradient of rec reaches the encoder's mean but not its variance: z must "
            "depend on v through the noise term, z = m + sqrt(v) * eps.",
            "gradient_misses_variance",
        )
    if model.dec.net[-1].weight.grad is None:
        fail(
            "the gradient of rec does not reach the decoder: is rec computed from self.dec(z)?",
            "gradient_misses_decoder",
        )


#: The shipped checkpoint and test images of the hidden reference check.
REFERENCE_CHECKPOINT = "vae_z10"
REFERENCE_IMAGES = 97
#: How far (nats) the visible checks let the shipped checkpoint's bounds over the 1,000 test
#: images stray from the values its provenance records: the standard deviation of one call is
#: about 0.14 nats (measured with the reference implementation), the usual mistakes move the
#: bound by several nats.
LOOSE_TOLERANCE = 1.0


def reference_batch() -> Tensor:
    """97 test images of the offline MNIST subset at even intervals (every tenth: ten of each
    digit but 9, which has seven; the subset is sorted by digit): ``(97, 784)`` in {0, 1}."""
    from course_utils.data import evenly_spaced, load_data

    return evenly_spaced(load_data("mnist-subset", verbose=False).x_test, REFERENCE_IMAGES)


REFERENCE_DESCRIPTION = (
    f"the shipped checkpoint {REFERENCE_CHECKPOINT!r} and {REFERENCE_IMAGES} test images of "
    "the offline MNIST subset"
)


def provenance_check(
    description: str,
    recorded: Mapping[str, float],
    measured: Mapping[str, float],
    tolerance: float,
    checkpoint: str = REFERENCE_CHECKPOINT,
) -> None:
    """Each ``measured`` value within ``tolerance`` nats of the ``recorded`` one (the values the
    provenance of the shipped ``checkpoint`` records, computed with the reference
    implementation)."""
    for name, value in measured.items():
        if abs(value - recorded[name]) > tolerance:
            side = "above" if value > recorded[name] else "below"
            fail(
                f"on {description}, your {name} is {value:.2f}, {side} the "
                f"{recorded[name]:.2f} that the checkpoint's provenance records (the reference "
                f"implementation's, course_utils/pretrained/{checkpoint}.json) by more "
                f"than {tolerance:g} nat; a correct bound stays within about 0.5",
                "reference_mismatch",
            )


@graded_alone("negative_elbo_bound")
def check_elbo_checkpoint_loose(tolerance: float = LOOSE_TOLERANCE) -> None:
    """One call of the bound of the shipped ``vae_z10`` on the 1,000 test images of the offline
    subset gives a NELBO, KL and Rec within ``tolerance`` nats of those its provenance records.
    The hidden test compares the same bound more tightly with the reference implementation."""
    from course_utils.checkpoints import load_pretrained
    from course_utils.data import load_data

    model = load_pretrained(REFERENCE_CHECKPOINT)
    x = load_data("mnist-subset", verbose=False).x_test
    with torch.no_grad():
        nelbo, kl, rec = (t.item() for t in call_bound(model.negative_elbo_bound, x))
    description = f"the shipped checkpoint {REFERENCE_CHECKPOINT!r} and the {len(x)} test images"
    measured = {"nelbo": nelbo, "kl": kl, "rec": rec}
    provenance_check(description, model.metadata["test"], measured, tolerance)


@graded_alone("negative_elbo_bound")
def check_elbo_reference(reference: Mapping[str, tuple[float, float]]) -> None:
    """The bound of the shipped ``vae_z10`` checkpoint on ``reference_batch()`` agrees with the
    ``reference`` implementation's: ``{"bound": (mean, se), "kl": ..., "rec": ...}``, the
    values ``python -m autograder.reference.values`` writes into the hidden test."""
    from course_utils.checkpoints import load_pretrained

    model = load_pretrained(REFERENCE_CHECKPOINT)
    check_against_reference(
        REFERENCE_DESCRIPTION, reference, model.negative_elbo_bound, reference_batch()
    )
