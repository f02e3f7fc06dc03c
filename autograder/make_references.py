"""Compute the reference values of the hidden tests with the reference bounds.

Writes ``autograder/reference_values.json``: each entry holds the reference
implementation's outputs on a fixed input, as (mean, standard error) over many calls,
with the provenance of the whole file (command, seeds, versions, checkpoint hashes).

    python -m autograder.make_references
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from pathlib import Path

import torch

from autograder import reference_bounds
from course_utils.checkpoints import PRETRAINED_DIR, load_pretrained
from course_utils.grading import elbo
from course_utils.grading.common import repeated_means
from course_utils.training import set_seed

PATH = Path(__file__).resolve().parent / "reference_values.json"
SEED = 0
REPEATS = 2000


def _entry(description: str, bound, x, *args, repeats: int = REPEATS) -> dict:
    set_seed(SEED)
    measured = repeated_means(bound, x, *args, repeats=repeats)
    return {"description": description, **{k: list(v) for k, v in measured.items()}}


def compute(repeats: int = REPEATS) -> dict:
    """All reference entries: key -> {description, bound, kl, rec: [mean, se]}."""
    reference_bounds.install()
    try:
        model = load_pretrained(elbo.REFERENCE_CHECKPOINT)
        x = elbo.reference_batch()
        description = (
            f"the shipped checkpoint {elbo.REFERENCE_CHECKPOINT!r} and the first "
            f"{len(x)} test images of the offline MNIST subset"
        )
        return {"elbo_vae_z10": _entry(description, model.negative_elbo_bound, x, repeats=repeats)}
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
            "command": "python -m autograder.make_references",
            "seed": SEED,
            "repeats": REPEATS,
            "implementation": "autograder/reference_bounds.py",
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
