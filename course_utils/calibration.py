"""How fast this machine is, now: the scale of every time limit.

A notebook's time limits are multiples of the solutions' own times on the machine that
measured them (``autograder.time_limits``), which recorded its ``calibrate()`` beside them. On
any other machine, or the same one under load, a limit is scaled by ``machine_factor``: how
much slower this machine runs the same short workload, never below 1 (a faster machine keeps
the reference's limits). Students' Validate (``course_utils.nbgrader_settings``) and
autograde scale alike.
"""

from __future__ import annotations

import statistics
import time

#: Seconds a measurement is reused: a Lab server lives for hours, its load changes.
MAX_AGE_S = 60.0

_last: tuple[float, float] | None = None  # (when measured, seconds)


def calibrate(repeats: int = 3) -> float:
    """Seconds this machine takes, now, for a fixed piece of one-threaded work like the
    notebooks' (interpreted Python and array arithmetic): the median of ``repeats``
    (about 0.07 s each on the course's 2-core reference machine)."""
    return statistics.median(_workload() for _ in range(repeats))


def _workload() -> float:
    import numpy as np

    start = time.perf_counter()
    total = 0.0
    for i in range(200_000):
        total += (i % 7) * 0.5  # interpreted work: the sum itself is not used
    values = np.linspace(0.01, 1.0, 400_000)
    for _ in range(10):
        values = np.log1p(np.exp(-values)) + np.sqrt(values)
    return time.perf_counter() - start


def now() -> float:
    """``calibrate()``, measured again when the last measurement is over ``MAX_AGE_S`` old."""
    global _last
    if _last is None or time.monotonic() - _last[0] > MAX_AGE_S:
        _last = (time.monotonic(), calibrate())
    return _last[1]


def machine_factor(reference: float) -> float:
    """How much slower this machine is, now, than the one whose ``calibrate()`` was
    ``reference`` (at least 1)."""
    return max(1.0, now() / reference)
