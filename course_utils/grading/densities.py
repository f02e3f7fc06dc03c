"""Checks of the densities the student writes in notebook 02: ``sample_gaussian``,
``log_normal``, ``kl_normal`` and ``log_bernoulli_with_logits``.

Each check calls the function as the student's solution cell attached it to
``course_utils.distributions`` (``@add_to_module(distributions)``), read at call time, so an
untouched stub raises its ``NotImplementedError`` naming the exercise. The answers are known:
closed forms (the log-density of the standard normal at its mean, ``-d log(2 pi) / 2``; the KL
of N(2, 1) from N(0, 1), 2 per dimension; ``-784 log 2`` for zero logits) or computed with
``torch.distributions``; samples are compared with the Monte Carlo standard error. Inputs
are chosen so that every usual mistake (a variance used as a standard deviation or a
log-variance, a mean for a sum, a constant left out) gives a different value, which the
message names.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from course_utils import distributions
from course_utils.data import IMAGE_DIM
from course_utils.grading.common import (
    PROBE_M,
    PROBE_V,
    Z_SCORE,
    bernoulli_log_likelihood,
    binary_batch,
    check_sample_moments,
    close,
    diagnose,
    fail,
    gaussian_kl,
    gaussian_log_density,
    shown,
)
from course_utils.language import Message, msg

__all__ = [
    "check_kl_normal_shape",
    "check_kl_normal_values",
    "check_log_bernoulli_shape",
    "check_log_bernoulli_stable",
    "check_log_bernoulli_values",
    "check_log_normal_shape",
    "check_log_normal_values",
    "check_sample_gaussian_gradients",
    "check_sample_gaussian_moments",
    "check_sample_gaussian_shape",
]


def _call(name: str, *args: Tensor, shape: tuple[int, ...], finite: bool = True) -> Tensor:
    """``distributions.<name>(*args)``, checked to be a tensor of ``shape`` (finite unless
    ``finite`` is False)."""
    out = getattr(distributions, name)(*args)
    if not isinstance(out, Tensor):
        fail(
            msg(
                "densities.not_a_tensor_result",
                "{name} must return a torch tensor, got {type}",
                name=name,
                type=type(out).__name__,
            ),
            "not_a_tensor_result",
        )
    if tuple(out.shape) != shape:
        shapes = ", ".join(str(tuple(a.shape)) for a in args)
        found = tuple(out.shape)
        if name != "sample_gaussian" and found == (*shape, args[0].shape[-1]):
            fail(
                msg(
                    "densities.dimensions_not_summed",
                    "{name} of inputs of shapes {shapes} returned shape {found}; expected "
                    "{shape}: sum the per-dimension values over the last dimension, .sum(-1)",
                    name=name,
                    shapes=shapes,
                    found=found,
                    shape=shape,
                ),
                "dimensions_not_summed",
            )
        fail(
            msg(
                "densities.wrong_result_shape",
                "{name} of inputs of shapes {shapes} returned shape {found}; expected {shape}",
                name=name,
                shapes=shapes,
                found=found,
                shape=shape,
            ),
            "wrong_result_shape",
        )
    if finite and not torch.isfinite(out).all():
        fail(
            msg(
                "densities.nonfinite_output",
                "{name} returned non-finite values for ordinary inputs: {out}",
                name=name,
                out=out,
            ),
            "nonfinite_output",
        )
    return out


# -- sample_gaussian ----------------------------------------------------------------------------


def check_sample_gaussian_shape() -> None:
    """``sample_gaussian(m, v)`` returns a tensor of the shape of ``m`` (two and three
    dimensions), and a new sample at every call."""
    g = torch.Generator().manual_seed(0)
    for shape in ((4, 3), (2, 5, 3)):
        m = torch.randn(shape, generator=g)
        v = torch.rand(shape, generator=g) + 0.5
        first = _call("sample_gaussian", m, v, shape=shape)
        second = _call("sample_gaussian", m, v, shape=shape)
        if torch.equal(first, second):
            fail(
                msg(
                    "densities.same_sample_every_call",
                    "two calls of sample_gaussian with the same m and v of shape {shape} "
                    "returned the same values: draw fresh noise eps ~ N(0, I) at every call (no "
                    "fixed seed, no noise stored between calls)",
                    shape=shape,
                ),
                "same_sample_every_call",
            )


def check_sample_gaussian_moments(n: int = 20_000) -> None:
    """``n`` samples of ``N(m, diag(v))`` have the mean ``m`` and the variance ``v`` within
    ``Z_SCORE`` standard errors, for ``m`` and ``v`` that tell the variance conventions apart."""
    m, v = PROBE_M, PROBE_V
    with torch.no_grad():
        z = _call("sample_gaussian", m.expand(n, -1), v.expand(n, -1), shape=(n, len(m)))
    what = msg("densities.samples_of", "{n} samples of sample_gaussian(m, v)", n=n)
    check_sample_moments(z, m, v, what)


def check_sample_gaussian_gradients(n: int = 20_000) -> None:
    """Gradients reach ``m`` and ``v`` through the sample (the reparameterization): the
    gradient of the average of ``z**2`` (whose expectation is ``m**2 + v``) is ``2 m`` for
    ``m`` and 1 for ``v``, within ``Z_SCORE`` standard errors.

    Each of the ``n`` samples gets its own copy of ``m`` and ``v``, so the gradient comes
    per sample and its standard error is measured, whatever the student's sample is: a
    mistake's gradient has a spread of its own (sampling with the standard deviation ``v``
    spreads 4 times as much as the right one at ``v = 2``), and the mistake is named when
    the gradient is within ``Z_SCORE`` of those standard errors of what it predicts."""
    m0, v0 = torch.tensor([0.5, -1.0]), torch.tensor([2.0, 0.5])
    m = m0.repeat(n, 1).requires_grad_()  # (n, 2): one copy per sample
    v = v0.repeat(n, 1).requires_grad_()
    z = _call("sample_gaussian", m, v, shape=(n, 2))
    cut = msg(
        "densities.sample_cut_from_graph",
        "the sample is cut off from the graph, so no gradient reaches m and v: build it as "
        "z = m + sqrt(v) * eps (or with .rsample()), not with .sample(), .detach(), "
        "torch.no_grad() or torch.normal(m, ...)",
    )
    if not z.requires_grad:
        fail(cut, "sample_cut_from_graph")
    loss = z.pow(2).mean(0).sum()
    per_m, per_v = torch.autograd.grad(loss, [m, v], allow_unused=True)  # (n, 2) each, / n
    if per_m is None or not per_m.abs().sum() > 0:
        fail(cut, "sample_cut_from_graph")
    if per_v is None or not per_v.abs().sum() > 0:
        fail(
            msg(
                "densities.gradient_misses_variance",
                "the gradient reaches m but not v: the noise must be scaled by sqrt(v), "
                "z = m + sqrt(v) * eps",
            ),
            "gradient_misses_variance",
        )
    grad_m, grad_v = per_m.sum(0), per_v.sum(0)  # (2,): the gradients of the average
    se_m, se_v = (n * per_m).std(0) / math.sqrt(n), (n * per_v).std(0) / math.sqrt(n)
    if not ((grad_m - 2 * m0).abs() <= Z_SCORE * se_m).all():
        fail(
            msg(
                "densities.gradient_of_mean",
                "the gradient of mean(z**2) with respect to m is {grad}, but E[z**2] = m**2 + v "
                "has the gradient 2 m = {expected}: the sample's mean is off, "
                "z = m + sqrt(v) * eps",
                grad=shown(grad_m),
                expected=shown(2 * m0),
            ),
            "sample_mean_wrong",
        )
    if not ((grad_v - 1).abs() <= Z_SCORE * se_v).all():
        atol = Z_SCORE * se_v[0].item()
        mistakes = {  # d/dv of m**2 + Var(z) for each mistake, at v = 2
            "std_for_variance": 2 * v0[0].item(),
            "log_variance_for_variance": math.exp(v0[0].item()),
            "fourth_root_noise": 0.5 / math.sqrt(v0[0].item()),
        }
        sentence, mistake = diagnose(grad_v[0].item(), mistakes, "sample_scale_wrong", atol)
        fail(
            msg(
                "densities.gradient_of_variance",
                "the gradient of mean(z**2) with respect to v is {grad}, but E[z**2] = m**2 + v "
                "has the gradient 1 for each v; {sentence}",
                grad=shown(grad_v),
                sentence=sentence,
            ),
            mistake,
        )


# -- log_normal ---------------------------------------------------------------------------------


def check_log_normal_shape() -> None:
    """``log_normal(x, m, v)`` sums over the last dimension and broadcasts: ``(5, 3)`` ->
    ``(5,)``; samples ``(7, 5, 3)`` against ``m, v (5, 3)`` -> ``(7, 5)``; the prior's
    ``m, v`` of shape ``(1,)`` against ``(5, 3)`` -> ``(5,)``."""
    g = torch.Generator().manual_seed(0)
    x, m, v = torch.randn(3, 5, 3, generator=g).unbind(0)
    v = v.abs() + 0.5
    _call("log_normal", x, m, v, shape=(5,))
    _call("log_normal", torch.randn(7, 5, 3, generator=g), m, v, shape=(7, 5))
    _call("log_normal", x, torch.zeros(1), torch.ones(1), shape=(5,))


#: Points, means and variances whose per-dimension terms tell the usual mistakes apart.
LOG_NORMAL_X = torch.tensor([[1.0, -2.0, 0.5], [0.0, 0.3, 2.0]])
LOG_NORMAL_M = torch.tensor([[0.0, 1.0, 0.5], [1.0, -0.5, 0.0]])
LOG_NORMAL_V = torch.tensor([[1.0, 4.0, 0.5], [2.0, 0.3, 3.0]])


def check_log_normal_values() -> None:
    """Known log-densities: ``-d log(2 pi) / 2`` for the standard normal at its mean in
    ``d = 10`` dimensions; ``torch.distributions``' values for chosen ``(x, m, v)``; and a
    finite value (about -5e5) for a point 100 away from a mean with variance 0.01, where the
    density itself underflows to 0."""
    dims = 10
    at_mean = _call("log_normal", torch.zeros(1, dims), torch.zeros(1), torch.ones(1), shape=(1,))
    expected = -0.5 * dims * math.log(2 * math.pi)
    x, m, v = LOG_NORMAL_X, LOG_NORMAL_M, LOG_NORMAL_V
    value = _call("log_normal", x, m, v, shape=(2,))
    exact = gaussian_log_density(x, m, v)
    if not close(at_mean.item(), expected) or not torch.allclose(value, exact, rtol=1e-4):
        d = x.shape[-1]
        mistakes = {
            "std_for_variance": gaussian_log_density(x, m, v**2),
            "log_variance_for_variance": gaussian_log_density(x, m, v.exp()),
            "missing_log_2pi": exact + 0.5 * d * math.log(2 * math.pi),
            "missing_log_variance": exact + 0.5 * v.log().sum(-1),
            "mean_over_dimensions": exact / d,
            "log_density_wrong_sign": -exact,
        }
        sentence, mistake = diagnose(
            value[0].item(), {k: p[0].item() for k, p in mistakes.items()}, "log_normal_wrong"
        )
        fail(
            msg(
                "densities.log_normal_values",
                "log_normal(x, m, v) = {value} for x = {x}, m = {m} and the variances v = {v}; "
                "expected {exact} (and {expected:.4f} for the standard normal at its mean in "
                "{dims} dimensions, got {at_mean:.4f}); {sentence}",
                value=_fmt(value),
                x=shown(x),
                m=shown(m),
                v=shown(v),
                exact=_fmt(exact),
                expected=expected,
                dims=dims,
                at_mean=at_mean.item(),
                sentence=sentence,
            ),
            mistake,
        )
    far = _call(
        "log_normal",
        torch.full((1, 2), 100.0),
        torch.zeros(1, 2),
        torch.full((1, 2), 0.01),
        shape=(1,),
        finite=False,
    )
    exact_far = gaussian_log_density(torch.full((1, 2), 100.0), torch.zeros(1), torch.tensor(0.01))
    if not torch.isfinite(far).all():
        fail(
            msg(
                "densities.density_then_log",
                "log_normal is {far} for x = [100, 100], m = 0, v = 0.01, where it is "
                "{exact:.1f}: the density exp(...) underflows to 0 and its log is -inf. Compute "
                "the log-density directly, -(log(2 pi v) + (x - m)**2 / v) / 2 per dimension",
                far=far.item(),
                exact=exact_far.item(),
            ),
            "density_then_log",
        )
    if not torch.allclose(far, exact_far, rtol=1e-4):
        fail(
            msg(
                "densities.log_normal_far",
                "log_normal is {far:.1f} for x = [100, 100], m = 0, v = 0.01; expected {exact:.1f}",
                far=far.item(),
                exact=exact_far.item(),
            ),
            "log_normal_wrong",
        )


def _fmt(t: Tensor) -> str:
    return "[" + ", ".join(f"{value:.4f}" for value in t.flatten().tolist()) + "]"


# -- kl_normal ----------------------------------------------------------------------------------


def check_kl_normal_shape() -> None:
    """``kl_normal(qm, qv, pm, pv)`` sums over the last dimension and broadcasts: ``(5, 3)``
    against the prior's ``(1,)`` -> ``(5,)``; ``(2, 5, 3)`` against ``(5, 3)`` -> ``(2, 5)``."""
    g = torch.Generator().manual_seed(0)
    qm, pm = torch.randn(2, 5, 3, generator=g).unbind(0)
    qv, pv = (torch.rand(2, 5, 3, generator=g) + 0.5).unbind(0)
    _call("kl_normal", qm, qv, torch.zeros(1), torch.ones(1), shape=(5,))
    _call("kl_normal", qm, qv, pm, pv, shape=(5,))
    _call("kl_normal", qm.expand(2, 5, 3), qv.expand(2, 5, 3), pm, pv, shape=(2, 5))


#: q and p per dimension, chosen so that every usual mistake gives another value.
KL_QM, KL_QV = PROBE_M, PROBE_V
KL_PM = torch.tensor([0.2, 0.5, -1.0, 1.0])
KL_PV = torch.tensor([2.0, 0.5, 1.5, 0.8])


def check_kl_normal_values() -> None:
    """Known divergences: 0 where q equals p; 2 per dimension for ``N(2, 1)`` from ``N(0, 1)``;
    and ``torch.distributions``' value for a q and a p that differ in every dimension."""
    qm, qv, pm, pv = KL_QM, KL_QV, KL_PM, KL_PV
    value = _call("kl_normal", qm, qv, pm, pv, shape=()).item()
    exact = gaussian_kl(qm, qv, pm, pv).item()
    if not close(value, exact):
        d = len(qm)
        mistakes = {
            "std_for_variance": gaussian_kl(qm, qv**2, pm, pv**2).item(),
            "log_variance_for_variance": gaussian_kl(qm, qv.exp(), pm, pv.exp()).item(),
            "reversed_kl": gaussian_kl(pm, pv, qm, qv).item(),
            "kl_mean_over_latents": exact / d,
            "kl_wrong_sign": -exact,
            "kl_missing_half": 2 * exact,
            "kl_missing_minus_one": exact + 0.5 * d,
        }
        sentence, mistake = diagnose(value, mistakes, "kl_wrong")
        fail(
            msg(
                "densities.kl_normal_values",
                "kl_normal = {value:.4f} for q = N({qm}, {qv}) and p = N({pm}, {pv}) (means and "
                "variances); expected {exact:.4f}; {sentence}",
                value=value,
                qm=shown(qm),
                qv=shown(qv),
                pm=shown(pm),
                pv=shown(pv),
                exact=exact,
                sentence=sentence,
            ),
            mistake,
        )
    same = _call("kl_normal", qm, qv, qm, qv, shape=()).item()
    two, one = torch.full((3,), 2.0), torch.ones(3)
    shifted = _call("kl_normal", two, one, torch.zeros(1), torch.ones(1), shape=()).item()
    if not close(same, 0.0) or not close(shifted, 6.0):
        fail(
            msg(
                "densities.kl_normal_known",
                "kl_normal is {same:.4f} for q = p (expected 0) and {shifted:.4f} for N(2, 1) "
                "from N(0, 1) in 3 dimensions (expected 2 per dimension, 6)",
                same=same,
                shifted=shifted,
            ),
            "kl_wrong",
        )


# -- log_bernoulli_with_logits ----------------------------------------------------------------


def check_log_bernoulli_shape() -> None:
    """``log_bernoulli_with_logits(x, logits)`` sums over the last dimension and broadcasts:
    ``(5, 784)`` -> ``(5,)``; ``x (5, 1, 784)`` against ``logits (5, 3, 784)`` -> ``(5, 3)``
    (three samples per image); ``x (5, 784)`` against ``logits (3, 5, 784)`` -> ``(3, 5)``."""
    g = torch.Generator().manual_seed(0)
    x = binary_batch(5)
    _call("log_bernoulli_with_logits", x, torch.randn(5, IMAGE_DIM, generator=g), shape=(5,))
    logits = torch.randn(5, 3, IMAGE_DIM, generator=g)
    _call("log_bernoulli_with_logits", x.unsqueeze(1), logits, shape=(5, 3))
    logits = torch.randn(3, 5, IMAGE_DIM, generator=g)
    _call("log_bernoulli_with_logits", x, logits, shape=(3, 5))


def _bernoulli_mistakes(x: Tensor, logits: Tensor, value: Tensor) -> tuple[Message, str]:
    """``diagnose`` of a batch mean ``value`` of log-likelihoods of ``x`` under ``logits``."""
    exact = bernoulli_log_likelihood(x, logits)
    p = torch.sigmoid(logits)
    swapped = -F.binary_cross_entropy_with_logits(x, logits, reduction="none").sum(-1)
    mistakes = {
        "mean_over_pixels": exact / IMAGE_DIM,
        "rec_wrong_sign": -exact,
        "probabilities_as_logits": bernoulli_log_likelihood(x, p),
        "swapped_data_and_logits": swapped,
    }
    predicted = {k: p.mean().item() for k, p in mistakes.items()}
    return diagnose(value.mean().item(), predicted, "log_bernoulli_wrong")


#: Logits spread over [-3, 3], one per pixel.
SPREAD_LOGITS = torch.linspace(-3, 3, IMAGE_DIM)


def check_log_bernoulli_values() -> None:
    """Known log-likelihoods: ``-784 log 2`` per image for zero logits, and
    ``torch.distributions``' values for logits spread over [-3, 3]."""
    x = binary_batch(7)
    zero = _call("log_bernoulli_with_logits", x, torch.zeros(7, IMAGE_DIM), shape=(7,))
    coin = -IMAGE_DIM * math.log(2)
    logits = SPREAD_LOGITS.expand(7, -1)
    value = _call("log_bernoulli_with_logits", x, logits, shape=(7,))
    exact = bernoulli_log_likelihood(x, logits)
    if torch.allclose(zero, torch.full_like(zero, coin)) and torch.allclose(value, exact):
        return
    sentence, mistake = _bernoulli_mistakes(x, logits, value)
    fail(
        msg(
            "densities.log_bernoulli_values",
            "for zero logits log_bernoulli_with_logits gives {zero}... per image, where it is "
            "-784 log 2 = {coin:.4f}; for logits spread over [-3, 3] its batch mean is "
            "{value:.4f}, where it is {exact:.4f} (the sum over the 784 pixels of "
            "x log sigmoid(l) + (1 - x) log(1 - sigmoid(l))); {sentence}",
            zero=_fmt(zero[:3]),
            coin=coin,
            value=value.mean().item(),
            exact=exact.mean().item(),
            sentence=sentence,
        ),
        mistake,
    )


def check_log_bernoulli_stable() -> None:
    """Exact, and finite, for logits of +-1000 (probabilities 0 and 1 in float32): the
    log-likelihood must be computed from the logits, not from ``log(sigmoid(logits))``.

    A function that is also wrong for moderate logits (``check_log_bernoulli_values``) gets
    the diagnosis of that check here too: its trouble is not stability."""
    x = binary_batch(5)
    logits = torch.where(torch.arange(IMAGE_DIM) % 2 == 0, 1000.0, -1000.0).expand(5, -1)
    value = _call("log_bernoulli_with_logits", x, logits, shape=(5,), finite=False)
    exact = bernoulli_log_likelihood(x, logits)
    if torch.allclose(value, exact, rtol=1e-4):
        return
    moderate = SPREAD_LOGITS.expand(5, -1)
    at_moderate = _call("log_bernoulli_with_logits", x, moderate, shape=(5,))
    if not torch.allclose(at_moderate, bernoulli_log_likelihood(x, moderate)):
        sentence, mistake = _bernoulli_mistakes(x, logits, value)
        fail(
            msg(
                "densities.log_bernoulli_off_everywhere",
                "for logits of +-1000 log_bernoulli_with_logits gives {value}... where it is "
                "{exact}...; it is off for logits spread over [-3, 3] too: {sentence}",
                value=_fmt(value[:3]),
                exact=_fmt(exact[:3]),
                sentence=sentence,
            ),
            mistake,
        )
    fail(
        msg(
            "densities.sigmoid_then_log",
            "for logits of +-1000 log_bernoulli_with_logits gives {value}... where it is "
            "{exact}...: sigmoid(1000) is exactly 1 in floating point, so log(1 - sigmoid(l)) "
            "is log 0 = -inf (clamping the probabilities gives a finite but wrong value). "
            "Compute it from the logits: log sigmoid(l) = -softplus(-l), "
            "log(1 - sigmoid(l)) = -softplus(l), or use F.binary_cross_entropy_with_logits",
            value=_fmt(value[:3]),
            exact=_fmt(exact[:3]),
        ),
        "sigmoid_then_log",
    )
