"""Train the checkpoints shipped in ``course_utils/pretrained/`` with the reference bounds.

Each ``NAME.pt`` gets a ``NAME.json`` beside it with its provenance: the command, seed,
data, training settings, package versions, the file's SHA-256 and its test-set bounds (for a
VAE also its active units and KL per latent dimension).

    python -m autograder.reference.checkpoints            # all of them (about an hour on 2 cores)
    python -m autograder.reference.checkpoints vae_z2     # one

Notebook 4's checkpoints share a shorter recipe (``NB4_ITERATIONS``; 3 to 4 minutes each on
one core) and store their weights as float16 (half the file; loading casts them back, and
their test-set bounds are measured on the rounded weights). Models compared in one table or
plot share a recipe: notebook 4's VAE is ``vae_z10_beta1``, not ``vae_z10``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import subprocess
import sys
import time
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
#: Notebook 4's recipe: ``RECIPE`` with fewer iterations, so its nine models train in about
#: half an hour two at a time on this 2-core machine.
NB4_ITERATIONS = 10_000


@dataclass(frozen=True)
class Checkpoint:
    """What a shipped checkpoint is: its model's arguments and class, how its training
    objective differs from the negative ELBO (``train``'s ``iw``, ``beta``, ``warmup``), how
    its recipe differs from ``RECIPE`` (``iterations``) and the dtype its weights are stored in.
    """

    arguments: dict = field(default_factory=dict)
    model: type[VAE] = VAE
    iw: int = 1
    beta: float = 1.0
    warmup: int = 0
    iterations: int | None = None
    stored_dtype: torch.dtype = torch.float32

    @property
    def objective(self) -> str:
        if self.iw > 1:
            return f"negative IWAE bound, k={self.iw}"
        objective = "negative ELBO" if self.beta == 1 else f"Rec + {self.beta:g} KL (beta-VAE)"
        return objective + (f", KL warm-up over {self.warmup} iterations" if self.warmup else "")


#: The number of mixture components of the shipped GMVAEs (notebook 4).
GMVAE_K = {10: 50, 2: 10}
#: Notebook 4's beta sweep (beta = 1 is also the VAE of its VAE vs GMVAE table).
BETAS = (0.2, 0.5, 1.0, 2.0, 5.0)
NB4 = {"iterations": NB4_ITERATIONS, "stored_dtype": torch.float16}
#: name -> what it is; trained with ``RECIPE`` (notebook 4's with ``NB4_ITERATIONS``).
CHECKPOINTS = {
    "vae_z10": Checkpoint({"nn": "v1", "z_dim": 10}),
    "vae_z2": Checkpoint({"nn": "v1", "z_dim": 2}),
    "iwae5_z10": Checkpoint({"nn": "v1", "z_dim": 10}, iw=5),
    **{
        f"gmvae_z{z_dim}": Checkpoint({"nn": "v1", "z_dim": z_dim, "k": k}, GMVAE, **NB4)
        for z_dim, k in GMVAE_K.items()
    },
    **{
        f"vae_z10_beta{beta:g}": Checkpoint({"nn": "v1", "z_dim": 10}, beta=beta, **NB4)
        for beta in BETAS
    },
    "vae_z50": Checkpoint({"nn": "v1", "z_dim": 50}, **NB4),
    "vae_z50_warmup": Checkpoint({"nn": "v1", "z_dim": 50}, warmup=NB4_ITERATIONS // 2, **NB4),
}
IWAE_KS = (1, 10, 100, 1000)


def _git_commit() -> str:
    result = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True)
    return result.stdout.strip() or "unknown"


def _round_weights(model: VAE, dtype: torch.dtype) -> None:
    """Round ``model``'s floating-point weights to ``dtype`` in place (keeping their dtype), so
    that it is evaluated as it will load from a checkpoint stored in ``dtype``."""
    with torch.no_grad():
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                tensor.copy_(tensor.to(dtype))


def make(name: str) -> dict:
    """Train, evaluate and save one checkpoint; returns its provenance."""
    recipe = CHECKPOINTS[name]
    data = load_data(DATASET)
    model = recipe.model(name=name, **recipe.arguments)
    objective = {"iw": recipe.iw, "beta": recipe.beta, "warmup": recipe.warmup}
    settings = {**RECIPE, "iterations": recipe.iterations or RECIPE["iterations"]}
    history = train(model, data.x_train, **objective, **settings)
    _round_weights(model, recipe.stored_dtype)
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
    training = {**settings, "iw": recipe.iw}
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
    if recipe.stored_dtype != torch.float32:
        provenance["weights_stored_as"] = str(recipe.stored_dtype).removeprefix("torch.")
    save_checkpoint(model, path, stored_dtype=recipe.stored_dtype, **provenance)
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
        start = time.perf_counter()
        make(name)
        print(f"{name}: {time.perf_counter() - start:.0f} s with its evaluation", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
