import math

import numpy as np
import pytest
import torch

from course_utils.jensen import as_positive_samples, jensen_terms


def test_jensen_terms_of_a_two_point_sample_are_exact():
    e_log, log_e = jensen_terms([1.0, 1.0, 1.0, 4.0])
    assert e_log == pytest.approx(math.log(4) / 4)
    assert log_e == pytest.approx(math.log(7 / 4))
    assert e_log <= log_e


def test_jensen_terms_accept_tensors_and_arrays_alike():
    samples = [0.5, 2.0, 3.0]
    expected = jensen_terms(samples)
    assert jensen_terms(torch.tensor(samples)) == pytest.approx(expected)
    assert jensen_terms(np.array(samples)) == pytest.approx(expected)
    assert as_positive_samples(torch.tensor(samples)).dtype == np.float64


@pytest.mark.parametrize("samples", [[1.0, 0.0], [-1.0, 2.0], [[1.0, 2.0]], []])
def test_jensen_terms_reject_samples_without_a_log(samples):
    with pytest.raises(ValueError, match=r"positive samples|1-D"):
        jensen_terms(samples)
