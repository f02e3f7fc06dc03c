"""Train the checkpoints shipped in ``course_utils/pretrained/`` with the reference bounds.

Each ``NAME.pt`` gets a ``NAME.json`` beside it with its provenance: the command, seed,
data, training settings, package versions, the file's SHA-256 and its test-set bounds.

    python -m autograder.reference.checkpoints            # all of them (about 25 min on 2 cores)
    python -m autograder.reference.checkpoints vae_z2     # one
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import subprocess
import sys

import torch

from autograder.reference import bounds as reference_bounds
from course_utils.checkpoints import PRETRAINED_DIR, save_checkpoint
from course_utils.data import load_data
from course_utils.evaluation import evaluate
from course_utils.models import VAE
from course_utils.training import train

DATASET = "mnist-subset"
RECIPE = {"iterations": 20_000, "batch_size": 100, "lr": 1e-3, "seed": 0}
#: name -> (VAE arguments, training objective's importance samples)
CHECKPOINTS = {
    "vae_z10": ({"nn": "v1", "z_dim": 10}, 1),
    "vae_z2": ({"nn": "v1", "z_dim": 2}, 1),
    "iwae5_z10": ({"nn": "v1", "z_dim": 10}, 5),
}
IWAE_KS = (1, 10, 100, 1000)


def _git_commit() -> str:
    result = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True)
    return result.stdout.strip() or "unknown"


def make(name: str) -> dict:
    """Train, evaluate and save one checkpoint; returns its provenance."""
    arguments, iw = CHECKPOINTS[name]
    data = load_data(DATASET)
    model = VAE(name=name, **arguments)
    history = train(model, data.x_train, iw=iw, **RECIPE)
    metrics = evaluate(model, data.x_test, ks=IWAE_KS, seed=RECIPE["seed"])
    path = PRETRAINED_DIR / f"{name}.pt"
    provenance = {
        "name": name,
        "command": f"python -m autograder.reference.checkpoints {name}",
        "git_commit": _git_commit(),
        "data": data.description,
        "model": arguments,
        "objective": "negative ELBO" if iw == 1 else f"negative IWAE bound, k={iw}",
        "training": {**RECIPE, "iw": iw, "seconds": round(history.seconds, 1)},
        "final_train_loss": round(history.last(), 3),
        "test": {
            "n_images": metrics.n_images,
            "nelbo": round(metrics.nelbo, 3),
            "kl": round(metrics.kl, 3),
            "rec": round(metrics.rec, 3),
            "niwae": {str(k): round(v, 3) for k, v in metrics.niwae.items()},
        },
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "platform": platform.platform(),
            "threads": torch.get_num_threads(),
        },
    }
    save_checkpoint(model, path, **provenance)
    provenance["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    path.with_suffix(".json").write_text(json.dumps(provenance, indent=2) + "\n")
    print(metrics.table())
    return provenance


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"any of {', '.join(CHECKPOINTS)}")
    names = parser.parse_args(argv).names or list(CHECKPOINTS)
    unknown = set(names) - set(CHECKPOINTS)
    if unknown:
        parser.error(f"unknown checkpoint(s) {', '.join(sorted(unknown))}")
    reference_bounds.install()
    for name in names:
        print(f"== {name}", flush=True)
        make(name)


if __name__ == "__main__":
    main(sys.argv[1:])
