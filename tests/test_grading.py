"""Every implementation in the corpus is graded as it should be: correct ones pass every
check, each mistake fails exactly the checks it should, with a message naming it."""

import pytest

from autograder.examples.implementations import ELBO, ELBO_HIDDEN_CHECKS, PRELUDE
from course_utils.grading import common, elbo
from course_utils.models import VAE

ELBO_CHECKS = [
    "check_elbo_outputs",
    "check_elbo_sum",
    "check_elbo_kl",
    "check_elbo_rec",
    "check_elbo_sampling",
    "check_elbo_gradients",
    *ELBO_HIDDEN_CHECKS,
]
STUB = VAE.negative_elbo_bound


@pytest.fixture
def attach():
    """Run a solution cell's source (attaching its method to VAE); restore the stub after."""

    def run(source):
        exec(compile(PRELUDE + source, "<solution cell>", "exec"), {})

    yield run
    VAE.negative_elbo_bound = STUB


@pytest.mark.parametrize("name", sorted(ELBO))
def test_elbo_implementation_is_graded_as_expected(name, attach):
    implementation = ELBO[name]
    attach(implementation.source)
    outcomes = {}
    for check in ELBO_CHECKS:
        try:
            getattr(elbo, check)()
            outcomes[check] = None
        except AssertionError as error:
            outcomes[check] = str(error)
    failed = {check for check, message in outcomes.items() if message}
    assert failed == set(implementation.fails), outcomes
    for check, fragment in implementation.fails.items():
        assert fragment in outcomes[check], (check, outcomes[check])


def test_untouched_stub_fails_with_the_exercise_name():
    with pytest.raises(NotImplementedError, match=r"Exercise 2\.1"):
        elbo.check_elbo_outputs()


def test_probe_vae_outputs_the_constants():
    import torch

    m, v = torch.tensor([1.0, -2.0]), torch.tensor([0.5, 3.0])
    model = common.probe_vae(m, v, logits=0.7)
    qm, qv = model.enc(common.binary_batch(5))
    torch.testing.assert_close(qm, m.expand(5, 2))
    torch.testing.assert_close(qv, v.expand(5, 2))
    torch.testing.assert_close(model.dec(torch.randn(3, 2)), torch.full((3, 784), 0.7))
