"""What every check shares: probe models with known outputs, tolerant comparisons,
diagnosis of named mistakes, and the stored references of the hidden tests."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import Tensor

from course_utils.models import VAE
from course_utils.networks import IMAGE_DIM

__all__ = [
    "RTOL",
    "Z_SCORE",
    "binary_batch",
    "call_bound",
    "check_against_reference",
    "close",
    "diagnose",
    "fail",
    "load_reference",
    "log_ratio_sd",
    "probe_vae",
    "recorded_latents",
    "reference_values_path",
    "repeated_means",
]

#: Standard errors a Monte Carlo estimate may stray before a check fails
#: (a correct answer fails one comparison with probability about 6e-7).
Z_SCORE = 5.0
#: Relative tolerance of exact comparisons in float32.
RTOL = 1e-4


def fail(message: str) -> None:
    """Fail the check with ``message`` (shown to the student)."""
    raise AssertionError(message)


def close(value: float, expected: float, atol: float = 0.0) -> bool:
    """Equal within ``atol`` plus the float32 relative tolerance ``RTOL``."""
    return abs(value - expected) <= atol + RTOL * max(1.0, abs(expected))


def diagnose(value: float, mistakes: dict[str, float], atol: float = 0.0) -> str:
    """The named mistake whose predicted value matches ``value``, or a generic hint."""
    for mistake, predicted in mistakes.items():
        if close(value, predicted, atol):
            return f"this is what {mistake} gives."
    return "it matches none of the usual mistakes; print your terms step by step."


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
    if m is not None:
        last = model.enc.net[-1]
        last.weight.zero_()
        last.bias.copy_(torch.cat([m, _inverse_softplus(v - 1e-8)]))
    if logits is not None:
        last = model.dec.net[-1]
        last.weight.zero_()
        last.bias.copy_(torch.as_tensor(logits, dtype=torch.float32).expand(IMAGE_DIM))
    return model


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


def call_bound(
    bound: Callable, x: Tensor, *args, nonfinite_hint: str = ""
) -> tuple[Tensor, Tensor, Tensor]:
    """Call a student's bound and check the form of what it returns; ``nonfinite_hint``
    ends the message when the bound (the first output) is not finite."""
    name = getattr(bound, "__name__", "the bound")
    out = bound(x, *args)
    if not isinstance(out, (tuple, list)) or len(out) != 3:
        fail(f"{name} must return a tuple of three tensors (bound, kl, rec); got {type(out)}")
    labels = ("first (the bound)", "kl", "rec")
    for position, (label, value) in enumerate(zip(labels, out, strict=True)):
        if not isinstance(value, Tensor):
            fail(f"{name}: {label} is a {type(value).__name__}, expected a torch tensor")
        if value.shape != ():
            per_image = value.shape == (len(x),)
            hint = " (per-image values: average them over the batch with .mean())"
            fail(
                f"{name}: {label} has shape {tuple(value.shape)}, expected () for a batch of "
                f"{len(x)}{hint if per_image else ''}"
            )
        if not torch.isfinite(value):
            hint = f"; {nonfinite_hint}" if nonfinite_hint and position == 0 else ""
            fail(f"{name}: {label} is {value.item()} for an ordinary batch{hint}")
    return out


def reference_values_path() -> Path:
    """``autograder/reference_values.json``: from ``$VAE_COURSE_REFERENCES``, or the first
    folder above the working directory that has it (an nbgrader course directory)."""
    if "VAE_COURSE_REFERENCES" in os.environ:
        return Path(os.environ["VAE_COURSE_REFERENCES"])
    for folder in (Path.cwd(), *Path.cwd().parents):
        candidate = folder / "autograder" / "reference_values.json"
        if candidate.exists():
            return candidate
    raise FileNotFoundError(
        "the reference values of the hidden tests are not here (autograder/reference_values.json "
        "is the instructor's); this test runs under nbgrader autograde"
    )


def load_reference(key: str) -> dict:
    """The stored reference entry ``key``."""
    path = reference_values_path()
    references = json.loads(path.read_text())["values"]
    if key not in references:
        raise KeyError(f"{path} has no reference {key!r}")
    return references[key]


def repeated_means(
    bound: Callable, x: Tensor, *args, repeats: int = 20, nonfinite_hint: str = ""
) -> dict[str, tuple]:
    """Means and standard errors of a bound's three outputs over ``repeats`` calls
    (each through ``call_bound``, with ``nonfinite_hint``).

    Returns:
        ``{"bound": (mean, se), "kl": (mean, se), "rec": (mean, se)}``; the standard
        error is 0 for an output that does not vary between calls (a closed form).
    """
    with torch.no_grad():
        values = torch.tensor(
            [
                [t.item() for t in call_bound(bound, x, *args, nonfinite_hint=nonfinite_hint)]
                for _ in range(repeats)
            ],
            dtype=torch.float64,
        )
    means, ses = values.mean(0), values.std(0) / repeats**0.5
    return {name: (means[i].item(), ses[i].item()) for i, name in enumerate(("bound", "kl", "rec"))}


def check_against_reference(key: str, bound: Callable, x: Tensor, *args) -> None:
    """A bound's three outputs agree with the stored reference ``key`` within
    ``Z_SCORE`` combined standard errors (the student's from repeated calls, the
    reference's from its own)."""
    reference = load_reference(key)
    measured = repeated_means(bound, x, *args)
    for name, (value, se) in measured.items():
        expected, expected_se = reference[name]
        tolerance = Z_SCORE * (se**2 + expected_se**2) ** 0.5
        if not close(value, expected, tolerance):
            fail(
                f"on {reference['description']}, your {name} averages {value:.3f} "
                f"(standard error {se:.3f}) over repeated calls; the reference is "
                f"{expected:.3f} (standard error {expected_se:.3f})."
            )
