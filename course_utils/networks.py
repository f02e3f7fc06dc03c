"""Encoder and decoder networks, by architecture name.

``ARCHITECTURES`` maps a name to its ``(Encoder, Decoder)`` classes; ``VAE(nn=...)``
looks the name up there. A new architecture is two classes and one entry.
"""

from __future__ import annotations

from torch import Tensor, nn

from course_utils.data import IMAGE_DIM
from course_utils.distributions import gaussian_parameters

__all__ = [
    "ARCHITECTURES",
    "IMAGE_DIM",
    "MLPDecoder",
    "MLPEncoder",
    "architecture",
]


def _check_input(module: str, x: Tensor, dim: int, what: str) -> None:
    """Raise a ValueError naming ``module`` unless ``x`` has shape ``(..., dim)``."""
    if x.dim() == 0 or x.shape[-1] != dim:
        images = x.dim() >= 2 and tuple(x.shape[-2:]) == (28, 28)
        hint = " (flatten images with x.reshape(len(x), -1))" if images else ""
        raise ValueError(
            f"{module} expects {what} of shape (..., {dim}), got {tuple(x.shape)}{hint}"
        )


def _mlp(in_dim: int, hidden: int, out_dim: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(in_dim, hidden),
        nn.ELU(),
        nn.Linear(hidden, hidden),
        nn.ELU(),
        nn.Linear(hidden, out_dim),
    )


class MLPEncoder(nn.Module):
    """q(z | x): 784-300-300-(2 z_dim) MLP with ELU (CS236's ``v1``).

    ``forward(x)``: ``x (..., 784)`` -> ``(m, v)``, each ``(..., z_dim)``; ``v`` is a
    variance (softplus + 1e-8). Any leading dimensions pass through, as through
    ``nn.Linear``: ``(batch, 784)`` and ``(iw, batch, 784)`` both work.
    """

    def __init__(self, z_dim: int, hidden: int = 300) -> None:
        super().__init__()
        self.z_dim = z_dim
        self.net = _mlp(IMAGE_DIM, hidden, 2 * z_dim)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        _check_input("the encoder", x, IMAGE_DIM, "images")
        return gaussian_parameters(self.net(x), dim=-1)

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The CS236 name for ``forward``."""
        return self(x)


class MLPDecoder(nn.Module):
    """p(x | z): z_dim-300-300-784 MLP with ELU (CS236's ``v1``).

    ``forward(z)``: ``z (..., z_dim)`` -> Bernoulli logits ``(..., 784)``. Any leading
    dimensions pass through: samples ``(iw, batch, z_dim)`` or ``(batch, iw, z_dim)`` decode
    in one call.
    """

    def __init__(self, z_dim: int, hidden: int = 300) -> None:
        super().__init__()
        self.z_dim = z_dim
        self.net = _mlp(z_dim, hidden, IMAGE_DIM)

    def forward(self, z: Tensor) -> Tensor:
        _check_input("the decoder", z, self.z_dim, "latents")
        return self.net(z)

    def decode(self, z: Tensor) -> Tensor:
        """The CS236 name for ``forward``."""
        return self(z)


ARCHITECTURES: dict[str, tuple[type[nn.Module], type[nn.Module]]] = {
    "v1": (MLPEncoder, MLPDecoder),
}


def architecture(name: str) -> tuple[type[nn.Module], type[nn.Module]]:
    """The ``(Encoder, Decoder)`` classes registered as ``name``."""
    try:
        return ARCHITECTURES[name]
    except KeyError:
        known = ", ".join(repr(k) for k in ARCHITECTURES)
        raise ValueError(f"unknown architecture {name!r}; known: {known}") from None
