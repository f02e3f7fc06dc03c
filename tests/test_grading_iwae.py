"""The IWAE checks on trained models: the quadrature check on the shipped z_dim = 2
checkpoint, the hidden reference checks with the values written into the hidden tests, and
the visible code of notebook 3's checkpoint cells on every corpus entry. (Every entry on
every check: ``test_grading_checks``.)"""

import inspect
import re
from types import SimpleNamespace

import pytest
import torch

from autograder.course import Course
from autograder.examples.implementations import IWAE
from autograder.reference import bounds as reference_bounds
from autograder.reference import values
from course_utils.checkpoints import load_pretrained
from course_utils.grading import checkpoints, iwae, probes
from course_utils.grading.common import Z_SCORE, repeated_means
from course_utils.likelihood import log_px_quadrature
from course_utils.models import VAE

STUB = VAE.negative_iwae_bound

pytestmark = pytest.mark.usefixtures("one_thread")


#: The hidden check's settings here: its numbers of samples, fewer calls than its 20, for speed.
QUADRATURE_KS, QUADRATURE_REPEATS = checkpoints.QUADRATURE_KS, 8
#: Mistakes the hidden check rejects on the trained model, with its message.
QUADRATURE_MISTAKES = {
    "mistake_missing_log_k": "above_log_px",
    "mistake_mean_of_log_weights": "far_below_log_px",
}


@pytest.fixture(scope="module")
def trained_z2():
    """The shipped z_dim = 2 checkpoint, the 10 training images of the hidden check (one per
    digit), their exact log p(x), and the largest gap accepted: the reference implementation's
    gap at k = 100 plus Z_SCORE standard errors. Training images, because the encoder fits
    them: on test images the gap stays large even at k = 1000, hiding a missing - log k."""
    model = load_pretrained("vae_z2")
    x = checkpoints.quadrature_batch()
    log_px = log_px_quadrature(model, x, points=checkpoints.LOOSE_QUADRATURE_POINTS)
    reference_bounds.install()
    try:
        k = max(QUADRATURE_KS)
        niwae, se = repeated_means(model.negative_iwae_bound, x, k, repeats=20)["bound"]
    finally:
        reference_bounds.uninstall()
    return model, x, log_px, log_px.mean().item() + niwae + Z_SCORE * se


def test_the_visible_check_s_log_px_is_the_quadrature_s(trained_z2):
    _, _, log_px, _ = trained_z2
    shipped = checkpoints._loose_log_px()
    assert torch.allclose(shipped, log_px, atol=1e-5, rtol=0), (shipped - log_px).abs().max()


@pytest.mark.parametrize(
    "name", sorted(n for n in IWAE if not IWAE[n].fails or n in QUADRATURE_MISTAKES)
)
def test_hidden_quadrature_check(name, attach, trained_z2):
    model, x, log_px, max_gap = trained_z2
    attach("negative_iwae_bound", IWAE[name])
    settings = {"log_px": log_px, "ks": QUADRATURE_KS, "repeats": QUADRATURE_REPEATS}
    if name in QUADRATURE_MISTAKES:
        mistake = f"(mistake: {QUADRATURE_MISTAKES[name]})"
        with pytest.raises(AssertionError, match=re.escape(mistake)):
            iwae.check_iwae_quadrature(model, x, max_gap=max_gap, **settings)
    else:
        iwae.check_iwae_quadrature(model, x, max_gap=max_gap, **settings)


@pytest.fixture(scope="module")
def stored() -> dict:
    """Hidden check -> the arguments its hidden block passes (the reference values)."""
    return values.stored(Course())


def test_stored_quadrature_reference_is_consistent(stored):
    reference = stored["check_iwae_quadrature_reference"]
    assert len(reference["log_px"]) == checkpoints.QUADRATURE_IMAGES
    assert 0 < reference["max_gap"] < 0.5, "a correct bound comes close at k = 100"
    block = values.hidden_block(Course(), "03_iwae", "iwae_quadrature")
    comment = " ".join(line[2:] for line in block.splitlines() if line.startswith("# "))
    error = float(re.search(r"error estimated at ([0-9.e+-]+) nats", comment).group(1))
    assert error < 0.05, "the stored log p(x) is not exact"


def test_stored_reference_values_reproduce():
    """The values in the hidden tests agree with the reference bounds run again, with a
    tenth of the calls (``python -m autograder.reference.values --check``)."""
    assert values.disagreements(values.stored(Course()), values.compute(scale=0.1)) == []


def test_stored_values_are_read_as_the_notebook_runs_them(stored):
    """``values.stored`` runs the hidden blocks with a recording stand-in; the notebook runs
    them with the real module, whose check receives the same arguments."""
    received = {}
    module = SimpleNamespace(check_iwae_reference=lambda **kwargs: received.update(kwargs))
    exec(values.hidden_block(Course(), "03_iwae", "iwae_reference_checkpoint"), {"iwae": module})
    assert received == stored["check_iwae_reference"]
    assert sorted(received["references"]) == list(checkpoints.REFERENCE_KS)


@pytest.mark.parametrize("name", ["correct_batch_major_randn", "mistake_missing_log_k"])
def test_hidden_reference_checks_accept_the_reference_and_reject_a_mistake(name, attach, stored):
    attach("negative_iwae_bound", IWAE[name])
    checks = {
        iwae.check_iwae_reference: stored["check_iwae_reference"],
        iwae.check_iwae_quadrature_reference: stored["check_iwae_quadrature_reference"],
    }
    if IWAE[name].fails:
        mistakes = ("reference_mismatch", "above_log_px")
        for (check, arguments), mistake in zip(checks.items(), mistakes, strict=True):
            with pytest.raises(AssertionError, match=re.escape(f"(mistake: {mistake})")):
                check(**arguments)
    else:
        for check, arguments in checks.items():
            check(**arguments)


def test_hidden_messages_show_no_reference_value(attach, stored):
    """A student who fails a hidden check sees their own values, never the reference's."""
    attach("negative_iwae_bound", IWAE["mistake_missing_log_k"])
    secrets = {f"{value:.3f}" for value in stored["check_iwae_quadrature_reference"]["log_px"]}
    for per_k in stored["check_iwae_reference"]["references"].values():
        secrets |= {f"{mean:.3f}" for mean, _ in per_k.values()}
    for check, arguments in (
        (iwae.check_iwae_reference, stored["check_iwae_reference"]),
        (iwae.check_iwae_quadrature_reference, stored["check_iwae_quadrature_reference"]),
    ):
        with pytest.raises(AssertionError) as error:
            check(**arguments)
        assert not [secret for secret in secrets if secret in str(error.value)], error.value


def test_the_trained_encoders_variances_make_the_weights_variance_infinite():
    """Notebook 3 says so: for the prior N(0, 1) and q = N(m, v), E_q[(p / q)^2] is infinite
    for v <= 1/2, and the shipped vae_z2's variances on the quadrature images are far below."""
    model = load_pretrained("vae_z2")
    with torch.no_grad():
        _, v = model.enc(checkpoints.quadrature_batch())
    assert v.max().item() < 0.01 < 0.5  # the range notebook 3 quotes: tests/test_quotes.py


def test_the_checks_quote_no_measured_gap_of_a_trained_model():
    """One source of truth for the gaps of the trained models: the notebook's measurements
    and the hidden test's notes, not the docstrings of the checks."""
    for module in (iwae, checkpoints, probes):
        source = inspect.getsource(module)
        found = re.findall(r".{60}\d nats below.{20}", source)
        assert not re.search(r"\d nats below", source), found
