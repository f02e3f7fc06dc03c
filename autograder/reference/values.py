"""Compute the reference values of the hidden tests with the reference bounds.

Writes ``autograder/reference_values.json``: each entry holds the reference
implementation's outputs on a fixed input, as (mean, standard error) over many calls,
with the provenance of the whole file (command, seeds, versions, checkpoint hashes).
The entry of the quadrature check holds the exact log p(x) of the ``vae_z2`` images and
the largest gap a correct bound leaves at the largest k.

    python -m autograder.reference.values
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from pathlib import Path

import torch

from autograder.reference import bounds as reference_bounds
from course_utils.checkpoints import PRETRAINED_DIR, load_pretrained
from course_utils.grading import elbo, iwae
from course_utils.grading.common import Z_SCORE, repeated_means
from course_utils.likelihood import DEFAULT_EXTENT, DEFAULT_POINTS, quadrature_error
from course_utils.training import set_seed

PATH = Path(__file__).resolve().parent / "reference_values.json"
SEED = 0
REPEATS = 2000
#: Calls per reference value of the IWAE bound, whose calls cost up to 100 times more.
IWAE_REPEATS = 200


def _entry(description: str, bound, x, *args, repeats: int = REPEATS) -> dict:
    set_seed(SEED)
    measured = repeated_means(bound, x, *args, repeats=repeats)
    return {"description": description, **{k: list(v) for k, v in measured.items()}}


def _quadrature_entry(repeats: int) -> dict:
    """The exact log p(x) of ``iwae.quadrature_batch()`` under the shipped ``vae_z2``, and the
    largest gap ``log p(x) - IWAE_k`` accepted at the largest k: the reference's mean gap
    over ``repeats`` calls plus ``Z_SCORE`` of its standard errors.

    log p(x) is computed on the default grid, as the finer grid of ``quadrature_error`` on
    a grid with half the points: the largest change between the two (and on doubling the
    extent) bounds the error of the coarser grid, so that of the grid stored is smaller.
    """
    model = load_pretrained(iwae.QUADRATURE_CHECKPOINT)
    x = iwae.quadrature_batch()
    error = quadrature_error(model, x, points=DEFAULT_POINTS // 2)
    log_px = error.log_px + error.finer  # (n,) float64, on the DEFAULT_POINTS grid
    k = max(iwae.QUADRATURE_KS)
    set_seed(SEED)
    niwae, se = repeated_means(model.negative_iwae_bound, x, k, repeats=repeats)["bound"]
    gap = log_px.mean().item() + niwae
    return {
        "description": (
            f"the shipped checkpoint {iwae.QUADRATURE_CHECKPOINT!r} and the first {len(x)} "
            "training images of the offline MNIST subset (fixed binarization)"
        ),
        "log_px": log_px.tolist(),
        "grid": {
            "points": DEFAULT_POINTS,
            "extent": DEFAULT_EXTENT,
            "error_bound": error.largest(),
        },
        "ks": list(iwae.QUADRATURE_KS),
        "reference_gap": [gap, se],
        "max_gap": gap + Z_SCORE * se,
    }


def compute(repeats: int = REPEATS, iwae_repeats: int = IWAE_REPEATS) -> dict:
    """All reference entries: key -> {description, bound, kl, rec: [mean, se]}, and the
    quadrature check's entry (``_quadrature_entry``)."""
    reference_bounds.install()
    try:
        model = load_pretrained(elbo.REFERENCE_CHECKPOINT)
        x = elbo.reference_batch()
        description = (
            f"the shipped checkpoint {elbo.REFERENCE_CHECKPOINT!r} and the first "
            f"{len(x)} test images of the offline MNIST subset"
        )
        values = {
            "elbo_vae_z10": _entry(description, model.negative_elbo_bound, x, repeats=repeats)
        }
        for k in iwae.REFERENCE_KS:
            values[iwae.reference_key(k)] = _entry(
                f"{description}, with k={k} importance samples",
                model.negative_iwae_bound,
                x,
                k,
                repeats=iwae_repeats,
            )
        values[iwae.QUADRATURE_KEY] = _quadrature_entry(iwae_repeats)
        return values
    finally:
        reference_bounds.uninstall()


def main() -> None:
    values = compute()
    checkpoints = {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(PRETRAINED_DIR.glob("*.pt"))
    }
    document = {
        "provenance": {
            "command": "python -m autograder.reference.values",
            "seed": SEED,
            "repeats": REPEATS,
            "iwae_repeats": IWAE_REPEATS,
            "implementation": "autograder/reference/bounds.py",
            "checkpoints_sha256": checkpoints,
            "python": platform.python_version(),
            "torch": torch.__version__,
        },
        "values": values,
    }
    PATH.write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {len(values)} reference values to {PATH}", file=sys.stderr)


if __name__ == "__main__":
    main()
