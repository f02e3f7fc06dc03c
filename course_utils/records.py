"""The measured runs behind the notebooks' comparisons: three training seeds per
configuration, each a JSON record in ``records/NAME/seedK.json`` written by
``python -m autograder.reference.runs`` (its provenance, held-out curve and measures).

A comparison reads them as mean ± spread over the seeds::

    summary("vae_z10_beta2", "test.niwae.1000")   # Summary(mean=..., low=..., high=..., n=3)
    print(table({"beta = 1": "vae_z10_beta1", "beta = 2": "vae_z10_beta2"},
                {"NELBO": "test.nelbo", "-IWAE-1000": "test.niwae.1000"}))

Every number is measured on the offline MNIST subset (4,000 training / 1,000 test images):
``test`` on its 1,000 test images, ``train`` on 1,000 of its training images binarized once.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from course_utils.language import msg

__all__ = [
    "KL_THRESHOLD",
    "RECORDS_DIR",
    "SeedTable",
    "Summary",
    "curves",
    "elbo_to_iwae",
    "gap_statistics",
    "gaps",
    "informative_units",
    "iwae_overfitting",
    "overfitting",
    "runs",
    "summarize",
    "summary",
    "table",
    "value",
    "values",
]

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
        return self.format(2)

    def format(self, digits: int = 1) -> str:
        """``"mean ± sd"`` with ``digits`` decimals."""
        return f"{self.mean:.{digits}f} ± {self.sd:.{digits}f}"

    def apart(self, other: Summary) -> bool:
        """Whether the two sets of seeds do not overlap: every seed of one lies below every
        seed of the other. With three seeds each, two configurations that do not differ
        give that order by chance with probability 1/20 (each of the 20 ways of splitting
        six runs into two sets of three equally likely; one is all three below)."""
        return self.high < other.low or other.high < self.low


#: A measure of a record: a dotted key (``"test.niwae.1000"``) or a function of the record.
Measure = str | Callable[[dict], float]


# Measures of a record that are not stored keys (each docstring names what it measures)


def elbo_to_iwae(record: dict) -> float:
    """test NELBO - test -IWAE-1000"""
    return record["test"]["nelbo"] - record["test"]["niwae"]["1000"]


def overfitting(record: dict) -> float:
    """test NELBO - training NELBO"""
    return record["test"]["nelbo"] - record["train"]["nelbo"]


def iwae_overfitting(record: dict) -> float:
    """test -IWAE-1000 - training -IWAE-1000"""
    return record["test"]["niwae"]["1000"] - record["train"]["niwae"]["1000"]


#: The mean KL (nats) above which a latent unit counts as carrying information.
KL_THRESHOLD = 0.01


def informative_units(record: dict) -> float:
    """units above 0.01 nats of KL"""
    return sum(kl > KL_THRESHOLD for kl in record["kl_per_dimension"])


def values(name: str, key: Measure) -> list[float]:
    """The measure ``key`` (a dotted key, see ``value``, or a function of a record) of each
    seed of configuration ``name``."""
    measure = key if callable(key) else lambda record: value(record, key)
    return [float(measure(record)) for record in runs(name)]


def summarize(found: Sequence[float]) -> Summary:
    """Mean, smallest, largest and standard deviation of one value per seed."""
    sd = statistics.stdev(found) if len(found) > 1 else 0.0
    return Summary(statistics.fmean(found), min(found), max(found), sd, len(found))


def summary(name: str, key: Measure) -> Summary:
    """The measure ``key`` (see ``values``) over the seeds of configuration ``name``."""
    return summarize(values(name, key))


@dataclass(frozen=True)
class SeedTable:
    """Measures (columns) of configurations (rows) over their seeds, as mean ± sd.

    Attributes:
        rows: row label -> configuration name.
        columns: column label -> measure (a dotted key of a record, or a function of one).
        cells: ``(row label, column label)`` -> its ``Summary``.
        digits: decimals shown, for every column or by column label.
    """

    rows: Mapping[str, str]
    columns: Mapping[str, Measure]
    cells: Mapping[tuple[str, str], Summary]
    digits: int | Mapping[str, int] = 1

    def __getitem__(self, where: tuple[str, str]) -> Summary:
        return self.cells[where]

    def __str__(self) -> str:
        digits = self.digits
        if isinstance(digits, int):
            digits = dict.fromkeys(self.columns, digits)
        texts = {(row, c): cell.format(digits[c]) for (row, c), cell in self.cells.items()}
        first = max(len(row) for row in self.rows)
        width = {
            column: max(len(column), *(len(texts[row, column]) for row in self.rows))
            for column in self.columns
        }
        seeds = msg("records.seeds", "seeds")
        header = "".join(f"  {c:>{width[c]}}" for c in self.columns)
        lines = [f"{'':{first}}{header}  {seeds}"]
        for row in self.rows:
            seeds = {self.cells[row, column].n for column in self.columns}
            cells = "".join(f"  {texts[row, c]:>{width[c]}}" for c in self.columns)
            lines.append(f"{row:{first}}{cells}  {'/'.join(map(str, sorted(seeds)))}")
        return "\n".join(lines)


def table(
    rows: Mapping[str, str],
    columns: Mapping[str, Measure],
    *,
    digits: int | Mapping[str, int] = 1,
) -> SeedTable:
    """Each column's measure (a dotted key or a function of a record) of each row's
    configuration over its seeds.

    ``print(table(...))`` shows mean ± standard deviation over the seeds and how many seeds
    each row has.
    """
    cells = {
        (row, column): summary(name, key)
        for row, name in rows.items()
        for column, key in columns.items()
    }
    return SeedTable(
        dict(rows), dict(columns), cells, digits if isinstance(digits, int) else dict(digits)
    )


def curves(name: str) -> list[dict[str, list]]:
    """The held-out curves of the seeds of ``name`` trained by the runs script (a shipped
    checkpoint measured again has none): each ``{"iterations": (n,), "test": (n,),
    "train": (n,)}``, the negative ELBO every few hundred iterations from iteration 0."""
    return [record["curve"] for record in runs(name) if "curve" in record]


def gaps(name: str, images: str = "test") -> dict[str, np.ndarray]:
    """The per-image gaps of a two-dimensional model's seeds, on notebook 3's 50 ``images``
    (``"test"`` or ``"train"``), in nats.

    Returns:
        ``"log_px"``: ``(seeds, n)`` the exact log p(x) by quadrature;
        ``"iwae"``: ``(seeds, n, len(ks))`` log p(x) - L_k for the ks of ``"ks"``;
        ``"ks"``: ``(len(ks),)``;
        ``"approximation"``, ``"amortization"``: ``(seeds, n)`` the gap of the best Gaussian
        q of each image, and the encoder's shortfall from it.
    """
    found = [record["gaps"][images] for record in runs(name)]
    ks = sorted(int(k) for k in found[0]["iwae_gap"])
    return {
        "ks": np.array(ks),
        "log_px": np.array([f["log_px"] for f in found]),
        "iwae": np.array([[f["iwae_gap"][str(k)] for k in ks] for f in found]).transpose(0, 2, 1),
        "approximation": np.array([f["approximation_gap"] for f in found]),
        "amortization": np.array([f["amortization_gap"] for f in found]),
    }


def gap_statistics(name: str, images: str = "test", largest: int = 5) -> dict[str, np.ndarray]:
    """Over the images of each seed of ``name`` (see ``gaps``), statistics of the gap
    ``log p(x) - L_k`` for each k, in nats: a mean over 50 images can be set by a few.

    Returns:
        ``"ks"``: ``(len(ks),)``; ``"mean"``, ``"median"``: ``(seeds, len(ks))`` the mean and
        the median gap over the images; ``"largest_share"``: ``(seeds, len(ks))`` the share of
        the mean that the ``largest`` gaps make up.
    """
    found = gaps(name, images)
    gap = found["iwae"]  # (seeds, n, len(ks))
    top = np.sort(gap, axis=1)[:, -largest:, :].sum(1)  # (seeds, len(ks))
    return {
        "ks": found["ks"],
        "mean": gap.mean(1),
        "median": np.median(gap, 1),
        "largest_share": top / gap.sum(1),
    }
