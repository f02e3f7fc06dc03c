"""Where every number that the notebooks' text and the README quote comes from.

A markdown cell that quotes a measured number names its source here: the records of the
training seeds (``course_utils.records``), a shipped checkpoint's provenance
(``course_utils/pretrained/NAME.json``), a setting of the course's code, or a computation
(a mathematical constant, the point totals of the notebooks' metadata). ``QUOTES`` lists,
for each such cell (notebook, grade_id), the numbers it quotes in the order it quotes them,
each as the text it must read.

Which numbers count as quoted (``quoted``): every number with a decimal point or a ``±``,
every integer followed by ``nats`` or ``units`` (one word may come between: "20 active
units") or by ``%``, and the integer of "iteration N" (a measured place on a curve). Left
out, as names rather than measurements: section, question, exercise, equation and figure
numbers, numbers inside identifiers or code (``vae_z10_beta0.2``), and the value of a named
setting written as ``symbol = value`` (``k = 1000``, ``\\beta = 0.2``). Other integers
(iterations, image counts, points, years) are settings of the course, not measurements.
``CLAIMS`` lists the comparisons a cell states (one configuration below another in every
seed, two that overlap, or a statement about every seed), each checked against the records.

    python -m autograder.reference.quotes            # list every quote with its source
    python -m autograder.reference.quotes --check    # differences between text and sources
    python -m autograder.reference.quotes --write    # write the sources' numbers into the text

``--write`` rewrites, in place and in order, each quoted number of a cell whose count of
quotes matches its entry, and the README's point totals; ``tests/test_quotes.py`` fails on
any difference and on any claim that does not hold.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import nbformat

from autograder.cells import grade_id_of
from autograder.course import Course
from course_utils import records
from course_utils.checkpoints import PRETRAINED_DIR

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"

# What counts as a quoted number

_NUMBER = r"[-\u2212]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
#: A number, optionally ``± spread``, not part of an identifier, a version or a longer number.
_TOKEN = re.compile(
    rf"(?<![\w.^:\\])(?P<value>{_NUMBER})(?:\s*(?:±|\\pm)\s*(?P<spread>{_NUMBER}))?(?![\w]|\.\d)"
)
#: References to parts of a text, not measurements: "Section 3.4", "Questions 4.3 and 4.4".
_REFERENCE = re.compile(
    r"(?:Sections?|Questions?|Exercises?|[Ss]ec\.|[Ee]q\.|Theorem|[Ff]ig(?:ure|\.)|Table|Ch\.|"
    r"notebooks?)\s+\d+(?:\.\d+)*(?:(?:,|,? and| to|-)\s*\d+(?:\.\d+)*)*"
)
#: A heading's own number: "## 3.4 Ground truth".
_HEADING = re.compile(r"^(#+)\s*\d+(?:\.\d+)*", re.MULTILINE)
#: A named setting: "k = 1000", "$\beta = 0.2$", "s^2 = 0.5".
_SETTING = re.compile(r"(?:\b[A-Za-z]|\\[a-zA-Z]+|[βλ]|\^\{?\d\}?|_\{?\w+\}?)\s*=\s*$")
#: An integer quoted as a measurement: "24 nats", "20 active units", "96%".
_UNIT = re.compile(r"\s*%|\s+(?:[a-z]+\s+)?(?:nats?|units?)\b")
#: An integer quoted as the place of a measurement: "at iteration 7,500".
_PLACE = re.compile(r"\biteration\s+$")
#: A fenced or inline code span: its numbers are code.
_CODE = re.compile(r"```.*?```|`[^`\n]*`", re.DOTALL)


def _blank(match: re.Match) -> str:
    return " " * len(match.group(0))


def _masked(text: str) -> str:
    """``text`` with code, references and heading numbers blanked (same length)."""
    text = _CODE.sub(_blank, text)
    text = _REFERENCE.sub(_blank, text)
    return _HEADING.sub(lambda m: m.group(1) + " " * (len(m.group(0)) - len(m.group(1))), text)


def quoted(text: str) -> list[re.Match]:
    """The quoted numbers of a markdown text, in order (see the module)."""
    masked = _masked(text)
    found = []
    for match in _TOKEN.finditer(masked):
        if _SETTING.search(masked[: match.start()]):
            continue
        number = match.group("value")
        unit = _UNIT.match(masked, match.end()) or _PLACE.search(masked[: match.start()])
        if "." in number or match.group("spread") or unit:
            found.append(match)
    return found


# Where a quoted number comes from


@dataclass(frozen=True)
class Quote:
    """One quoted number: how to compute the text it must read, and where it comes from."""

    compute: Callable[[], str]
    source: str

    def text(self) -> str:
        return self.compute()


def _named(key: records.Measure) -> str:
    return key if isinstance(key, str) else (key.__doc__ or key.__name__)


def _fixed(value: float, digits: int) -> str:
    return f"{value:,.{digits}f}"


def seeds(name: str, key: records.Measure, digits: int = 1) -> Quote:
    """``mean ± sd`` of ``key`` over the seeds of configuration ``name``."""
    return Quote(
        lambda: records.summary(name, key).format(digits),
        f"records {name} {_named(key)}, mean ± sd over the seeds",
    )


def mean(name: str, key: records.Measure, digits: int = 1) -> Quote:
    """The mean of ``key`` over the seeds of ``name``."""
    return Quote(
        lambda: _fixed(records.summary(name, key).mean, digits),
        f"records {name} {_named(key)}, mean over the seeds",
    )


def seed_value(name: str, seed: int, key: records.Measure, digits: int = 1) -> Quote:
    """``key`` of one seed's record of ``name``."""
    return Quote(
        lambda: _fixed(records.values(name, key)[seed], digits),
        f"records {name} seed {seed} {_named(key)}",
    )


def over_seeds(
    compute: Callable[[], Sequence[float]], digits: int, source: str, scale: float = 1.0
) -> Quote:
    """``mean ± sd`` of one value per seed, computed from the records (``source`` says
    how), times ``scale`` (100 for a percentage)."""
    return Quote(
        lambda: records.summarize([scale * float(v) for v in compute()]).format(digits),
        f"{source}, mean ± sd over the seeds",
    )


def derived(compute: Callable[[], float], digits: int, source: str) -> Quote:
    """A number computed from records, checkpoints or code (``source`` says how)."""
    return Quote(lambda: _fixed(compute(), digits), source)


def count(compute: Callable[[], int], source: str) -> Quote:
    """An integer computed from records, checkpoints or code."""
    return Quote(lambda: f"{compute():,d}", source)


def provenance(checkpoint: str, key: str, digits: int = 1) -> Quote:
    """``key`` (dotted) of a shipped checkpoint's provenance."""

    def compute() -> str:
        found = json.loads((PRETRAINED_DIR / f"{checkpoint}.json").read_text())
        return _fixed(float(records.value(found, key)), digits)

    return Quote(compute, f"course_utils/pretrained/{checkpoint}.json {key}")


def constant(value: float, digits: int, source: str) -> Quote:
    """A mathematical constant or a setting of the course's code."""
    return Quote(lambda: _fixed(value, digits), source)


@dataclass(frozen=True)
class Claim:
    """A comparison the text states, checked against the records it rests on."""

    holds: Callable[[], bool]
    statement: str


def below(lower: str, higher: str, key: records.Measure) -> Claim:
    """Every seed of ``lower`` has a smaller ``key`` than every seed of ``higher``."""
    return Claim(
        lambda: records.summary(lower, key).high < records.summary(higher, key).low,
        f"{_named(key)}: every seed of {lower} below every seed of {higher}",
    )


def overlapping(first: str, second: str, key: records.Measure) -> Claim:
    """The seeds of the two configurations overlap in ``key``: the text calls them even."""
    return Claim(
        lambda: not records.summary(first, key).apart(records.summary(second, key)),
        f"{_named(key)}: the seeds of {first} and {second} overlap",
    )


#: Measures of a record that the notebooks' code and text share.
elbo_to_iwae = records.elbo_to_iwae
informative_units = records.informative_units
overfitting = records.overfitting
iwae_overfitting = records.iwae_overfitting
KL_THRESHOLD = records.KL_THRESHOLD
KL_THRESHOLD_SOURCE = "course_utils.records.KL_THRESHOLD (notebook 4's collapse table)"


def every(compute: Callable[[], Sequence[bool]], statement: str) -> Claim:
    """A statement about each seed (``compute`` gives one truth value per seed) that holds in
    every one of them."""
    return Claim(lambda: all(compute()), statement)


#: The two-dimensional model of notebook 3's gap study.
GAP_MODEL = "vae_z2"


def gap_at(images: str, statistic: str, k: int = 1000) -> Callable[[], list[float]]:
    """Per seed of ``GAP_MODEL``, ``statistic`` (see ``records.gap_statistics``) of the gaps
    log p(x) - L_k over notebook 3's 50 ``images``."""

    def compute() -> list[float]:
        found = records.gap_statistics(GAP_MODEL, images)
        return found[statistic][:, list(found["ks"]).index(k)].tolist()

    return compute


def gap_ratio(images: str, statistic: str) -> Callable[[], list[float]]:
    """Per seed, ``statistic`` of the gaps at k = 1000 over that at k = 100."""
    return lambda: [
        a / b
        for a, b in zip(gap_at(images, statistic)(), gap_at(images, statistic, 100)(), strict=True)
    ]


def gap_part(images: str, *parts: str) -> Callable[[], list[float]]:
    """Per seed of ``GAP_MODEL``, the mean over the 50 ``images`` of the sum of ``parts``
    (``"approximation"``, ``"amortization"``) of the encoder's gap log p(x) - ELBO."""
    return lambda: sum(records.gaps(GAP_MODEL, images)[part] for part in parts).mean(1).tolist()


#: Notebook 4's sweep of the KL weight, and its beta = 5 runs with KL warm-up.
BETAS = (0.2, 0.5, 1, 2, 5)
BETA5_WARMUP = "vae_z10_beta5_warmup"


def beta(value: float) -> str:
    """The configuration of notebook 4's sweep trained with KL weight ``value``."""
    return f"vae_z10_beta{value:g}"


#: Notebook 3's two objectives with 10 latent units.
Z10_OBJECTIVES = ("vae_z10", "iwae5_z10")


def _curve_minimum(name: str) -> tuple[int, float]:
    """(iteration, value) of the lowest point of the mean test curve of ``name``'s seeds."""
    curves = records.curves(name)
    mean = [sum(values) / len(curves) for values in zip(*(c["test"] for c in curves), strict=True)]
    best = min(range(len(mean)), key=mean.__getitem__)
    return curves[0]["iterations"][best], mean[best]


def _uniform_gap(low: float, high: float) -> float:
    """The Jensen gap of the uniform distribution on [low, high]: log E[X] - E[log X]."""
    mean_log = (high * math.log(high) - high - low * math.log(low) + low) / (high - low)
    return math.log((low + high) / 2) - mean_log


@cache
def _encoder_variances() -> tuple[float, float]:
    """The smallest and largest variance of the shipped vae_z2's q(z|x) on notebook 3's 100
    images of its quadrature test (50 test and 50 training images)."""
    import torch

    from course_utils.checkpoints import load_pretrained
    from course_utils.data import binarize_fixed, evenly_spaced, load_data

    data = load_data()
    x = torch.cat([evenly_spaced(data.x_test, 50), binarize_fixed(evenly_spaced(data.x_train, 50))])
    with torch.no_grad():
        _, v = load_pretrained("vae_z2").enc(x)  # (100, 2)
    return v.min().item(), v.max().item()


def _threshold() -> float:
    """The activity threshold of ``course_utils.evaluation.active_units``."""
    import inspect

    from course_utils.evaluation import active_units

    return inspect.signature(active_units).parameters["threshold"].default


def _z_dim(name: str) -> int:
    return records.runs(name)[0]["model"]["z_dim"]


def _digamma(x: float) -> float:
    import torch

    return torch.digamma(torch.tensor(x, dtype=torch.float64)).item()


# The sources of the notebooks' text

NB1, NB2, NB3, NB4 = "01_jensen_elbo", "02_negative_elbo", "03_iwae", "04_priors_and_collapse"

QUOTES: dict[tuple[str, str], list[Quote]] = {
    (NB1, "jensen_demo_md"): [
        derived(lambda: -_digamma(1.0), 4, "the Euler-Mascheroni constant, -digamma(1)"),
        constant(0.5, 1, "sigma^2 / 2 for sigma = 1"),
        derived(lambda: math.log(20) - _digamma(20.0), 4, "log 20 - digamma(20)"),
        constant(1 / 20 / 2, 3, "Var[X] / 2 for Gamma(20, 20)"),
        derived(lambda: _uniform_gap(0.1, 2.0), 4, "the Jensen gap of Uniform(0.1, 2)"),
        constant(0.1, 1, "the uniform distribution's lower end (notebook 1's demo)"),
    ],
    (NB2, "log_bernoulli_md"): [derived(lambda: 784 * math.log(2), 1, "784 log 2")],
    (NB2, "seeds_md"): [
        provenance("vae_z10", "test.nelbo", 2),
        seed_value("vae_z10", 0, "test.nelbo", 2),
    ],
    (NB2, "overfitting_md"): [
        seeds("vae_z10", "train.nelbo"),
        count(lambda: _curve_minimum("vae_z10")[0], "records vae_z10: the lowest mean test curve"),
        derived(lambda: _curve_minimum("vae_z10")[1], 1, "records vae_z10: its value"),
        seeds("vae_z10", "test.nelbo"),
        derived(
            lambda: records.summary("vae_z10", overfitting).mean,
            1,
            "records vae_z10: test NELBO - training NELBO, mean over the seeds",
        ),
        seeds("vae_z10_beta1", "test.nelbo"),
    ],
    (NB2, "written_prior_sampling"): [
        seeds("vae_z10", "test.kl"),
        seeds("vae_z50", "test.kl"),
    ],
    (NB3, "importance_sampling_md"): [
        derived(lambda: _encoder_variances()[0], 4, "vae_z2.pt: the smallest variance of q"),
        derived(lambda: _encoder_variances()[1], 4, "vae_z2.pt: the largest variance of q"),
    ],
    (NB3, "log_mean_exp_md"): [
        derived(lambda: -150 * math.log(2), 2, "float32: log of half the smallest subnormal"),
        derived(lambda: 2.0**-149 / 1e-45, 1, "float32: the smallest subnormal 2^-149"),
        derived(lambda: -149 * math.log(2), 2, "float32: log 2^-149"),
        derived(lambda: -1075 * math.log(2), 2, "float64: log of half the smallest subnormal"),
    ],
    (NB3, "evaluation_reading_md"): [
        seeds("vae_z10", "test.niwae.1000"),
        seeds("vae_z10_beta1", "test.niwae.1000"),
        seeds("vae_z10", elbo_to_iwae),
        seeds("vae_z10_beta1", elbo_to_iwae),
    ],
    (NB3, "training_md"): [derived(_threshold, 2, "active_units's threshold")],
    (NB3, "written_tighter_bounds_encoder"): [
        seeds("iwae5_z10", "train.nelbo"),
        seeds("vae_z10", "train.nelbo"),
        seeds("iwae5_z10", "train.niwae.1000"),
        seeds("vae_z10", "train.niwae.1000"),
    ],
    (NB3, "bounds_2d_reading_md"): [
        over_seeds(gap_at("train", "mean"), 2, f"records {GAP_MODEL}: training images' mean gap"),
        over_seeds(gap_at("test", "mean"), 2, f"records {GAP_MODEL}: test images' mean gap"),
        over_seeds(gap_at("train", "median"), 2, f"records {GAP_MODEL}: training median gap"),
        over_seeds(gap_at("test", "median"), 2, f"records {GAP_MODEL}: test images' median gap"),
        over_seeds(gap_at("train", "largest_share"), 0, "training: share of 5 largest", 100),
        over_seeds(gap_at("test", "largest_share"), 0, "test: share of the 5 largest", 100),
        over_seeds(gap_ratio("train", "mean"), 2, "training mean gap, k = 1000 over k = 100"),
        over_seeds(gap_ratio("test", "mean"), 2, "test mean gap, k = 1000 over k = 100"),
        over_seeds(gap_ratio("train", "median"), 2, "training median gap, k = 1000 over 100"),
        over_seeds(gap_ratio("test", "median"), 2, "test median gap, k = 1000 over k = 100"),
    ],
    (NB3, "amortization_reading_md"): [
        over_seeds(gap_part("test", "amortization"), 2, "test images' amortization gap"),
        over_seeds(gap_part("test", "approximation"), 2, "test images' approximation gap"),
        over_seeds(gap_part("train", "amortization"), 2, "training amortization gap"),
        over_seeds(gap_part("train", "approximation"), 2, "training approximation gap"),
    ],
    (NB3, "training_reading_md"): [
        seeds("iwae5_z10", "train.niwae.1000"),
        seeds("vae_z10", "train.niwae.1000"),
        seeds("iwae5_z10", "train.nelbo"),
        seeds("vae_z10", "train.nelbo"),
        seeds("iwae5_z10", "test.niwae.1000"),
        seeds("vae_z10", "test.niwae.1000"),
        seeds("iwae5_z10", iwae_overfitting),
        seeds("vae_z10", iwae_overfitting),
        count(lambda: _z_dim("vae_z10"), "records vae_z10: z_dim"),
        count(
            lambda: int(min(records.summary(n, "active_units").low for n in Z10_OBJECTIVES)),
            "records vae_z10, iwae5_z10: the fewest active units of a seed",
        ),
    ],
    (NB3, "burda_md"): [
        count(lambda: _z_dim("vae_z10"), "records vae_z10: z_dim"),
        count(lambda: _z_dim("vae_z50"), "records vae_z50: z_dim"),
    ],
    (NB3, "burda_reading_md"): [
        count(lambda: _z_dim("vae_z50"), "records vae_z50: z_dim"),
        seeds("vae_z50", "active_units"),
        seeds("iwae5_z50", "active_units"),
        constant(KL_THRESHOLD, 2, KL_THRESHOLD_SOURCE),
        seeds("vae_z50", informative_units),
        seeds("iwae5_z50", informative_units),
        seeds("iwae5_z50", "test.niwae.1000"),
        seeds("vae_z50", "test.niwae.1000"),
        seeds("iwae5_z50", "train.niwae.1000"),
        seeds("vae_z50", "train.niwae.1000"),
        seeds("iwae5_z50", "test.nelbo"),
        seeds("vae_z50", "test.nelbo"),
        seeds("iwae5_z50", "test.kl"),
        seeds("vae_z50", "test.kl"),
        count(lambda: _z_dim("vae_z10"), "records vae_z10: z_dim"),
    ],
    (NB4, "written_monte_carlo_kl"): [
        derived(lambda: math.sqrt(8 * math.log(2) / 3), 2, "sqrt(8 log 2 / 3)"),
        constant(3 * 2**2 / 8, 1, "3 z^2 / 8 at z = 2"),
        derived(lambda: math.log(2) - 1.5, 2, "log 2 - 3 z^2 / 8 at z = 2"),
    ],
    (NB4, "comparison_reading_md"): [
        seeds("gmvae_z10", "test.nelbo"),
        seeds("vae_z10_beta1", "test.nelbo"),
        seeds("gmvae_z10", "test.kl"),
        seeds("vae_z10_beta1", "test.kl"),
        seeds("gmvae_z10", "test.rec"),
        seeds("vae_z10_beta1", "test.rec"),
        seeds("gmvae_z10", "test.niwae.1000"),
        seeds("vae_z10_beta1", "test.niwae.1000"),
        seeds("gmvae_z10", "train.niwae.1000"),
        seeds("vae_z10_beta1", "train.niwae.1000"),
    ],
    (NB4, "prior_2d_reading_md"): [
        provenance("gmvae_z2", "test.nelbo"),
        provenance("gmvae_z10", "test.nelbo"),
    ],
    (NB4, "beta_md"): [derived(_threshold, 2, "active_units's threshold")],
    (NB4, "beta_reading_md"): [
        *(seeds(beta(b), "test.kl") for b in BETAS),
        seeds(beta(0.2), "test.rec"),
        seeds(beta(5), "test.rec"),
        seeds(beta(0.2), "test.rec"),
        seeds(beta(0.5), "test.rec"),
        seeds(beta(1), "test.nelbo"),
        seeds(beta(2), "test.nelbo"),
        seeds(beta(0.5), "test.nelbo"),
        seeds(beta(0.2), "test.nelbo"),
        seeds(beta(5), "test.nelbo"),
        seeds(beta(2), "test.niwae.1000"),
        seeds(beta(1), "test.niwae.1000"),
        seeds(beta(2), "train.niwae.1000"),
        seeds(beta(1), "train.niwae.1000"),
        seeds("gmvae_z10", "test.niwae.1000"),
        seeds(beta(5), "active_units"),
        count(lambda: _z_dim(beta(1)), "records vae_z10_beta1: z_dim"),
    ],
    (NB4, "collapse_seeds_md"): [
        constant(KL_THRESHOLD, 2, KL_THRESHOLD_SOURCE),
        constant(KL_THRESHOLD, 2, KL_THRESHOLD_SOURCE),
    ],
    (NB4, "collapse_reading_md"): [
        count(lambda: _z_dim("vae_z50"), "records vae_z50: z_dim"),
        seeds("vae_z50", "active_units"),
        seeds("vae_z50", informative_units),
        constant(KL_THRESHOLD, 2, KL_THRESHOLD_SOURCE),
        seeds("vae_z50_warmup", "active_units"),
        seeds("vae_z50_warmup", "test.kl"),
        seeds("vae_z50", "test.kl"),
        seeds("vae_z50_warmup", "test.rec"),
        seeds("vae_z50", "test.rec"),
        seeds("vae_z50_warmup", "test.nelbo"),
        seeds("vae_z50", "test.nelbo"),
        seeds("vae_z50_warmup", "test.niwae.1000"),
        seeds("vae_z50", "test.niwae.1000"),
        seeds("vae_z50_warmup", "final_train_loss"),
        seeds("vae_z50", "final_train_loss"),
        count(lambda: _z_dim("vae_z50"), "records vae_z50: z_dim"),
        seeds("iwae5_z50", "active_units"),
        seeds("iwae5_z50", "test.niwae.1000"),
        seeds(beta(5), "active_units"),
        count(lambda: _z_dim(beta(5)), "records vae_z10_beta5: z_dim"),
        seeds(BETA5_WARMUP, "test.kl"),
        seeds(beta(5), "test.kl"),
        seeds(BETA5_WARMUP, "test.nelbo"),
        seeds(beta(5), "test.nelbo"),
        seeds(BETA5_WARMUP, "test.niwae.1000"),
        seeds(beta(5), "test.niwae.1000"),
        seeds(BETA5_WARMUP, "final_train_loss", 2),
        seeds(beta(5), "final_train_loss", 2),
        seeds(beta(1), "test.kl"),
    ],
    (NB4, "written_collapse"): [
        seeds("vae_z50_warmup", "active_units"),
        seeds("vae_z50", "active_units"),
        count(lambda: _z_dim("vae_z50"), "records vae_z50: z_dim"),
        seeds(beta(5), "active_units"),
        seeds(BETA5_WARMUP, "final_train_loss", 2),
        seeds(beta(5), "final_train_loss", 2),
        count(
            lambda: int(records.runs(beta(5))[0]["training"]["beta"]),
            "records vae_z10_beta5: its KL weight beta",
        ),
        seeds(BETA5_WARMUP, "test.kl"),
        seeds(beta(5), "test.kl"),
    ],
    (NB4, "summaries_reading_md"): [provenance("gmvae_z10", "final_train_loss")],
}

#: The comparisons each cell states, checked against the records.
CLAIMS: dict[tuple[str, str], list[Claim]] = {
    (NB2, "seeds_md"): [
        Claim(
            lambda: all("here" in record["trained"] for record in records.runs("vae_z10")),
            "every seed of vae_z10 was trained for the records, seed 0 included",
        ),
        Claim(
            lambda: (
                "shipped checkpoint" in records.runs("vae_z10_beta1")[0]["trained"]
                and len(records.curves("vae_z10_beta1")) == 2
            ),
            "seed 0 of vae_z10_beta1 is its shipped checkpoint; two seeds have curves",
        ),
    ],
    (NB2, "overfitting_md"): [below("vae_z10_beta1", "vae_z10", "test.nelbo")],
    (NB3, "written_tighter_bounds_encoder"): [
        below("vae_z10", "iwae5_z10", "train.nelbo"),
        below("iwae5_z10", "vae_z10", "train.kl"),
        below("iwae5_z10", "vae_z10", "train.niwae.1000"),
    ],
    (NB4, "comparison_reading_md"): [
        below("gmvae_z10", "vae_z10_beta1", key)
        for key in ("test.nelbo", "test.kl", "test.rec", "test.niwae.1000", "train.niwae.1000")
    ],
    (NB4, "collapse_reading_md"): [
        below("vae_z50", "vae_z50_warmup", "active_units"),
        below("vae_z50", "vae_z50_warmup", "test.kl"),
        below("vae_z50_warmup", "vae_z50", "test.rec"),
        overlapping("vae_z50", "vae_z50_warmup", "test.nelbo"),
        below("vae_z50_warmup", "vae_z50", "test.niwae.1000"),
        below("vae_z50", "vae_z50_warmup", "final_train_loss"),
        below("vae_z50_warmup", "iwae5_z50", "active_units"),
        overlapping("iwae5_z50", "vae_z50_warmup", "test.niwae.1000"),
        every(
            lambda: [
                units == _z_dim(BETA5_WARMUP)
                for units in records.values(BETA5_WARMUP, "active_units")
            ],
            "every unit of every seed of vae_z10_beta5_warmup is active",
        ),
        below(beta(5), BETA5_WARMUP, "test.kl"),
        below(BETA5_WARMUP, beta(5), "test.nelbo"),
        below(BETA5_WARMUP, beta(5), "test.niwae.1000"),
        below(beta(5), BETA5_WARMUP, "final_train_loss"),
        below(BETA5_WARMUP, beta(1), "test.kl"),
    ],
    (NB4, "beta_reading_md"): [
        *(below(beta(high), beta(low), "test.kl") for low, high in itertools.pairwise(BETAS)),
        overlapping(beta(0.2), beta(0.5), "test.rec"),
        *(below(beta(low), beta(high), "test.rec") for low, high in itertools.pairwise(BETAS[1:])),
        overlapping(beta(1), beta(2), "test.nelbo"),
        *(below(beta(b), beta(0.5), "test.nelbo") for b in (1, 2)),
        below(beta(0.5), beta(0.2), "test.nelbo"),
        *(below(beta(b), beta(5), "test.nelbo") for b in (1, 2)),
        below(beta(2), beta(1), "test.niwae.1000"),
        below(beta(1), beta(2), "train.niwae.1000"),
        overlapping(beta(2), "gmvae_z10", "test.niwae.1000"),
        every(
            lambda: [
                units == _z_dim(beta(b))
                for b in BETAS
                if b < 5
                for units in records.values(beta(b), "active_units")
            ],
            "every unit of every seed is active for beta < 5",
        ),
        every(
            lambda: [units < _z_dim(beta(5)) for units in records.values(beta(5), "active_units")],
            "some unit of every seed is inactive at beta = 5",
        ),
    ],
    (NB3, "evaluation_reading_md"): [
        overlapping("vae_z10", "vae_z10_beta1", "test.niwae.1000"),
        below("vae_z10_beta1", "vae_z10", elbo_to_iwae),
    ],
    (NB3, "bounds_2d_reading_md"): [
        every(
            lambda: (
                [r > 0.1 for i in ("train", "test") for r in gap_ratio(i, "mean")()]
                + [r > 0.1 for i in ("train", "test") for r in gap_ratio(i, "median")()]
            ),
            "the gaps shrink by less than a factor 10 from k = 100 to 1000, in every seed",
        ),
        every(
            lambda: [
                median < mean
                for i in ("train", "test")
                for median, mean in zip(gap_at(i, "median")(), gap_at(i, "mean")(), strict=True)
            ],
            "the median image's gap is below the mean gap, in every seed",
        ),
    ],
    (NB3, "amortization_reading_md"): [
        every(
            lambda: [
                approximation < amortization
                for i in ("train", "test")
                for approximation, amortization in zip(
                    gap_part(i, "approximation")(), gap_part(i, "amortization")(), strict=True
                )
            ],
            "the amortization gap is the larger part on both sets, in every seed",
        ),
        every(
            lambda: [
                train < test
                for part in ("approximation", "amortization")
                for train, test in zip(
                    gap_part("train", part)(), gap_part("test", part)(), strict=True
                )
            ],
            "both parts are larger on the test images, in every seed",
        ),
        every(
            lambda: [
                test_am - train_am > test_ap - train_ap
                for test_am, train_am, test_ap, train_ap in zip(
                    gap_part("test", "amortization")(),
                    gap_part("train", "amortization")(),
                    gap_part("test", "approximation")(),
                    gap_part("train", "approximation")(),
                    strict=True,
                )
            ],
            "most of the difference between the sets is the amortization gap, in every seed",
        ),
        every(
            lambda: [
                train < test
                for statistic in ("mean", "median")
                for train, test in zip(
                    gap_at("train", statistic)(), gap_at("test", statistic)(), strict=True
                )
            ],
            "the gap at k = 1000 is larger on the test images, in every seed",
        ),
    ],
    (NB3, "training_reading_md"): [
        below("iwae5_z10", "vae_z10", "train.niwae.1000"),
        below("vae_z10", "iwae5_z10", "train.nelbo"),
        below("iwae5_z10", "vae_z10", "train.kl"),
        overlapping("iwae5_z10", "vae_z10", "test.niwae.1000"),
        every(
            lambda: [
                units == _z_dim("vae_z10")
                for n in Z10_OBJECTIVES
                for units in records.values(n, "active_units")
            ],
            "every unit of every seed of vae_z10 and iwae5_z10 is active",
        ),
    ],
    (NB3, "burda_reading_md"): [
        below("vae_z50", "iwae5_z50", "active_units"),
        below("vae_z50", "iwae5_z50", informative_units),
        below("iwae5_z50", "vae_z50", "test.niwae.1000"),
        below("iwae5_z50", "vae_z50", "train.niwae.1000"),
        below("vae_z50", "iwae5_z50", "test.nelbo"),
        below("iwae5_z50", "vae_z50", "test.kl"),
        Claim(
            lambda: (
                records.summary("iwae5_z50", "active_units").sd
                > records.summary("vae_z50", "active_units").sd
            ),
            "the IWAE count of active units varies more from seed to seed",
        ),
    ],
}


def _cells(course: Course) -> dict[tuple[str, str], nbformat.NotebookNode]:
    cells = {}
    for path in sorted(course.source.glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "markdown":
                cells[path.stem, grade_id_of(cell)] = cell
    return cells


def points(course: Course) -> tuple[int, int]:
    """The notebooks' points: (written answers, all), from their nbgrader metadata."""
    written = total = 0
    for path in sorted(course.source.glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade"):
                total += meta["points"]
                written += meta["points"] if cell.cell_type == "markdown" else 0
    return written, total


#: The README's sentence with the written answers' share of the points.
README_POINTS = re.compile(r"written answers \((\d+) of the (\d+) points\)")


def differences(course: Course | None = None) -> list[str]:
    """Where the text and its sources disagree: one line per cell (empty if none)."""
    course = course or Course()
    found = []
    for (notebook, grade_id), cell in _cells(course).items():
        text = [m.group(0) for m in quoted(cell.source)]
        try:
            wanted = [quote.text() for quote in QUOTES.get((notebook, grade_id), [])]
        except (KeyError, OSError) as error:  # a record not yet made, a missing file
            found.append(f"{notebook} {grade_id}: a source is missing: {error}")
            continue
        if text != wanted:
            found.append(f"{notebook} {grade_id}: the text quotes {text}, its sources say {wanted}")
    for (notebook, grade_id), claims in CLAIMS.items():
        for claim in claims:
            try:
                holds = claim.holds()
            except KeyError as error:
                holds, claim = False, Claim(claim.holds, f"{claim.statement} ({error})")
            if not holds:
                found.append(f"{notebook} {grade_id}: the claim does not hold: {claim.statement}")
    missing = (set(QUOTES) | set(CLAIMS)) - set(_cells(course))
    found += [f"{notebook} {grade_id}: no such markdown cell" for notebook, grade_id in missing]
    stated = README_POINTS.findall(README.read_text())
    wanted = "{} of the {}".format(*points(course))
    if [f"{a} of the {b}" for a, b in stated] != [wanted]:
        found.append(f"README.md: the written answers are {stated}, the notebooks say {wanted}")
    return found


def rewrite(text: str, wanted: list[str]) -> str:
    """``text`` with its quoted numbers replaced, in order, by ``wanted``."""
    matches = quoted(text)
    if len(matches) != len(wanted):
        raise ValueError(f"{len(matches)} quoted numbers, {len(wanted)} sources")
    for match, number in reversed(list(zip(matches, wanted, strict=True))):
        text = text[: match.start()] + number + text[match.end() :]
    return text


def write(course: Course | None = None) -> list[str]:
    """Write each cell's sources into its quoted numbers, where the counts match; returns
    the cells it could not write (their counts differ)."""
    course = course or Course()
    skipped = []
    for path in sorted(course.source.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            key = (path.stem, grade_id_of(cell))
            if cell.cell_type != "markdown" or key not in QUOTES:
                continue
            try:
                wanted = [quote.text() for quote in QUOTES[key]]
            except (KeyError, OSError) as error:
                skipped.append(f"{key[0]} {key[1]}: a source is missing: {error}")
                continue
            try:
                cell.source = rewrite(cell.source, wanted)
            except ValueError as error:
                skipped.append(f"{key[0]} {key[1]}: {error}")
        nbformat.write(nb, path)
    written, total = points(course)
    README.write_text(
        README_POINTS.sub(f"written answers ({written} of the {total} points)", README.read_text())
    )
    return skipped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--check", action="store_true", help="list the differences")
    action.add_argument("--write", action="store_true", help="write the sources into the text")
    args = parser.parse_args(argv)
    if args.write:
        for line in write():
            print(f"not written: {line}")
        return 0
    if args.check:
        found = differences()
        print("\n".join(found) or "every quoted number agrees with its source")
        return 1 if found else 0
    for (notebook, grade_id), quotes in QUOTES.items():
        for quote in quotes:
            print(f"{notebook} {grade_id}: {quote.text():>14}  {quote.source}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
