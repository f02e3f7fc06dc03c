"""Jensen's inequality for the logarithm, ``E[log X] <= log E[X]``, measured on samples.

The two sides for the empirical distribution of a sample of a positive X: what
``plotting.plot_jensen`` draws and the Jensen explorer (``widgets.JensenExplorer``) reports.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from torch import Tensor

__all__ = ["as_positive_samples", "jensen_terms"]


def as_positive_samples(samples: Tensor | np.ndarray | Sequence[float]) -> np.ndarray:
    """``samples`` as a float64 array ``(n,)``, or a ValueError unless non-empty, 1-D, positive."""
    x = np.asarray(samples.cpu() if isinstance(samples, Tensor) else samples, dtype=np.float64)
    if x.ndim != 1 or len(x) == 0:
        raise ValueError(f"expected a non-empty 1-D array of samples, got shape {x.shape}")
    if not np.all(x > 0):
        raise ValueError(f"log x needs positive samples; the smallest is {x.min():g}")
    return x


def jensen_terms(samples: Tensor | np.ndarray | Sequence[float]) -> tuple[float, float]:
    """``(E[log X], log E[X])`` for the empirical distribution of ``samples``: ``(n,)``, positive.

    The first never exceeds the second: Jensen's inequality for the concave log.
    """
    x = as_positive_samples(samples)
    return float(np.mean(np.log(x))), float(np.log(np.mean(x)))
