"""Every IWAE implementation in the corpus is graded as it should be: correct ones pass
every check, each mistake fails exactly the checks it should, with a message naming it.
The hidden check against the exact log p(x) runs on the shipped z_dim = 2 checkpoint."""

import re

import pytest
import torch

from autograder.course import Course
from autograder.examples.implementations import IWAE, IWAE_CHECKS, IWAE_HIDDEN_CHECKS, PRELUDE
from autograder.examples.submission import CellKey, Release
from autograder.reference import bounds as reference_bounds
from course_utils.checkpoints import load_pretrained, pretrained_names
from course_utils.data import binarize_fixed, load_data
from course_utils.grading import iwae
from course_utils.grading.common import Z_SCORE, load_reference, repeated_means
from course_utils.likelihood import log_px_quadrature
from course_utils.models import VAE

STUB = VAE.negative_iwae_bound


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """The probes' tensors are small: one thread spares the cost of synchronizing two on a
    busy machine (5x faster here when other processes load the cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def attach():
    """Run a solution cell's source (attaching its method to VAE); restore the stub after."""

    def run(source):
        exec(compile(PRELUDE + source, "<solution cell>", "exec"), {})

    yield run
    VAE.negative_iwae_bound = STUB


def grade(checks):
    """check name -> its failure message, or None when it passes."""
    outcomes = {}
    for check in checks:
        try:
            getattr(iwae, check)()
            outcomes[check] = None
        except AssertionError as error:
            outcomes[check] = str(error)
    return outcomes


@pytest.mark.parametrize("name", sorted(IWAE))
def test_iwae_implementation_is_graded_as_expected(name, attach):
    implementation = IWAE[name]
    attach(implementation.source)
    outcomes = grade(IWAE_CHECKS + IWAE_HIDDEN_CHECKS)
    failed = {check for check, message in outcomes.items() if message}
    assert failed == set(implementation.fails), outcomes
    for check, fragment in implementation.fails.items():
        assert fragment in outcomes[check], (check, outcomes[check])


def test_every_check_is_graded():
    """All but the general quadrature check (what the hidden one calls), tested below."""
    graded = IWAE_CHECKS + IWAE_HIDDEN_CHECKS
    assert sorted(graded) == sorted(n for n in iwae.__all__ if n != "check_iwae_quadrature")


def test_untouched_stub_fails_with_the_exercise_name():
    with pytest.raises(NotImplementedError, match=r"Exercise 3\.1"):
        iwae.check_iwae_outputs()


#: The hidden check's settings here: fewer samples than the notebook's (1, 1000), for speed.
QUADRATURE_KS, QUADRATURE_REPEATS = (1, 100), 8
#: Mistakes the hidden check rejects on the trained model, with its message.
QUADRATURE_MISTAKES = {
    "mistake_missing_log_k": "exceeds the exact log p(x)",
    "mistake_mean_of_log_weights": "nats below the exact log p(x)",
}


@pytest.fixture(scope="module")
def trained_z2():
    """The shipped z_dim = 2 checkpoint, 8 training images, their exact log p(x), and the
    largest gap accepted: the reference implementation's gap at k = 100 plus Z_SCORE standard
    errors. Training images, because the encoder fits them: on test images even IWAE_1000
    stays about 15 nats below log p(x) (the amortization gap), hiding a missing - log k."""
    if "vae_z2" not in pretrained_names():
        pytest.skip("vae_z2 is not shipped yet: python -m autograder.reference.checkpoints vae_z2")
    model = load_pretrained("vae_z2")
    x = binarize_fixed(load_data("mnist-subset", verbose=False).x_train[:8])
    log_px = log_px_quadrature(model, x, points=200)
    reference_bounds.install()
    try:
        k = max(QUADRATURE_KS)
        niwae, se = repeated_means(model.negative_iwae_bound, x, k, repeats=20)["bound"]
    finally:
        reference_bounds.uninstall()
    return model, x, log_px, log_px.mean().item() + niwae + Z_SCORE * se


@pytest.mark.parametrize(
    "name", sorted(n for n in IWAE if not IWAE[n].fails or n in QUADRATURE_MISTAKES)
)
def test_hidden_quadrature_check(name, attach, trained_z2):
    model, x, log_px, max_gap = trained_z2
    attach(IWAE[name].source)
    settings = {"log_px": log_px, "ks": QUADRATURE_KS, "repeats": QUADRATURE_REPEATS}
    if name in QUADRATURE_MISTAKES:
        with pytest.raises(AssertionError, match=re.escape(QUADRATURE_MISTAKES[name])):
            iwae.check_iwae_quadrature(model, x, max_gap=max_gap, **settings)
    else:
        iwae.check_iwae_quadrature(model, x, max_gap=max_gap, **settings)


@pytest.fixture(scope="module")
def stored_references():
    """The hidden checks' stored values, skipped until the checkpoints and the values exist."""
    missing = {"vae_z10", "vae_z2"} - set(pretrained_names())
    if missing:
        pytest.skip(f"{sorted(missing)} not shipped: python -m autograder.reference.checkpoints")
    keys = [iwae.reference_key(k) for k in iwae.REFERENCE_KS] + [iwae.QUADRATURE_KEY]
    try:
        return {key: load_reference(key) for key in keys}
    except (FileNotFoundError, KeyError) as error:
        pytest.skip(f"{error}: python -m autograder.reference.values")


def test_stored_quadrature_reference_is_exact_and_consistent(stored_references):
    reference = stored_references[iwae.QUADRATURE_KEY]
    assert len(reference["log_px"]) == iwae.QUADRATURE_IMAGES
    assert tuple(reference["ks"]) == iwae.QUADRATURE_KS
    assert reference["grid"]["error_bound"] < 0.05, "the stored log p(x) is not exact"
    gap, se = reference["reference_gap"]
    assert 0 < gap < reference["max_gap"] == pytest.approx(gap + Z_SCORE * se)


@pytest.mark.parametrize("name", ["correct_batch_major_randn", "mistake_missing_log_k"])
def test_hidden_reference_checks_accept_the_reference_and_reject_a_mistake(
    name, attach, stored_references
):
    attach(IWAE[name].source)
    checks = (iwae.check_iwae_reference, iwae.check_iwae_quadrature_reference)
    if IWAE[name].fails:
        messages = ("the reference is", "exceeds the exact log p(x)")
        for check, message in zip(checks, messages, strict=True):
            with pytest.raises(AssertionError, match=re.escape(message)):
                check()
    else:
        for check in checks:
            check()


@pytest.fixture(scope="module")
def checkpoint_cells() -> tuple[Release, dict[CellKey, str]]:
    """The course's release, and notebook 3's test cells that load a shipped checkpoint
    (cell -> source, hidden tests included)."""
    release = Release(Course())
    cells = {
        key: source
        for key, source in release.tests.items()
        if key[0] == "03_iwae" and "load_pretrained(" in source
    }
    return release, cells


@pytest.mark.parametrize("name", sorted(IWAE))
def test_checkpoint_cells_fail_only_where_expected(name, attach, checkpoint_cells):
    """The visible code of the checkpoint cells (``check_iwae_outputs`` on real images), run
    as the notebook runs it, fails only in cells the corpus expects to fail (those running a
    check of the entry's ``fails``), and does fail where the entry fails ``check_iwae_outputs``."""
    release, cells = checkpoint_cells
    attach(IWAE[name].source)
    fails = IWAE[name].fails
    expected = set().union(*(release.cells_running(check) for check in fails))
    assert sorted(grade_id for _, grade_id in cells) == [
        "iwae_quadrature",
        "iwae_reference_checkpoint",
    ]
    for key, source in cells.items():
        visible = source.split("### BEGIN HIDDEN TESTS")[0]
        try:
            exec(visible, {"iwae": iwae, "load_pretrained": load_pretrained})
            failed = None
        except AssertionError as error:
            failed = str(error)
        if failed:
            assert key in expected, (key, failed)
        if "check_iwae_outputs" in fails:
            assert failed, f"{key}: the visible check passes"
