"""Every implementation of the example corpus is graded as it should be, by every check the
exercise registry lists for it: correct ones pass them all, each mistake fails exactly the
checks it should, each failure ending with the mistake id expected of it. Hidden checks
run as their hidden block runs them, with the reference values it carries."""

import importlib
import re

import pytest
import torch

from autograder.course import Course
from autograder.examples.corpus import IMPLEMENTATIONS
from autograder.reference import values
from course_utils.exercises import EXERCISES, MISTAKES, exercise, mistake_of
from course_utils.grading import common

#: The exercises graded by checks of ``course_utils.grading`` (notebook 1 tests inline:
#: ``test_autograde_corpus`` runs its cells).
GRADED = [e for e in EXERCISES if e.module]
CASES = [
    pytest.param(e.name, entry, id=f"{e.name}-{entry}")
    for e in GRADED
    for entry in IMPLEMENTATIONS[e.name]
]

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def hidden_blocks() -> dict[str, str]:
    """Hidden check -> the code of the hidden block that calls it (solutions/)."""
    course = Course()
    return {
        check: values.hidden_block(course, notebook, grade_id)
        for notebook, grade_id, _, check in values.hidden_cells()
    }


def outcomes(name: str, hidden_blocks: dict[str, str]) -> dict[str, str | None]:
    """Check -> its failure message (None: it passed), for every check of every exercise of
    the notebook of ``name`` (its reference solutions call the function of ``name``): the
    visible ones with their defaults (probe models), the hidden ones as their block."""
    found = {}
    for where in (e for e in GRADED if e.notebook == exercise(name).notebook):
        module = importlib.import_module(f"course_utils.grading.{where.module}")
        for check in where.checks + where.hidden_checks:
            try:
                if check in where.hidden_checks:
                    exec(hidden_blocks[check], {where.module: module})
                else:
                    getattr(module, check)()
                found[check] = None
            except AssertionError as error:
                found[check] = str(error)
    return found


@pytest.mark.parametrize("name, entry", CASES)
def test_implementation_is_graded_as_expected(name, entry, attach, hidden_blocks):
    implementation = IMPLEMENTATIONS[name][entry]
    attach(name, implementation)
    found = outcomes(name, hidden_blocks)
    failed = {check: mistake_of(message) for check, message in found.items() if message}
    assert failed == implementation.fails, found
    assert all(mistake in MISTAKES for mistake in failed.values())


@pytest.mark.parametrize("where", GRADED, ids=lambda e: e.name)
def test_untouched_stub_names_its_notebook_and_exercise(where):
    module = importlib.import_module(f"course_utils.grading.{where.module}")
    with pytest.raises(NotImplementedError, match=where.title):
        getattr(module, where.checks[0])()


def test_every_check_of_the_grading_modules_is_in_the_registry():
    """Each public check is run by a test cell (the general quadrature check through the
    hidden one, ``test_grading_iwae``), so the test above grades every corpus entry with it."""
    for name in {where.module for where in GRADED}:
        module = importlib.import_module(f"course_utils.grading.{name}")
        public = {check for check in module.__all__ if check.startswith("check_")}
        registered = {
            check
            for where in GRADED
            if where.module == name
            for check in where.checks + where.hidden_checks
        }
        assert public - {"check_iwae_quadrature"} == registered


#: A number as the checks print it (Python's decimal point, in every language).
NUMBER = re.compile(r"-?\d+\.\d+(?:e[-+]?\d+)?")


def outcomes_in_both_languages(name, hidden_blocks, monkeypatch, tmp_path):
    """``outcomes`` in English, then in the pt-BR edition's folder, each check from the same
    random state: ``{check: (English message, Portuguese message)}``."""
    found = {}
    for folder in ("vae", "vae-pt"):
        (tmp_path / folder).mkdir()
        monkeypatch.chdir(tmp_path / folder)
        torch.manual_seed(0)
        for check, message in outcomes(name, hidden_blocks).items():
            found.setdefault(check, []).append(message)
    return found


def assert_graded_alike(found):
    """The same checks fail with the same mistake ids and the same numbers; only the words
    differ."""
    for check, (english, portuguese) in found.items():
        assert (english is None) == (portuguese is None), check
        if english is None:
            continue
        assert mistake_of(english) == mistake_of(portuguese), (english, portuguese)
        assert sorted(NUMBER.findall(english)) == sorted(NUMBER.findall(portuguese)), (
            english,
            portuguese,
        )
        assert english != portuguese, f"{check}: not translated: {english}"


#: Corpus entries whose failures compose messages (diagnoses naming a mistake, module
#: constants, labels of a bound's outputs, the hidden reference check).
IN_PORTUGUESE = [
    ("negative_elbo_bound", "mistake_std_for_variance"),
    ("negative_elbo_bound", "mistake_per_image_values"),
    ("negative_iwae_bound", "mistake_exp_then_log"),
]


@pytest.mark.parametrize(("name", "entry"), IN_PORTUGUESE)
def test_a_failure_in_portuguese_has_the_english_mistake_id_and_numbers(
    name, entry, attach, hidden_blocks, monkeypatch, tmp_path
):
    attach(name, IMPLEMENTATIONS[name][entry])
    found = outcomes_in_both_languages(name, hidden_blocks, monkeypatch, tmp_path)
    assert_graded_alike(found)
    failed = {check: mistake_of(pt) for check, (_, pt) in found.items() if pt}
    assert failed == IMPLEMENTATIONS[name][entry].fails
    if entry == "mistake_std_for_variance":
        assert (
            "este é o valor de um erro conhecido: v tratado como desvio padrão"
            in (found["check_elbo_kl"][1])
        )


@pytest.mark.slow
@pytest.mark.parametrize("name, entry", CASES)
def test_every_implementation_is_graded_alike_in_portuguese(
    name, entry, attach, hidden_blocks, monkeypatch, tmp_path
):
    """The whole corpus, in both languages (minutes: ``make test-slow``)."""
    attach(name, IMPLEMENTATIONS[name][entry])
    assert_graded_alike(outcomes_in_both_languages(name, hidden_blocks, monkeypatch, tmp_path))


def test_every_failure_ends_with_a_known_mistake_id():
    with pytest.raises(AssertionError) as error:
        common.fail("a message", "std_for_variance")
    assert str(error.value) == "a message (mistake: std_for_variance)"
    with pytest.raises(KeyError, match="unknown mistake id"):
        common.fail("a message", "no_such_mistake")


def test_probe_vae_outputs_the_constants():
    m, v = torch.tensor([1.0, -2.0]), torch.tensor([0.5, 3.0])
    model = common.probe_vae(m, v, logits=0.7)
    qm, qv = model.enc(common.binary_batch(5))
    torch.testing.assert_close(qm, m.expand(5, 2))
    torch.testing.assert_close(qv, v.expand(5, 2))
    torch.testing.assert_close(model.dec(torch.randn(3, 2)), torch.full((3, 784), 0.7))


@pytest.mark.parametrize("entry", list(IMPLEMENTATIONS["sample_gaussian"]))
def test_the_sampling_gradient_check_gives_one_verdict_at_every_seed(entry, attach):
    """Each way of writing ``sample_gaussian`` gets the same verdict from the gradient check
    at each of 30 seeds: a mistake's gradient is judged by its own measured spread (judged
    by the right sample's spread, std_for_variance was named at 162 of 200 seeds and
    log_variance at 112; the rest were told only that the scale is wrong)."""
    from course_utils.grading import densities

    implementation = IMPLEMENTATIONS["sample_gaussian"][entry]
    attach("sample_gaussian", implementation)
    verdicts = set()
    for seed in range(30):
        torch.manual_seed(seed)
        try:
            densities.check_sample_gaussian_gradients()
            verdicts.add(None)
        except AssertionError as error:
            verdicts.add(mistake_of(str(error)))
    assert verdicts == {implementation.fails.get("check_sample_gaussian_gradients")}
