"""What every check shares: probe models with known outputs, tolerant comparisons,
diagnosis of named mistakes, the comparison of the hidden tests with the reference values
written into them, and the grading of an exercise alone (``graded_alone``): a function that
calls other exercises' functions is graded with the reference versions of those in place."""

from __future__ import annotations

import functools
import importlib
import inspect
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TypeVar

import torch
from torch import Tensor

from course_utils import distributions
from course_utils.data import IMAGE_DIM
from course_utils.exercises import MISTAKES, Exercise, exercise, tagged
from course_utils.language import Message, msg
from course_utils.models import GMVAE, VAE
from course_utils.networks import MLPDecoder, MLPEncoder
from course_utils.reference_densities import (
    bernoulli_log_likelihood,
    gaussian_kl,
    gaussian_log_density,
    gaussian_sample,
    mixture_log_density,
)

__all__ = [
    "NONFINITE",
    "OUTPUTS",
    "PROBE_M",
    "PROBE_V",
    "REFERENCE_HELPERS",
    "RTOL",
    "Z_SCORE",
    "bernoulli_log_likelihood",
    "binary_batch",
    "call_bound",
    "check_against_reference",
    "check_bound_shapes",
    "check_sample_moments",
    "close",
    "diagnose",
    "fail",
    "gaussian_kl",
    "gaussian_log_density",
    "graded_alone",
    "log_ratio_sd",
    "mixture_log_density",
    "probe_gmvae",
    "probe_vae",
    "recorded_latents",
    "reference_helpers",
    "repeated_means",
    "shown",
]

#: Standard errors a Monte Carlo estimate may stray before a check fails. Where the standard
#: error is known (a closed form, or the spread of thousands of draws), a correct answer
#: fails one two-sided comparison with probability about 6e-7 (normal tails). Where it is
#: estimated from n calls of the student's bound (``repeated_means``), the statistic has
#: Student's t tails with n - 1 degrees of freedom, and the rate is at most 8e-5 for n = 20
#: (``check_against_reference``, the probes' growth checks, the hidden quadrature check:
#: over 200 seeds it rejected the reference implementation 0 times) and 4e-2 for n = 3 (the
#: visible quadrature check, whose one-sided comparisons have margins of many standard
#: errors besides): not yet the 6e-7 this threshold means.
Z_SCORE = 5.0
#: Relative tolerance of exact comparisons in float32.
RTOL = 1e-4


def fail(message: str | Message, mistake: str) -> None:
    """Fail the check with ``message`` (shown to the student, in their language:
    ``course_utils.language``), ending with the id of the likely ``mistake`` (a key of
    ``course_utils.exercises.MISTAKES``, the same in every language)."""
    raise AssertionError(tagged(str(message), mistake))


def close(value: float, expected: float, atol: float = 0.0) -> bool:
    """Equal within ``atol`` plus the float32 relative tolerance ``RTOL``."""
    return abs(value - expected) <= atol + RTOL * max(1.0, abs(expected))


def diagnose(
    value: float,
    mistakes: Mapping[str, float | tuple[float, ...]],
    otherwise: str,
    atol: float = 0.0,
) -> tuple[Message, str]:
    """The mistake whose predicted value matches ``value``: ``(sentence, mistake id)``.

    ``mistakes`` maps mistake ids to the value each predicts, or to the values of its
    variants (a tuple); when none matches, the sentence is a generic hint and the id
    ``otherwise``.
    """
    for mistake, predicted in mistakes.items():
        variants = predicted if isinstance(predicted, tuple) else (predicted,)
        if any(close(value, p, atol) for p in variants):
            known = MISTAKES[mistake].explained
            return msg(
                "common.known_mistake",
                "this is the value of a known mistake: {known}.",
                known=known,
            ), mistake
    return msg(
        "common.no_known_mistake",
        "it matches none of the usual mistakes; print your terms step by step.",
    ), otherwise


# The exact answers the checks compare with are ``course_utils.reference_densities``' (the
# students' own versions of these densities are exercises: the checks never call them for an
# answer).


#: The exercise -> the reference version ``graded_alone`` puts in place of the student's
#: while it grades another exercise's function that calls it.
REFERENCE_HELPERS: dict[str, Callable[..., Tensor]] = {
    "sample_gaussian": gaussian_sample,
    "log_normal": gaussian_log_density,
    "kl_normal": gaussian_kl,
    "log_bernoulli_with_logits": bernoulli_log_likelihood,
    "log_normal_mixture": mixture_log_density,
}


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


#: A probe posterior (or Gaussian): a mean and a variance per dimension, chosen so that every
#: variance convention (a variance, a standard deviation, a log-variance) gives a different
#: answer.
PROBE_M = torch.tensor([0.5, -1.0, 2.0, 0.0])
PROBE_V = torch.tensor([0.3, 1.5, 4.0, 0.6])


#: The hidden width of the probes' networks (the course's models have 300 units). Where a
#: probe's outputs are constants (its last layer's weights are zero) the width changes no
#: value a check compares; where a part stays random, the checks compute what they compare
#: from the same probe. Narrow networks make the checks of 10,000 images about twice as fast:
#: the checks of notebooks 2-4 took 2.5-2.6 s on one thread, 3.4-3.6 s with 300 units.
PROBE_HIDDEN = 16


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

    The networks are the course's MLPs, ``PROBE_HIDDEN`` units wide, with seeded random hidden
    layers; only their last layer is set, so gradients still flow through them. A ``None``
    keeps that part random.

    Args:
        m, v: ``(z_dim,)`` mean and variance (> 1e-8) of q(z|x).
        logits: ``(784,)`` or a number: the decoder's Bernoulli logits.
        z_dim: the latent dimension when ``m`` is not given.
    """
    torch.manual_seed(seed)
    model = VAE(nn="v1", name="probe", z_dim=len(m) if m is not None else z_dim)
    return _constant_outputs(model, m, v, logits)


def _constant_outputs(model: VAE, m: Tensor | None, v: Tensor | None, logits) -> VAE:
    """``model`` with networks ``PROBE_HIDDEN`` units wide, the last layer of its encoder
    outputting ``(m, v)`` and that of its decoder ``logits`` (where given)."""
    model.enc = MLPEncoder(model.z_dim, hidden=PROBE_HIDDEN)
    model.dec = MLPDecoder(model.z_dim, hidden=PROBE_HIDDEN)
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


#: The three outputs of a bound, in order, as the checks name them.
OUTPUTS = ("bound", "kl", "rec")
_LABELS = {"bound": msg("common.first_output", "first (the bound)"), "kl": "kl", "rec": "rec"}


def _name(bound: Callable) -> str | Message:
    return getattr(bound, "__name__", None) or msg("common.the_bound", "the bound")


def _returned_triple(bound: Callable, x: Tensor, *args) -> tuple:
    out = bound(x, *args)
    if not isinstance(out, (tuple, list)) or len(out) != 3:
        fail(
            msg(
                "common.not_a_triple",
                "{name} must return a tuple of three tensors (bound, kl, rec); got {type}",
                name=_name(bound),
                type=type(out),
            ),
            "not_a_triple",
        )
    return tuple(out)


def _not_a_tensor(name: str | Message, label: str, value) -> Message:
    return msg(
        "common.not_a_tensor",
        "{name}: {output} is a {type}, expected a torch tensor",
        name=name,
        output=_LABELS[label],
        type=type(value).__name__,
    )


def _check_finite(
    name: str | Message, label: str, value: Tensor, nonfinite: tuple[str | Message, str]
) -> None:
    if not torch.isfinite(value).all():
        hint, mistake = nonfinite if label == "bound" else NONFINITE
        shown = value.item() if value.numel() == 1 else value
        message = msg(
            "common.nonfinite_output",
            "{name}: {output} is {value} for an ordinary batch",
            name=name,
            output=_LABELS[label],
            value=shown,
        )
        fail(f"{message}; {hint}" if hint else message, mistake)


def check_bound_shapes(
    bound: Callable, x: Tensor, *args, nonfinite: tuple[str, str] = NONFINITE
) -> tuple[Tensor, Tensor, Tensor]:
    """Call a student's bound and check the form of what it returns: three finite tensors of
    shape ``()`` (batch means). The shape test of a bound runs this; the tests of its values
    run ``call_bound``, so that a wrong shape costs the shape test alone.

    ``nonfinite``: ``(hint, mistake id)`` for a bound (the first output) that is not finite.
    """
    name = _name(bound)
    out = _returned_triple(bound, x, *args)
    for label, value in zip(OUTPUTS, out, strict=True):
        if not isinstance(value, Tensor):
            fail(_not_a_tensor(name, label, value), "not_a_tensor")
        if value.shape == (len(x),):
            fail(
                msg(
                    "common.per_image_values",
                    "{name}: {output} has shape {shape}, expected () for a batch of {batch} "
                    "(per-image values: average them over the batch with .mean())",
                    name=name,
                    output=_LABELS[label],
                    shape=tuple(value.shape),
                    batch=len(x),
                ),
                "per_image_values",
            )
        if value.shape != ():
            fail(
                msg(
                    "common.wrong_output_shape",
                    "{name}: {output} has shape {shape}, expected () for a batch of {batch}",
                    name=name,
                    output=_LABELS[label],
                    shape=tuple(value.shape),
                    batch=len(x),
                ),
                "wrong_output_shape",
            )
        _check_finite(name, label, value, nonfinite)
    return out


def call_bound(
    bound: Callable,
    x: Tensor,
    *args,
    judge: Iterable[str] = OUTPUTS,
    nonfinite: tuple[str, str] = NONFINITE,
) -> tuple[Tensor, Tensor, Tensor]:
    """Call a student's bound for a test of its values: its three outputs, each a batch mean.

    One test judges one property: an output that is not a scalar (per-image or per-sample
    values) is averaged here, as the contract's words say (batch means, averaged over the
    samples), so its shape costs the shape test (``check_bound_shapes``) and not this one.
    The outputs this test judges (``judge``, among ``OUTPUTS``) must be finite tensors; the
    others are returned as they come (averaged), whatever they hold.

    ``nonfinite``: ``(hint, mistake id)`` for a bound (the first output) that is not finite.
    """
    name = _name(bound)
    judged = set(judge)
    out = []
    for label, value in zip(OUTPUTS, _returned_triple(bound, x, *args), strict=True):
        if not isinstance(value, Tensor):
            if label in judged:
                fail(_not_a_tensor(name, label, value), "not_a_tensor")
            value = torch.tensor(float("nan"))
        value = value.mean() if value.dim() else value  # (batch,) or (iw, batch) -> ()
        if label in judged:
            _check_finite(name, label, value, nonfinite)
        out.append(value)
    return tuple(out)


def repeated_means(
    bound: Callable,
    x: Tensor,
    *args,
    repeats: int = 20,
    judge: Iterable[str] = OUTPUTS,
    nonfinite: tuple[str, str] = NONFINITE,
) -> dict[str, tuple]:
    """Means and standard errors of a bound's three outputs over ``repeats`` calls
    (each through ``call_bound``, judging ``judge``, with ``nonfinite``).

    Returns:
        ``{"bound": (mean, se), "kl": (mean, se), "rec": (mean, se)}``; the standard
        error is 0 for an output that does not vary between calls (a closed form).
    """
    with torch.no_grad():
        values = torch.tensor(
            [
                [t.item() for t in call_bound(bound, x, *args, judge=judge, nonfinite=nonfinite)]
                for _ in range(repeats)
            ],
            dtype=torch.float64,
        )
    means, ses = values.mean(0), values.std(0) / repeats**0.5
    return {name: (means[i].item(), ses[i].item()) for i, name in enumerate(("bound", "kl", "rec"))}


def check_against_reference(
    description: str | Message,
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
    names = {"bound": msg("common.output_bound", "bound"), "kl": "kl", "rec": "rec"}
    for output, (value, se) in measured.items():
        expected, expected_se = reference[output]
        tolerance = Z_SCORE * (se**2 + expected_se**2) ** 0.5
        if not close(value, expected, tolerance):
            fail(
                msg(
                    "common.reference_mismatch",
                    "on {description}, your {name} averages {value:.3f} (standard error "
                    "{se:.3f}) over repeated calls: {side} the reference implementation's by "
                    "more than {z:g} combined standard errors (its values stay hidden).",
                    description=description,
                    name=names[output],
                    value=value,
                    se=se,
                    side=above_or_below(value, expected),
                    z=Z_SCORE,
                ),
                "reference_mismatch",
            )


def above_or_below(value: float, expected: float) -> Message:
    """Where ``value`` lies from ``expected``, in a word."""
    if value > expected:
        return msg("common.above", "above")
    return msg("common.below", "below")


def shown(t: Tensor, digits: int = 6) -> list | float:
    """``t``'s values as a (nested) list of Python floats rounded to ``digits`` significant
    digits, for a message: float32's 0.3 shows as 0.3, not 0.30000001192092896."""
    return _rounded(t.tolist(), digits)


def _rounded(values: list | float, digits: int) -> list | float:
    if isinstance(values, list):
        return [_rounded(value, digits) for value in values]
    return float(f"{values:.{digits}g}")


def _fmt(t: Tensor) -> str:
    return "[" + ", ".join(f"{value:.2f}" for value in t.tolist()) + "]"


def check_sample_moments(z: Tensor, m: Tensor, v: Tensor, what: str | Message) -> None:
    """The rows of ``z (n, dim)`` look like draws from ``N(m, diag(v))``: their per-dimension
    mean and variance match ``m`` and ``v`` within ``Z_SCORE`` standard errors
    (``sqrt(v / n)`` and ``v sqrt(2 / n)``); otherwise fail naming the likely mistake.

    ``what``: the samples, for the message (``"the samples z given to the decoder"``).
    """
    n = len(z)
    mean, var = z.mean(0), z.var(0)
    mean_ok = ((mean - m).abs() <= Z_SCORE * (v / n).sqrt()).all()
    var_ok = ((var - v).abs() <= Z_SCORE * v * math.sqrt(2 / n)).all()
    if mean_ok and var_ok:
        return
    if torch.allclose(var, torch.zeros_like(var), atol=1e-6):
        hint = msg(
            "common.moments.no_noise",
            "there is no noise: sample z = m + sqrt(v) * eps instead of using the mean.",
        )
        mistake = "no_noise"
    elif torch.allclose(var, v**2, rtol=0.2):
        hint = msg(
            "common.moments.std_for_variance",
            "the variance is v**2: you used v as a standard deviation; use sqrt(v).",
        )
        mistake = "std_for_variance"
    elif torch.allclose(var, v.exp(), rtol=0.2):
        hint = msg(
            "common.moments.log_variance_for_variance",
            "the variance is exp(v): you treated v as a log-variance, but it is a variance.",
        )
        mistake = "log_variance_for_variance"
    elif torch.allclose(var, v.sqrt(), rtol=0.2):
        hint = msg(
            "common.moments.fourth_root_noise",
            "the variance is sqrt(v): scale the noise by sqrt(v), not v ** 0.25.",
        )
        mistake = "fourth_root_noise"
    elif torch.allclose(mean, torch.zeros_like(mean), atol=0.1) and torch.allclose(
        var, torch.ones_like(var), rtol=0.2
    ):
        hint = msg(
            "common.moments.prior_sample",
            "these look like draws from the prior N(0, I); sample from N(m, v) instead.",
        )
        mistake = "prior_sample"
    elif not mean_ok:
        hint = msg("common.moments.sample_mean_wrong", "the mean is off: z = m + sqrt(v) * eps.")
        mistake = "sample_mean_wrong"
    else:
        hint = msg("common.moments.sample_scale_wrong", "scale standard normal noise by sqrt(v).")
        mistake = "sample_scale_wrong"
    message = msg(
        "common.moments",
        "{what} have mean {mean} and variance {variance}, but N(m, v) has mean {m} and "
        "variance {v}: {hint}",
        what=what,
        mean=_fmt(mean),
        variance=_fmt(var),
        m=_fmt(m),
        v=_fmt(v),
        hint=hint,
    )
    fail(message, mistake)


# -- an exercise graded alone -------------------------------------------------------------------

C = TypeVar("C", bound=Callable[..., None])


def student_function(where: Exercise) -> Callable:
    """The function the student attached for exercise ``where``: a method of its class, or a
    function of ``course_utils.distributions``."""
    if not where.is_method:
        return getattr(distributions, where.defines)
    models = importlib.import_module("course_utils.models")
    return getattr(getattr(models, where.owner), where.defines)


@contextmanager
def reference_helpers(function: Callable, names: Iterable[str]) -> Iterator[None]:
    """Within: the reference versions (``REFERENCE_HELPERS``) of the exercises ``names`` in
    place of the student's, where ``function`` finds them: ``course_utils.distributions``
    (where the solution cells attach them) and ``function``'s globals (the notebook's
    namespace: the name each solution cell defines, and any other name for the same
    function). The student's are put back afterwards, whatever happens."""
    namespace = inspect.unwrap(function).__globals__
    module_saved = {name: getattr(distributions, name) for name in names}
    namespace_saved = {}
    for name, student in module_saved.items():
        for key, value in list(namespace.items()):
            if key == name or value is student:
                namespace_saved.setdefault(key, value)
                namespace[key] = REFERENCE_HELPERS[name]
        setattr(distributions, name, REFERENCE_HELPERS[name])
    try:
        yield
    finally:
        for name, value in module_saved.items():
            setattr(distributions, name, value)
        namespace.update(namespace_saved)


def graded_alone(name: str) -> Callable[[C], C]:
    """Make a check of exercise ``name``'s function (a bound) grade it alone: a mistake in
    the functions of other exercises it calls (the registry's ``uses``: notebook 2's
    densities, ``log_normal_mixture``) costs those exercises' tests, not this one.

    The check runs first as the notebook runs it, with the student's own functions. If it
    fails, it runs again with the reference versions of the helpers in place
    (``reference_helpers``): if it then passes, the bound is right and a helper is not, so
    the check passes and prints which helper to fix; if it fails again, that failure is the
    bound's own, and is raised. The student's functions are put back either way.
    """
    where = exercise(name)

    def decorate(check: C) -> C:
        @functools.wraps(check)
        def run(*args, **kwargs) -> None:
            try:
                return check(*args, **kwargs)
            except Exception as own_chain:  # whatever the student's helpers raised
                with reference_helpers(student_function(where), where.uses):
                    check(*args, **kwargs)
                print(_helper_blame(where, own_chain))

        return run  # type: ignore[return-value]

    return decorate


def _helper_blame(where: Exercise, failure: Exception) -> str:
    """What to tell a student whose ``where`` function passes a check with the reference
    helpers in place, and fails it with their own (``failure``): which helper fails its own
    tests, as the bound calls it."""
    namespace = inspect.unwrap(student_function(where)).__globals__
    found = []
    for helper in where.uses:
        problem = _helper_problem(helper, namespace.get(helper))
        if problem:
            found.append(str(problem))
    said = "; ".join(found) or msg(
        "common.helpers_pass_alone",
        "each of {helpers} passes its own tests, yet one of them behaves differently inside "
        "the bound than the reference does",
        helpers=", ".join(where.uses),
    )
    first = str(failure).strip().splitlines()[0] if str(failure).strip() else type(failure)
    blame = msg(
        "common.helper_blame",
        "Note: your {function} passes this test with the course's reference versions of the "
        "functions it calls, not with yours. With yours: {first}\n{said}.\nThis test's points "
        "stay yours ({title}); the mistake costs the tests of the function to fix.",
        function=where.defines,
        first=first,
        said=said,
        title=where.heading,
    )
    return str(blame)


def _helper_problem(helper: str, in_notebook: Callable | None) -> Message | None:
    """Why the exercise ``helper``'s function, as the notebook has it (``in_notebook``, else
    the one attached to ``distributions``), fails its own value tests, or None."""
    where = exercise(helper)
    checks = importlib.import_module(f"course_utils.grading.{where.module}")
    saved = getattr(distributions, where.defines)
    if in_notebook is not None:
        setattr(distributions, where.defines, in_notebook)
    try:
        for check in where.checks:
            try:
                getattr(checks, check)()
            except NotImplementedError:
                return msg(
                    "common.helper_not_written",
                    "{helper} is not written in this notebook's kernel (see {title}, notebook "
                    "{notebook}); copy your version in, or call torch.distributions",
                    helper=helper,
                    title=where.heading,
                    notebook=where.notebook,
                )
            except Exception as error:  # its own test's verdict
                return msg(
                    "common.helper_fails",
                    "your {helper} fails its own test ({title}): {error}",
                    helper=helper,
                    title=where.heading,
                    error=error,
                )
    finally:
        setattr(distributions, where.defines, saved)
    return None
