"""Checks of ``negative_iwae_bound`` (notebook 03), on probe models with known answers.

``IWAE_k = log (1/k) sum_i w_i`` with ``w_i = p(x, z_i) / q(z_i|x)`` and ``z_1..z_k ~ q(z|x)``
(Burda et al. 2016, eq. 8). When the decoder outputs constant logits ``c``, ``p(x|z)`` does
not depend on z, ``log p(x) = log Bern(x | c)`` exactly, and
``log w_i = log p(x) + log p(z_i) - log q(z_i|x)``. Hence:

- with ``q(z|x) = p(z)`` every log-weight is ``log p(x)``, so ``IWAE_k = log p(x)`` exactly for
  every k (a missing ``- log k`` is off by exactly ``log k``);
- with ``q(z|x) = N(0, 4 I)``, ``E[IWAE_1] = log p(x) - KL(q || p)`` (the ELBO), and ``IWAE_k``
  rises to ``log p(x)`` as k grows, the weights being bounded (``p(z) / q(z) <= 2`` per dimension);
- a batch of different images, whose ``log p(x)`` differ by up to 200 nats, exposes a
  reduction or a repetition along the wrong axis;
- the log-weights of these probes, -400 to -600 nats, underflow ``exp`` in float32, and
  decoder logits of +-1000 put them near -4e5 nats, where ``exp`` underflows even in float64.

Sampled values are compared within ``Z_SCORE`` standard errors, from closed forms or from
repeated calls. The probes and the checks this bound shares with the GMVAE's are in
``probes``. The checks on the shipped checkpoints, ``check_iwae_checkpoint_loose`` and
``check_iwae_quadrature_loose`` (visible), ``check_iwae_reference`` and
``check_iwae_quadrature_reference`` (hidden, against the reference values written into the
hidden tests by ``python -m autograder.reference.values``), are in ``checkpoints``, with
``check_iwae_quadrature``, which compares a trained ``z_dim = 2`` model with its exact
``log p(x)``; they are offered here by their names.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_utils.data import IMAGE_DIM
from course_utils.grading import common, probes
from course_utils.grading.checkpoints import (
    check_iwae_checkpoint_loose,
    check_iwae_quadrature,
    check_iwae_quadrature_loose,
    check_iwae_quadrature_reference,
    check_iwae_reference,
)
from course_utils.language import msg
from course_utils.models import VAE

__all__ = [
    "check_iwae_checkpoint_loose",
    "check_iwae_exact_at_posterior",
    "check_iwae_exact_at_prior",
    "check_iwae_gradients",
    "check_iwae_increases_with_k",
    "check_iwae_k1_matches_elbo",
    "check_iwae_kl_rec",
    "check_iwae_outputs",
    "check_iwae_quadrature",
    "check_iwae_quadrature_loose",
    "check_iwae_quadrature_reference",
    "check_iwae_reference",
    "check_iwae_stable",
    "check_iwae_vectorized",
]

#: q(z|x) = p(z) = N(0, I) in two latent dimensions.
PRIOR_M, PRIOR_V = torch.zeros(2), torch.ones(2)
#: The extreme decoder logits of the stability check.
EXTREME_LOGITS = torch.where(torch.arange(IMAGE_DIM) % 2 == 0, 1000.0, -1000.0)

#: ``call_bound``'s ``nonfinite`` for the stability check (``UNSTABLE`` for the others).
UNSTABLE_EXTREME = (
    msg(
        "iwae.unstable_extreme",
        "decoder logits of +-1000 put the log-weights near -4e5 nats, where exp(log_w) "
        "underflows to 0 even in float64 (exp-then-log): average the weights in log space with "
        "log-mean-exp, torch.logsumexp(log_w, dim) - math.log(iw), which subtracts the largest "
        "log-weight first",
    ),
    "unstable_log_mean_exp",
)


@common.graded_alone("negative_iwae_bound")
def check_iwae_outputs(
    model: VAE | None = None, batch: int = 97, iw: int = 10, x: Tensor | None = None
) -> None:
    """``negative_iwae_bound`` returns three finite scalars for the images ``x``
    ``(B, 784)`` (default: ``batch`` random binary ones) with ``iw`` samples each.

    A trained model should get real images (``checkpoints.reference_batch()``,
    ``checkpoints.quadrature_batch()``): on random ones its log-weights are thousands of nats
    below 0, far from what it is for.
    """
    model = model or common.probe_vae(z_dim=10)
    x = common.binary_batch(batch) if x is None else x
    common.check_bound_shapes(model.negative_iwae_bound, x, iw, nonfinite=probes.UNSTABLE)


@common.graded_alone("negative_iwae_bound")
def check_iwae_stable(batch: int = 23, iw: int = 10) -> None:
    """The bound stays finite, and exact, for decoder logits of +-1000 (log-weights near -4e5).

    With ``q(z|x) = p(z)`` every log-weight is ``log p(x)``, so ``niwae = -log p(x)``.
    """
    model = common.probe_vae(PRIOR_M, PRIOR_V, logits=EXTREME_LOGITS)
    x = common.binary_batch(batch)
    log_px = common.bernoulli_log_likelihood(x, EXTREME_LOGITS)  # (batch,)
    exact = -log_px.mean().item()
    niwae = probes.niwae_of(model, x, iw, UNSTABLE_EXTREME).item()
    if not common.close(niwae, exact):
        sentence, mistake = common.diagnose(
            niwae, probes.reduction_mistakes(log_px, iw), otherwise="not_exact_at_prior"
        )
        common.fail(
            msg(
                "iwae.stable",
                "niwae = {niwae:.1f} for decoder logits of +-1000 and q(z|x) = p(z); every "
                "weight is then p(x), so niwae = -log p(x) = {exact:.1f}; {sentence}",
                niwae=niwae,
                exact=exact,
                sentence=sentence,
            ),
            mistake,
        )


@common.graded_alone("negative_iwae_bound")
def check_iwae_exact_at_prior(batch: int = 23, ks: tuple[int, ...] = (1, 4, 10)) -> None:
    """``IWAE_k = log p(x)`` exactly, for every k, when ``q(z|x) = p(z)`` and the decoder's
    logits are constant: every importance weight is then ``p(x)``.

    The images differ, so a reduction or a repetition along the wrong axis mixes their
    ``log p(x)`` and gives a value the message names.
    """
    model = common.probe_vae(PRIOR_M, PRIOR_V, logits=probes.LOGITS)
    probe = msg("iwae.prior_probe", "a decoder with constant logits and q(z|x) = p(z)")
    probes.exact_at_prior(model, batch, ks, probe)


#: The posterior probe: bump pixel j is on with probability C exp(-|z - a_j|^2 / (2 s^2)),
#: centers a_j on a circle of radius 3, s^2 = 0.25, C = 1e-6; its posterior for an image
#: with bump j on is N(a_j / (1 + s^2), s^2 / (1 + s^2) I), SHRINK = 1 / (1 + s^2).
_ANGLES = torch.arange(6) * math.pi / 3
BUMP_CENTERS = 3 * torch.stack([_ANGLES.cos(), _ANGLES.sin()], dim=1)  # (6, 2)
BUMP_VARIANCE, BUMP_SCALE = 0.25, 1e-6
SHRINK = 1 / (1 + BUMP_VARIANCE)


class _PosteriorNet(nn.Module):
    """The encoder's network: for the image whose bump pixel j is on, the mean
    ``a_j / (1 + s^2)`` and (through softplus) the variance ``s^2 / (1 + s^2)`` of the exact
    posterior of the bump decoder (a Gaussian prior times a Gaussian bump)."""

    def forward(self, x: Tensor) -> Tensor:  # (..., 784) -> (..., 4)
        m = SHRINK * x[..., : len(BUMP_CENTERS)] @ BUMP_CENTERS
        h = math.log(math.expm1(BUMP_VARIANCE * SHRINK - 1e-8))  # softplus(h) + 1e-8 = v
        return torch.cat([m, torch.full_like(m, h)], dim=-1)


class _BumpNet(nn.Module):
    """The decoder's network: bump pixel j has logit ``log P - log(1 - P)`` with
    ``P = C exp(-|z - a_j|^2 / (2 s^2))``; the other pixels have the constant ``LOGITS``."""

    def forward(self, z: Tensor) -> Tensor:  # (..., 2) -> (..., 784)
        distance = (z.unsqueeze(-2) - BUMP_CENTERS).pow(2).sum(-1)  # (..., 6)
        log_p = math.log(BUMP_SCALE) - distance / (2 * BUMP_VARIANCE)
        bumps = log_p - torch.log1p(-log_p.exp())
        others = probes.LOGITS[len(BUMP_CENTERS) :].expand(*z.shape[:-1], -1)
        return torch.cat([bumps, others], dim=-1)


def _posterior_probe(batch: int) -> tuple[VAE, Tensor, Tensor]:
    """A VAE whose q(z|x) is its exact posterior, ``batch`` images (image b has bump pixel
    ``b % 6`` on), and their exact ``log p(x)``, shape ``(batch,)``."""
    model = VAE(z_dim=2)
    model.enc.net, model.dec.net = _PosteriorNet(), _BumpNet()
    bumps = len(BUMP_CENTERS)
    x = common.binary_batch(batch)
    x[:, :bumps] = F.one_hot(torch.arange(batch) % bumps, bumps).float()
    # ∫ N(z; 0, I) exp(-|z - a|^2 / (2 s^2)) dz = s^2 / (1 + s^2) exp(-|a|^2 / (2 (1 + s^2)))
    # in two dimensions, with |a|^2 = 9
    log_bump = math.log(BUMP_SCALE * BUMP_VARIANCE * SHRINK) - 4.5 * SHRINK
    log_px = common.bernoulli_log_likelihood(x[:, bumps:], probes.LOGITS[bumps:]) + log_bump
    return model, x, log_px


PAIRING = msg(
    "iwae.pairing",
    "the weights of image b must use its own samples: z drawn from q(z|x_b), with p(x_b|z) "
    "and q(z|x_b) at those z. Repeat x, m and v the same way (all with duplicate or all with "
    "repeat_interleave), and use log w = log p(x|z) + log p(z) - log q(z|x).",
)


@common.graded_alone("negative_iwae_bound")
def check_iwae_exact_at_posterior(batch: int = 23, ks: tuple[int, ...] = (1, 10)) -> None:
    """``IWAE_k = log p(x)`` exactly, for every k, when ``q(z|x)`` is the exact posterior
    ``p(z|x)``: every weight ``p(x|z) p(z) / p(z|x)`` is then ``p(x)``.

    Here q(z|x) depends on the image and p(x|z) on z (a Gaussian bump, whose posterior is
    Gaussian), so samples paired with the wrong image's q or x give lower weights.
    """
    model, x, log_px = _posterior_probe(batch)
    exact = -log_px.mean().item()
    for iw in ks:
        niwae = probes.niwae_of(model, x, iw).item()
        if not common.close(niwae, exact):
            sentence, mistake = common.diagnose(
                niwae, probes.reduction_mistakes(log_px, iw), otherwise="not_exact_at_posterior"
            )
            common.fail(
                msg(
                    "iwae.exact_at_posterior",
                    "niwae = {niwae:.3f} with iw={iw} for a model whose q(z|x) is its exact "
                    "posterior p(z|x): every weight is then p(x), so niwae = -log p(x) = "
                    "{exact:.3f} (the batch mean) for every k; {hint}",
                    niwae=niwae,
                    iw=iw,
                    exact=exact,
                    hint=PAIRING if mistake == "not_exact_at_posterior" else sentence,
                ),
                mistake,
            )


#: The probe of the checks with the wide q(z|x), in words.
PROBE = msg("iwae.wide_probe", "a decoder with constant logits and q(z|x) = N(0, 4 I)")


@common.graded_alone("negative_iwae_bound")
def check_iwae_k1_matches_elbo(batch: int = 1000) -> None:
    """With one sample the IWAE bound is the ELBO: ``E[IWAE_1] = log p(x) - KL(q || p)``
    for a decoder with constant logits and ``q(z|x) = N(0, 4 I)``.

    Each image's ``IWAE_1`` has the standard deviation of ``log p(z) - log q(z|x)`` (3 nats
    here), so the batch mean is within ``Z_SCORE * 3 / sqrt(batch)`` (0.47) of its expectation.
    """
    model = common.probe_vae(probes.WIDE_M, probes.WIDE_V, logits=probes.LOGITS)
    kl = probes.kl_to_standard_normal(probes.WIDE_M, probes.WIDE_V)
    sd = common.log_ratio_sd(probes.WIDE_M, probes.WIDE_V)
    probes.check_iwae1_is_elbo(model, batch, kl, common.Z_SCORE * sd / math.sqrt(batch), PROBE)


@common.graded_alone("negative_iwae_bound")
def check_iwae_kl_rec(batch: int = 50, iw: int = 10) -> None:
    """``kl`` and ``rec`` are the ELBO's terms averaged over the samples and the batch.

    For a decoder with constant logits ``rec = -log p(x|z)`` is exact whatever z is; ``kl``
    is the closed-form ``KL(q || p)`` or its Monte Carlo estimate over the ``iw * batch``
    samples, within ``Z_SCORE`` standard errors.
    """
    model = common.probe_vae(probes.WIDE_M, probes.WIDE_V, logits=probes.LOGITS)
    x = common.binary_batch(batch)
    bound = model.negative_iwae_bound
    judged = ("kl", "rec")
    _, kl, rec = (
        t.item() for t in common.call_bound(bound, x, iw, judge=judged, nonfinite=probes.UNSTABLE)
    )
    exact_rec = -common.bernoulli_log_likelihood(x, probes.LOGITS).mean().item()
    exact_kl = probes.kl_to_standard_normal(probes.WIDE_M, probes.WIDE_V)
    tolerance = (
        common.Z_SCORE * common.log_ratio_sd(probes.WIDE_M, probes.WIDE_V) / math.sqrt(batch * iw)
    )
    for name, value, exact, atol in (("rec", rec, exact_rec, 0.0), ("kl", kl, exact_kl, tolerance)):
        if not common.close(value, exact, atol):
            mistakes = {
                "sum_over_samples": iw * exact,
                "sum_over_batch": batch * exact,
                "kl_wrong_sign" if name == "kl" else "rec_wrong_sign": -exact,
            }
            sentence, mistake = common.diagnose(
                value, mistakes, otherwise="kl_rec_wrong", atol=iw * atol
            )
            if atol:
                message = msg(
                    "iwae.kl_rec_within",
                    "{name} = {value:.3f} for {probe}; expected {exact:.3f}, its mean over the "
                    "iw samples and the batch (within {atol:.2f}); {sentence}",
                    name=name,
                    value=value,
                    probe=PROBE,
                    exact=exact,
                    atol=atol,
                    sentence=sentence,
                )
            else:
                message = msg(
                    "iwae.kl_rec",
                    "{name} = {value:.3f} for {probe}; expected {exact:.3f}, its mean over the "
                    "iw samples and the batch; {sentence}",
                    name=name,
                    value=value,
                    probe=PROBE,
                    exact=exact,
                    sentence=sentence,
                )
            common.fail(message, mistake)


@common.graded_alone("negative_iwae_bound")
def check_iwae_increases_with_k(repeats: int = 20) -> None:
    """``IWAE_k`` rises with k from the ELBO to ``log p(x)`` for a decoder with constant logits
    and ``q(z|x) = N(0, 4 I)``, and never exceeds ``log p(x)``.

    The gap ``log p(x) - IWAE_k`` is ``KL(q || p) = 1.61`` nats at ``k = 1`` in expectation
    and about ``Var(w / p(x)) / (2k)`` for large k, a second-order expansion of the log
    (Maddison et al. 2017, sec. 3): 0.013 nats at ``k = 50``, allowed up to twice that.
    Means and standard errors come from ``repeats`` calls for each k.
    """
    # E[(p(z) / q(z))^2] = v / sqrt(2v - 1) per dimension
    weight_variance = math.prod(v / math.sqrt(2 * v - 1) for v in probes.WIDE_V.tolist()) - 1
    probes.rises_to_log_px(
        common.probe_vae(probes.WIDE_M, probes.WIDE_V, logits=probes.LOGITS),
        probes.kl_to_standard_normal(probes.WIDE_M, probes.WIDE_V),
        weight_variance,
        PROBE,
        repeats,
    )


@common.graded_alone("negative_iwae_bound")
def check_iwae_gradients(batch: int = 20, iw: int = 10) -> None:
    """The bound is differentiable: the samples z stay in the graph (reparameterized), and
    finite, non-zero gradients of ``niwae`` reach the encoder and the decoder."""
    probes.gradients_reach_the_networks(common.probe_vae(z_dim=2), batch, iw)


@common.graded_alone("negative_iwae_bound")
def check_iwae_vectorized(batch: int = 7, iw: int = 10) -> None:
    """The ``iw`` samples go through the decoder together (``iw * batch`` rows in one call),
    not one decoder call per sample in a Python loop."""
    model = common.probe_vae(z_dim=2)
    with common.recorded_latents(model) as latents:
        common.call_bound(model.negative_iwae_bound, common.binary_batch(batch), iw, judge=())
    if not latents:
        common.fail(
            msg(
                "iwae.decoder_not_called",
                "negative_iwae_bound never called the decoder self.dec on the samples z",
            ),
            "decoder_not_called",
        )
    rows = [len(z) for z in latents]
    if max(rows) < iw * batch:
        loop = msg("iwae.a_python_loop", "a Python loop over the samples; ")
        common.fail(
            msg(
                "iwae.python_loop",
                "the decoder was called {calls} times with {rows} rows for iw={iw} and a batch "
                "of {batch}: {loop}stack all iw * batch = {total} samples and decode them in "
                "one call (the decoder takes any leading dimensions: samples of shape "
                "(iw, batch, z_dim) or (batch, iw, z_dim), or duplicated to (iw * batch, z_dim))",
                calls=len(rows),
                rows=rows,
                iw=iw,
                batch=batch,
                loop=loop if len(rows) >= iw else "",
                total=iw * batch,
            ),
            "python_loop",
        )
