"""Figures of the course: image grids, samples, reconstructions, training curves, 2-D latent
spaces (with a mixture prior's components), Jensen's inequality, the bounds on log p(x), and
the rate-distortion trade-off and per-unit KL of notebook 4.

Every function returns a ``matplotlib.figure.Figure`` and never calls ``plt.show()``. New
figures are ``CourseFigure`` objects (``subplots`` makes one for a notebook's own panels),
made without pyplot, so nothing is left in pyplot's global state and any backend works (Agg
included); in Jupyter a returned figure displays as the cell's output. Functions that draw a
single panel accept ``ax=``: they then draw into that axes and return its figure.

matplotlib is imported when the first figure is made, not with this module: under nbgrader
the notebooks' set-up cells import this module and draw nothing (0.4 s of each notebook's
grading run).

Images are tensors or arrays of shape ``(n, 784)`` or ``(n, 28, 28)`` with values in [0, 1]
(grey levels, Bernoulli means or binary pixels).

Titles, axis labels and legends are in the reader's language (``course_utils.language``);
what the caller passes (labels, names, titles) is drawn as given.
"""

from __future__ import annotations

import functools
import io
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from course_utils.data import check_images
from course_utils.distributions import normal_quantiles
from course_utils.language import Message, msg
from course_utils.models import GMVAE, VAE, check_latent_2d, decode_means, encode_means
from course_utils.training import TrainingHistory

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.patches import Ellipse

__all__ = [
    "CourseFigure",  # noqa: F822 (made on first use, by __getattr__)
    "component_ellipses",
    "figure_png",
    "image_grid",
    "plot_active_units",
    "plot_bound_gap",
    "plot_bounds_vs_k",
    "plot_component_samples",
    "plot_gap_vs_k",
    "plot_heldout_curves",
    "plot_jensen",
    "plot_kl_per_dimension",
    "plot_latent_scatter",
    "plot_manifold",
    "plot_mixture_prior",
    "plot_rate_distortion",
    "plot_reconstructions",
    "plot_samples",
    "plot_seeds",
    "plot_training_curves",
    "subplots",
    "tile_images",
]

IMAGE_SIDE = 28
#: Display size of one 28x28 image in a new grid figure, in inches.
TILE_INCHES = 0.5
#: The panels of ``plot_training_curves``: (reference key, summary name, title).
TRAINING_CURVES = (
    ("nelbo", "train/loss", "NELBO"),
    ("kl", "gen/kl_z", "KL"),
    ("rec", "gen/rec", "Rec"),
)
#: Axis labels several figures share.
ITERATION = msg("plotting.iteration", "iteration")
IMPORTANCE_SAMPLES = msg("plotting.importance_samples", "k (importance samples)")
#: The legend label of ``plot_training_curves``' reference lines, unless the caller gives one.
REFERENCE_LABEL = msg("plotting.training.reference", "reference")


@functools.cache
def _course_figure() -> type[Figure]:
    """The class ``CourseFigure``, defined (and matplotlib imported) on first use."""
    from matplotlib.figure import Figure

    class CourseFigure(Figure):
        """A ``Figure`` that displays itself as a PNG in Jupyter, with no pyplot and no
        backend."""

        __qualname__ = "CourseFigure"  # as pickle and repr look it up: the module's attribute

        def _repr_png_(self) -> bytes:
            return figure_png(self)

    return CourseFigure


def __getattr__(name: str):
    """``CourseFigure``, made on first use (PEP 562), so that importing this module does not
    import matplotlib."""
    if name == "CourseFigure":
        return _course_figure()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _new_figure(**kwargs) -> Figure:
    """A new ``CourseFigure(**kwargs)``, laid out by ``"constrained"`` unless ``layout`` is
    given."""
    return _course_figure()(**{"layout": "constrained", **kwargs})


def _null_locator():
    """A locator of no ticks (matplotlib imported on first use)."""
    from matplotlib.ticker import NullLocator

    return NullLocator()


def subplots(nrows: int = 1, ncols: int = 1, **kwargs) -> tuple[Figure, Axes | np.ndarray]:
    """``plt.subplots`` without pyplot: a new ``CourseFigure`` and its axes, one ``Axes`` or an
    ``(nrows, ncols)`` array of them (squeezed as pyplot's). ``kwargs`` go to the figure
    (``figsize``; ``layout`` is ``"constrained"`` unless given). End the cell with the figure
    to show it."""
    fig = _new_figure(**kwargs)
    return fig, fig.subplots(nrows, ncols)


def figure_png(fig: Figure, *, dpi: float | None = None) -> bytes:
    """The PNG bytes of ``fig``, drawn with Agg whatever the backend (``dpi``: the figure's)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def _axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    """``ax`` and its root figure, or a new one-panel ``CourseFigure`` of ``figsize`` inches."""
    if ax is None:
        fig = _new_figure(figsize=figsize)
        return fig, fig.add_subplot()
    return ax.figure.figure, ax  # ax.figure may be a SubFigure; its .figure is the root


# Image grids


def _as_images(images: Tensor | np.ndarray) -> np.ndarray:
    """``(n, 784)`` or ``(n, 28, 28)`` tensor or array -> float32 array ``(n, 28, 28)``."""
    array = images.detach().cpu().numpy() if isinstance(images, Tensor) else np.asarray(images)
    if array.ndim == 2 and array.shape[1] == IMAGE_SIDE**2:
        array = array.reshape(len(array), IMAGE_SIDE, IMAGE_SIDE)  # (n, 784) -> (n, 28, 28)
    if array.ndim != 3 or array.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
        raise ValueError(f"expected images of shape (n, 784) or (n, 28, 28), got {array.shape}")
    if len(array) == 0:
        raise ValueError("got no images to draw")
    return array.astype(np.float32)


def tile_images(
    images: Tensor | np.ndarray, nrow: int, *, pad: int = 1, pad_value: float = 0.5
) -> np.ndarray:
    """Tile images row by row into one array, ``ncol = ceil(n / nrow)`` images per row.

    Args:
        images: ``(n, 784)`` or ``(n, 28, 28)`` in [0, 1].
        nrow: the number of rows, ``1 <= nrow <= n``.
        pad: pixels between neighbouring images.
        pad_value: grey level of the padding and of unused cells.

    Returns:
        ``(nrow * 28 + (nrow - 1) * pad, ncol * 28 + (ncol - 1) * pad)`` float32.
    """
    tiles = _as_images(images)
    if not 1 <= nrow <= len(tiles):
        raise ValueError(f"nrow must be in [1, {len(tiles)}] for {len(tiles)} images, got {nrow}")
    ncol = math.ceil(len(tiles) / nrow)
    step = IMAGE_SIDE + pad
    grid = np.full((nrow * step - pad, ncol * step - pad), pad_value, dtype=np.float32)
    for i, tile in enumerate(tiles):
        row, col = divmod(i, ncol)
        grid[row * step : row * step + IMAGE_SIDE, col * step : col * step + IMAGE_SIDE] = tile
    return grid


def _tile_centers(count: int, pad: int) -> np.ndarray:
    """Pixel coordinates of the centres of ``count`` consecutive tiles: ``(count,)``."""
    return np.arange(count) * (IMAGE_SIDE + pad) + (IMAGE_SIDE - 1) / 2


def _grid_figsize(nrow: int, ncol: int) -> tuple[float, float]:
    """Inches of a new figure holding an ``nrow x ncol`` image grid and a title."""
    return max(2.5, TILE_INCHES * ncol), max(1.5, TILE_INCHES * nrow + 0.4)


def image_grid(
    images: Tensor | np.ndarray,
    nrow: int,
    *,
    ax: Axes | None = None,
    title: str | Message | None = None,
    pad: int = 1,
) -> Figure:
    """Draw images in a grid of ``nrow`` rows, in grey levels (0 black, 1 white).

    Args:
        images: ``(n, 784)`` or ``(n, 28, 28)`` in [0, 1], placed row by row.
        nrow: the number of rows, ``1 <= nrow <= n``.
        ax: draw into this axes instead of a new figure.
        title: the axes title.
        pad: pixels between neighbouring images (see ``tile_images``).
    """
    grid = tile_images(images, nrow, pad=pad)
    fig, ax = _axes(ax, _grid_figsize(nrow, math.ceil(len(images) / nrow)))
    ax.imshow(grid, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.spines[:].set_visible(False)
    if title is not None:
        ax.set_title(title)
    return fig


# What a model generates


@contextmanager
def _seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Seeded global generators (restored on exit), without autograd."""
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), torch.no_grad():
        torch.manual_seed(seed)
        yield


def plot_samples(
    model: VAE, *, nrow: int = 10, ncol: int = 20, seed: int = 0, ax: Axes | None = None
) -> Figure:
    """A grid of the Bernoulli means ``model.sample_sigmoid(nrow * ncol)``, z drawn from p(z).

    The draw is seeded with ``seed``; the global random state is restored afterwards.
    """
    with _seeded(seed, next(model.parameters()).device):
        means = model.sample_sigmoid(nrow * ncol)  # (nrow * ncol, 784)
    title = msg(
        "plotting.samples.title", "{model}: Bernoulli means of p(x | z), z ~ p(z)", model=model.name
    )
    return image_grid(means, nrow, ax=ax, title=title)


def plot_reconstructions(
    model: VAE, x: Tensor, *, n: int = 10, seed: int = 0, ax: Axes | None = None
) -> Figure:
    """``n`` images of ``x`` (top row) above their reconstructions (bottom row).

    A reconstruction is the decoder's Bernoulli means at the encoder's mean:
    ``model.compute_sigmoid_given(m)`` with ``m, v = model.enc(x)``.

    Args:
        model: the VAE.
        x: ``(N, 784)`` in [0, 1]; ``n`` of them are picked at random, seeded by ``seed``
            (data sets are often sorted by label).
        n: the number of images, ``1 <= n <= N``.
    """
    check_images(x, "plot_reconstructions")
    if not 1 <= n <= len(x):
        raise ValueError(f"n must be in [1, {len(x)}] for {len(x)} images, got {n}")
    index = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:n]
    originals = x[index.to(x.device)].cpu()  # (n, 784)
    rebuilt = decode_means(model, encode_means(model, originals))  # (n, 784)
    fig, ax = _axes(ax, _grid_figsize(2, n))
    title = msg("plotting.reconstructions.title", "{model}: reconstructions", model=model.name)
    image_grid(torch.cat([originals, rebuilt]), 2, ax=ax, title=title)
    rows = [
        msg("plotting.reconstructions.data", "data"),
        msg("plotting.reconstructions.reconstruction", "reconstruction"),
    ]
    ax.set_yticks(_tile_centers(2, pad=1), rows)
    ax.tick_params(length=0)
    return fig


# Training


def _zoomed_limits(
    iterations: np.ndarray, values: np.ndarray, references: list[float], zoom_after: float
) -> tuple[float, float]:
    """y-limits fitting the references and the values logged from ``zoom_after * last`` on."""
    kept = [*values[iterations >= zoom_after * iterations[-1]], *references]
    low, high = min(kept), max(kept)
    margin = 0.1 * (high - low) or 1.0
    return low - margin, high + margin


def plot_training_curves(
    history: TrainingHistory,
    *,
    reference: Mapping[str, float] | None = None,
    reference_label: str | Message = REFERENCE_LABEL,
    zoom_after: float = 0.1,
) -> Figure:
    """NELBO, KL and Rec of the training batches against the iteration, one panel each.

    Args:
        history: from ``course_utils.training.train``; ``iterations`` and the metrics
            ``train/loss`` (the NELBO), ``gen/kl_z`` and ``gen/rec``, each ``(n_logs,)``.
        reference: optional values in nats under the keys ``'nelbo'``, ``'kl'``, ``'rec'``
            (e.g. a shipped checkpoint's test values, ``load_pretrained(name).metadata["test"]``),
            drawn as dashed horizontal lines.
        reference_label: the legend label of those lines.
        zoom_after: each y-axis fits the values logged after this fraction of the iterations,
            and the references; the first iterations fall from hundreds of nats and would
            flatten the rest. ``0`` shows everything.
    """
    reference = dict(reference or {})
    unknown = set(reference) - {key for key, _, _ in TRAINING_CURVES}
    if unknown:
        raise ValueError(f"unknown reference keys {sorted(unknown)}; use 'nelbo', 'kl', 'rec'")
    missing = [name for _, name, _ in TRAINING_CURVES if name not in history.metrics]
    if not history.iterations or missing:
        raise ValueError(f"the history has no logged iterations, or lacks the metrics {missing}")
    iterations = np.asarray(history.iterations)
    fig = _new_figure(figsize=(12, 3.6))
    for ax, (key, name, title) in zip(fig.subplots(1, 3), TRAINING_CURVES, strict=True):
        values = np.asarray(history.metrics[name])
        batches = msg("plotting.training.batches", "training batches")
        ax.plot(iterations, values, color="C0", label=batches)
        references = [reference[key]] if key in reference else []
        for value in references:
            ax.axhline(value, color="C3", ls="--", label=f"{reference_label}: {value:g}")
        ax.set_ylim(_zoomed_limits(iterations, values, references, zoom_after))
        ax.set(title=title, xlabel=ITERATION, ylabel="nats")
        ax.legend()
    return fig


def plot_heldout_curves(
    runs: Mapping[str, Sequence[Mapping[str, Sequence[float]]]],
    *,
    skip_first: int = 1,
    ax: Axes | None = None,
) -> Figure:
    """The negative ELBO of held-out test images and of fixed training images during
    training, for each seed of each run: test solid, training dashed, one colour per run,
    thin lines per seed and a thick line for their mean; a dot marks the minimum of each
    run's mean test curve.

    Args:
        runs: label -> its seeds' curves, each a mapping with ``"iterations"``, ``"test"``
            and ``"train"``, of shape ``(n_checks,)`` (``course_utils.records.curves``, or a
            ``TrainingHistory``'s ``monitor_iterations`` and ``monitored``). The seeds of a run
            share their iterations.
        skip_first: checks left out at the start (the untrained model's ~545 nats would
            flatten the rest).
    """
    if not runs or not all(runs.values()):
        raise ValueError("runs needs at least one label with at least one curve")
    fig, ax = _axes(ax, (8.0, 4.5))
    for i, (label, seeds) in enumerate(runs.items()):
        iterations = np.asarray(seeds[0]["iterations"])[skip_first:]
        if any(list(curve["iterations"])[skip_first:] != iterations.tolist() for curve in seeds):
            raise ValueError(f"the curves of {label!r} are not measured at the same iterations")
        for key, style in (("test", "-"), ("train", "--")):
            lines = np.array([np.asarray(curve[key], dtype=float)[skip_first:] for curve in seeds])
            for line in lines if len(lines) > 1 else ():
                ax.plot(iterations, line, style, color=f"C{i}", lw=0.7, alpha=0.4)
            if key == "test":
                images = msg("plotting.heldout.test_images", "test images")
            else:
                images = msg("plotting.heldout.training_images", "training images")
            mean = lines.mean(0)
            if len(lines) > 1:
                seeds_text = msg(
                    "plotting.heldout.mean_of_seeds", "mean of {n} seeds", n=len(lines)
                )
            else:
                seeds_text = msg("plotting.heldout.one_run", "one run")
            ax.plot(
                iterations,
                mean,
                style,
                color=f"C{i}",
                lw=2,
                label=f"{label}: {images}, {seeds_text}",
            )
            if key == "test":
                best = int(mean.argmin())
                ax.plot([iterations[best]], [mean[best]], "o", color=f"C{i}", ms=7)
    ax.set(
        xlabel=ITERATION,
        ylabel=msg("plotting.heldout.ylabel", "negative ELBO (nats per image)"),
        title=msg(
            "plotting.heldout.title", "Held-out curves: the minimum of each test curve is a dot"
        ),
    )
    ax.legend(fontsize=8)
    return fig


def plot_seeds(
    panels: Mapping[str, Mapping[str, Sequence[float]]],
    *,
    ylabel: str = "nats",
) -> Figure:
    """Measures of several configurations over their training seeds: one panel per measure,
    one column per configuration, each seed a dot and their mean ± one standard deviation an
    error bar.

    Args:
        panels: measure (the panel's title) -> configuration label -> ``(seeds,)`` values.
        ylabel: the y-axis label of every panel.
    """
    if not panels or not all(panels.values()):
        raise ValueError("panels needs at least one measure with at least one configuration")
    fig = _new_figure(figsize=(4.2 * len(panels), 4.0))
    axes = np.atleast_1d(fig.subplots(1, len(panels)))
    for ax, (title, columns) in zip(axes, panels.items(), strict=True):
        for j, seeds in enumerate(columns.values()):
            seeds = np.asarray(seeds, dtype=float)
            if seeds.ndim != 1 or seeds.size == 0:
                raise ValueError(f"{title!r}: each configuration needs a 1-D list of seeds")
            spread = seeds.std(ddof=1) if seeds.size > 1 else 0.0
            ax.errorbar([j], [seeds.mean()], yerr=[spread], fmt="s", color=f"C{j}", capsize=6, ms=7)
            ax.plot(np.full(seeds.size, j + 0.12), seeds, ".", color="black", ms=5)
        ax.set_xticks(range(len(columns)), list(columns), rotation=20, ha="right")
        ax.set_xlim(-0.6, len(columns) - 0.4)
        ax.set(title=title, ylabel=ylabel)
    fig.suptitle(
        msg("plotting.seeds.title", "mean ± sd over the training seeds (squares); each seed a dot")
    )
    return fig


# The latent plane of a z_dim=2 model


def plot_latent_scatter(
    model: VAE, x: Tensor, y: Tensor | np.ndarray, *, ax: Axes | None = None
) -> Figure:
    """The encoder means of ``x`` in the latent plane, coloured by label (z_dim=2 only).

    Args:
        model: a VAE with ``z_dim=2``.
        x: ``(n, 784)`` in [0, 1].
        y: ``(n,)`` integer labels (digits 0-9), one legend entry each.
    """
    check_latent_2d(model, "plot_latent_scatter")
    labels = np.asarray(y.cpu() if isinstance(y, Tensor) else y)
    if labels.shape != (len(x),):
        raise ValueError(f"y must hold one label per image, shape ({len(x)},), got {labels.shape}")
    z = encode_means(model, x).numpy()  # (n, 2)
    fig, ax = _axes(ax, (6, 5))
    from matplotlib import colormaps

    colours = colormaps["tab10"]
    for i, label in enumerate(np.unique(labels)):
        chosen = z[labels == label]
        ax.scatter(
            chosen[:, 0], chosen[:, 1], s=6, alpha=0.7, color=colours(i % 10), label=str(label)
        )
    legend = msg("plotting.latent.label", "label")
    ax.legend(title=legend, markerscale=2.5, loc="center left", bbox_to_anchor=(1.0, 0.5))
    title = msg(
        "plotting.latent.title", "{model}: encoder means of {n} images", model=model.name, n=len(x)
    )
    ax.set(xlabel="$z_1$", ylabel="$z_2$", title=title)
    ax.set_aspect("equal")
    return fig


def plot_manifold(
    model: VAE,
    *,
    n: int = 20,
    extent: tuple[float, float] | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Decode an ``n x n`` grid of latent points into a grid of Bernoulli means (z_dim=2 only).

    Each axis takes ``n`` values, increasing: by default the standard-normal quantiles
    ``normal_quantiles(n)``, so each cell covers equal prior mass (Kingma & Welling 2014,
    fig. 4); with ``extent=(lo, hi)``, ``linspace(lo, hi, n)``. Columns go through these values
    of ``z1`` left to right, rows through the same values of ``z2`` bottom to top; the axes are
    labelled with the z values.
    """
    check_latent_2d(model, "plot_manifold")
    if int(n) != n or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if extent is None:
        values = normal_quantiles(n).numpy()  # (n,)
    else:
        low, high = extent
        if not low < high:
            raise ValueError(f"extent must be (lo, hi) with lo < hi, got {extent}")
        values = np.linspace(low, high, n)  # (n,)
    z1, z2 = np.meshgrid(values, values[::-1])  # each (n, n); row i holds z2 = values[n - 1 - i]
    z = np.stack([z1.ravel(), z2.ravel()], axis=1)  # (n * n, 2), row-major like the image grid
    fig, ax = _axes(ax, (7, 7.3))
    title = msg("plotting.manifold.title", "{model}: decoded latent grid", model=model.name)
    image_grid(decode_means(model, z), n, ax=ax, pad=0, title=title)
    labelled = np.unique(np.linspace(0, n - 1, min(n, 7)).round().astype(int))  # ends included
    centers = _tile_centers(n, pad=0)[labelled]
    ax.set_xticks(centers, [f"{v:.2f}" for v in values[labelled]])
    ax.set_yticks(centers, [f"{v:.2f}" for v in values[::-1][labelled]])
    ax.set(xlabel="$z_1$", ylabel="$z_2$")
    return fig


# Jensen's inequality and the bounds on log p(x)


def _positive_samples(samples: Tensor | np.ndarray | Sequence[float]) -> np.ndarray:
    """``samples`` as a float64 array ``(n,)``, or a ValueError unless non-empty, 1-D, positive."""
    x = np.asarray(samples.cpu() if isinstance(samples, Tensor) else samples, dtype=np.float64)
    if x.ndim != 1 or len(x) == 0:
        raise ValueError(f"expected a non-empty 1-D array of samples, got shape {x.shape}")
    if not np.all(x > 0):
        raise ValueError(f"log x needs positive samples; the smallest is {x.min():g}")
    return x


def plot_jensen(
    samples: Tensor | np.ndarray | Sequence[float],
    gap: Callable[[Tensor], Tensor],
    *,
    ax: Axes | None = None,
) -> Figure:
    """Jensen's inequality for the log, drawn for the empirical distribution of ``samples``
    with the Jensen gap that ``gap`` computes (the student's ``jensen_gap`` of notebook 1).

    Draws the curve ``log x``, the points ``(x_i, log x_i)``, the chord between the extreme
    points, the point ``(E[X], log E[X])`` on the curve and, ``gap`` below it, the centre of
    mass of the points, ``(E[X], E[log X])``: with a correct ``gap`` it lies on or under the
    chord, under the curve.

    Args:
        samples: ``(n,)`` positive values of X.
        gap: ``(n,)`` float64 tensor of samples -> their Jensen gap, a scalar tensor.
    """
    x = _positive_samples(samples)
    mean, low, high = x.mean(), x.min(), x.max()
    log_e = float(np.log(mean))
    your_gap = float(gap(torch.as_tensor(x)))
    centre = log_e - your_gap
    margin = 0.05 * (high - low) or 0.5 * low
    curve = np.linspace(max(low - margin, low / 2), high + margin, 400)
    fig, ax = _axes(ax, (6.5, 4.5))
    ax.plot(curve, np.log(curve), color="C0", label="log x")
    samples_label = msg("plotting.jensen.samples", "samples $(x_i, \\log x_i)$")
    ax.plot(x, np.log(x), "o", color="C0", ms=4, alpha=0.3, label=samples_label)
    ax.plot(
        [low, high],
        np.log([low, high]),
        ":",
        color="grey",
        label=msg("plotting.jensen.chord", "chord"),
    )
    ax.plot([mean], [log_e], "o", color="C2", ms=9, label=f"log E[X] = {log_e:.3f}")
    centre_label = msg(
        "plotting.jensen.centre", "log E[X] - your gap = {centre:.3f}", centre=centre
    )
    ax.plot([mean], [centre], "s", color="C3", ms=8, label=centre_label)
    ax.vlines(mean, centre, log_e, color="black", lw=1.5)
    ax.annotate(
        str(msg("plotting.jensen.gap", "gap = {gap:.3f}", gap=your_gap)),
        xy=(mean, (centre + log_e) / 2),
        xytext=(8, 0),
        textcoords="offset points",
        va="center",
        bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8},
    )
    title = msg("plotting.jensen.title", "Jensen's inequality: E[log X] $\\leq$ log E[X]")
    ax.set(xlabel="x", ylabel="log x", title=title)
    ax.legend(loc="lower right")
    return fig


def plot_bound_gap(
    params: np.ndarray | Sequence[float],
    elbo: np.ndarray | Sequence[float],
    log_px: float,
    *,
    xlabel: str,
    ax: Axes | None = None,
) -> Figure:
    """The ELBO as a function of a variational parameter, under the exact log p(x).

    The shaded gap between them is KL(q || p(z|x)); the best q (largest ELBO) is marked.

    Args:
        params: ``(m,)`` values of the variational parameter.
        elbo: ``(m,)`` the ELBO at each of them, in nats.
        log_px: the exact log p(x), in nats.
        xlabel: the name of the parameter.
    """
    params, elbo = np.asarray(params, dtype=float), np.asarray(elbo, dtype=float)
    if params.ndim != 1 or params.shape != elbo.shape:
        raise ValueError(
            f"params and elbo must be 1-D of equal length, got {params.shape} and {elbo.shape}"
        )
    best = int(np.argmax(elbo))
    fig, ax = _axes(ax, (6.5, 4.5))
    ax.fill_between(params, elbo, log_px, color="C1", alpha=0.3, label="KL(q || p(z|x))")
    ax.axhline(log_px, color="black", label=f"log p(x) = {log_px:.3f}")
    ax.plot(params, elbo, color="C0", label="ELBO(q)")
    best_label = msg("plotting.gap.best", "best q: gap = {gap:.3g}", gap=log_px - elbo[best])
    ax.plot(params[best], elbo[best], "o", color="C0", label=best_label)
    title = msg("plotting.gap.title", "ELBO $\\leq$ log p(x); the gap is KL(q || p(z|x))")
    ax.set(xlabel=xlabel, ylabel="nats", title=title)
    ax.legend(loc="best")
    return fig


def plot_bounds_vs_k(
    ks: Sequence[int],
    values: Sequence[float],
    *,
    log_px: float | None = None,
    references: Mapping[str, Mapping[int, float]] | None = None,
    negative: bool = False,
    label: str | None = None,
    ax: Axes | None = None,
) -> Figure:
    """The IWAE bound against the number of importance samples k (log x-axis).

    Args:
        ks: ``(m,)`` positive numbers of samples.
        values: ``(m,)`` the bound for each k, in nats.
        log_px: optional exact log p(x), drawn as a horizontal line.
        references: optional name -> {k: value} series (e.g. CS236's numbers), drawn dashed.
        negative: the values (and ``log_px``) are negated, as in CS236's tables
            (-IWAE-k, -log p(x)); only the labels change.
        label: the legend label of ``values`` (default: the name of the bound).
    """
    ks_array, values = np.asarray(ks), np.asarray(values, dtype=float)
    if ks_array.ndim != 1 or ks_array.shape != values.shape or np.any(ks_array < 1):
        raise ValueError(
            f"ks (positive) and values must be 1-D of equal length, got {ks} and {values}"
        )
    sign = "-" if negative else ""
    if negative:
        bound = msg("plotting.bounds.negative_bound", "negative IWAE bound $-L_k$")
    else:
        bound = msg("plotting.bounds.bound", "IWAE bound $L_k$")
    fig, ax = _axes(ax, (6.5, 4.5))
    ax.plot(ks_array, values, "o-", color="C0", label=label or bound)
    if log_px is not None:
        ax.axhline(log_px, color="black", label=f"{sign}log p(x) = {log_px:.2f}")
    ticks = set(ks_array.tolist())
    for i, (name, series) in enumerate((references or {}).items(), start=1):
        ref_ks = sorted(series)
        ax.plot(ref_ks, [series[k] for k in ref_ks], "s--", color=f"C{i}", label=name)
        ticks.update(ref_ks)
    ax.set_xscale("log")
    ax.set_xticks(sorted(ticks), [str(k) for k in sorted(ticks)])
    ax.xaxis.set_minor_locator(_null_locator())
    title = msg("plotting.bounds.title", "{bound} against k", bound=bound)
    ax.set(xlabel=IMPORTANCE_SAMPLES, ylabel="nats", title=title)
    ax.legend()
    return fig


def plot_gap_vs_k(
    ks: Sequence[int], gaps: Mapping[str, Sequence[float]], *, ax: Axes | None = None
) -> Figure:
    """How far the IWAE bound stays below log p(x): ``log p(x) - L_k`` against k, log-log.

    For large k the gap falls like ``Var(w / p(x)) / (2k)`` (Maddison et al. 2017, sec. 3),
    a line of slope -1 on these axes; a dotted guide of that slope spans the decade before each
    series' last drawn point, so a series not yet parallel to its guide is not in that regime.

    Args:
        ks: ``(m,)`` positive numbers of samples, increasing.
        gaps: series name (e.g. a set of images) -> ``(m,)`` gaps ``log p(x) - L_k`` in
            nats, estimates of a positive quantity. An estimate ``<= 0`` (the gap is below
            the Monte Carlo error) has no place on a log axis: it is left out, and the
            legend says for which k.
    """
    ks_array = np.asarray(ks, dtype=float)
    if ks_array.ndim != 1 or np.any(ks_array < 1) or np.any(np.diff(ks_array) <= 0):
        raise ValueError(f"ks must be positive and increasing, got {ks}")
    if not gaps:
        raise ValueError("gaps holds no series")
    fig, ax = _axes(ax, (6.5, 4.5))
    for i, (name, series) in enumerate(gaps.items()):
        values = np.asarray(series, dtype=float)
        if values.shape != ks_array.shape:
            raise ValueError(f"series {name!r} has shape {values.shape}, ks {ks_array.shape}")
        shown = values > 0
        left_out = ", ".join(f"{k:g}" for k in ks_array[~shown])
        label = name
        if left_out:
            label = msg(
                "plotting.gaps.left_out",
                "{name} (k = {left_out} left out: gap <= 0)",
                name=name,
                left_out=left_out,
            )
        if not shown.any():
            ax.plot([], [], "o-", color=f"C{i}", label=label)
            continue
        k_shown, v_shown = ks_array[shown], values[shown]
        ax.plot(k_shown, v_shown, "o-", color=f"C{i}", label=label)
        # Slope -1 through the last point, over the decade before it (the whole range if
        # that point is the first): farther out it would only stretch the axis.
        start = max(ks_array[0], k_shown[-1] / 10)
        k_guide = np.array([start, k_shown[-1]]) if start < k_shown[-1] else ks_array
        guide = v_shown[-1] * k_shown[-1] / k_guide
        slope = msg("plotting.gaps.slope", "gap $\\propto$ 1/k") if i == 0 else None
        ax.plot(k_guide, guide, ":", color=f"C{i}", label=slope)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(ks_array, [f"{k:g}" for k in ks_array])
    ax.xaxis.set_minor_locator(_null_locator())
    ax.set(
        xlabel=IMPORTANCE_SAMPLES,
        ylabel="log p(x) - $L_k$ (nats)",
        title=msg("plotting.gaps.title", "The gap of the IWAE bound against k"),
    )
    ax.legend()
    return fig


#: The activity drawn for a unit whose posterior mean does not move at all (log axis).
ACTIVITY_FLOOR = 1e-8


def _per_unit(
    values: Mapping[str, Tensor | np.ndarray | Sequence[float]],
    name: str,
    needs: str,
    *,
    nonnegative: bool = False,
) -> dict[str, np.ndarray]:
    """``values`` (model name -> one value per latent unit) as flat float arrays. A ValueError
    naming the argument ``name`` if it holds no model, and one saying what each model
    ``needs`` if a model has no value (or, with ``nonnegative``, a negative one)."""
    if not values:
        raise ValueError(f"{name} holds no model")
    series = {model: np.asarray(v, dtype=float).ravel() for model, v in values.items()}
    if any(v.size == 0 or (nonnegative and np.any(v < 0)) for v in series.values()):
        raise ValueError(f"each model needs {needs} per latent unit")
    return series


def _ranked_bars(
    ax: Axes,
    series: Mapping[str, np.ndarray],
    threshold: float,
    counted: Callable[[str, int], Message],
    *,
    floor: float | None = None,
) -> None:
    """Each model's values as bars, largest first, the models' bars side by side at each rank
    (heights at least ``floor``, for a log axis); the legend counts each model's values above
    ``threshold``: ``counted(model, count)``."""
    width = 0.8 / len(series)
    for i, (name, values) in enumerate(series.items()):
        ranked = np.sort(values)[::-1]
        count = int((values > threshold).sum())
        positions = np.arange(len(ranked)) + (i - (len(series) - 1) / 2) * width
        heights = ranked if floor is None else np.maximum(ranked, floor)
        ax.bar(positions, heights, width, color=f"C{i}", label=counted(name, count))


def plot_active_units(
    variances: Mapping[str, Tensor | np.ndarray | Sequence[float]],
    *,
    threshold: float = 0.01,
    ax: Axes | None = None,
) -> Figure:
    """The activity of each latent unit, ``Cov_x(E_q[z_u | x])``, per model, most active first.

    Grouped bars on a log axis, with the threshold above which a unit counts as active
    (Burda et al. 2016, sec. 5.2) dashed; the legend gives each model's count.

    Args:
        variances: model name -> ``(z_dim,)`` variance over images of each unit's posterior
            mean (the second output of ``course_utils.evaluation.active_units``); each
            model's units are sorted by activity, as units of two models do not correspond.
        threshold: the activity threshold (0.01 in the paper).
    """
    series = _per_unit(variances, "variances", "one non-negative variance", nonnegative=True)
    units = max(len(v) for v in series.values())
    fig, ax = _axes(ax, (max(8.5, 0.45 * units + 2), 4.0))

    def active(name: str, count: int) -> Message:
        return msg("plotting.active.count", "{name}: {count} active", name=name, count=count)

    _ranked_bars(ax, series, threshold, active, floor=ACTIVITY_FLOOR)
    line = msg("plotting.active.threshold", "threshold {threshold:g}", threshold=threshold)
    ax.axhline(threshold, color="black", ls="--", label=line)
    ax.set_yscale("log")
    ax.set_xticks(np.arange(units), [str(u + 1) for u in range(units)])
    ax.set(
        xlabel=msg("plotting.active.xlabel", "latent units, most active first"),
        ylabel=msg("plotting.active.ylabel", "variance of the posterior mean"),
        title=msg("plotting.active.title", "Active units: Cov$_x$(E$_q$[z$_u$ | x])"),
    )
    # Beside the axes: bars of active units fill the top of the plot, idle ones the bottom.
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    return fig


# The mixture prior of a GMVAE (notebook 4)


def _check_gmvae(model: VAE, caller: str) -> None:
    if not isinstance(model, GMVAE):
        raise ValueError(f"{caller} needs a GMVAE (a mixture prior), got {type(model).__name__}")


def component_ellipses(model: GMVAE, *, scale: float = 2.0, **style) -> list[Ellipse]:
    """One ellipse per component of a ``z_dim = 2`` mixture prior: centred on its mean, with
    half-axes ``scale`` standard deviations (``scale * sqrt(v)``) along z1 and z2."""
    from matplotlib.patches import Ellipse

    check_latent_2d(model, "component_ellipses")
    with torch.no_grad():
        m, v = (t[0].cpu().numpy() for t in model.z_prior)  # (k, 2) each
    return [
        Ellipse(tuple(mean), *(2 * scale * np.sqrt(var)), **style)
        for mean, var in zip(m, v, strict=True)
    ]


def plot_mixture_prior(
    model: GMVAE,
    x: Tensor,
    y: Tensor | np.ndarray,
    *,
    scale: float = 2.0,
    ax: Axes | None = None,
) -> Figure:
    """The components of a ``z_dim = 2`` GMVAE's mixture prior over the encoder means of
    ``x``, coloured by label: each component an ellipse of ``scale`` standard deviations
    around its mean, numbered as in ``model.z_prior``.

    Args:
        model: a GMVAE with ``z_dim = 2``.
        x: ``(n, 784)`` in [0, 1].
        y: ``(n,)`` integer labels.
        scale: the ellipses' half-axes, in standard deviations of each component.
    """
    _check_gmvae(model, "plot_mixture_prior")
    fig = plot_latent_scatter(model, x, y, ax=ax)
    ax = ax or fig.axes[0]
    with torch.no_grad():
        means = model.z_prior[0][0].cpu().numpy()  # (k, 2)
    for j, ellipse in enumerate(
        component_ellipses(model, scale=scale, fill=False, color="black", lw=1.2)
    ):
        ax.add_patch(ellipse)
        ax.annotate(
            str(j),
            means[j],
            ha="center",
            va="center",
            fontsize=8,
            bbox={"boxstyle": "circle,pad=0.15", "facecolor": "white", "alpha": 0.8},
        )
    title = msg(
        "plotting.mixture.title",
        "{model}: the {k} components of p(z) ({scale:g} sd) over the encoder means",
        model=model.name,
        k=model.k,
        scale=scale,
    )
    ax.set_title(title)
    ax.autoscale_view()
    return fig


def plot_component_samples(
    model: GMVAE, *, n: int = 10, seed: int = 0, ax: Axes | None = None
) -> Figure:
    """Bernoulli means decoded from draws of each component of a GMVAE's mixture prior: row
    ``j`` holds ``n`` draws ``z ~ N(m_j, diag(v_j))``. Seeded; the global generator is
    restored afterwards."""
    _check_gmvae(model, "plot_component_samples")
    if int(n) != n or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    with _seeded(seed, next(model.parameters()).device):
        components = torch.arange(model.k).repeat_interleave(n)  # (k * n,), row by row
        means = model.compute_sigmoid_given(model.prior.sample_component(components))
    fig, ax = _axes(ax, _grid_figsize(model.k, n))
    title = msg(
        "plotting.components.title", "{model}: {n} draws from each component", model=model.name, n=n
    )
    image_grid(means, model.k, ax=ax, title=title)
    rows = [msg("plotting.components.row", "component {j}", j=j) for j in range(model.k)]
    ax.set_yticks(_tile_centers(model.k, pad=1), rows)
    ax.tick_params(length=0)
    return fig


# The beta-VAE and posterior collapse (notebook 4)


def plot_rate_distortion(
    points: Mapping[str, tuple[float, float]],
    *,
    seeds: Mapping[str, Sequence[tuple[float, float]]] | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Models on the rate-distortion plane: the KL term (rate, nats) against the reconstruction
    term (distortion, nats), each a labelled point, joined in the given order, with dotted
    lines of equal ELBO (``KL + Rec`` constant, slope -1) through the best and worst of them
    (Alemi et al. 2018).

    Args:
        points: label (e.g. ``"beta = 0.5"``) -> ``(kl, rec)`` averaged over test images.
        seeds: optional label -> the ``(kl, rec)`` of each training seed of that model, drawn
            as small crosses with error bars of one standard deviation around their mean.
    """
    if not points:
        raise ValueError("points holds no model")
    kl, rec = (np.asarray(v, dtype=float) for v in zip(*points.values(), strict=True))
    fig, ax = _axes(ax, (6.5, 4.5))
    ax.plot(kl, rec, "-", color="C0", alpha=0.5)
    for i, (label, runs) in enumerate((seeds or {}).items()):
        runs = np.asarray(runs, dtype=float).reshape(-1, 2)  # (seeds, 2): (kl, rec) each
        color = f"C{list(points).index(label)}" if label in points else f"C{i}"
        ax.plot(runs[:, 0], runs[:, 1], "x", color=color, ms=5)
        if len(runs) > 1:
            mean, spread = runs.mean(0), runs.std(0, ddof=1)
            ax.errorbar(*mean, xerr=spread[0], yerr=spread[1], color=color, capsize=3, lw=1)
    for i, (label, (rate, distortion)) in enumerate(points.items()):
        ax.plot([rate], [distortion], "o", color=f"C{i}", ms=8)
        ax.annotate(
            f"{label}\nNELBO {rate + distortion:.1f}",
            (rate, distortion),
            xytext=(6, 6),
            textcoords="offset points",
            fontsize=8,
        )
    totals = kl + rec
    span = np.array([0.0, kl.max() * 1.15 + 1])
    equal = msg("plotting.rate_distortion.equal_elbo", "equal ELBO")
    for total, label in ((totals.min(), equal), (totals.max(), None)):
        ax.plot(span, total - span, ":", color="grey", label=label)
    ax.set_xlim(0, span[1])
    ax.set_ylim(rec.min() - 5, rec.max() + 5)
    ax.set(
        xlabel=msg("plotting.rate_distortion.xlabel", "rate: KL(q(z|x) || p(z)) (nats)"),
        ylabel=msg("plotting.rate_distortion.ylabel", "distortion: -E_q[log p(x|z)] (nats)"),
        title=msg("plotting.rate_distortion.title", "The rate-distortion trade-off"),
    )
    ax.legend(loc="upper right")
    return fig


def plot_kl_per_dimension(
    kls: Mapping[str, Tensor | np.ndarray | Sequence[float]],
    *,
    threshold: float = 0.01,
    ax: Axes | None = None,
) -> Figure:
    """The KL term of each latent unit (``course_utils.evaluation.kl_per_dimension``), per
    model, largest first: grouped bars, with a dashed line at ``threshold`` nats; the legend
    counts each model's units above it. A collapsed unit's bar is about 0.

    Args:
        kls: model name -> ``(z_dim,)`` KL per unit in nats; each model's units are sorted,
            as units of two models do not correspond.
        threshold: the KL (nats) drawn as the line and counted in the legend.
    """
    series = _per_unit(kls, "kls", "one KL")
    units = max(len(v) for v in series.values())
    fig, ax = _axes(ax, (max(8.5, 0.2 * units + 3), 4.0))

    def above(name: str, count: int) -> Message:
        return msg("plotting.kl.count", "{name}: {count} above", name=name, count=count)

    _ranked_bars(ax, series, threshold, above)
    ax.axhline(threshold, color="black", ls="--", label=f"{threshold:g} nats")
    ticks = np.arange(0, units, max(1, units // 10))
    ax.set_xticks(ticks, [str(u + 1) for u in ticks])
    ax.set(
        xlabel=msg("plotting.kl.xlabel", "latent units, largest KL first"),
        ylabel="KL(q(z_u|x) || p(z_u)) (nats)",
        title=msg("plotting.kl.title", "The KL term of each latent unit, averaged over the images"),
    )
    ax.legend(loc="upper right")
    return fig
