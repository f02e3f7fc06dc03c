"""Training a VAE with Adam on dynamically binarized images, with a progress bar."""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from course_utils.checkpoints import save_checkpoint
from course_utils.data import binarize_dynamic, check_images
from course_utils.language import msg
from course_utils.models import VAE, check_objective

T = TypeVar("T")

__all__ = [
    "TrainingHistory",
    "UnfinishedError",
    "progress_enabled",
    "require_finished",
    "set_seed",
    "train",
]


def set_seed(seed: int) -> None:
    """Seed Python's, numpy's and torch's global generators (the ones students' code draws from)."""
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 (the legacy global generator is what students may use)
    torch.manual_seed(seed)


class UnfinishedError(RuntimeError):
    """A cell needs the result of a training (or optimization) cell that did not finish."""


def require_finished(result: T | None, cell: str) -> T:
    """``result``, which ``cell`` sets once it finishes; if it is still None, an
    ``UnfinishedError`` saying so, instead of going on with an untrained model.

    The notebooks' training cells set their result to None first and to the trained model
    (or the recorded trace) last, so a cell that failed half-way leaves None behind.
    """
    if result is None:
        raise UnfinishedError(
            f"{cell} did not finish, so there is nothing trained to show here: fix the error it "
            "reported (often one of your functions above), run it again, then this cell"
        )
    return result


def progress_enabled() -> bool:
    """Whether to show progress bars: not under nbgrader (``NBGRADER_EXECUTION``) or when
    ``VAE_COURSE_QUIET`` is set."""
    return not (os.environ.get("NBGRADER_EXECUTION") or os.environ.get("VAE_COURSE_QUIET"))


@dataclass
class TrainingHistory:
    """What ``train`` measured.

    Attributes:
        iterations: the iteration at the end of each logging window, ``(n_logs,)``.
        metrics: summary name (``train/loss``, ``gen/elbo``, ``gen/kl_z``, ``gen/rec``)
            -> its mean over each logging window, ``(n_logs,)``.
        seconds: wall-clock training time.
        images_per_second: training throughput.
        monitor_iterations: the iterations at which the ``monitor`` sets were measured,
            ``(n_checks,)``.
        monitored: ``monitor`` set name -> its negative ELBO (nats per image) at each of
            ``monitor_iterations``, ``(n_checks,)``: a held-out curve shows overfitting.
    """

    iterations: list[int] = field(default_factory=list)
    metrics: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0
    images_per_second: float = 0.0
    monitor_iterations: list[int] = field(default_factory=list)
    monitored: dict[str, list[float]] = field(default_factory=dict)

    def last(self, name: str = "train/loss") -> float:
        """The latest logged value of ``name``."""
        if not self.iterations:
            raise ValueError("no training iterations were logged")
        return self.metrics[name][-1]


def _check_training_images(x: Tensor) -> None:
    check_images(x, "train", "images")
    if len(x) == 0:
        raise ValueError("train got an empty training set")
    low, high = x.min().item(), x.max().item()
    if low < 0 or high > 1:
        raise ValueError(
            f"train expects grey levels in [0, 1] (it binarizes each batch), got values in "
            f"[{low}, {high}]; divide 8-bit images by 255"
        )


@dataclass(frozen=True)
class _Recipe:
    """The settings of a ``train`` run (see its arguments); those the checkpoint records
    first, in the order it records them."""

    iterations: int
    batch_size: int
    lr: float
    iw: int
    beta: float
    warmup: int
    seed: int
    log_every: int
    monitor_every: int

    def check(self, n_images: int) -> None:
        """Raise a ValueError naming the first setting out of range for ``n_images`` images."""
        if not 1 <= self.batch_size <= n_images:
            raise ValueError(f"batch_size must be in [1, {n_images}], got {self.batch_size}")
        if min(self.iterations, self.log_every, self.iw, self.monitor_every) < 1:
            raise ValueError("iterations, log_every, monitor_every and iw must be positive")
        if self.warmup < 0 or (self.warmup and self.iw != 1):
            raise ValueError(
                f"warmup={self.warmup!r}: KL warm-up weights the KL term of the ELBO, so it needs "
                "warmup >= 0 and iw = 1"
            )
        check_objective(self.iw, self.beta)

    def kl_weight(self, i: int) -> float:
        """The weight of the KL term at iteration ``i`` (from 1): ``beta``, after the warm-up."""
        return self.beta * min(1.0, i / self.warmup) if self.warmup else self.beta

    def recorded(self) -> dict[str, int | float]:
        """What the checkpoint of the run records about it."""
        names = ("iterations", "batch_size", "lr", "iw", "beta", "warmup", "seed")
        return {name: getattr(self, name) for name in names}


def _batches(n: int, batch_size: int, generator: torch.Generator):
    """Endless minibatch indices: a fresh permutation each epoch, the last partial batch dropped."""
    while True:
        order = torch.randperm(n, generator=generator)
        for start in range(0, n - batch_size + 1, batch_size):
            yield order[start : start + batch_size]


@torch.no_grad()
def _monitor(model: VAE, images: dict[str, Tensor], history: TrainingHistory, i: int) -> None:
    """Append the negative ELBO of each binarized set in ``images`` (``(n, 784)`` each) to
    ``history``, drawing from a fixed seed without moving the training's random stream."""
    model.eval()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        for name, x in images.items():
            total = sum(
                model.negative_elbo_bound(x[start : start + 1000])[0].item()
                * len(x[start : start + 1000])
                for start in range(0, len(x), 1000)
            )
            history.monitored.setdefault(name, []).append(total / len(x))
    history.monitor_iterations.append(i)
    model.train()


def train(
    model: VAE,
    x_train: Tensor,
    *,
    iterations: int = 20_000,
    batch_size: int = 100,
    lr: float = 1e-3,
    iw: int = 1,
    beta: float = 1.0,
    warmup: int = 0,
    seed: int = 0,
    log_every: int = 100,
    checkpoint: str | Path | None = None,
    progress: bool | None = None,
    monitor: dict[str, Tensor] | None = None,
    monitor_every: int = 500,
) -> TrainingHistory:
    """Train ``model`` by minimizing ``model.loss`` with Adam (CS236's recipe).

    Each iteration draws a minibatch without replacement and binarizes it afresh
    (``binarize_dynamic``), so the model never sees the same binary image twice.

    Args:
        model: the VAE; its ``negative_elbo_bound`` must be implemented.
        x_train: ``(n, 784)`` grey levels in [0, 1] on the model's device.
        iterations: the number of Adam steps.
        batch_size: images per step (at most ``n``).
        lr: Adam's learning rate.
        iw: importance samples per image: 1 minimizes the negative ELBO, more the
            negative IWAE bound (``model.loss(x, iw, beta)``).
        beta: the weight of the ELBO's KL term (beta-VAE; 1 is the ELBO, and the only
            value allowed with ``iw > 1``, see ``VAE.loss``).
        warmup: KL warm-up: the KL term's weight rises linearly from ``beta / warmup`` to
            ``beta`` over the first ``warmup`` iterations, then stays at ``beta`` (Bowman et
            al. 2016, sec. 3.1; Sønderby et al. 2016, sec. 2.3); 0 for none. With ``iw = 1``
            only.
        seed: seeds the global generators (and so the sampling in ``loss``) and the batch order.
        log_every: iterations per logging window of the history.
        checkpoint: if given, where to save the trained model (``save_checkpoint``).
        progress: show a progress bar; default ``progress_enabled()``.
        monitor: name -> binarized images ``(n, 784)`` whose negative ELBO is measured
            before training and every ``monitor_every`` iterations (say the test set and
            as many fixed training images): ``history.monitored``. Measuring does not
            change the training: the same seed gives the same model with or without it.
        monitor_every: iterations between two measurements of ``monitor``.

    Returns:
        The ``TrainingHistory``.
    """
    recipe = _Recipe(iterations, batch_size, lr, iw, beta, warmup, seed, log_every, monitor_every)
    _check_training_images(x_train)
    recipe.check(len(x_train))
    set_seed(seed)
    history = _optimize(model, x_train, recipe, progress, monitor or {})
    model.eval()
    if checkpoint is not None:
        save_checkpoint(model, checkpoint, **recipe.recorded(), final_loss=history.last())
    return history


def _optimize(
    model: VAE,
    x_train: Tensor,
    recipe: _Recipe,
    progress: bool | None,
    monitor: dict[str, Tensor],
) -> TrainingHistory:
    """The Adam steps of ``train`` (its arguments in ``recipe``), the global generators seeded:
    what they measured, the time spent measuring ``monitor`` left out."""
    batch_order = torch.Generator().manual_seed(recipe.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=recipe.lr)
    history = TrainingHistory()
    window: dict[str, Tensor] = {}
    model.train()
    bar = tqdm(
        total=recipe.iterations,
        desc=str(msg("training.progress", "training {model}", model=model.name)),
        unit="it",
        disable=not (progress_enabled() if progress is None else progress),
    )
    if monitor:
        _monitor(model, monitor, history, 0)
    start = time.perf_counter()
    monitoring = 0.0  # seconds spent measuring ``monitor``, not training
    with bar:
        for i, index in enumerate(_batches(len(x_train), recipe.batch_size, batch_order), start=1):
            x = binarize_dynamic(x_train[index])
            optimizer.zero_grad(set_to_none=True)
            loss, summaries = model.loss(x, recipe.iw, recipe.kl_weight(i))
            loss.backward()
            optimizer.step()
            for name, value in summaries.items():
                window[name] = window.get(name, 0.0) + value.detach()
            last = i == recipe.iterations
            if i % recipe.log_every == 0 or last:
                _close_window(history, window, i, recipe.log_every, bar)
            if monitor and (i % recipe.monitor_every == 0 or last):
                checked = time.perf_counter()
                _monitor(model, monitor, history, i)
                monitoring += time.perf_counter() - checked
            if last:
                break
    history.seconds = time.perf_counter() - start - monitoring
    history.images_per_second = recipe.iterations * recipe.batch_size / history.seconds
    return history


def _close_window(
    history: TrainingHistory, window: dict[str, Tensor], i: int, log_every: int, bar: tqdm
) -> None:
    """Log the means of the summaries summed in ``window`` over the iterations up to ``i``
    (the logging window: ``log_every`` iterations, or fewer at the end), and empty it."""
    steps = (i - 1) % log_every + 1
    history.iterations.append(i)
    for name, total in window.items():
        history.metrics.setdefault(name, []).append(total.item() / steps)
    window.clear()
    bar.set_postfix(loss=f"{history.last():.2f}", refresh=False)
    bar.update(steps)
