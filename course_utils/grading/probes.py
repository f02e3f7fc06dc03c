"""What the checks of the bounds share (``elbo``, ``iwae``, ``gmvae`` and ``checkpoints``):
the probes' settings, the values the known mistakes give on them, and the checks that run
alike on a VAE's bound and on a GMVAE's.

The ELBO's probes have constant decoder logits, where the reconstruction term is exact, and
the probe posterior ``N(PROBE_M, diag(PROBE_V))``, whose KL to ``N(0, I)`` is known in closed
form. The IWAE bound's have the constant ``LOGITS``, so ``p(x|z)`` does not depend on z and
``log p(x) = log Bern(x | LOGITS)`` exactly: with ``q(z|x) = p(z)`` every importance weight is
``p(x)``, and with the wide ``q(z|x) = N(0, 4 I)`` the weights are bounded and ``IWAE_k`` rises
from the ELBO to ``log p(x)`` as k grows (``iwae``'s docstring has the details).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor

from course_utils.data import IMAGE_DIM
from course_utils.distributions import log_mean_exp, log_sum_exp
from course_utils.grading.common import (
    RTOL,
    Z_SCORE,
    bernoulli_log_likelihood,
    binary_batch,
    call_bound,
    check_sample_moments,
    close,
    diagnose,
    fail,
    gaussian_kl,
    recorded_latents,
    repeated_means,
)
from course_utils.language import Message, msg
from course_utils.models import VAE

__all__ = [
    "GROWTH_BATCHES",
    "LOGITS",
    "UNSTABLE",
    "WIDE_M",
    "WIDE_V",
    "check_iwae1_is_elbo",
    "check_nelbo_is_kl_plus_rec",
    "check_rec_exact",
    "check_rec_gradients",
    "check_sampled_latents",
    "exact_at_prior",
    "float_slack",
    "gradients_reach_the_networks",
    "kl_mistakes",
    "kl_to_standard_normal",
    "niwae_of",
    "rec_mistakes",
    "reduction_mistakes",
    "rises_to_log_px",
]


def kl_to_standard_normal(m: Tensor, v: Tensor) -> float:
    """``KL(N(m, diag(v)) || N(0, I))`` for ``(z_dim,)`` tensors ``m``, ``v``."""
    return gaussian_kl(m, v, torch.zeros(1), torch.ones(1)).item()


def float_slack(value: float) -> float:
    """The float32 rounding allowed around a value of size ``value``."""
    return RTOL * max(1.0, abs(value))


# -- the negative ELBO ----------------------------------------------------------------------


def kl_mistakes(m: Tensor, v: Tensor, batch: int) -> dict[str, float | tuple[float, ...]]:
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


def rec_mistakes(x: Tensor, logits: Tensor) -> dict[str, float | tuple[float, ...]]:
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


def check_nelbo_is_kl_plus_rec(nelbo: float, kl: float, rec: float) -> None:
    """``nelbo == kl + rec``, the negative ELBO being the sum of its two terms."""
    if not close(nelbo, kl + rec):
        sentence, mistake = diagnose(
            nelbo, {"returns_elbo": -(kl + rec)}, otherwise="nelbo_not_kl_plus_rec"
        )
        fail(
            msg(
                "probes.nelbo_not_kl_plus_rec",
                "nelbo = {nelbo:.4f}, but kl + rec = {total:.4f}: the negative ELBO is KL + Rec; "
                "{sentence}",
                nelbo=nelbo,
                total=kl + rec,
                sentence=sentence,
            ),
            mistake,
        )


def check_rec_exact(rec: float, x: Tensor, logits: Tensor) -> None:
    """The reconstruction term ``rec`` of a bound on the images ``x`` for a decoder that
    outputs the constant ``logits`` is ``-log p(x|z)``, exact whatever z is: zero logits
    (``784 log 2``) or logits spread over [-3, 3]."""
    exact = -bernoulli_log_likelihood(x, logits).mean().item()
    if not close(rec, exact):
        if logits.any():
            what = msg("probes.spread_logits", "logits spread over [-3, 3]")
        else:
            what = msg("probes.zero_logits", "zero logits (784 log 2)")
        sentence, mistake = diagnose(rec, rec_mistakes(x, logits), otherwise="rec_wrong")
        fail(
            msg(
                "probes.rec_exact",
                "rec = {rec:.4f} for a decoder that outputs {what}; expected {exact:.4f}, "
                "-log p(x|z) summed over the 784 pixels and averaged over the batch; {sentence}",
                rec=rec,
                what=what,
                exact=exact,
                sentence=sentence,
            ),
            mistake,
        )


def check_sampled_latents(model: VAE, rows: int, m: Tensor, v: Tensor) -> None:
    """The z that reaches the decoder when ``model``'s ``negative_elbo_bound`` runs on ``rows``
    images is a sample from ``q(z|x) = N(m, diag(v))``, the probe encoder's: per-dimension
    mean and variance within ``Z_SCORE`` standard errors (``check_sample_moments``)."""
    with recorded_latents(model) as latents:
        call_bound(model.negative_elbo_bound, binary_batch(rows), judge=())
    if not latents:
        fail(
            msg(
                "probes.decoder_not_called",
                "negative_elbo_bound never called the decoder self.dec on a sample z",
            ),
            "decoder_not_called",
        )
    what = msg("probes.z_given_to_the_decoder", "the samples z given to the decoder")
    check_sample_moments(torch.cat(latents), m, v, what)


def check_rec_gradients(encoder: Tensor | None, decoder: Tensor | None, z_dim: int) -> None:
    """The gradients of the reconstruction term for the weights of the last layers of the
    encoder (``encoder``, ``(2 z_dim, hidden)``: the mean's rows, then the variance's) and of
    the decoder (``decoder``; None where the term does not depend on them) show a reparameterized
    sample: the term reaches the encoder's mean and variance through z, and the decoder."""
    if encoder is None or not encoder[:z_dim].abs().sum() > 0:
        fail(
            msg(
                "probes.rec_cut_from_graph",
                "the gradient of rec does not reach the encoder: the sample z is cut off from "
                "the graph. Use z = m + sqrt(v) * eps (or .rsample()), not .sample(), .detach() "
                "or torch.no_grad().",
            ),
            "sample_cut_from_graph",
        )
    if not encoder[z_dim:].abs().sum() > 0:
        fail(
            msg(
                "probes.rec_misses_variance",
                "the gradient of rec reaches the encoder's mean but not its variance: z must "
                "depend on v through the noise term, z = m + sqrt(v) * eps.",
            ),
            "gradient_misses_variance",
        )
    if decoder is None:
        fail(
            msg(
                "probes.rec_misses_decoder",
                "the gradient of rec does not reach the decoder: is rec computed from self.dec(z)?",
            ),
            "gradient_misses_decoder",
        )


# -- the negative IWAE bound ----------------------------------------------------------------

#: The wide q(z|x) = N(0, 4 I) in two latent dimensions, whose importance weights are bounded.
WIDE_M, WIDE_V = torch.zeros(2), torch.full((2,), 4.0)
#: The constant decoder logits of the probes (log p(x) = -372 - n_ink / 2 nats for an image
#: with n_ink pixels on).
LOGITS = torch.full((IMAGE_DIM,), -0.5)

#: ``call_bound``'s ``nonfinite`` for the IWAE bound: what a non-finite bound most likely means.
UNSTABLE = (
    msg(
        "probes.unstable",
        "the log-weights of binary images are hundreds of nats below 0, so exp(log_w) "
        "underflows to 0 and its log is -inf (exp-then-log): average the weights in log space "
        "with log-mean-exp, torch.logsumexp(log_w, dim) - math.log(iw)",
    ),
    "unstable_log_mean_exp",
)


def niwae_of(model: VAE, x: Tensor, iw: int, nonfinite: tuple[Message, str] = UNSTABLE) -> Tensor:
    """The student's ``niwae`` (the first output, its batch mean) for ``model``, ``x`` and
    ``iw``, judged finite; the other outputs are the shape test's and ``kl_rec``'s to judge."""
    return call_bound(model.negative_iwae_bound, x, iw, judge=("bound",), nonfinite=nonfinite)[0]


def reduction_mistakes(log_px: Tensor, iw: int) -> dict[str, float]:
    """Mistake id -> ``niwae`` under that mistake when every log-weight of image b is
    ``log_px[b]``, for ``iw`` samples."""
    batch = len(log_px)
    i, b = torch.meshgrid(torch.arange(iw), torch.arange(batch), indexing="ij")  # (iw, batch)
    exact = -log_px.mean().item()

    def grouped(image: Tensor) -> float:
        """niwae when column b of the (iw, batch) log-weights holds the images ``image[:, b]``."""
        return -log_mean_exp(log_px[image], dim=0).mean().item()

    return {
        "missing_log_k": exact - math.log(iw),
        "log_k_twice": exact + math.log(iw),
        "lse_over_batch": -(log_sum_exp(log_px, dim=0).item() - math.log(iw)),
        "lme_over_batch": -log_mean_exp(log_px, 0).item(),
        # x repeat_interleave'd while z is duplicated and reshaped (iw, batch), and the reverse
        "x_batch_major": grouped((i * batch + b) // iw),
        "x_sample_major": grouped((b * iw + i) % batch),
    }


def exact_at_prior(
    model: VAE,
    batch: int,
    ks: tuple[int, ...],
    probe: Message,
    mistakes: Mapping[str, float] | None = None,
) -> None:
    """The exact-at-prior check on ``model``, a probe whose every importance weight is
    ``p(x)`` (decoder logits ``LOGITS``, ``q(z|x) = p(z)``): ``niwae = -log p(x)``, the batch
    mean, for each k in ``ks``. ``mistakes``: mistake id -> the value it gives, besides the
    reductions along the wrong axis; ``probe`` describes the model in the message."""
    x = binary_batch(batch)
    log_px = bernoulli_log_likelihood(x, LOGITS)  # (batch,)
    exact = -log_px.mean().item()
    for iw in ks:
        niwae = niwae_of(model, x, iw).item()
        if not close(niwae, exact):
            known = {**(mistakes or {}), **reduction_mistakes(log_px, iw)}
            sentence, mistake = diagnose(niwae, known, otherwise="not_exact_at_prior")
            fail(
                msg(
                    "probes.exact_at_prior",
                    "niwae = {niwae:.3f} with iw={iw} for {probe}: every weight is then p(x), "
                    "so niwae = -log p(x) = {exact:.3f} (the batch mean) for every k; {sentence}",
                    niwae=niwae,
                    iw=iw,
                    probe=probe,
                    exact=exact,
                    sentence=sentence,
                ),
                mistake,
            )


def check_iwae1_is_elbo(
    model: VAE,
    batch: int,
    kl: float,
    tolerance: float,
    probe: Message,
    kl_mistakes: Mapping[str, float] | None = None,
) -> None:
    """With one sample the IWAE bound is the ELBO: on ``batch`` images, ``niwae`` with
    ``iw=1`` of ``model``, whose decoder outputs the constant ``LOGITS``, averages to
    ``-log p(x) + kl`` within ``tolerance``. ``kl_mistakes``: mistake id -> the KL it puts in
    place of ``kl``, besides the log-weights' own mistakes; ``probe`` describes the model."""
    x = binary_batch(batch)
    log_px = bernoulli_log_likelihood(x, LOGITS).mean().item()
    expected = -log_px + kl
    niwae = niwae_of(model, x, 1).item()
    if not close(niwae, expected, tolerance):
        mistakes = {name: -log_px + value for name, value in (kl_mistakes or {}).items()}
        mistakes["likelihood_only_weights"] = -log_px
        mistakes["prior_ratio_wrong_sign"] = -log_px - kl
        sentence, mistake = diagnose(niwae, mistakes, otherwise="iwae1_not_elbo", atol=tolerance)
        fail(
            msg(
                "probes.iwae1_is_elbo",
                "niwae = {niwae:.3f} with iw=1; with one sample the IWAE bound is the ELBO: for "
                "{probe}, -log p(x) + KL(q || p) = {expected:.3f} within {tolerance:.2f}; "
                "{sentence}",
                niwae=niwae,
                probe=probe,
                expected=expected,
                tolerance=tolerance,
                sentence=sentence,
            ),
            mistake,
        )


#: k -> images per call of the growth check, each k called ``repeats`` times.
GROWTH_BATCHES = {1: 10, 10: 2, 50: 2}


def rises_to_log_px(
    model: VAE,
    kl: float,
    weight_variance: float,
    probe: Message,
    repeats: int = 20,
    components: int = 1,
) -> None:
    """The growth check on ``model``, whose decoder outputs the constant ``LOGITS``: for
    ``k`` in ``GROWTH_BATCHES``, ``IWAE_k`` stays below ``log p(x)``, does not decrease, and
    comes within ``weight_variance / k`` of it at the largest k (within ``Z_SCORE`` standard
    errors of ``repeats`` calls each).

    Args:
        model: the probe (a VAE, or a GMVAE with a mixture prior), its bound the student's.
        kl: ``KL(q || p)``, the gap at ``k = 1``, for the messages.
        weight_variance: ``Var(w / p(x))`` under q, finite (bounded weights).
        probe: the probe, in words, for the messages.
        components: the number of components of a mixture prior (a GMVAE's), whose missing
            ``- log components`` the messages name.
    """
    gaps = {}  # k -> (log p(x) - IWAE_k, its standard error, float32 rounding)
    for k, batch in GROWTH_BATCHES.items():
        x = binary_batch(batch)
        log_px = bernoulli_log_likelihood(x, LOGITS).mean().item()
        bound = model.negative_iwae_bound
        niwae, se = repeated_means(
            bound, x, k, repeats=repeats, judge=("bound",), nonfinite=UNSTABLE
        )["bound"]
        gaps[k] = (log_px + niwae, se, float_slack(log_px))
        _check_below_log_px(k, *gaps[k], kl=kl, probe=probe, components=components)
    for small, large in itertools.pairwise(sorted(gaps)):
        (gap_small, se_small, slack), (gap_large, se_large, _) = gaps[small], gaps[large]
        if gap_large > gap_small + Z_SCORE * math.hypot(se_small, se_large) + slack:
            fail(
                msg(
                    "probes.decreasing_in_k",
                    "the bound decreases with k: log p(x) - IWAE_k is {gap_small:.3f} at "
                    "k={small} but {gap_large:.3f} at k={large} (standard errors "
                    "{se_small:.3f}, {se_large:.3f}) for {probe}; IWAE_k is non-decreasing in k. "
                    "Subtract log k once.",
                    gap_small=gap_small,
                    small=small,
                    gap_large=gap_large,
                    large=large,
                    se_small=se_small,
                    se_large=se_large,
                    probe=probe,
                ),
                "decreasing_in_k",
            )
    k = max(gaps)
    _check_converges(k, *gaps[k], kl=kl, weight_variance=weight_variance, probe=probe)


def _check_below_log_px(
    k: int, gap: float, se: float, slack: float, *, kl: float, probe: Message, components: int = 1
) -> None:
    if gap >= -(Z_SCORE * se + slack):
        return
    # Each forgotten - log puts the gap near a value; the nearest within the tolerance names it.
    predicted = {"missing_log_k": kl / 2 - math.log(k)}
    if components > 1:
        predicted["mixture_missing_log_k"] = -math.log(components)
    nearest = min(predicted, key=lambda name: abs(gap - predicted[name]))
    if not close(gap, predicted[nearest], kl / 2 + Z_SCORE * se):
        nearest = "above_log_px"
    if nearest == "mixture_missing_log_k":
        hint = msg(
            "probes.mixture_missing_log_k",
            "it is about log {components} too high at every k: the - log k of the mixture's "
            "equal weights 1/k (k = {components} components) forgotten in log p(z).",
            components=components,
        )
        mistake = "mixture_missing_log_k"
    elif nearest == "missing_log_k":
        hint = msg(
            "probes.missing_log_k", "forgetting the - log k of log-mean-exp gives about log k more."
        )
        mistake = "missing_log_k"
    else:
        hint = msg(
            "probes.above_log_px_hint",
            "check the - log k, the signs of the log-weights, and that log-mean-exp reduces "
            "over the iw samples of each image, not over the batch.",
        )
        mistake = "above_log_px"
    fail(
        msg(
            "probes.above_log_px",
            "IWAE_{k} exceeds the exact log p(x) by {excess:.3f} nats (standard error {se:.3f}) "
            "for {probe}, but it is a lower bound on log p(x); {hint}",
            k=k,
            excess=-gap,
            se=se,
            probe=probe,
            hint=hint,
        ),
        mistake,
    )


def _check_converges(
    k: int,
    gap: float,
    se: float,
    slack: float,
    *,
    kl: float,
    weight_variance: float,
    probe: Message,
) -> None:
    if gap <= weight_variance / k + Z_SCORE * se + slack:
        return
    if se == 0:
        hint = msg(
            "probes.constant_weights",
            "every call returns the same value, so the log-weights do not depend on the "
            "samples z: the closed-form KL inside the weights (log w = log p(x|z) - KL) makes "
            "them all equal. Use log w = log p(x|z) + log p(z) - log q(z|x).",
        )
        mistake = "constant_weights"
    elif close(gap, kl, Z_SCORE * se):
        hint = msg(
            "probes.mean_of_log_weights",
            "this is the ELBO's gap KL(q || p) = {kl:.2f}: averaging the log-weights (the mean "
            "of log w is the ELBO for every k) instead of the weights; use log-mean-exp.",
            kl=kl,
        )
        mistake = "mean_of_log_weights"
    else:
        hint = msg(
            "probes.far_below_log_px_hint",
            "print log p(x|z), log p(z) and log q(z|x) and check the reduction over samples.",
        )
        mistake = "far_below_log_px"
    fail(
        msg(
            "probes.far_below_log_px",
            "IWAE_{k} is {gap:.3f} nats below the exact log p(x) (standard error {se:.3f}) for "
            "{probe}; with these bounded weights the gap shrinks from {kl:.2f} at k=1 to about "
            "{expected:.3f} at k={k}; {hint}",
            k=k,
            gap=gap,
            se=se,
            probe=probe,
            kl=kl,
            expected=weight_variance / (2 * k),
            hint=hint,
        ),
        mistake,
    )


def gradients_reach_the_networks(model: VAE, batch: int = 20, iw: int = 10) -> None:
    """``check_iwae_gradients`` for ``model``'s ``negative_iwae_bound`` (a VAE's or a GMVAE's)."""
    in_graph: list[bool] = []
    hook = model.dec.net[0].register_forward_pre_hook(
        lambda module, args: in_graph.append(args[0].requires_grad)
    )
    try:
        niwae = niwae_of(model, binary_batch(batch), iw)
    finally:
        hook.remove()
    if not niwae.requires_grad:
        fail(
            msg(
                "probes.niwae_no_gradient",
                "niwae carries no gradient: was it computed under torch.no_grad() or detached?",
            ),
            "no_gradient",
        )
    if not all(in_graph):
        fail(
            msg(
                "probes.niwae_cut_from_graph",
                "the samples z given to the decoder are cut off from the graph, so the gradient "
                "misses the path through z: use z = m + sqrt(v) * eps (or .rsample()), not "
                ".sample(), .detach() or torch.no_grad().",
            ),
            "sample_cut_from_graph",
        )
    parts = {"encoder": model.enc.net[-1].weight, "decoder": model.dec.net[-1].weight}
    names = {
        "encoder": msg("probes.reaches_the_encoder", "the encoder"),
        "decoder": msg("probes.reaches_the_decoder", "the decoder"),
    }
    grads = torch.autograd.grad(niwae, list(parts.values()), allow_unused=True)
    for part, grad in zip(parts, grads, strict=True):
        if grad is None or not grad.abs().sum() > 0:
            fail(
                msg(
                    "probes.niwae_misses",
                    "the gradient of niwae does not reach {part}",
                    part=names[part],
                ),
                f"gradient_misses_{part}",
            )
        if not torch.isfinite(grad).all():
            fail(
                msg(
                    "probes.niwae_nonfinite_gradient",
                    "the gradient of niwae reaching {part} is not finite: compute log-mean-exp "
                    "with torch.logsumexp, whose gradient (the normalized weights) is stable",
                    part=names[part],
                ),
                "nonfinite_gradient",
            )
