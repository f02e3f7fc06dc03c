"""Saving and loading trained VAEs, with the settings needed to rebuild them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from course_utils.models import GMVAE, VAE

__all__ = [
    "PRETRAINED_DIR",
    "load_checkpoint",
    "load_pretrained",
    "pretrained_names",
    "save_checkpoint",
]

FORMAT = "vae-course-checkpoint/1"
#: The model classes a checkpoint can hold, by the name its config records (none: a VAE).
MODELS: dict[str, type[VAE]] = {"VAE": VAE, "GMVAE": GMVAE}
#: The checkpoints shipped with the package, each ``NAME.pt`` with its provenance ``NAME.json``.
PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"


def save_checkpoint(
    model: VAE, path: str | Path, /, *, stored_dtype: torch.dtype | None = None, **metadata: Any
) -> Path:
    """Save ``model``'s weights, its constructor arguments and ``metadata`` (JSON-like values).

    ``stored_dtype`` (say ``torch.float16``, half the file) stores the floating-point weights
    rounded to it; ``load_checkpoint`` casts them back to the model's dtype.

    Writes to a temporary file first, so an interrupted save never leaves a broken checkpoint.
    The metadata goes through JSON, so that ``weights_only`` loading accepts it (a ``str``
    subclass such as ``torch.__version__`` becomes a ``str``); a value JSON cannot hold
    raises ``TypeError``.
    """
    metadata = json.loads(json.dumps(metadata))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    config = {"nn": model.arch, "name": model.name, "z_dim": model.z_dim}
    if isinstance(model, GMVAE):
        config |= {"model": "GMVAE", "k": model.k}
    payload = {
        "format": FORMAT,
        "config": config,
        "state_dict": {k: _stored(v, stored_dtype) for k, v in model.state_dict().items()},
        "metadata": metadata,
    }
    partial = path.with_name(path.name + ".partial")
    torch.save(payload, partial)
    partial.replace(path)
    return path


def _stored(tensor: torch.Tensor, dtype: torch.dtype | None) -> torch.Tensor:
    tensor = tensor.detach().cpu()
    return tensor.to(dtype) if dtype is not None and tensor.is_floating_point() else tensor


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> VAE:
    """Rebuild the VAE (or GMVAE) saved at ``path``, in eval mode; its metadata is in
    ``model.metadata``."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    payload = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{path} is not a course checkpoint (expected format {FORMAT!r})")
    config = dict(payload["config"])
    model = MODELS[config.pop("model", "VAE")](**config)
    model.load_state_dict(payload["state_dict"])
    model.metadata = payload["metadata"]
    return model.eval()


def pretrained_names() -> list[str]:
    """The names of the shipped checkpoints."""
    return sorted(p.stem for p in PRETRAINED_DIR.glob("*.pt"))


def load_pretrained(name: str) -> VAE:
    """A shipped checkpoint by name (see ``pretrained_names()``), in eval mode.

    Its provenance (script, seed, data, iterations, versions, test metrics) is in
    ``model.metadata``, and in ``PRETRAINED_DIR / f"{name}.json"``.
    """
    path = PRETRAINED_DIR / f"{name}.pt"
    if not path.exists():
        raise FileNotFoundError(
            f"no pretrained checkpoint {name!r}; shipped: {', '.join(pretrained_names()) or 'none'}"
        )
    return load_checkpoint(path)
