"""The measured runs behind the notebooks' comparisons: three training seeds per
configuration, each a JSON record in ``records/NAME/seedK.json`` written by
``python -m autograder.reference.runs`` (its provenance, held-out curve and measures).

A comparison reads them as mean ± spread over the seeds::

    summary("vae_z10_beta2", "test.niwae.1000")   # Summary(mean=..., low=..., high=..., n=3)
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from functools import cache
from pathlib import Path

__all__ = ["RECORDS_DIR", "Summary", "runs", "summary", "value"]

#: One folder per configuration, one record per seed.
RECORDS_DIR = Path(__file__).resolve().parent / "records"


@cache
def _load(name: str) -> tuple[dict, ...]:
    folder = RECORDS_DIR / name
    paths = sorted(folder.glob("seed*.json"), key=lambda p: int(p.stem.removeprefix("seed")))
    if not paths:
        known = sorted(p.name for p in RECORDS_DIR.iterdir() if p.is_dir())
        raise KeyError(f"no records of {name!r}; recorded: {', '.join(known)}")
    return tuple(json.loads(path.read_text()) for path in paths)


def runs(name: str) -> list[dict]:
    """The records of configuration ``name``, by seed."""
    return list(_load(name))


def value(record: dict, key: str):
    """The value at a dotted ``key`` of a record (``"test.niwae.1000"``)."""
    for part in key.split("."):
        record = record[part]
    return record


@dataclass(frozen=True)
class Summary:
    """A measure over seeds: its mean, its smallest and largest value, and standard
    deviation (0 for one seed), over ``n`` seeds."""

    mean: float
    low: float
    high: float
    sd: float
    n: int

    def __str__(self) -> str:
        return f"{self.mean:.2f} ± {self.sd:.2f}"


def summary(name: str, key: str) -> Summary:
    """``key`` (dotted, see ``value``) over the seeds of configuration ``name``."""
    values = [float(value(record, key)) for record in runs(name)]
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return Summary(statistics.fmean(values), min(values), max(values), sd, len(values))
