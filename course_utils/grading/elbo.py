"""Checks of ``negative_elbo_bound`` (notebook 02), on probe models with known answers:

- the KL term against the closed form for chosen ``(m, v)``;
- the reconstruction term for constant decoder logits (zero logits: 784 log 2);
- the distribution of the ``z`` that reaches the decoder: mean ``m``, variance ``v``;
- gradients reaching the encoder through the sample (reparameterization);
- the shipped checkpoint ``vae_z10``: within a nat of its provenance's values (visible), and
  of the reference implementation's within the Monte Carlo error (hidden); those two checks
  live in ``checkpoints``, with the other notebooks', and are offered here by their names.

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

import torch

from course_utils.data import IMAGE_DIM
from course_utils.grading import common, probes
from course_utils.grading.checkpoints import check_elbo_checkpoint_loose, check_elbo_reference
from course_utils.grading.common import probe_vae, shown
from course_utils.language import msg
from course_utils.models import VAE

__all__ = [
    "check_elbo_checkpoint_loose",
    "check_elbo_gradients",
    "check_elbo_kl",
    "check_elbo_outputs",
    "check_elbo_rec",
    "check_elbo_reference",
    "check_elbo_sampling",
    "check_elbo_sum",
    "probe_vae",
]


@common.graded_alone("negative_elbo_bound")
def check_elbo_outputs(model: VAE | None = None, batch: int = 97) -> None:
    """``negative_elbo_bound`` returns three finite scalars for a batch of ``batch`` images."""
    model = model or probe_vae(z_dim=10)
    common.check_bound_shapes(model.negative_elbo_bound, common.binary_batch(batch))


@common.graded_alone("negative_elbo_bound")
def check_elbo_sum(model: VAE | None = None) -> None:
    """``nelbo == kl + rec``, the negative ELBO being the sum of its two terms."""
    model = model or probe_vae(z_dim=10)
    nelbo, kl, rec = (
        t.item() for t in common.call_bound(model.negative_elbo_bound, common.binary_batch())
    )
    probes.check_nelbo_is_kl_plus_rec(nelbo, kl, rec)
    if kl < 0 or rec < 0:
        common.fail(
            msg(
                "elbo.negative_terms",
                "kl = {kl:.4f} and rec = {rec:.4f}: both terms of the negative ELBO are "
                "non-negative for binary images; check the signs",
                kl=kl,
                rec=rec,
            ),
            "negative_terms",
        )


@common.graded_alone("negative_elbo_bound")
def check_elbo_kl(batch: int = 97, mc_batch: int = 20_000) -> None:
    """The KL term equals the closed-form KL(q(z|x) || p(z)) of a probe encoder.

    A Monte Carlo KL estimate (log q(z) - log p(z) at the sampled z) is also correct:
    when the KL is not exact, it is estimated again on ``mc_batch`` images and accepted
    within ``Z_SCORE`` standard errors (0.17 nats here, small enough to tell every
    listed mistake apart).
    """
    m, v = common.PROBE_M, common.PROBE_V
    model = probe_vae(m, v)
    exact = probes.kl_to_standard_normal(m, v)
    bound = model.negative_elbo_bound
    kl = common.call_bound(bound, common.binary_batch(batch), judge=("kl",))[1].item()
    if common.close(kl, exact):
        return
    batch = mc_batch
    kl = common.call_bound(bound, common.binary_batch(batch), judge=("kl",))[1].item()
    sd = common.log_ratio_sd(m, v) / math.sqrt(batch)
    if not common.close(kl, exact, common.Z_SCORE * sd):
        sentence, mistake = common.diagnose(
            kl, probes.kl_mistakes(m, v, batch), otherwise="kl_wrong", atol=common.Z_SCORE * sd
        )
        common.fail(
            msg(
                "elbo.kl",
                "kl = {kl:.4f} for an encoder with m = {m} and variance v = {v} (N(0, I) prior); "
                "the closed-form KL is {exact:.4f}; {sentence}",
                kl=kl,
                m=shown(m),
                v=shown(v),
                exact=exact,
                sentence=sentence,
            ),
            mistake,
        )


@common.graded_alone("negative_elbo_bound")
def check_elbo_rec(batch: int = 97) -> None:
    """The reconstruction term for constant decoder logits, where it is known exactly.

    Zero logits give ``784 log 2`` per image whatever z is; logits spread over
    [-3, 3] check the sum over pixels and the mean over the batch.
    """
    x = common.binary_batch(batch)
    for logits in (torch.zeros(IMAGE_DIM), torch.linspace(-3, 3, IMAGE_DIM)):
        model = probe_vae(z_dim=4, logits=logits)
        rec = common.call_bound(model.negative_elbo_bound, x, judge=("rec",))[2].item()
        probes.check_rec_exact(rec, x, logits)


@common.graded_alone("negative_elbo_bound")
def check_elbo_sampling(rows: int = 4000) -> None:
    """The z that reaches the decoder is a sample from q(z|x) = N(m, diag(v)).

    Checks the per-dimension mean and variance of the recorded z against ``m`` and ``v``
    within ``Z_SCORE`` standard errors (``sqrt(v / n)`` and ``v sqrt(2 / n)``).
    """
    probes.check_sampled_latents(
        probe_vae(common.PROBE_M, common.PROBE_V), rows, common.PROBE_M, common.PROBE_V
    )


@common.graded_alone("negative_elbo_bound")
def check_elbo_gradients(model: VAE | None = None) -> None:
    """Gradients of the reconstruction term reach the encoder's mean and variance
    through the sample (the reparameterization trick), and the decoder's weights."""
    model = model or probe_vae(z_dim=10)
    model.zero_grad()
    rec = common.call_bound(model.negative_elbo_bound, common.binary_batch(), judge=("rec",))[2]
    if not rec.requires_grad:
        common.fail(
            msg(
                "elbo.no_gradient",
                "rec carries no gradient: was it computed under torch.no_grad() or detached?",
            ),
            "no_gradient",
        )
    rec.backward()
    encoder, decoder = model.enc.net[-1].weight.grad, model.dec.net[-1].weight.grad
    probes.check_rec_gradients(encoder, decoder, model.z_dim)
