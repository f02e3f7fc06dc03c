"""Test-set bounds of a trained VAE: NELBO, KL, Rec and -IWAE-k, in bounded memory."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
from torch import Tensor
from torch.distributions import Bernoulli, Normal, kl_divergence
from tqdm.auto import tqdm

from course_utils.data import check_images
from course_utils.language import msg
from course_utils.models import VAE, GaussianPrior
from course_utils.training import progress_enabled, set_seed

__all__ = [
    "Evaluation",
    "active_units",
    "best_gaussian_elbo",
    "evaluate",
    "evaluate_elbo",
    "evaluate_iwae",
    "kl_per_dimension",
]

#: The most decoder rows (importance samples x images) evaluated at once:
#: 50,000 rows of 784 logits are 157 MB in float32.
MAX_ROWS = 50_000


@dataclass
class Evaluation:
    """Test-set averages (in nats per image) of a model's bounds.

    Attributes:
        nelbo, kl, rec: the negative ELBO and its two terms.
        niwae: k -> the negative IWAE bound with k importance samples.
        n_images: how many test images were averaged.
    """

    nelbo: float
    kl: float
    rec: float
    niwae: dict[int, float] = field(default_factory=dict)
    n_images: int = 0

    def table(self) -> str:
        """A small plain-text table of the values."""
        rows = [("NELBO", self.nelbo), ("KL", self.kl), ("Rec", self.rec)]
        rows += [(f"-IWAE-{k}", v) for k, v in sorted(self.niwae.items())]
        width = max(len(name) for name, _ in rows)
        lines = [f"{name:<{width}}  {value:8.2f}" for name, value in rows]
        return "\n".join([f"({self.n_images} test images, nats)", *lines])


def check_binary_images(x: Tensor) -> None:
    """Raise ValueError unless ``x`` is a non-empty (n, 784) batch of 0/1 images."""
    check_images(x, what="binarized images")
    if len(x) == 0:
        raise ValueError("got no images to evaluate")
    if not torch.all((x == 0) | (x == 1)):
        raise ValueError(
            "expected binarized images (values in {0, 1}); binarize test images once with "
            "course_utils.data.binarize_fixed"
        )


def _batch_means(
    bound: Callable[[Tensor], tuple[Tensor, Tensor, Tensor]],
    x: Tensor,
    batch_size: int,
    desc: str,
) -> tuple[float, float, float]:
    """Image-weighted averages of a bound's three batch means over ``x`` in chunks."""
    totals = torch.zeros(3, dtype=torch.float64)
    chunks = range(0, len(x), batch_size)
    for start in tqdm(chunks, desc=desc, leave=False, disable=not progress_enabled()):
        chunk = x[start : start + batch_size]
        values = torch.stack([v.detach().double() for v in bound(chunk)])
        totals += values.cpu() * len(chunk)
    nb, kl, rec = (totals / len(x)).tolist()
    return nb, kl, rec


@torch.no_grad()
def evaluate_elbo(model: VAE, x: Tensor, *, batch_size: int = 1000, seed: int = 0) -> Evaluation:
    """The negative ELBO and its terms averaged over binarized images ``x (n, 784)``."""
    check_binary_images(x)
    set_seed(seed)
    model.eval()
    nelbo, kl, rec = _batch_means(model.negative_elbo_bound, x, batch_size, "NELBO")
    return Evaluation(nelbo=nelbo, kl=kl, rec=rec, n_images=len(x))


@torch.no_grad()
def evaluate_iwae(
    model: VAE, x: Tensor, ks: Iterable[int] = (1, 10, 100, 1000), *, seed: int = 0
) -> dict[int, float]:
    """-IWAE-k averaged over binarized images ``x (n, 784)``, for each k in ``ks``.

    Images go through ``model.negative_iwae_bound`` in chunks of ``MAX_ROWS // k``,
    so memory stays bounded for any k up to ``MAX_ROWS``.
    """
    check_binary_images(x)
    model.eval()
    result = {}
    for k in ks:
        if not 1 <= k <= MAX_ROWS:
            raise ValueError(f"k must be in [1, {MAX_ROWS}], got {k}")
        set_seed(seed)
        batch_size = max(1, MAX_ROWS // k)
        niwae, _, _ = _batch_means(
            lambda chunk, k=k: model.negative_iwae_bound(chunk, k), x, batch_size, f"IWAE-{k}"
        )
        result[k] = niwae
    return result


def evaluate(
    model: VAE, x: Tensor, ks: Iterable[int] = (1, 10, 100, 1000), *, seed: int = 0
) -> Evaluation:
    """``evaluate_elbo`` and ``evaluate_iwae`` together (pass ``ks=()`` to skip IWAE)."""
    result = evaluate_elbo(model, x, seed=seed)
    result.niwae = evaluate_iwae(model, x, ks, seed=seed)
    return result


@torch.no_grad()
def active_units(model: VAE, x: Tensor, threshold: float = 0.01) -> tuple[int, Tensor]:
    """The latent units the encoder uses (Burda et al. 2016, sec. 5.2).

    Unit ``u`` is active when ``Cov_x(E_{q(z|x)}[z_u]) > threshold``: its posterior mean
    moves from image to image. A collapsed unit keeps q(z_u|x) at the prior for every x.

    Args:
        model: a VAE.
        x: binarized images, shape ``(n, 784)`` in ``{0, 1}``, ``n >= 2``.
        threshold: the variance above which a unit counts as active (0.01 in the paper).

    Returns:
        ``(count, variances)``: the number of active units and the variance over ``x``
        of each unit's posterior mean, shape ``(z_dim,)``.
    """
    check_binary_images(x)
    if len(x) < 2:
        raise ValueError("active_units needs at least 2 images to measure a variance")
    model.eval()
    m, _ = model.enc(x)  # (n, z_dim)
    variances = m.var(0, correction=0)
    return int((variances > threshold).sum()), variances


@torch.no_grad()
def kl_per_dimension(model: VAE, x: Tensor, *, batch_size: int = 1000) -> Tensor:
    """The KL term of each latent dimension, ``KL(q(z_u | x) || p(z_u))`` in closed form,
    averaged over the images: how much information each unit carries (a collapsed unit
    carries about 0 nats for every image). Their sum is the ELBO's KL term.

    Args:
        model: a VAE with its Gaussian prior (not a GMVAE: a mixture's KL does not split
            over dimensions).
        x: binarized images, shape ``(n, 784)`` in ``{0, 1}``.
        batch_size: images per encoder call.

    Returns:
        ``(z_dim,)`` float64, in nats, on the CPU.
    """
    if not isinstance(model.prior, GaussianPrior):
        raise ValueError(
            f"kl_per_dimension needs a Gaussian prior, whose KL splits over the latent "
            f"dimensions; {model.name!r} has a {type(model.prior).__name__}"
        )
    check_binary_images(x)
    model.eval()
    prior = Normal(model.z_prior_m.double(), model.z_prior_v.double().sqrt())
    total = torch.zeros(model.z_dim, dtype=torch.float64)
    for start in range(0, len(x), batch_size):
        m, v = model.enc(x[start : start + batch_size])  # (batch, z_dim) each
        q = Normal(m.double(), v.double().sqrt())
        total += kl_divergence(q, prior).sum(0).cpu()
    return total / len(x)


def _elbo_of_gaussian(model: VAE, x: Tensor, m: Tensor, log_v: Tensor, samples: int) -> Tensor:
    """A Monte Carlo ELBO of ``q = N(m, diag(exp(log_v)))`` for each image, with ``samples``
    reparameterized samples and the KL to the prior in closed form: ``(n,)``."""
    q = Normal(m, (0.5 * log_v).exp())
    z = q.rsample((samples,))  # (samples, n, z_dim)
    log_px_z = Bernoulli(logits=model.dec(z)).log_prob(x).sum(-1).mean(0)  # (n,)
    prior = Normal(model.z_prior_m, model.z_prior_v.sqrt())
    return log_px_z - kl_divergence(q, prior).sum(-1)


def best_gaussian_elbo(
    model: VAE,
    x: Tensor,
    *,
    steps: int = 300,
    samples: int = 32,
    lr: float = 0.02,
    final_samples: int = 4096,
    seed: int = 0,
) -> tuple[Tensor, Tensor]:
    """The ELBO of the encoder's q(z|x), and of the best diagonal Gaussian q for each image.

    The best q is found by optimization, as Cremer et al. (2018) do to split the gap
    ``log p(x) - ELBO`` into an approximation gap (the family of q) and an amortization gap
    (the encoder): starting from the encoder's ``(m, v)``, Adam with learning rate ``lr``
    maximizes each image's Monte Carlo ELBO (``samples`` reparameterized samples per step,
    the KL in closed form) over its own mean and log-variance for ``steps`` steps. Both ELBOs
    are then estimated with ``final_samples`` samples, ``samples`` at a time. The model is
    not changed.

    Args:
        model: a VAE.
        x: binarized images, shape ``(n, 784)`` in ``{0, 1}``.

    Returns:
        ``(encoder, best)``: the ELBO of the encoder's q and of the optimized q, each ``(n,)``
        in nats; ``best - encoder`` is the amortization gap, up to Monte Carlo error.
    """
    check_binary_images(x)
    set_seed(seed)
    model.eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    try:
        with torch.no_grad():
            m0, v0 = model.enc(x)
        m = m0.clone().requires_grad_()
        log_v = v0.log().clone().requires_grad_()
        optimizer = torch.optim.Adam([m, log_v], lr=lr)
        desc = str(msg("evaluation.best_q", "best q"))
        for _ in tqdm(range(steps), desc=desc, leave=False, disable=not progress_enabled()):
            optimizer.zero_grad()
            (-_elbo_of_gaussian(model, x, m, log_v, samples).sum()).backward()
            optimizer.step()
        with torch.no_grad():
            chunks = max(1, final_samples // samples)  # memory of ``samples`` per step
            encoder, best = (
                torch.stack(
                    [_elbo_of_gaussian(model, x, mean, lv, samples) for _ in range(chunks)]
                ).mean(0)
                for mean, lv in ((m0, v0.log()), (m, log_v))
            )
    finally:
        for parameter in model.parameters():
            parameter.requires_grad_(True)
    return encoder, best
