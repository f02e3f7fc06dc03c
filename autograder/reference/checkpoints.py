"""Train the checkpoints shipped in ``course_utils/pretrained/`` with the reference bounds.

Each ``NAME.pt`` gets a ``NAME.json`` beside it with its provenance: the command, seed,
data, training settings, package versions, the file's SHA-256 and its test-set bounds (for a
VAE also its active units and KL per latent dimension).

    python -m autograder.reference.checkpoints            # all of them (2 to 3 hours on 2 cores)
    python -m autograder.reference.checkpoints vae_z2     # one
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import subprocess
import sys
from dataclasses import dataclass, field

import torch

from autograder.reference import bounds as reference_bounds
from course_utils.checkpoints import PRETRAINED_DIR, save_checkpoint
from course_utils.data import load_data
from course_utils.evaluation import active_units, evaluate, kl_per_dimension
from course_utils.models import GMVAE, VAE
from course_utils.training import train

DATASET = "mnist-subset"
RECIPE = {"iterations": 20_000, "batch_size": 100, "lr": 1e-3, "seed": 0}


@dataclass(frozen=True)
class Checkpoint:
    """What a shipped checkpoint is: its model's arguments and class, and how its training
    objective differs from the negative ELBO (``train``'s ``iw``, ``beta``, ``warmup``)."""

    arguments: dict = field(default_factory=dict)
    model: type[VAE] = VAE
    iw: int = 1
    beta: float = 1.0
    warmup: int = 0

    @property
    def objective(self) -> str:
        if self.iw > 1:
            return f"negative IWAE bound, k={self.iw}"
        objective = "negative ELBO" if self.beta == 1 else f"Rec + {self.beta:g} KL (beta-VAE)"
        return objective + (f", KL warm-up over {self.warmup} iterations" if self.warmup else "")


#: The number of mixture components of the shipped GMVAEs (notebook 4).
GMVAE_K = {10: 50, 2: 10}
#: name -> what it is; every one trained with ``RECIPE``.
CHECKPOINTS = {
    "vae_z10": Checkpoint({"nn": "v1", "z_dim": 10}),
    "vae_z2": Checkpoint({"nn": "v1", "z_dim": 2}),
    "iwae5_z10": Checkpoint({"nn": "v1", "z_dim": 10}, iw=5),
    **{
        f"gmvae_z{z_dim}": Checkpoint({"nn": "v1", "z_dim": z_dim, "k": k}, GMVAE)
        for z_dim, k in GMVAE_K.items()
    },
    **{
        f"vae_z10_beta{beta:g}": Checkpoint({"nn": "v1", "z_dim": 10}, beta=beta)
        for beta in (0.2, 0.5, 2.0, 5.0)
    },
    "vae_z50": Checkpoint({"nn": "v1", "z_dim": 50}),
    "vae_z50_warmup": Checkpoint({"nn": "v1", "z_dim": 50}, warmup=5_000),
}
IWAE_KS = (1, 10, 100, 1000)


def _git_commit() -> str:
    result = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True)
    return result.stdout.strip() or "unknown"


def make(name: str) -> dict:
    """Train, evaluate and save one checkpoint; returns its provenance."""
    recipe = CHECKPOINTS[name]
    data = load_data(DATASET)
    model = recipe.model(name=name, **recipe.arguments)
    objective = {"iw": recipe.iw, "beta": recipe.beta, "warmup": recipe.warmup}
    history = train(model, data.x_train, **objective, **RECIPE)
    metrics = evaluate(model, data.x_test, ks=IWAE_KS, seed=RECIPE["seed"])
    test = {
        "n_images": metrics.n_images,
        "nelbo": round(metrics.nelbo, 3),
        "kl": round(metrics.kl, 3),
        "rec": round(metrics.rec, 3),
        "niwae": {str(k): round(v, 3) for k, v in metrics.niwae.items()},
    }
    if not isinstance(model, GMVAE):  # a N(0, I) prior: the KL splits over dimensions
        test["active_units"] = active_units(model, data.x_test)[0]
        per_dimension = kl_per_dimension(model, data.x_test).tolist()
        test["kl_per_dimension"] = [round(kl, 3) for kl in per_dimension]
    training = {**RECIPE, "iw": recipe.iw}
    if recipe.beta != 1:
        training["beta"] = recipe.beta
    if recipe.warmup:
        training["warmup"] = recipe.warmup
    path = PRETRAINED_DIR / f"{name}.pt"
    provenance = {
        "name": name,
        "command": f"python -m autograder.reference.checkpoints {name}",
        "git_commit": _git_commit(),
        "data": data.description,
        "model": {"class": recipe.model.__name__, **recipe.arguments},
        "objective": recipe.objective,
        "training": {**training, "seconds": round(history.seconds, 1)},
        "final_train_loss": round(history.last(), 3),
        "test": test,
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
