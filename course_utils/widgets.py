"""Interactive widgets of the course: Jensen's inequality, the latent plane of a z_dim=2 VAE, and
the components of a z_dim=2 GMVAE's mixture prior.

Each widget is made one way, by its class: ``JensenExplorer(jensen_gap)``,
``LatentExplorer(model, x, y)`` and ``MixtureExplorer(model, x, y)``. It draws with
``course_utils.plotting`` into a ``matplotlib.figure.Figure`` it owns (on an Agg canvas, no
pyplot) and shows the result as PNG bytes in an ``ipywidgets.Image``. So they run headless,
and a test drives them by setting slider values (``w.z1.value = 1.0``) and comparing
``w.decoded.value`` before and after. Their labels, captions and readouts are in the reader's
language (``course_utils.language``); the values of their controls are not.
"""

from __future__ import annotations

import html
import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import ipywidgets as widgets
import numpy as np
import torch
from torch import Tensor

from course_utils.language import Message, msg
from course_utils.models import GMVAE, VAE, check_latent_2d, decode_means
from course_utils.plotting import (
    component_ellipses,
    figure_png,
    plot_jensen,
    plot_latent_scatter,
    plot_mixture_prior,
    tile_images,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "DISTRIBUTION_LABELS",
    "JENSEN_DISTRIBUTIONS",
    "PARAMETER_LABELS",
    "JensenExplorer",
    "JensenValues",
    "LatentExplorer",
    "MixtureExplorer",
    "PositiveDistribution",
]


def _agg_figure(**kwargs) -> Figure:
    """A ``Figure(**kwargs)`` on its own Agg canvas: drawn without pyplot, whatever the backend.
    (matplotlib is imported when a widget is made, as in ``course_utils.plotting``.)"""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(**kwargs)
    FigureCanvasAgg(figure)
    return figure


def _array_png(image: np.ndarray) -> bytes:
    """PNG bytes of an ``(h, w, 3)`` RGB or ``(h, w, 4)`` RGBA uint8 image."""
    from matplotlib.image import imsave

    buffer = io.BytesIO()
    imsave(buffer, image, format="png")
    return buffer.getvalue()


def _grey_png(grey: np.ndarray, scale: int) -> bytes:
    """PNG bytes of ``(h, w)`` grey levels in [0, 1] (0 black), each pixel ``scale x scale``."""
    levels = np.round(grey * 255).astype(np.uint8)  # (h, w)
    blocks = levels.repeat(scale, axis=0).repeat(scale, axis=1)  # (h * scale, w * scale)
    return _array_png(np.repeat(blocks[..., None], 3, axis=-1))  # (h * scale, w * scale, 3)


# Jensen's inequality


@dataclass(frozen=True)
class PositiveDistribution:
    """A family of positive random variables X, with E[log X] and log E[X] in closed form.

    Attributes:
        parameters: name -> ``(default, min, max, step)`` of its slider.
        sample: ``(rng, n, **parameters)`` -> ``(n,)`` positive samples.
        exact: ``(**parameters)`` -> ``(E[log X], log E[X])``; a ValueError for invalid values.
    """

    parameters: dict[str, tuple[float, float, float, float]]
    sample: Callable[..., np.ndarray]
    exact: Callable[..., tuple[float, float]]


def _uniform_exact(a: float, b: float) -> tuple[float, float]:
    """X ~ U[a, b]: E[log X] = (b log b - a log a) / (b - a) - 1, E[X] = (a + b) / 2."""
    if not 0 < a < b:
        message = msg(
            "widgets.jensen.uniform_bounds",
            "uniform on [a, b] needs 0 < a < b, got a={a:g}, b={b:g}",
            a=a,
            b=b,
        )
        raise ValueError(str(message))
    return (b * math.log(b) - a * math.log(a)) / (b - a) - 1, math.log((a + b) / 2)


def _gamma_exact(shape: float, scale: float) -> tuple[float, float]:
    """X ~ Gamma(shape k, scale s): E[log X] = digamma(k) + log s, E[X] = k s."""
    digamma = torch.special.digamma(torch.tensor(shape, dtype=torch.float64)).item()
    return digamma + math.log(scale), math.log(shape * scale)


def _two_point_exact(x1: float, x2: float, p: float) -> tuple[float, float]:
    """X = x1 with probability p, else x2."""
    return p * math.log(x1) + (1 - p) * math.log(x2), math.log(p * x1 + (1 - p) * x2)


#: The distributions of the Jensen explorer, by their name (the dropdown's value; it shows
#: ``DISTRIBUTION_LABELS``).
JENSEN_DISTRIBUTIONS: dict[str, PositiveDistribution] = {
    "log-normal": PositiveDistribution(
        parameters={"mu": (0.0, -1.0, 1.0, 0.05), "sigma": (0.75, 0.05, 1.5, 0.05)},
        sample=lambda rng, n, mu, sigma: rng.lognormal(mu, sigma, n),
        exact=lambda mu, sigma: (mu, mu + sigma**2 / 2),
    ),
    "uniform": PositiveDistribution(
        parameters={"a": (0.2, 0.05, 5.0, 0.05), "b": (4.0, 0.1, 10.0, 0.1)},
        sample=lambda rng, n, a, b: rng.uniform(a, b, n),
        exact=_uniform_exact,
    ),
    "gamma": PositiveDistribution(
        parameters={"shape": (2.0, 0.5, 10.0, 0.1), "scale": (1.0, 0.1, 3.0, 0.1)},
        sample=lambda rng, n, shape, scale: rng.gamma(shape, scale, n),
        exact=_gamma_exact,
    ),
    "two-point": PositiveDistribution(
        parameters={
            "x1": (0.5, 0.1, 10.0, 0.1),
            "x2": (5.0, 0.1, 10.0, 0.1),
            "p": (0.5, 0, 1, 0.01),
        },
        sample=lambda rng, n, x1, x2, p: np.where(rng.random(n) < p, x1, x2),
        exact=_two_point_exact,
    ),
}


@dataclass(frozen=True)
class JensenValues:
    """E[log X] and log E[X] of the chosen distribution, exact, and the Jensen gap of the
    drawn sample as the student's ``jensen_gap`` computes it."""

    e_log_x: float
    log_e_x: float
    sample_gap: float

    @property
    def gap(self) -> float:
        """``log E[X] - E[log X] >= 0``, exact."""
        return self.log_e_x - self.e_log_x


#: What the dropdown and the sliders of the Jensen explorer show for each distribution and
#: parameter name (a name not here shows as it is).
DISTRIBUTION_LABELS: dict[str, Message] = {
    "log-normal": msg("widgets.jensen.log_normal", "log-normal"),
    "uniform": msg("widgets.jensen.uniform", "uniform"),
    "gamma": msg("widgets.jensen.gamma", "gamma"),
    "two-point": msg("widgets.jensen.two_point", "two-point"),
}
PARAMETER_LABELS: dict[str, Message] = {
    "shape": msg("widgets.jensen.shape", "shape"),
    "scale": msg("widgets.jensen.scale", "scale"),
}


def _readout_html(values: JensenValues, n_samples: int) -> str:
    exact = msg("widgets.jensen.exact", "exact")
    yours = msg("widgets.jensen.yours", "your jensen_gap, sample of {n}", n=n_samples)
    rows = [
        (exact, f"{values.e_log_x:.4f}", f"{values.log_e_x:.4f}", f"{values.gap:.4f}"),
        (yours, "", "", f"{values.sample_gap:.4f}"),
    ]
    cells = "".join(
        f"<tr><td>{name}</td><td>{a}</td><td>{b}</td><td>{c}</td></tr>" for name, a, b, c in rows
    )
    gap = msg("widgets.jensen.gap", "gap")
    header = f"<tr><th></th><th>E[log X]</th><th>log E[X]</th><th>{gap}</th></tr>"
    return f"<table style='font-family: monospace'>{header}{cells}</table>"


class JensenExplorer(widgets.VBox):
    """Pick a positive distribution and its parameters; see E[log X] <= log E[X].

    A distribution dropdown, parameter sliders, the plot and the numbers: the exact ones, and
    the Jensen gap of a drawn sample as ``gap`` (the student's ``jensen_gap``) computes it.

    Args:
        gap: ``(n,)`` float64 tensor of samples -> their Jensen gap, a scalar tensor.
        n_samples: the size of the sample of X drawn at every change.
        seed: its seed (the same parameters always give the same sample).

    Attributes:
        distribution: ``Dropdown`` of the names in ``JENSEN_DISTRIBUTIONS`` (its values; it
            shows their ``DISTRIBUTION_LABELS``).
        sliders: parameter name -> ``FloatSlider`` of the current distribution (replaced
            when the distribution changes).
        image: ``Image`` holding the PNG of ``plot_jensen`` for a seeded sample.
        readout: ``HTML`` table of E[log X], log E[X] and the gap, exact, and of the gap of
            the sample, or the error message when the parameters are invalid (e.g. a >= b).
        values: the ``JensenValues`` shown, or None while the parameters are invalid.
        n_samples, seed: size and seed of the sample drawn at every change.
    """

    def __init__(
        self, gap: Callable[[Tensor], Tensor], *, n_samples: int = 500, seed: int = 0
    ) -> None:
        self.gap = gap
        self.n_samples = n_samples
        self.seed = seed
        options = [
            (str(DISTRIBUTION_LABELS.get(name, name)), name) for name in JENSEN_DISTRIBUTIONS
        ]
        self.distribution = widgets.Dropdown(options=options, description="X ~")
        self.sliders: dict[str, widgets.FloatSlider] = {}
        self.image = widgets.Image(format="png")
        self.readout = widgets.HTML()
        self.values: JensenValues | None = None
        self._controls = widgets.VBox()
        # fixed margins: faster than a layout
        self._figure = _agg_figure(figsize=(6.5, 4.5), dpi=90)
        self._figure.subplots_adjust(left=0.1, right=0.97, bottom=0.11, top=0.93)
        super().__init__([self.distribution, self._controls, self.readout, self.image])
        self.distribution.observe(self._on_distribution, names="value")
        self._on_distribution()

    def _on_distribution(self, change: dict | None = None) -> None:
        """Make the sliders of the chosen distribution, then redraw."""
        for slider in self.sliders.values():
            slider.close()
        spec = JENSEN_DISTRIBUTIONS[self.distribution.value]
        self.sliders = {
            name: widgets.FloatSlider(
                value=value,
                min=low,
                max=high,
                step=step,
                description=str(PARAMETER_LABELS.get(name, name)),
                continuous_update=False,
            )
            for name, (value, low, high, step) in spec.parameters.items()
        }
        for slider in self.sliders.values():
            slider.observe(self.redraw, names="value")
        self._controls.children = tuple(self.sliders.values())
        self.redraw()

    def redraw(self, change: dict | None = None) -> None:
        """Draw a fresh seeded sample of the current distribution and update image and readout."""
        spec = JENSEN_DISTRIBUTIONS[self.distribution.value]
        parameters = {name: slider.value for name, slider in self.sliders.items()}
        try:
            exact = spec.exact(**parameters)
        except ValueError as error:
            self.values = None
            self.readout.value = f"<b style='color: #b00020'>{html.escape(str(error))}</b>"
            return
        samples = spec.sample(np.random.default_rng(self.seed), self.n_samples, **parameters)
        sample_gap = float(self.gap(torch.as_tensor(samples)))
        self.values = JensenValues(*exact, sample_gap)
        self._figure.clear()
        plot_jensen(samples, self.gap, ax=self._figure.add_subplot())
        self.image.value = figure_png(self._figure)
        self.readout.value = _readout_html(self.values, self.n_samples)


# The latent plane of a z_dim=2 VAE


class _ScatterWithMarker:
    """The latent scatter drawn once on an Agg canvas; ``png(z)`` redraws only the marker."""

    def __init__(self, model: VAE, x: Tensor, y: Tensor | np.ndarray, limit: float) -> None:
        self.figure = _agg_figure(figsize=(5.5, 4.5), dpi=80, layout="constrained")
        canvas = self.figure.canvas
        self.axes = self.figure.add_subplot()
        plot_latent_scatter(model, x, y, ax=self.axes)
        (low_x, high_x), (low_y, high_y) = self.axes.get_xlim(), self.axes.get_ylim()
        self.axes.set_xlim(min(low_x, -limit), max(high_x, limit))  # the sliders' whole range
        self.axes.set_ylim(min(low_y, -limit), max(high_y, limit))
        (self.marker,) = self.axes.plot(
            [], [], "X", ms=16, color="black", markeredgecolor="white", animated=True
        )
        canvas.draw()
        self._background = canvas.copy_from_bbox(self.figure.bbox)

    def png(self, z: tuple[float, float]) -> bytes:
        """PNG bytes of the scatter with the marker at ``z = (z1, z2)``."""
        canvas = self.figure.canvas
        canvas.restore_region(self._background)
        self.marker.set_data([z[0]], [z[1]])
        self.axes.draw_artist(self.marker)
        return _array_png(np.asarray(canvas.buffer_rgba()))  # (h, w, 4) uint8


class LatentExplorer(widgets.VBox):
    """Move a point z through the latent plane of a z_dim=2 VAE and see what it decodes to.

    Args:
        model: a VAE with ``z_dim=2`` (a ValueError for any other z_dim).
        x: ``(n, 784)`` images in [0, 1] for the scatter (e.g. the binarized test set).
        y: ``(n,)`` their labels.
        limit: the sliders run over ``[-limit, limit]``.
        step: the sliders' step.
        scale: each of the 28x28 decoded pixels is shown as ``scale x scale`` pixels.

    Attributes:
        model: the VAE.
        z1, z2: ``FloatSlider`` of the two coordinates of z.
        scatter: ``Image``: the encoder means of the given images coloured by label, with a
            marker at z (the scatter is drawn once; only the marker moves).
        decoded: ``Image``: the Bernoulli means ``sigmoid(dec(z))``, upscaled ``scale`` times.
        caption: ``HTML`` above the decoded image, saying which z it shows.
    """

    def __init__(
        self,
        model: VAE,
        x: Tensor,
        y: Tensor | np.ndarray,
        *,
        limit: float = 3.0,
        step: float = 0.05,
        scale: int = 12,
    ) -> None:
        check_latent_2d(model, "LatentExplorer")
        self.model = model
        self.scale = scale
        self.z1, self.z2 = (
            widgets.FloatSlider(value=0.0, min=-limit, max=limit, step=step, description=name)
            for name in ("z1", "z2")
        )
        self.scatter = widgets.Image(format="png")
        self.decoded = widgets.Image(format="png")
        self.caption = widgets.HTML()
        self._scatter = _ScatterWithMarker(model, x, y, limit)
        decoded = widgets.VBox([self.caption, self.decoded])
        images = widgets.HBox([self.scatter, decoded], layout={"align_items": "center"})
        super().__init__([images, widgets.HBox([self.z1, self.z2])])
        self.z1.observe(self.redraw, names="value")
        self.z2.observe(self.redraw, names="value")
        self.redraw()

    @property
    def z(self) -> tuple[float, float]:
        """The current latent point ``(z1, z2)``."""
        return self.z1.value, self.z2.value

    def set_z(self, z1: float, z2: float) -> None:
        """Move the sliders (and so the marker and the decoded image) to ``(z1, z2)``."""
        moves = ((self.z1, z1), (self.z2, z2))
        for slider, value in moves:
            if not slider.min <= value <= slider.max:
                raise ValueError(
                    f"{slider.description}={value:g} is outside the sliders' range "
                    f"[{slider.min:g}, {slider.max:g}]; pass a larger limit= to LatentExplorer"
                )
        for slider, value in moves:
            slider.value = value

    def redraw(self, change: dict | None = None) -> None:
        """Draw the marker and the decoded image at the sliders' z."""
        self.scatter.value = self._scatter.png(self.z)
        means = decode_means(self.model, [self.z])[0].reshape(28, 28).numpy()  # (784,) -> (28, 28)
        self.decoded.value = _grey_png(means, self.scale)
        self.caption.value = str(
            msg(
                "widgets.latent.caption",
                "Bernoulli means of p(x | z) at z = ({z1:.2f}, {z2:.2f})",
                z1=self.z[0],
                z2=self.z[1],
            )
        )


# The components of a z_dim=2 GMVAE's mixture prior


class MixtureExplorer(widgets.VBox):
    """Step through the components of a z_dim=2 GMVAE's mixture prior: where each lies among
    the encoder means of the given images, and what its draws decode to.

    Args:
        model: a GMVAE with ``z_dim=2`` (a ValueError for anything else).
        x: ``(n, 784)`` images in [0, 1] for the scatter (e.g. the binarized test set).
        y: ``(n,)`` their labels.
        n_samples: draws decoded from the chosen component.
        scale: the ellipses' half-axes, in standard deviations of each component.
        seed: the draws of component ``j`` are seeded with ``seed + j`` (the same every time).

    Attributes:
        component: ``IntSlider`` of the component shown, 0 to ``k - 1``.
        scatter: ``Image``: ``plot_mixture_prior`` (drawn once), the chosen component's
            ellipse highlighted.
        samples: ``Image``: the Bernoulli means of ``n_samples`` draws from that component.
        caption: ``HTML`` saying which component, with its mean and standard deviations.
    """

    def __init__(
        self,
        model: GMVAE,
        x: Tensor,
        y: Tensor | np.ndarray,
        *,
        n_samples: int = 8,
        scale: float = 2.0,
        seed: int = 0,
    ) -> None:
        if not isinstance(model, GMVAE):
            raise ValueError(f"MixtureExplorer needs a GMVAE, got {type(model).__name__}")
        check_latent_2d(model, "MixtureExplorer")
        self.model, self.n_samples, self.seed = model, n_samples, seed
        self.component = widgets.IntSlider(
            value=0,
            min=0,
            max=model.k - 1,
            step=1,
            description=str(msg("widgets.mixture.component", "component")),
        )
        self.scatter = widgets.Image(format="png")
        self.samples = widgets.Image(format="png")
        self.caption = widgets.HTML()
        self._figure = _agg_figure(figsize=(6.0, 4.8), dpi=80, layout="constrained")
        self._axes = self._figure.add_subplot()
        plot_mixture_prior(model, x, y, scale=scale, ax=self._axes)
        self._highlights = component_ellipses(
            model, scale=scale, fill=False, color="red", lw=3, animated=True
        )
        for ellipse in self._highlights:
            self._axes.add_patch(ellipse)
        self._figure.canvas.draw()
        self._background = self._figure.canvas.copy_from_bbox(self._figure.bbox)
        super().__init__([self.component, self.caption, self.samples, self.scatter])
        self.component.observe(self.redraw, names="value")
        self.redraw()

    def redraw(self, change: dict | None = None) -> None:
        """Highlight the chosen component and decode its draws."""
        j = self.component.value
        canvas = self._figure.canvas
        canvas.restore_region(self._background)
        self._axes.draw_artist(self._highlights[j])
        self.scatter.value = _array_png(np.asarray(canvas.buffer_rgba()))  # (h, w, 4) uint8
        with torch.no_grad():
            m, v = (t[0, j].cpu() for t in self.model.z_prior)  # (2,) each
        g = torch.Generator().manual_seed(self.seed + j)
        z = m + v.sqrt() * torch.randn(self.n_samples, 2, generator=g)  # (n_samples, 2)
        self.samples.value = _grey_png(tile_images(decode_means(self.model, z), 1), 3)
        sd = ", ".join(f"{value:.2f}" for value in v.sqrt().tolist())
        mean = ", ".join(f"{value:.2f}" for value in m.tolist())
        self.caption.value = str(
            msg(
                "widgets.mixture.caption",
                "component {j} of {k}: mean ({mean}), standard deviations ({sd}); the Bernoulli "
                "means of {n} draws from it",
                j=j,
                k=self.model.k,
                mean=mean,
                sd=sd,
                n=self.n_samples,
            )
        )
