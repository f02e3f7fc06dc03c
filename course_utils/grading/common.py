"""What every check shares: probe models with known outputs, tolerant comparisons,
diagnosis of named mistakes, and the comparison of the hidden tests with the reference
values written into them."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

import torch
from torch import Tensor
from torch.distributions import Bernoulli, Normal, kl_divergence

from course_utils.exercises import MISTAKES, tagged
from course_utils.models import GMVAE, VAE
from course_utils.networks import IMAGE_DIM

__all__ = [
    "NONFINITE",
    "RTOL",
    "Z_SCORE",
    "bernoulli_log_likelihood",
    "binary_batch",
    "call_bound",
    "check_against_reference",
    "check_sample_moments",
    "close",
    "diagnose",
    "fail",
    "gaussian_kl",
    "gaussian_log_density",
    "log_ratio_sd",
    "probe_gmvae",
    "probe_vae",
    "recorded_latents",
    "repeated_means",
]

#: Standard errors a Monte Carlo estimate may stray before a check fails
#: (a correct answer fails one comparison with probability about 6e-7).
Z_SCORE = 5.0
#: Relative tolerance of exact comparisons in float32.
RTOL = 1e-4


def fail(message: str, mistake: str) -> None:
    """Fail the check with ``message`` (shown to the student), ending with the id of the
    likely ``mistake`` (a key of ``course_utils.exercises.MISTAKES``)."""
    raise AssertionError(tagged(message, mistake))


def close(value: float, expected: float, atol: float = 0.0) -> bool:
    """Equal within ``atol`` plus the float32 relative tolerance ``RTOL``."""
    return abs(value - expected) <= atol + RTOL * max(1.0, abs(expected))


def diagnose(
    value: float,
    mistakes: Mapping[str, float | tuple[float, ...]],
    otherwise: str,
    atol: float = 0.0,
) -> tuple[str, str]:
    """The mistake whose predicted value matches ``value``: ``(sentence, mistake id)``.

    ``mistakes`` maps mistake ids to the value each predicts, or to the values of its
    variants (a tuple); when none matches, the sentence is a generic hint and the id
    ``otherwise``.
    """
    for mistake, predicted in mistakes.items():
        variants = predicted if isinstance(predicted, tuple) else (predicted,)
        if any(close(value, p, atol) for p in variants):
            return f"this is the value of a known mistake: {MISTAKES[mistake].text}.", mistake
    return "it matches none of the usual mistakes; print your terms step by step.", otherwise


# The exact answers the checks compare with, from torch.distributions (the students' own
# versions of these densities are exercises: the checks never call them for an answer).


def gaussian_log_density(x: Tensor, m: Tensor, v: Tensor) -> Tensor:
    """``log N(x; m, diag(v))`` summed over the last dimension, ``v`` a variance."""
    return Normal(m, v.sqrt()).log_prob(x).sum(-1)


def gaussian_kl(qm: Tensor, qv: Tensor, pm: Tensor, pv: Tensor) -> Tensor:
    """``KL(N(qm, diag(qv)) || N(pm, diag(pv)))`` summed over the last dimension."""
    return kl_divergence(Normal(qm, qv.sqrt()), Normal(pm, pv.sqrt())).sum(-1)


def bernoulli_log_likelihood(x: Tensor, logits: Tensor) -> Tensor:
    """``log p(x | logits)`` of independent Bernoullis, summed over the last dimension."""
    x, logits = torch.broadcast_tensors(x, logits)
    return Bernoulli(logits=logits, validate_args=False).log_prob(x).sum(-1)


def log_ratio_sd(m: Tensor, v: Tensor) -> float:
    """The standard deviation of ``log q(z) - log p(z)`` at ``z ~ q = N(m, diag(v))``,
    ``p = N(0, I)``: ``sqrt(sum_d (1 - v_d)^2 / 2 + m_d^2 v_d)`` for ``(z_dim,)`` tensors ``m, v``.

    It is the Monte Carlo error of one sample of the KL, and of a log-weight whose
    likelihood does not depend on z."""
    return math.sqrt(float((0.5 * (1 - v) ** 2 + m**2 * v).sum()))


def binary_batch(batch: int = 97, seed: int = 0) -> Tensor:
    """A fixed batch of binary 'images' with 10-60% ink: ``(batch, 784)`` in {0, 1}."""
    g = torch.Generator().manual_seed(seed)
    ink = torch.linspace(0.1, 0.6, batch).unsqueeze(1)
    return torch.bernoulli(ink.expand(batch, IMAGE_DIM), generator=g)


def _inverse_softplus(y: Tensor) -> Tensor:
    return y + torch.log(-torch.expm1(-y))


@torch.no_grad()
def probe_vae(
    m: Tensor | None = None,
    v: Tensor | None = None,
    logits: Tensor | float | None = None,
    z_dim: int = 4,
    seed: int = 0,
) -> VAE:
    """A v1 VAE whose encoder outputs the constants ``(m, v)`` for every image, and whose
    decoder outputs the constant ``logits`` for every z.

    The networks keep their (seeded, random) hidden layers and only their last layer is
    replaced, so gradients still flow through them. A ``None`` keeps that part random.

    Args:
        m, v: ``(z_dim,)`` mean and variance (> 1e-8) of q(z|x).
        logits: ``(784,)`` or a number: the decoder's Bernoulli logits.
        z_dim: the latent dimension when ``m`` is not given.
    """
    torch.manual_seed(seed)
    model = VAE(nn="v1", name="probe", z_dim=len(m) if m is not None else z_dim)
    return _constant_outputs(model, m, v, logits)


def _constant_outputs(model: VAE, m: Tensor | None, v: Tensor | None, logits) -> VAE:
    """``model`` with the last layer of its encoder outputting ``(m, v)`` and that of its
    decoder ``logits`` (where given)."""
    if m is not None:
        last = model.enc.net[-1]
        last.weight.zero_()
        last.bias.copy_(torch.cat([m, _inverse_softplus(v - 1e-8)]))
    if logits is not None:
        last = model.dec.net[-1]
        last.weight.zero_()
        last.bias.copy_(torch.as_tensor(logits, dtype=torch.float32).expand(IMAGE_DIM))
    return model


@torch.no_grad()
def probe_gmvae(
    prior_m: Tensor,
    prior_v: Tensor,
    m: Tensor | None = None,
    v: Tensor | None = None,
    logits: Tensor | float | None = None,
    seed: int = 0,
) -> GMVAE:
    """A v1 GMVAE whose mixture prior has the components ``N(prior_m[j], diag(prior_v[j]))``,
    each ``(k, z_dim)``, and whose encoder and decoder output constants as ``probe_vae``'s
    do (``None`` keeps that part random). ``z_pre`` is set so that
    ``gaussian_parameters(z_pre, dim=1)`` gives back ``prior_m`` and ``prior_v``."""
    torch.manual_seed(seed)
    k, z_dim = prior_m.shape
    model = GMVAE(nn="v1", name="probe", z_dim=z_dim, k=k)
    model.z_pre.copy_(torch.cat([prior_m, _inverse_softplus(prior_v - 1e-8)]).unsqueeze(0))
    return _constant_outputs(model, m, v, logits)


@contextmanager
def recorded_latents(model: VAE) -> Iterator[list[Tensor]]:
    """Record every batch of latents that enters ``model.dec`` (each ``(rows, z_dim)``)."""
    inputs: list[Tensor] = []
    handle = model.dec.net[0].register_forward_pre_hook(
        lambda module, args: inputs.append(args[0].detach().reshape(-1, model.z_dim))
    )
    try:
        yield inputs
    finally:
        handle.remove()


#: What a non-finite bound most likely means, when the caller knows no better.
NONFINITE = ("", "nonfinite_output")


def call_bound(
    bound: Callable, x: Tensor, *args, nonfinite: tuple[str, str] = NONFINITE
) -> tuple[Tensor, Tensor, Tensor]:
    """Call a student's bound and check the form of what it returns.

    ``nonfinite``: ``(hint, mistake id)`` for a bound (the first output) that is not finite.
    """
    name = getattr(bound, "__name__", "the bound")
    out = bound(x, *args)
    if not isinstance(out, (tuple, list)) or len(out) != 3:
        fail(
            f"{name} must return a tuple of three tensors (bound, kl, rec); got {type(out)}",
            "not_a_triple",
        )
    labels = ("first (the bound)", "kl", "rec")
    for position, (label, value) in enumerate(zip(labels, out, strict=True)):
        if not isinstance(value, Tensor):
            fail(
                f"{name}: {label} is a {type(value).__name__}, expected a torch tensor",
                "not_a_tensor",
            )
        if value.shape != ():
            per_image = value.shape == (len(x),)
            hint = " (per-image values: average them over the batch with .mean())"
            fail(
                f"{name}: {label} has shape {tuple(value.shape)}, expected () for a batch of "
                f"{len(x)}{hint if per_image else ''}",
                "per_image_values" if per_image else "wrong_output_shape",
            )
        if not torch.isfinite(value):
            hint, mistake = nonfinite if position == 0 else NONFINITE
            fail(
                f"{name}: {label} is {value.item()} for an ordinary batch"
                + (f"; {hint}" if hint else ""),
                mistake,
            )
    return out


def repeated_means(
    bound: Callable, x: Tensor, *args, repeats: int = 20, nonfinite: tuple[str, str] = NONFINITE
) -> dict[str, tuple]:
    """Means and standard errors of a bound's three outputs over ``repeats`` calls
    (each through ``call_bound``, with ``nonfinite``).

    Returns:
        ``{"bound": (mean, se), "kl": (mean, se), "rec": (mean, se)}``; the standard
        error is 0 for an output that does not vary between calls (a closed form).
    """
    with torch.no_grad():
        values = torch.tensor(
            [
                [t.item() for t in call_bound(bound, x, *args, nonfinite=nonfinite)]
                for _ in range(repeats)
            ],
            dtype=torch.float64,
        )
    means, ses = values.mean(0), values.std(0) / repeats**0.5
    return {name: (means[i].item(), ses[i].item()) for i, name in enumerate(("bound", "kl", "rec"))}


def check_against_reference(
    description: str,
    reference: Mapping[str, tuple[float, float]],
    bound: Callable,
    x: Tensor,
    *args,
    nonfinite: tuple[str, str] = NONFINITE,
) -> None:
    """A bound's three outputs agree with the ``reference`` implementation's within
    ``Z_SCORE`` combined standard errors (the student's from repeated calls, each through
    ``call_bound`` with ``nonfinite``).

    Args:
        description: the model and images, for the message.
        reference: ``{"bound": (mean, se), "kl": ..., "rec": ...}`` of the reference
            implementation on the same model and images. They live in the hidden test
            that calls this check, and the message never shows them.
        bound, x, args: the student's bound and its arguments.
    """
    measured = repeated_means(bound, x, *args, nonfinite=nonfinite)
    for name, (value, se) in measured.items():
        expected, expected_se = reference[name]
        tolerance = Z_SCORE * (se**2 + expected_se**2) ** 0.5
        if not close(value, expected, tolerance):
            side = "above" if value > expected else "below"
            fail(
                f"on {description}, your {name} averages {value:.3f} (standard error {se:.3f}) "
                f"over repeated calls: {side} the reference implementation's by more than "
                f"{Z_SCORE:g} combined standard errors (its values stay hidden).",
                "reference_mismatch",
            )


def _fmt(t: Tensor) -> str:
    return "[" + ", ".join(f"{value:.2f}" for value in t.tolist()) + "]"


def check_sample_moments(z: Tensor, m: Tensor, v: Tensor, what: str) -> None:
    """The rows of ``z (n, dim)`` look like draws from ``N(m, diag(v))``: their per-dimension
    mean and variance match ``m`` and ``v`` within ``Z_SCORE`` standard errors
    (``sqrt(v / n)`` and ``v sqrt(2 / n)``); otherwise fail naming the likely mistake.

    ``what``: the samples, for the message (``"the z given to the decoder"``).
    """
    n = len(z)
    mean, var = z.mean(0), z.var(0)
    mean_ok = ((mean - m).abs() <= Z_SCORE * (v / n).sqrt()).all()
    var_ok = ((var - v).abs() <= Z_SCORE * v * math.sqrt(2 / n)).all()
    if mean_ok and var_ok:
        return
    stats = f"{what} have mean {_fmt(mean)} and variance {_fmt(var)}"
    expected = f"N(m, v) has mean {_fmt(m)} and variance {_fmt(v)}"
    if torch.allclose(var, torch.zeros_like(var), atol=1e-6):
        hint = "there is no noise: sample z = m + sqrt(v) * eps instead of using the mean."
        mistake = "no_noise"
    elif torch.allclose(var, v**2, rtol=0.2):
        hint = "the variance is v**2: you used v as a standard deviation; use sqrt(v)."
        mistake = "std_for_variance"
    elif torch.allclose(var, v.exp(), rtol=0.2):
        hint = "the variance is exp(v): you treated v as a log-variance, but it is a variance."
        mistake = "log_variance_for_variance"
    elif torch.allclose(var, v.sqrt(), rtol=0.2):
        hint = "the variance is sqrt(v): scale the noise by sqrt(v), not v ** 0.25."
        mistake = "fourth_root_noise"
    elif torch.allclose(mean, torch.zeros_like(mean), atol=0.1) and torch.allclose(
        var, torch.ones_like(var), rtol=0.2
    ):
        hint = "these look like draws from the prior N(0, I); sample from N(m, v) instead."
        mistake = "prior_sample"
    elif not mean_ok:
        hint = "the mean is off: z = m + sqrt(v) * eps."
        mistake = "sample_mean_wrong"
    else:
        hint = "scale standard normal noise by sqrt(v)."
        mistake = "sample_scale_wrong"
    fail(f"{stats}, but {expected}: {hint}", mistake)
