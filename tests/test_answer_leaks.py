"""No written question is answered in the student release (issue 21).

The text poses what each written question asks; its reference answer (the mark scheme,
for graders) stays in ``solutions/``. Two nets catch an answer that leaks into the release:

- each reference answer's distinctive phrases (``DISTINCTIVE``, regular expressions over
  a normalized text: lower case, no spaces, no LaTeX spacing or font commands) must match the
  answer itself and no cell of the release but its question;
- no run of ``RUN`` words of a reference answer (with at least three words of more than three
  letters, fewer numbers than words, and not its question's) appears in any other cell of the
  release. A run made mostly of numbers is a measurement the text reads and the answer cites
  ("against 149 78 0 02 every seed"), not a leak.
"""

import itertools
import re

import nbformat
import pytest

from autograder.cells import grade_id_of
from autograder.course import Course

COURSE = Course()
#: Words in a run that the automatic net flags.
RUN = 7

#: answer grade_id -> distinctive phrases of its reference answer (normalized, see above).
DISTINCTIVE = {
    # notebook 1
    "written_jensen_geometry": [r"cent(re|er)-?of-?mass", r"weightedcent(re|er)"],
    "written_kl_regularizer": [r"asnarrowaspossible", r"ordinaryautoencoder", r"far-apart"],
    "written_elbo_max_kl_min": [
        r"independentofq",
        r"anyincreaseoftheelbo",
        r"kl-closest",
        r"full-covariance",
        r"normalizingflow",
    ],
    "written_amortization_gap": [r"oneforwardpass", r"growswiththedataset"],
    "written_single_sample": [r"1/\\sqrt\{?l", r"unbiasedforany", r"pathwise", r"score-function"],
    # notebook 2
    "written_kl_derivation": [r"secondmoments", r"factorize"],
    "written_bernoulli": [r"fixedvariance", r"discretizedlogistic", r"256greylevels"],
    "written_prior_sampling": [r"chatterjee&diaconis", r"e\^20", r"raredraws", r"notthenominal"],
    # notebook 3
    "written_iwae_proof": [
        r"randomsubset",
        r"eachindexisin",
        r"jensenoverthejoint",
        r"\\le\\log\\mathbbe\[",
    ],
    "written_gradient_variance": [r"effectivesamplesize", r"explain(s)?xwell"],
    "written_tighter_bounds_encoder": [
        r"signal-to-noise",
        r"proposal\*?for",
        r"miwae",
        r"dreg",
    ],
    # notebook 4
    "written_monte_carlo_kl": [
        r"3z\^2/8",
        r"\\sqrt8\\log2/3",
        r"logofasumofexponentials",
        r"negativelycorrelated",
        r"scoreterm",
    ],
    "written_learned_prior": [
        r"p\(z\)=q\(z\)",
        r"mutualinformationi_q\(x;z\)alone",
        r"memorizesthetrainingset",
    ],
    "written_beta_bound": [
        r"elbo\+\(1-\\beta\)kl",
        r"looser(lowerbound|one)",
        r"samebound(for|of)everymodel",
    ],
    "written_collapse": [
        r"thelagginginferencenetworkof",
        r"waitfortheother",
        r"atnocost",
        r"worththeirkl",
        r"wheretheoptimizationstarts",
        r"theoptimumthat\\betasets",
    ],
}

_LATEX = re.compile(
    r"\\(?:mathrm|mathcal|mathbf|operatorname|text|big|Big|bigg|Bigg|left|right)(?![a-zA-Z])"
    r"|\\[,;:!]|[{}$\s]"
)


def normalized(text: str) -> str:
    """Lower case, without spaces, braces, dollars and LaTeX font or spacing commands."""
    return _LATEX.sub("", text).replace("\u2212", "-").lower()


def _words(text: str) -> list[str]:
    """The words and numbers of a text, without LaTeX commands (``\\mathrm``, ``\\frac``)."""
    return re.findall(r"[a-z]+|\d+", re.sub(r"\\[a-zA-Z]+", " ", text).lower())


def _runs(text: str) -> set[tuple[str, ...]]:
    found = _words(text)
    return {tuple(found[i : i + RUN]) for i in range(len(found) - RUN + 1)}


def _distinctive_run(run: tuple[str, ...]) -> bool:
    numbers = sum(word.isdigit() for word in run)
    return sum(len(word) > 3 and word.isalpha() for word in run) >= 3 and 2 * numbers < len(run)


def _answers() -> list[tuple[str, str, str, str]]:
    """(notebook, answer grade_id, question grade_id, reference answer) of every written
    question, from the solutions."""
    found = []
    for path in sorted(COURSE.source.glob("*.ipynb")):
        cells = nbformat.read(path, as_version=4).cells
        for before, cell in itertools.pairwise(cells):
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type == "markdown" and meta.get("solution") and meta.get("grade"):
                found.append((path.name, meta["grade_id"], grade_id_of(before), cell.source))
    return found


ANSWERS = _answers()


def _release_cells() -> list[tuple[str, str, str]]:
    """(notebook, grade_id, source) of every cell of the committed release."""
    return [
        (path.name, grade_id_of(cell), cell.source)
        for path in sorted(COURSE.release.glob("*.ipynb"))
        for cell in nbformat.read(path, as_version=4).cells
    ]


RELEASE = _release_cells()


def test_every_written_question_has_its_distinctive_phrases():
    assert len(ANSWERS) >= 15
    assert sorted(grade_id for _, grade_id, _, _ in ANSWERS) == sorted(DISTINCTIVE)


@pytest.mark.parametrize("where", ANSWERS, ids=lambda a: a[1])
def test_distinctive_phrases_are_the_answers_and_not_in_the_release(where):
    notebook, answer, question, reference = where
    for phrase in DISTINCTIVE[answer]:
        assert re.search(phrase, normalized(reference)), (
            f"{phrase!r} is not a phrase of the reference answer {answer}"
        )
    for name, grade_id, source in RELEASE:
        if name == notebook and grade_id in {answer, question}:
            continue
        text = normalized(source)
        leaks = [phrase for phrase in DISTINCTIVE[answer] if re.search(phrase, text)]
        assert not leaks, f"{name} {grade_id} states the answer to {answer}: {leaks}"


@pytest.mark.parametrize("where", ANSWERS, ids=lambda a: a[1])
def test_no_run_of_words_of_an_answer_is_in_the_release(where):
    notebook, answer, question, reference = where
    asked = {
        run
        for name, grade_id, source in RELEASE
        if (name, grade_id) == (notebook, question)
        for run in _runs(source)
    }
    runs = {run for run in _runs(reference) - asked if _distinctive_run(run)}
    for name, grade_id, source in RELEASE:
        if name == notebook and grade_id in {answer, question}:
            continue
        shared = runs & _runs(source)
        assert not shared, (
            f"{name} {grade_id} shares with the reference answer {answer}: "
            + "; ".join(" ".join(run) for run in sorted(shared))
        )


def test_the_release_holds_no_reference_answer():
    released = {(name, grade_id): source for name, grade_id, source in RELEASE}
    for notebook, answer, _, _ in ANSWERS:
        assert released[notebook, answer].strip() == "YOUR ANSWER HERE", answer
        assert "Reference answer" not in released[notebook, answer]


def test_the_nets_catch_a_leak():
    """What the nets are for: a sentence of notebook 4's text before issue 21, which stated
    Question 4.3's answer, and one of notebook 1's, which stated Question 6.3's."""
    leaked = r"its negative is $\mathrm{ELBO} + (1 - \beta)\,\mathrm{KL} \ge \mathrm{ELBO}$"
    assert re.search(DISTINCTIVE["written_beta_bound"][0], normalized(leaked))
    stated = (
        "the best q is the member of the family closest to the posterior in this divergence, "
        "and it reaches the posterior only if the family contains it"
    )
    reference = next(text for _, answer, _, text in ANSWERS if answer == "written_elbo_max_kl_min")
    assert {run for run in _runs(reference) if _distinctive_run(run)} & _runs(stated)


def test_a_measurement_both_cite_is_not_a_leak():
    assert not _distinctive_run(tuple(_words("against 149.78 ± 0.02, every seed")))
    assert _distinctive_run(tuple(_words("warm-up changes where the optimization starts")))
