"""The course's exercises and the mistakes its graders name: one registry.

An exercise is a function the student writes in a notebook's solution cell and the test
cells that grade it, each with the checks it runs (functions of ``course_utils.grading``;
notebook 1 tests inline, so its cells name none). Every failure of a check ends with the
id of the likely mistake, ``(mistake: std_for_variance)``; ``MISTAKES`` says what each id
means. The stubs of ``course_utils.models`` and ``course_utils.distributions``, the example
corpus, the class report and the grader's own verdicts (tampering, a notebook it could not
run) all key on these ids.

This module is data only: it imports nothing from the course but ``language`` (which needs
nothing but the standard library), whose ``Message`` gives a mistake's text and an exercise's
title in the reader's language.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from course_utils.language import Message

__all__ = [
    "EXERCISES",
    "MISTAKES",
    "Exercise",
    "Mistake",
    "TestCell",
    "exercise",
    "mistake_of",
    "tagged",
]


@dataclass(frozen=True)
class Mistake:
    """What a failure means: ``id`` (stable, ``snake_case``) and ``text``, one line for the
    class report. ``notebook``: a verdict on a whole notebook (it could not be graded, or its
    points are withheld), reported once per notebook rather than once per test."""

    id: str
    text: str
    notebook: bool = False

    @property
    def explained(self) -> Message:
        """``text`` in the reader's language (the message ``mistake.<id>``): what a student's
        failure says; the class report keeps the English ``text``."""
        return Message(f"mistake.{self.id}", self.text)


@dataclass(frozen=True)
class TestCell:
    """An auto-graded test cell: its ``grade_id``, the checks its visible code calls and
    those its hidden block calls, each in order."""

    grade_id: str
    checks: tuple[str, ...] = ()
    hidden: tuple[str, ...] = ()

    @property
    def runs(self) -> tuple[str, ...]:
        """Every check the cell runs, in order: the visible ones, then the hidden ones."""
        return self.checks + self.hidden


@dataclass(frozen=True)
class Exercise:
    """A function the student writes, where, and what grades it.

    Attributes:
        name: the exercise's id, unique in the registry: the function or method as the
            student defines it, unless two exercises define functions of the same name.
        notebook: the notebook's file name without ``.ipynb``.
        title: the exercise's heading in the notebook.
        solution_cell: the grade_id of the solution cell.
        tests: the test cells that grade it, in notebook order.
        module: the ``course_utils.grading`` module whose checks the cells call ('' if inline).
        function: the function or method the student defines, when it is not ``name``.
        owner: the class a method is attached to (``VAE``, ``GMVAE``); empty for a function
            (attached to ``course_utils.distributions``, or defined in the notebook).
            ``exercise("GMVAE.negative_elbo_bound")`` finds a method by its class.
        uses: the exercises whose functions this one's may call (a bound calls notebook 2's
            densities): its checks grade it with the reference versions of those in place
            (``course_utils.grading.common.graded_alone``), so their mistakes cost their own
            tests only.
        shape_test: the grade_id of the test cell that owns the shapes of a bound's outputs;
            the tests of its values average what they receive, so a wrong shape costs this
            cell alone.
        answered_by: names of the course's own code that computes this exercise's answer (the
            grading package's reference densities, a model's prior): a solution cell that
            uses one is withheld for a grade by hand (``autograder.borrowing``), whatever its
            tests say.
    """

    name: str
    notebook: str
    title: str
    solution_cell: str
    tests: tuple[TestCell, ...]
    module: str = ""
    function: str = ""
    owner: str = ""
    uses: tuple[str, ...] = ()
    shape_test: str = ""
    answered_by: tuple[str, ...] = ()

    @property
    def heading(self) -> Message:
        """``title`` in the reader's language (the message ``exercise.<name>``), as the
        notebook of that language heads the exercise."""
        return Message(f"exercise.{self.name}", self.title)

    @property
    def defines(self) -> str:
        """The name of the function or method the solution cell defines."""
        return self.function or self.name

    @property
    def qualified(self) -> str:
        """``owner.defines`` for a method of a named class, else ``defines``."""
        return f"{self.owner}.{self.defines}" if self.owner else self.defines

    @property
    def is_method(self) -> bool:
        """Whether the student's function is a method of ``owner`` (a bound)."""
        return bool(self.owner)

    def cells_running(self, check: str) -> tuple[str, ...]:
        """The grade_ids of the test cells that run ``check`` (a check function's name, or
        a test cell's own grade_id for inline tests)."""
        return tuple(t.grade_id for t in self.tests if check == t.grade_id or check in t.runs)

    @property
    def checks(self) -> tuple[str, ...]:
        """The checks the visible test code runs, each once, in order."""
        return tuple(dict.fromkeys(check for test in self.tests for check in test.checks))

    @property
    def hidden_checks(self) -> tuple[str, ...]:
        """The checks the hidden tests run, each once, in order."""
        return tuple(dict.fromkeys(check for test in self.tests for check in test.hidden))


def _mistakes(*entries: tuple[str, str] | tuple[str, str, bool]) -> dict[str, Mistake]:
    return {entry[0]: Mistake(*entry) for entry in entries}


#: Every mistake id a failure can carry -> what it means.
MISTAKES: dict[str, Mistake] = _mistakes(
    # The form of what a bound returns (check_bound_shapes).
    ("not_a_triple", "the bound does not return a tuple of three tensors (bound, kl, rec)"),
    ("not_a_tensor", "an output is not a torch tensor"),
    ("per_image_values", "per-image values returned where batch means are expected"),
    ("wrong_output_shape", "an output has a shape other than () (a scalar)"),
    ("nonfinite_output", "an output is nan or inf for an ordinary batch"),
    ("decoder_not_called", "the bound never calls the decoder self.dec on a sample z"),
    # The densities of notebook 2: sample_gaussian, log_normal, kl_normal,
    # log_bernoulli_with_logits (and the ELBO's terms, where the same mistakes show).
    ("same_sample_every_call", "the same sample at every call: the noise is not drawn afresh"),
    ("dimensions_not_summed", "per-dimension values returned, not summed over the last one"),
    ("mean_over_dimensions", "averaged over the last dimension instead of summed"),
    ("missing_log_2pi", "the constant -log(2 pi) / 2 per dimension left out of log N(x; m, v)"),
    ("missing_log_variance", "the -log(v) / 2 per dimension left out of log N(x; m, v)"),
    ("log_density_wrong_sign", "the log-density with the wrong sign"),
    ("density_then_log", "the density computed, then its log: -inf far from the mean"),
    ("log_normal_wrong", "the Gaussian log-density is off, and not by one of the usual mistakes"),
    ("kl_missing_half", "the factor 1/2 of the Gaussian KL left out"),
    ("kl_missing_minus_one", "the - 1 per dimension of the Gaussian KL left out"),
    ("sigmoid_then_log", "sigmoid then log: log 0 = -inf (or nan) for large logits"),
    (
        "log_bernoulli_wrong",
        "the Bernoulli log-likelihood is off, and not by one of the usual mistakes",
    ),
    # The negative ELBO (notebook 2) and its terms.
    ("returns_elbo", "the ELBO returned instead of its negative"),
    ("nelbo_not_kl_plus_rec", "the negative ELBO is not KL + Rec"),
    ("negative_terms", "a KL or Rec term below 0 (a sign error)"),
    ("std_for_variance", "v treated as a standard deviation (variance v**2), but it is a variance"),
    ("log_variance_for_variance", "v treated as a log-variance (variance exp(v))"),
    ("sqrt_variance_to_kl", "sqrt(v) passed where kl_normal expects a variance"),
    ("fourth_root_noise", "the noise scaled by v ** 0.25 (variance sqrt(v)) instead of sqrt(v)"),
    ("kl_mean_over_latents", "the KL averaged over the latent dimensions instead of summed"),
    ("sum_over_batch", "a sum over the batch where the batch mean is expected"),
    ("kl_wrong_sign", "the KL term with the wrong sign"),
    ("reversed_kl", "KL(p || q) instead of KL(q || p)"),
    ("kl_wrong", "the KL term differs from the closed form, and not by one of the usual mistakes"),
    ("mean_over_pixels", "the reconstruction averaged over the 784 pixels instead of summed"),
    ("rec_wrong_sign", "the log-likelihood with the wrong sign (rec is -log p(x|z))"),
    ("probabilities_as_logits", "probabilities (sigmoid(logits)) passed where logits go"),
    ("squared_error", "a squared error instead of the Bernoulli log-likelihood"),
    ("swapped_data_and_logits", "the data and the logits swapped in the cross-entropy"),
    ("rec_wrong", "the reconstruction term is off, and not by one of the usual mistakes"),
    ("no_noise", "z is the mean m, with no noise"),
    ("prior_sample", "z drawn from the prior N(0, I) instead of q(z|x)"),
    ("sample_mean_wrong", "the samples z do not have the mean m of q(z|x)"),
    ("sample_scale_wrong", "the samples z do not have the variance v of q(z|x)"),
    ("no_gradient", "the bound carries no gradient (torch.no_grad() or .detach())"),
    ("sample_cut_from_graph", "the sample z cut off from the graph (.sample(), .detach())"),
    ("gradient_misses_variance", "z does not depend on the variance v (no reparameterized noise)"),
    ("gradient_misses_decoder", "the bound's gradient does not reach the decoder"),
    ("gradient_misses_encoder", "the bound's gradient does not reach the encoder"),
    ("nonfinite_gradient", "a gradient that is nan or inf (an unstable log-mean-exp)"),
    ("reference_mismatch", "disagrees with the reference implementation on a trained model"),
    (
        "borrowed_answer",
        "the solution calls the course's own code that computes this exercise's answer: "
        "withheld for a grade by hand",
    ),
    # The negative IWAE bound (notebook 3).
    ("unstable_log_mean_exp", "exp then log of the weights (underflow) instead of log-mean-exp"),
    ("missing_log_k", "the - log k of log-mean-exp forgotten (log-sum-exp alone)"),
    ("log_k_twice", "log k subtracted twice"),
    ("lse_over_batch", "log-sum-exp over the batch instead of the iw samples"),
    ("lme_over_batch", "log-mean-exp over the batch instead of the iw samples"),
    ("x_batch_major", "x repeated batch-major while z and the reshape are sample-major"),
    ("x_sample_major", "x repeated sample-major while z and the reshape are batch-major"),
    (
        "not_exact_at_posterior",
        "not -log p(x) when q(z|x) is the exact posterior: samples, q or x of another image, "
        "or log-weights other than log p(x|z) + log p(z) - log q(z|x)",
    ),
    (
        "not_exact_at_prior",
        "the bound differs from -log p(x) when q(z|x) = p(z), and not by one of the usual mistakes",
    ),
    ("likelihood_only_weights", "log-weights log p(x|z) alone, without log p(z) - log q(z|x)"),
    ("prior_ratio_wrong_sign", "log p(z) - log q(z|x) with the wrong sign in the log-weights"),
    (
        "iwae1_not_elbo",
        "with one sample the bound differs from the ELBO, and not by one of the usual mistakes",
    ),
    ("sum_over_samples", "kl or rec summed over the iw samples instead of averaged"),
    ("kl_rec_wrong", "kl or rec is off, and not by one of the usual mistakes"),
    ("above_log_px", "the bound exceeds the exact log p(x)"),
    ("decreasing_in_k", "the bound decreases with k"),
    ("constant_weights", "the closed-form KL inside the weights (every weight equal)"),
    ("mean_of_log_weights", "the log-weights averaged (the ELBO) instead of the weights"),
    ("far_below_log_px", "the bound stays far below log p(x) as k grows"),
    ("python_loop", "a Python loop over the samples instead of one decoder call"),
    # The mixture prior of notebook 4: log_normal_mixture and the GMVAE's bounds.
    ("components_not_combined", "per-component log densities returned, not combined"),
    (
        "mean_of_component_log_densities",
        "the component log densities averaged (a lower bound) instead of log-mean-exp",
    ),
    ("mixture_missing_log_k", "the - log k of the mixture's equal weights 1/k forgotten"),
    ("mixture_per_dimension", "components mixed per dimension, before the sum over dimensions"),
    (
        "log_normal_mixture_wrong",
        "the mixture's log density is off, and not by one of the usual mistakes",
    ),
    (
        "kl_to_standard_normal",
        "the KL to N(0, I) (or log p(z) of N(0, I)) instead of the mixture prior's",
    ),
    (
        "mc_kl_wrong",
        "the Monte Carlo KL differs from E_q[log q(z|x) - log p(z)], "
        "and not by one of the usual mistakes",
    ),
    ("prior_no_gradient", "the prior's parameters z_pre get no gradient (detached, or .data)"),
    # Notebook 1: Jensen's inequality and the Monte Carlo ELBO (inline tests).
    ("not_a_tensor_result", "the function returns something other than a tensor"),
    ("jensen_sign_flipped", "mean(log X) - log(mean X): the Jensen gap with its sign flipped"),
    ("sums_for_means", "sums where means are expected"),
    ("mean_over_everything", "a mean over every dimension instead of dimension 0 only"),
    ("jensen_wrong", "the Jensen gap is off, and not by one of the usual mistakes"),
    ("samples_not_averaged", "the estimates not averaged over the samples (dim 0)"),
    ("wrong_result_shape", "the result has the wrong shape"),
    ("latents_not_summed", "log-densities not summed over the latent dimensions"),
    ("no_entropy", "log q(z|x) not subtracted: E_q[log p(x, z)] without the entropy of q"),
    ("log_mean_exp_for_elbo", "the log of the mean weight (an IWAE bound) instead of the ELBO"),
    ("biased_estimate", "the estimate's average is not the ELBO"),
    ("not_random", "the estimate is the same at every call: no fresh samples"),
    ("variance_not_one_over_n", "the variance does not fall as 1 / n_samples"),
    ("gradient_biased", "the average gradient is not the exact ELBO's (z not reparameterized)"),
    # The grader's verdicts on a whole notebook.
    ("unreadable_notebook", "the submitted file could not be read as a notebook", True),
    ("kernel_died", "the kernel died while running the notebook", True),
    ("deadline", "the notebook ran past its deadline: the cells after it were not run", True),
    ("missing_notebook", "the notebook was not submitted", True),
    ("tampering", "the student's code changes what the tests rely on: withheld for review", True),
)

#: Notebook 2's densities: what a bound may call.
DENSITIES = ("sample_gaussian", "log_normal", "kl_normal", "log_bernoulli_with_logits")
#: Course code that computes a density's answer: the reference versions (the grading
#: package's, from ``course_utils.reference_densities``) and the models' priors.
_REFERENCE_CODE = (
    "grading",
    "reference_densities",
    "gaussian_sample",
    "REFERENCE_HELPERS",
    "reference_helpers",
)

#: Every exercise, in the order of the notebooks.
EXERCISES: tuple[Exercise, ...] = (
    Exercise(
        name="jensen_gap",
        notebook="01_jensen_elbo",
        title="Exercise 1.1: the Jensen gap from samples",
        solution_cell="jensen_gap_solution",
        tests=(TestCell("jensen_gap_values"),),
    ),
    Exercise(
        name="elbo_monte_carlo",
        notebook="01_jensen_elbo",
        title="Exercise 1.2: a Monte Carlo estimator of the ELBO",
        solution_cell="elbo_mc_solution",
        tests=(
            TestCell("elbo_mc_shape"),
            TestCell("elbo_mc_unbiased"),
            TestCell("elbo_mc_averages_samples"),
            TestCell("elbo_mc_gradients"),
        ),
    ),
    Exercise(
        name="sample_gaussian",
        notebook="02_negative_elbo",
        title="Exercise 2.1: a reparameterized Gaussian sample",
        solution_cell="sample_gaussian",
        module="densities",
        answered_by=(*_REFERENCE_CODE, "GaussianPrior", "MixturePrior", "sample_component"),
        tests=(
            TestCell("sample_gaussian_shape", ("check_sample_gaussian_shape",)),
            TestCell("sample_gaussian_moments", ("check_sample_gaussian_moments",)),
            TestCell("sample_gaussian_gradients", ("check_sample_gaussian_gradients",)),
        ),
    ),
    Exercise(
        name="log_normal",
        notebook="02_negative_elbo",
        title="Exercise 2.2: the log-density of a diagonal Gaussian",
        solution_cell="log_normal",
        module="densities",
        answered_by=(*_REFERENCE_CODE, "gaussian_log_density", "GaussianPrior"),
        tests=(
            TestCell("log_normal_shape", ("check_log_normal_shape",)),
            TestCell("log_normal_values", ("check_log_normal_values",)),
        ),
    ),
    Exercise(
        name="kl_normal",
        notebook="02_negative_elbo",
        title="Exercise 2.3: the KL divergence between diagonal Gaussians",
        solution_cell="kl_normal",
        module="densities",
        answered_by=(*_REFERENCE_CODE, "gaussian_kl"),
        tests=(
            TestCell("kl_normal_shape", ("check_kl_normal_shape",)),
            TestCell("kl_normal_values", ("check_kl_normal_values",)),
        ),
    ),
    Exercise(
        name="log_bernoulli_with_logits",
        notebook="02_negative_elbo",
        title="Exercise 2.4: the Bernoulli log-likelihood from logits",
        solution_cell="log_bernoulli_with_logits",
        module="densities",
        answered_by=(*_REFERENCE_CODE, "bernoulli_log_likelihood"),
        tests=(
            TestCell("log_bernoulli_shape", ("check_log_bernoulli_shape",)),
            TestCell("log_bernoulli_values", ("check_log_bernoulli_values",)),
            TestCell("log_bernoulli_stable", ("check_log_bernoulli_stable",)),
        ),
    ),
    Exercise(
        name="negative_elbo_bound",
        notebook="02_negative_elbo",
        title="Exercise 2.5: the negative ELBO",
        solution_cell="negative_elbo_bound",
        module="elbo",
        owner="VAE",
        uses=DENSITIES,
        shape_test="elbo_shapes",
        answered_by=("_elbo_of_gaussian", "best_gaussian_elbo", "reference_bounds"),
        tests=(
            TestCell("elbo_shapes", ("check_elbo_outputs",)),
            TestCell("elbo_sum", ("check_elbo_sum",)),
            TestCell("elbo_gradients", ("check_elbo_gradients",)),
            TestCell("elbo_kl_exact", ("check_elbo_kl",)),
            TestCell("elbo_rec_exact", ("check_elbo_rec",)),
            TestCell("elbo_sampling", ("check_elbo_sampling",)),
            TestCell(
                "elbo_reference_checkpoint",
                ("check_elbo_checkpoint_loose",),
                hidden=("check_elbo_reference",),
            ),
        ),
    ),
    Exercise(
        name="negative_iwae_bound",
        notebook="03_iwae",
        title="Exercise 3.1: the negative IWAE bound",
        solution_cell="negative_iwae_bound",
        module="iwae",
        owner="VAE",
        uses=DENSITIES,
        shape_test="iwae_shapes",
        answered_by=("reference_bounds",),
        tests=(
            TestCell("iwae_shapes", ("check_iwae_outputs",)),
            TestCell("iwae_stable", ("check_iwae_stable",)),
            TestCell("iwae_exact_at_prior", ("check_iwae_exact_at_prior",)),
            TestCell("iwae_exact_at_posterior", ("check_iwae_exact_at_posterior",)),
            TestCell("iwae_k1_matches_elbo", ("check_iwae_k1_matches_elbo",)),
            TestCell("iwae_kl_rec", ("check_iwae_kl_rec",)),
            TestCell("iwae_increases_with_k", ("check_iwae_increases_with_k",)),
            TestCell("iwae_gradients", ("check_iwae_gradients",)),
            TestCell("iwae_vectorized", ("check_iwae_vectorized",)),
            TestCell(
                "iwae_reference_checkpoint",
                ("check_iwae_checkpoint_loose",),
                hidden=("check_iwae_reference",),
            ),
            TestCell(
                "iwae_quadrature",
                ("check_iwae_quadrature_loose",),
                hidden=("check_iwae_quadrature_reference",),
            ),
        ),
    ),
    Exercise(
        name="log_normal_mixture",
        notebook="04_priors_and_collapse",
        title="Exercise 4.1: the log-density of a Gaussian mixture",
        solution_cell="log_normal_mixture",
        module="gmvae",
        answered_by=(*_REFERENCE_CODE, "mixture_log_density", "MixturePrior", ".prior"),
        tests=(
            TestCell("mixture_shape", ("check_log_normal_mixture_shape",)),
            TestCell("mixture_values", ("check_log_normal_mixture_values",)),
            TestCell("mixture_stable", ("check_log_normal_mixture_stable",)),
        ),
    ),
    Exercise(
        name="gmvae_negative_elbo_bound",
        function="negative_elbo_bound",
        owner="GMVAE",
        notebook="04_priors_and_collapse",
        title="Exercise 4.2: the negative ELBO of the GMVAE",
        solution_cell="gmvae_negative_elbo_bound",
        module="gmvae",
        uses=("log_normal_mixture", *DENSITIES),
        shape_test="gmvae_elbo_shapes",
        answered_by=("reference_bounds",),
        tests=(
            TestCell("gmvae_elbo_shapes", ("check_gmvae_elbo_outputs",)),
            TestCell("gmvae_elbo_standard_prior", ("check_gmvae_elbo_standard_prior",)),
            TestCell("gmvae_elbo_mixture_kl", ("check_gmvae_elbo_mixture_kl",)),
            TestCell("gmvae_elbo_sampling", ("check_gmvae_elbo_sampling",)),
            TestCell("gmvae_elbo_gradients", ("check_gmvae_elbo_gradients",)),
            TestCell(
                "gmvae_elbo_reference_checkpoint",
                ("check_gmvae_elbo_checkpoint_loose",),
                hidden=("check_gmvae_elbo_reference",),
            ),
        ),
    ),
    Exercise(
        name="gmvae_negative_iwae_bound",
        function="negative_iwae_bound",
        owner="GMVAE",
        notebook="04_priors_and_collapse",
        title="Exercise 4.3: the negative IWAE bound of the GMVAE",
        solution_cell="gmvae_negative_iwae_bound",
        module="gmvae",
        uses=("log_normal_mixture", *DENSITIES),
        shape_test="gmvae_iwae_shapes",
        answered_by=("reference_bounds",),
        tests=(
            TestCell("gmvae_iwae_shapes", ("check_gmvae_iwae_outputs",)),
            TestCell("gmvae_iwae_exact_at_prior", ("check_gmvae_iwae_exact_at_prior",)),
            TestCell("gmvae_iwae_k1_matches_elbo", ("check_gmvae_iwae_k1_matches_elbo",)),
            TestCell("gmvae_iwae_increases_with_k", ("check_gmvae_iwae_increases_with_k",)),
            TestCell("gmvae_iwae_gradients", ("check_gmvae_iwae_gradients",)),
            TestCell(
                "gmvae_iwae_reference_checkpoint",
                ("check_gmvae_iwae_checkpoint_loose",),
                hidden=("check_gmvae_iwae_reference",),
            ),
        ),
    ),
)

_TAG = re.compile(r"\(mistake: (\w+)\)\s*$")


def exercise(name: str) -> Exercise:
    """The exercise ``name`` (its id, the grade_id of its solution cell, or ``owner.method``
    for a method of a named class: ``"GMVAE.negative_elbo_bound"``)."""
    for entry in EXERCISES:
        if name in (entry.name, entry.solution_cell) or (entry.owner and name == entry.qualified):
            return entry
    known = ", ".join(entry.name for entry in EXERCISES)
    raise KeyError(f"no exercise {name!r}; known: {known}")


def tagged(message: str, mistake: str) -> str:
    """``message`` ending with its mistake id: ``... (mistake: std_for_variance)``."""
    if mistake not in MISTAKES:
        raise KeyError(f"unknown mistake id {mistake!r}: add it to course_utils.exercises")
    return f"{message} (mistake: {mistake})"


def mistake_of(message: str) -> str | None:
    """The mistake id a failure message ends with, or None."""
    found = _TAG.search(message.strip())
    return found.group(1) if found else None
