"""Train the seeds behind the notebooks' comparisons and record what each run measures.

A comparison drawn in a notebook (VAE vs GMVAE, the beta sweep, collapse with and without
KL warm-up, IWAE vs ELBO training, the IWAE-k gaps) rests on three training seeds per
configuration. Seed 0 of a configuration that ships a checkpoint is that checkpoint,
measured again; the other seeds are trained here with the checkpoint's own recipe and
only their records ship (``course_utils/records/NAME/seedK.json``, read by
``course_utils.records``), their weights staying in ``build/runs/`` (git-ignored).

    python -m autograder.reference.runs                      # every run not yet recorded
    python -m autograder.reference.runs vae_z50 --seeds 1 2  # some of them, again
    python -m autograder.reference.runs --list               # the configurations

A record holds the run's provenance (command, commit, data, recipe, versions, training
seconds), its held-out curve (the test and training NELBO every ``MONITOR_EVERY``
iterations, for the runs trained here) and its measures: the test bounds, the same on
``N_TRAIN`` fixed training images (the overfitting), active units and the KL per latent
dimension for a Gaussian prior, and for a two-dimensional latent space the per-image gaps
of notebook 3 (IWAE-k and the best Gaussian q against log p(x) by quadrature).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

from autograder.reference import bounds as reference_bounds
from autograder.reference.checkpoints import (
    CHECKPOINTS,
    DATASET,
    IWAE_KS,
    NB4,
    NB4_ITERATIONS,
    RECIPE,
    Checkpoint,
    _git_commit,
    _round_weights,
)
from course_utils.checkpoints import PRETRAINED_DIR, load_pretrained, save_checkpoint
from course_utils.data import binarize_fixed, evenly_spaced, load_data
from course_utils.evaluation import active_units, best_gaussian_elbo, evaluate, kl_per_dimension
from course_utils.likelihood import log_px_quadrature
from course_utils.models import VAE, GaussianPrior
from course_utils.records import RECORDS_DIR
from course_utils.training import set_seed, train

ROOT = Path(__file__).resolve().parents[2]
#: Where the weights of the runs trained here go (not shipped).
WEIGHTS_DIR = ROOT / "build" / "runs"
SEEDS = (0, 1, 2)
#: Fixed training images measured like the test set (the overfitting), evenly spaced.
N_TRAIN = 1000
#: Iterations between two points of the held-out curve.
MONITOR_EVERY = 500
#: Images per set of notebook 3's gap study (its N_QUAD), evenly spaced, and their KS.
N_GAP_IMAGES = 50
GAP_KS = (1, 10, 100, 1000)

#: Configurations that ship no checkpoint: every seed is trained here.
EXTRA = {
    # Burda et al. 2016, sec. 5.2: IWAE training keeps more units active (z_dim 50).
    "iwae5_z50": Checkpoint({"nn": "v1", "z_dim": 50}, iw=5, **NB4),
    # Can warm-up rescue the units a large beta collapses?
    "vae_z10_beta5_warmup": Checkpoint(
        {"nn": "v1", "z_dim": 10}, beta=5.0, warmup=NB4_ITERATIONS // 2, **NB4
    ),
}
CONFIGS: dict[str, Checkpoint] = {**CHECKPOINTS, **EXTRA}


def record_path(name: str, seed: int) -> Path:
    return RECORDS_DIR / name / f"seed{seed}.json"


def _round(values, digits: int = 4) -> list[float]:
    return [round(float(v), digits) for v in values]


def _bounds(model: VAE, x: torch.Tensor, ks) -> dict:
    metrics = evaluate(model, x, ks=ks, seed=RECIPE["seed"])
    return {
        "n_images": metrics.n_images,
        "nelbo": round(metrics.nelbo, 3),
        "kl": round(metrics.kl, 3),
        "rec": round(metrics.rec, 3),
        "niwae": {str(k): round(v, 3) for k, v in metrics.niwae.items()},
    }


@torch.no_grad()
def _per_image_niwae(model: VAE, x: torch.Tensor, k: int) -> list[float]:
    """-IWAE-k of each image of ``x (n, 784)``, one image at a time."""
    set_seed(RECIPE["seed"])
    return [model.negative_iwae_bound(image[None], k)[0].item() for image in x]


def gap_images(data) -> dict[str, torch.Tensor]:
    """Notebook 3's image sets of its gap study (Section 3.4)."""
    return {
        "test": evenly_spaced(data.x_test, N_GAP_IMAGES),
        "train": binarize_fixed(evenly_spaced(data.x_train, N_GAP_IMAGES)),
    }


def _gaps(model: VAE, data) -> dict:
    """Per image, ``log p(x) - L_k`` for each k, and the approximation and amortization gaps
    (the best Gaussian q's ELBO against log p(x) and against the encoder's), in nats."""
    result = {}
    for name, x in gap_images(data).items():
        log_px = log_px_quadrature(model, x)
        encoder, best = best_gaussian_elbo(model, x, seed=RECIPE["seed"])
        result[name] = {
            "log_px": _round(log_px),
            "iwae_gap": {
                str(k): _round(log_px + torch.tensor(_per_image_niwae(model, x, k)).double())
                for k in GAP_KS
            },
            "approximation_gap": _round(log_px - best.double()),
            "amortization_gap": _round(best.double() - encoder.double()),
        }
    return result


def measure(model: VAE, data) -> dict:
    """Everything a record measures on a trained ``model`` (see the module)."""
    x_train = binarize_fixed(evenly_spaced(data.x_train, N_TRAIN))
    measures = {
        "test": _bounds(model, data.x_test, IWAE_KS),
        "train": _bounds(model, x_train, (1000,)),
    }
    if isinstance(model.prior, GaussianPrior):
        measures["active_units"] = active_units(model, data.x_test)[0]
        measures["kl_per_dimension"] = _round(kl_per_dimension(model, data.x_test), 3)
    if model.z_dim == 2:
        measures["gaps"] = _gaps(model, data)
    return measures


def _training(recipe: Checkpoint, seed: int) -> dict:
    settings = {**RECIPE, "iterations": recipe.iterations or RECIPE["iterations"], "seed": seed}
    return {**settings, "iw": recipe.iw, "beta": recipe.beta, "warmup": recipe.warmup}


def run(name: str, seed: int, retrain: bool = False) -> dict:
    """Train (or, for a shipped checkpoint's seed 0, load) and measure one run; write its
    record and return it."""
    recipe = CONFIGS[name]
    data = load_data(DATASET)
    training = _training(recipe, seed)
    shipped = PRETRAINED_DIR / f"{name}.json"
    record = {
        "name": name,
        "seed": seed,
        "command": f"python -m autograder.reference.runs {name} --seeds {seed}",
        "git_commit": _git_commit(),
        "data": data.description,
        "model": {"class": recipe.model.__name__, **recipe.arguments},
        "objective": recipe.objective,
    }
    if seed == 0 and shipped.exists() and not retrain:
        provenance = json.loads(shipped.read_text())
        model = load_pretrained(name)
        record["trained"] = f"the shipped checkpoint {name}.pt, measured again"
        training["seconds"] = provenance["training"]["seconds"]
        record["final_train_loss"] = provenance["final_train_loss"]
    else:
        model = recipe.model(name=f"{name}_seed{seed}", **recipe.arguments)
        x_train = binarize_fixed(evenly_spaced(data.x_train, N_TRAIN))
        keys = ("iterations", "batch_size", "lr", "iw", "beta", "warmup", "seed")
        history = train(
            model,
            data.x_train,
            **{key: training[key] for key in keys},
            monitor={"test": data.x_test, "train": x_train},
            monitor_every=MONITOR_EVERY,
        )
        _round_weights(model, recipe.stored_dtype)
        weights = WEIGHTS_DIR / f"{name}_seed{seed}.pt"
        save_checkpoint(model, weights, stored_dtype=recipe.stored_dtype, seed=seed)
        record["trained"] = f"here; weights in build/runs/{weights.name} (not shipped)"
        training["seconds"] = round(history.seconds, 1)
        record["final_train_loss"] = round(history.last(), 3)
        record["curve"] = {
            "iterations": history.monitor_iterations,
            **{key: _round(values, 3) for key, values in history.monitored.items()},
        }
    record["training"] = training
    record.update(measure(model, data))
    record["versions"] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
        "threads": torch.get_num_threads(),
    }
    path = record_path(name, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1) + "\n")
    return record


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help="configurations (default: all)")
    parser.add_argument("--seeds", nargs="+", type=int, default=None, help="default: 0 1 2")
    parser.add_argument("--retrain", action="store_true", help="train seed 0 too")
    parser.add_argument("--list", action="store_true", help="list the configurations")
    args = parser.parse_args(argv)
    if args.list:
        for name, recipe in CONFIGS.items():
            print(f"{name:24} {recipe.objective}")
        return
    unknown = set(args.names) - set(CONFIGS)
    if unknown:
        parser.error(f"unknown configuration(s) {', '.join(sorted(unknown))}")
    names = args.names or list(CONFIGS)
    explicit = bool(args.names and args.seeds)
    reference_bounds.install()
    torch.set_num_threads(1)
    for name in names:
        for seed in args.seeds or SEEDS:
            if record_path(name, seed).exists() and not explicit:
                continue
            print(f"== {name} seed {seed}", flush=True)
            start = time.perf_counter()
            record = run(name, seed, retrain=args.retrain)
            test = record["test"]
            print(
                f"{name} seed {seed}: NELBO {test['nelbo']:.2f}, -IWAE-1000 "
                f"{test['niwae']['1000']:.2f}, {time.perf_counter() - start:.0f} s",
                flush=True,
            )


if __name__ == "__main__":
    main(sys.argv[1:])
