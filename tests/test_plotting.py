import json
import math
import os
import subprocess
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.collections import PathCollection, PolyCollection
from matplotlib.figure import Figure
from matplotlib.patches import Ellipse
from torch.testing import assert_close

from course_utils.models import GMVAE, VAE, decode_means, encode_means
from course_utils.plotting import (
    CourseFigure,
    component_ellipses,
    figure_png,
    image_grid,
    plot_active_units,
    plot_bound_gap,
    plot_bounds_vs_k,
    plot_component_samples,
    plot_gap_vs_k,
    plot_jensen,
    plot_kl_per_dimension,
    plot_latent_scatter,
    plot_manifold,
    plot_mixture_prior,
    plot_rate_distortion,
    plot_reconstructions,
    plot_samples,
    plot_training_curves,
    subplots,
    tile_images,
)
from course_utils.training import TrainingHistory

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SOLUTIONS = Path(__file__).resolve().parents[1] / "solutions" / "vae"


@pytest.fixture
def model():
    torch.manual_seed(0)
    return VAE(z_dim=2, name="untrained")


@pytest.fixture
def images():
    """24 binary images (24, 784) and their labels 0-9 (24,)."""
    generator = torch.Generator().manual_seed(1)
    x = torch.bernoulli(torch.full((24, 784), 0.3), generator=generator)
    return x, torch.arange(24) % 10


def grid_pixels(fig: Figure) -> np.ndarray:
    """The array shown by the (single) image of the figure's first axes."""
    (image,) = fig.axes[0].images
    return np.asarray(image.get_array())


def tile(grid: np.ndarray, row: int, col: int, pad: int) -> np.ndarray:
    step = 28 + pad
    return grid[row * step : row * step + 28, col * step : col * step + 28]


def legend_texts(ax) -> list[str]:
    return [text.get_text() for text in ax.get_legend().get_texts()]


# Image grids


def test_tile_images_places_images_row_by_row_and_pads():
    images = np.stack([np.full((28, 28), i / 10) for i in range(5)])  # (5, 28, 28)
    grid = tile_images(images, 2, pad=2, pad_value=0.5)
    assert grid.shape == (2 * 28 + 2, 3 * 28 + 2 * 2)
    for i in range(5):
        assert np.all(tile(grid, *divmod(i, 3), pad=2) == np.float32(i / 10))
    assert np.all(tile(grid, 1, 2, pad=2) == 0.5), "the unused sixth cell keeps the pad value"
    assert np.all(grid[28:30] == 0.5), "the padding rows between the two image rows"


def test_tile_images_accepts_flat_tensors_and_square_arrays_alike():
    x = torch.rand(6, 784)
    assert np.array_equal(tile_images(x, 3), tile_images(x.reshape(6, 28, 28).numpy(), 3))


@pytest.mark.parametrize(
    "images, nrow, message",
    [
        (np.zeros((4, 783)), 2, r"\(n, 784\) or \(n, 28, 28\)"),
        (np.zeros((0, 784)), 1, "no images"),
        (np.zeros((4, 784)), 5, r"nrow must be in \[1, 4\]"),
    ],
)
def test_tile_images_rejects_bad_input_clearly(images, nrow, message):
    with pytest.raises(ValueError, match=message):
        tile_images(images, nrow)


def test_image_grid_draws_the_tiles_in_grey_with_a_title():
    x = torch.rand(8, 784)
    fig = image_grid(x, 2, title="eight")
    assert isinstance(fig, CourseFigure)
    ax = fig.axes[0]
    assert np.array_equal(grid_pixels(fig), tile_images(x, 2))
    assert ax.get_title() == "eight"
    assert ax.images[0].get_clim() == (0, 1)
    assert ax.get_xticks().size == 0 and ax.get_yticks().size == 0


def test_image_grid_draws_into_a_given_axes_and_returns_its_root_figure():
    fig = Figure()
    ax = fig.subfigures(1, 2)[1].add_subplot()
    assert image_grid(torch.rand(3, 784), 1, ax=ax) is fig
    assert len(ax.images) == 1


# Samples and reconstructions


def test_plot_samples_shows_seeded_bernoulli_means_in_a_10_by_20_grid(model):
    fig = plot_samples(model, seed=3)
    grid = grid_pixels(fig)
    assert grid.shape == (10 * 29 - 1, 20 * 29 - 1)
    torch.manual_seed(3)
    with torch.no_grad():
        expected = model.sample_sigmoid(200)
    np.testing.assert_allclose(grid, tile_images(expected, 10), atol=1e-6)
    assert "untrained" in fig.axes[0].get_title()


def test_plot_samples_depends_on_the_seed_only_and_restores_the_global_generator(model):
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    first = grid_pixels(plot_samples(model, nrow=2, ncol=3, seed=0))
    assert_close(torch.rand(3), expected_next, msg="plot_samples changed the global random state")
    again = grid_pixels(plot_samples(model, nrow=2, ncol=3, seed=0))
    other = grid_pixels(plot_samples(model, nrow=2, ncol=3, seed=1))
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_plot_reconstructions_shows_data_above_the_decoded_encoder_means(model, images):
    x, _ = images
    fig = plot_reconstructions(model, x, n=5, seed=2)
    grid = grid_pixels(fig)
    assert grid.shape == (2 * 28 + 1, 5 * 29 - 1)
    originals = torch.stack(
        [torch.from_numpy(tile(grid, 0, c, pad=1)).reshape(784) for c in range(5)]
    )
    rows = [i for c in range(5) for i in range(len(x)) if torch.equal(x[i], originals[c])]
    assert len(rows) == 5, "the top row must hold five images of x"
    with torch.no_grad():
        m, _ = model.enc(x[rows])
        expected = model.compute_sigmoid_given(m)
    for c in range(5):
        np.testing.assert_allclose(tile(grid, 1, c, pad=1).reshape(784), expected[c], atol=1e-6)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["data", "reconstruction"]


def test_plot_reconstructions_rejects_more_images_than_given(model, images):
    with pytest.raises(ValueError, match=r"n must be in \[1, 24\]"):
        plot_reconstructions(model, images[0], n=25)
    with pytest.raises(ValueError, match=r"shape \(n, 784\)"):
        plot_reconstructions(model, images[0].reshape(24, 28, 28))


# Training curves


def make_history(n_logs=20):
    iterations = [100 * (i + 1) for i in range(n_logs)]
    nelbo = [540.0] + [120.0 - i for i in range(1, n_logs)]
    kl = [5.0 + 0.5 * i for i in range(n_logs)]
    return TrainingHistory(
        iterations=iterations,
        metrics={
            "train/loss": nelbo,
            "gen/elbo": [-v for v in nelbo],
            "gen/kl_z": kl,
            "gen/rec": [a - b for a, b in zip(nelbo, kl, strict=True)],
        },
    )


def test_plot_training_curves_draws_three_panels_with_reference_lines():
    h = make_history()
    reference = {"nelbo": 101.0, "kl": 19.5, "rec": 82.0}
    fig = plot_training_curves(h, reference=reference, reference_label="CS236")
    assert [ax.get_title() for ax in fig.axes] == ["NELBO", "KL", "Rec"]
    for ax, name, key in zip(
        fig.axes, ["train/loss", "gen/kl_z", "gen/rec"], reference, strict=True
    ):
        curve, line = ax.get_lines()
        assert list(curve.get_xdata()) == h.iterations
        assert list(curve.get_ydata()) == h.metrics[name]
        assert line.get_linestyle() == "--"
        assert set(line.get_ydata()) == {reference[key]}
        assert f"CS236: {reference[key]:g}" in legend_texts(ax)
        low, high = ax.get_ylim()
        assert low < reference[key] < high


def test_plot_training_curves_zooms_past_the_first_iterations():
    nelbo_axes = plot_training_curves(make_history()).axes[0]
    assert nelbo_axes.get_ylim()[1] < 200, "the first logged value (540) should be off the panel"
    everything = plot_training_curves(make_history(), zoom_after=0).axes[0]
    assert everything.get_ylim()[1] > 540


def test_plot_training_curves_rejects_unknown_references_and_incomplete_histories():
    with pytest.raises(ValueError, match="unknown reference keys \\['elbo'\\]"):
        plot_training_curves(make_history(), reference={"elbo": 1.0})
    with pytest.raises(ValueError, match="gen/kl_z"):
        plot_training_curves(TrainingHistory(iterations=[1], metrics={"train/loss": [1.0]}))
    with pytest.raises(ValueError, match="no logged iterations"):
        plot_training_curves(TrainingHistory())


# The latent plane


def test_plot_latent_scatter_colours_the_encoder_means_by_label(model, images):
    x, y = images
    fig = plot_latent_scatter(model, x, y)
    ax = fig.axes[0]
    collections = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(collections) == 10
    means = encode_means(model, x).numpy()
    for digit, collection in enumerate(collections):
        np.testing.assert_allclose(collection.get_offsets(), means[y.numpy() == digit], rtol=1e-6)
    assert legend_texts(ax) == [str(d) for d in range(10)]
    assert len({tuple(c.get_facecolor()[0]) for c in collections}) == 10
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("$z_1$", "$z_2$")


@pytest.mark.parametrize("plot", [plot_latent_scatter, plot_manifold])
def test_latent_plots_need_a_two_dimensional_latent_space(plot, images):
    x, y = images
    args = (x, y) if plot is plot_latent_scatter else ()
    with pytest.raises(ValueError, match=r"needs a model with z_dim=2.*got 'vae' with z_dim=10"):
        plot(VAE(z_dim=10), *args)


def test_plot_latent_scatter_needs_one_label_per_image(model, images):
    with pytest.raises(ValueError, match=r"one label per image, shape \(24,\)"):
        plot_latent_scatter(model, images[0], images[1][:5])


@pytest.mark.parametrize(
    "kwargs, message",
    [({"n": 0}, "n must be a positive integer"), ({"extent": (2, -2)}, "lo < hi")],
)
def test_plot_manifold_rejects_an_empty_or_reversed_grid(model, kwargs, message):
    with pytest.raises(ValueError, match=message):
        plot_manifold(model, **kwargs)


def test_plot_manifold_decodes_the_grid_with_z2_increasing_upwards(model):
    fig = plot_manifold(model, n=6, extent=(-2.0, 3.0))
    grid = grid_pixels(fig)
    assert grid.shape == (6 * 28, 6 * 28)
    values = np.linspace(-2.0, 3.0, 6)
    corners = {
        (0, 0): (values[0], values[-1]),
        (5, 0): (values[0], values[0]),
        (0, 5): (values[-1], values[-1]),
    }
    for (row, col), z in corners.items():
        np.testing.assert_allclose(
            tile(grid, row, col, pad=0).reshape(784), decode_means(model, [z])[0], atol=1e-6
        )
    ax = fig.axes[0]
    xlabels = [t.get_text() for t in ax.get_xticklabels()]
    ylabels = [t.get_text() for t in ax.get_yticklabels()]
    assert (xlabels[0], xlabels[-1]) == ("-2.00", "3.00")
    assert (ylabels[0], ylabels[-1]) == ("3.00", "-2.00")


def test_plot_manifold_labels_at_most_seven_ticks_including_both_ends(model):
    ax = plot_manifold(model).axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert len(labels) == 7
    assert (labels[0], labels[-1]) == ("-1.64", "1.64")


# Jensen's inequality and the bounds


def reference_gap(samples: torch.Tensor) -> torch.Tensor:
    """The Jensen gap of notebook 1's exercise, as a student writes it."""
    return torch.log(samples.mean(dim=0)) - torch.log(samples).mean(dim=0)


def test_plot_jensen_marks_both_sides_and_annotates_the_gap():
    samples = [1.0, 1.0, 1.0, 4.0]
    e_log, log_e = math.log(4) / 4, math.log(1.75)
    ax = plot_jensen(samples, reference_gap).axes[0]
    labels = legend_texts(ax)
    assert f"log E[X] - your gap = {e_log:.3f}" in labels and f"log E[X] = {log_e:.3f}" in labels
    assert [t.get_text() for t in ax.texts] == [f"gap = {log_e - e_log:.3f}"]
    curve = ax.get_lines()[0]
    np.testing.assert_allclose(curve.get_ydata(), np.log(curve.get_xdata()))
    (vertical,) = ax.collections
    (segment,) = vertical.get_segments()
    np.testing.assert_allclose(segment, [[1.75, e_log], [1.75, log_e]])


def test_plot_jensen_draws_the_gap_it_is_given():
    """The centre of mass comes from the student's gap: the package computes no E[log X]."""
    ax = plot_jensen([1.0, 2.0], lambda samples: torch.tensor(0.25)).axes[0]
    assert [t.get_text() for t in ax.texts] == ["gap = 0.250"]
    (segment,) = ax.collections[0].get_segments()
    np.testing.assert_allclose(segment, [[1.5, math.log(1.5) - 0.25], [1.5, math.log(1.5)]])


def test_plot_bound_gap_shades_the_kl_between_the_elbo_and_log_px():
    params = np.linspace(-1, 2, 31)
    log_px = -2.0
    elbo = log_px - (params - 0.5) ** 2
    ax = plot_bound_gap(params, elbo, log_px, xlabel="mean of q").axes[0]
    assert ax.get_xlabel() == "mean of q"
    (shade,) = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert shade.get_label() == "KL(q || p(z|x))"
    horizontal, curve, best = ax.get_lines()
    assert set(horizontal.get_ydata()) == {log_px}
    np.testing.assert_allclose(curve.get_ydata(), elbo)
    assert best.get_xdata()[0] == pytest.approx(0.5)
    assert "best q: gap = 0" in legend_texts(ax)
    with pytest.raises(ValueError, match="equal length"):
        plot_bound_gap(params, elbo[:-1], log_px, xlabel="m")


def test_plot_bounds_vs_k_uses_a_log_axis_and_draws_references_dashed():
    ks, values = [1, 10, 100], [-110.0, -106.0, -104.0]
    references = {"CS236": {1: -101.2, 1000: -96.9}}
    ax = plot_bounds_vs_k(ks, values, log_px=-103.0, references=references).axes[0]
    assert ax.get_xscale() == "log"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "10", "100", "1000"]
    bound, exact, reference = ax.get_lines()
    assert list(bound.get_ydata()) == values
    assert set(exact.get_ydata()) == {-103.0}
    assert reference.get_linestyle() == "--" and list(reference.get_xdata()) == [1, 1000]
    assert legend_texts(ax) == ["IWAE bound $L_k$", "log p(x) = -103.00", "CS236"]
    assert ax.get_title() == "IWAE bound $L_k$ against k"


def test_plot_bounds_vs_k_labels_negated_values():
    ax = plot_bounds_vs_k([1, 10], [110.0, 106.0], log_px=103.0, negative=True).axes[0]
    assert legend_texts(ax) == ["negative IWAE bound $-L_k$", "-log p(x) = 103.00"]
    ax = plot_bounds_vs_k([1, 10], [110.0, 106.0], negative=True, label="IWAE-5 model").axes[0]
    assert legend_texts(ax) == ["IWAE-5 model"]
    assert ax.get_title() == "negative IWAE bound $-L_k$ against k"
    with pytest.raises(ValueError, match="equal length"):
        plot_bounds_vs_k([1, 10], [1.0])


def test_plot_gap_vs_k_is_log_log_with_a_slope_minus_one_guide_ending_at_the_last_point():
    ks = [1, 10, 100]
    gaps = {"training images": [3.0, 1.5, 0.2], "test images": [20.0, 17.0, 15.0]}
    ax = plot_gap_vs_k(ks, gaps).axes[0]
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "10", "100"]
    train, train_guide, test, test_guide = ax.get_lines()
    assert list(train.get_ydata()) == gaps["training images"]
    np.testing.assert_allclose(train_guide.get_xydata(), [[10, 2.0], [100, 0.2]])
    np.testing.assert_allclose(test_guide.get_xydata(), [[10, 150.0], [100, 15.0]])
    assert train_guide.get_linestyle() == ":" and test.get_color() == test_guide.get_color()
    assert legend_texts(ax) == ["training images", "gap $\\propto$ 1/k", "test images"]


@pytest.mark.parametrize(
    ("ks", "gaps", "message"),
    [
        ([10, 1], {"a": [1.0, 2.0]}, "increasing"),
        ([1, 10], {}, "no series"),
        ([1, 10], {"a": [1.0]}, "shape"),
    ],
)
def test_plot_gap_vs_k_rejects_bad_input_clearly(ks, gaps, message):
    with pytest.raises(ValueError, match=message):
        plot_gap_vs_k(ks, gaps)


def test_plot_gap_vs_k_leaves_out_estimates_at_or_below_zero_and_says_so():
    ax = plot_gap_vs_k([1, 10, 100], {"a": [2.0, 0.5, -0.01], "b": [0.0, -1.0, -2.0]}).axes[0]
    a, a_guide, b = ax.get_lines()
    assert list(a.get_xdata()) == [1, 10] and list(a.get_ydata()) == [2.0, 0.5]
    np.testing.assert_allclose(a_guide.get_xydata(), [[1, 5.0], [10, 0.5]])
    assert len(b.get_xdata()) == 0
    assert legend_texts(ax) == [
        "a (k = 100 left out: gap <= 0)",
        "gap $\\propto$ 1/k",
        "b (k = 1, 10, 100 left out: gap <= 0)",
    ]


def test_plot_active_units_ranks_each_models_units_and_counts_the_active_ones():
    variances = {
        "VAE": torch.tensor([0.5, 0.0, 2.0, 0.005]),
        "IWAE": np.array([1.0, 0.1, 0.2, 0.3]),
    }
    ax = plot_active_units(variances).axes[0]
    assert ax.get_yscale() == "log"
    vae, iwae = ax.containers
    np.testing.assert_allclose([bar.get_height() for bar in vae], [2.0, 0.5, 0.005, 1e-8])
    np.testing.assert_allclose([bar.get_height() for bar in iwae], [1.0, 0.3, 0.2, 0.1])
    assert vae[0].get_x() < iwae[0].get_x() < vae[1].get_x()
    (threshold,) = ax.get_lines()
    assert set(threshold.get_ydata()) == {0.01}
    assert legend_texts(ax) == ["threshold 0.01", "VAE: 2 active", "IWAE: 4 active"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "3", "4"]


def test_plot_active_units_rejects_missing_or_negative_variances():
    with pytest.raises(ValueError, match="no model"):
        plot_active_units({})
    with pytest.raises(ValueError, match="non-negative"):
        plot_active_units({"VAE": [0.1, -1.0]})


# Figures


def test_figures_render_to_png_without_pyplot(model, images):
    x, y = images
    pyplot_figures = plt.get_fignums()
    figures = [
        image_grid(x, 4),
        plot_samples(model, nrow=2, ncol=2),
        plot_reconstructions(model, x, n=3),
        plot_training_curves(make_history()),
        plot_latent_scatter(model, x, y),
        plot_manifold(model, n=4),
        plot_jensen([0.5, 2.0], reference_gap),
        plot_bound_gap([0, 1], [-3.0, -2.5], -2.0, xlabel="m"),
        plot_bounds_vs_k([1, 10], [-3.0, -2.5]),
        plot_gap_vs_k([1, 10], {"images": [2.0, 1.0]}),
        plot_active_units({"VAE": [1.0, 0.0]}),
    ]
    assert plt.get_fignums() == pyplot_figures, "a plotting function registered a pyplot figure"
    for fig in figures:
        assert isinstance(fig, CourseFigure)
        assert figure_png(fig, dpi=30).startswith(PNG_SIGNATURE)
    assert figures[0]._repr_png_() == figure_png(figures[0]), "Jupyter shows the figure's PNG"


def test_subplots_makes_a_course_figure_and_its_axes_without_pyplot():
    pyplot_figures = plt.get_fignums()
    fig, axes = subplots(2, 3, figsize=(6, 3))
    single = subplots()[1]
    assert plt.get_fignums() == pyplot_figures
    assert isinstance(fig, CourseFigure) and fig.get_layout_engine() is not None
    assert axes.shape == (2, 3) and all(ax.figure is fig for ax in axes.flat)
    assert tuple(fig.get_size_inches()) == (6, 3)
    assert single.figure.axes == [single]
    assert fig._repr_png_().startswith(PNG_SIGNATURE)


#: The set-up cells of the solution notebooks, run one after the other under autograde, then
#: the matplotlib modules loaded (printed as JSON).
SETUP_RUN = """
import json, sys
import nbformat
for path in sys.argv[1:]:
    cell = next(c for c in nbformat.read(path, as_version=4).cells
                if c.metadata.get("nbgrader", {}).get("grade_id") == "setup")
    exec(cell.source, {})
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] == "matplotlib")))
"""


def test_the_set_up_cells_import_no_matplotlib_under_autograde():
    """Grading draws nothing, so the set-up cells, which import ``course_utils.plotting``
    and ``widgets``, leave matplotlib (0.4 s per notebook) to the first figure."""
    notebooks = sorted(str(path) for path in SOLUTIONS.glob("*.ipynb"))
    run = subprocess.run(
        [sys.executable, "-c", SETUP_RUN, *notebooks],
        cwd=SOLUTIONS,
        env={**os.environ, "NBGRADER_EXECUTION": "autograde"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert len(notebooks) == 4
    assert json.loads(run.stdout.splitlines()[-1]) == []


def test_plot_gap_vs_k_guide_spans_every_k_when_only_the_first_is_drawn():
    ax = plot_gap_vs_k([1, 10, 100], {"a": [2.0, -0.1, -0.2]}).axes[0]
    _, guide = ax.get_lines()
    np.testing.assert_allclose(guide.get_xydata(), [[1, 2.0], [10, 0.2], [100, 0.02]])


# The mixture prior of a GMVAE, the rate-distortion plane, the KL per unit (notebook 4)


@pytest.fixture
def gmvae():
    torch.manual_seed(0)
    return GMVAE(z_dim=2, k=3, name="untrained-gmvae")


def test_component_ellipses_span_scale_standard_deviations_around_each_mean(gmvae):
    m, v = (t[0] for t in gmvae.z_prior)  # (3, 2) each
    ellipses = component_ellipses(gmvae, scale=1.5)
    assert len(ellipses) == 3
    for ellipse, mean, variance in zip(ellipses, m, v, strict=True):
        assert_close(torch.tensor(ellipse.center, dtype=torch.float32), mean.detach())
        widths = torch.tensor([ellipse.width, ellipse.height], dtype=torch.float32)
        assert_close(widths, 2 * 1.5 * variance.detach().sqrt())


def test_plot_mixture_prior_draws_one_numbered_ellipse_per_component(gmvae, images):
    fig = plot_mixture_prior(gmvae, *images)
    ax = fig.axes[0]
    assert len([p for p in ax.patches if isinstance(p, Ellipse)]) == 3
    assert {t.get_text() for t in ax.texts} >= {"0", "1", "2"}
    assert "3 components of p(z)" in ax.get_title()
    plt.close(fig)


def test_plot_component_samples_draws_one_row_per_component(gmvae):
    fig = plot_component_samples(gmvae, n=4)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == [f"component {j}" for j in range(3)]
    rows, columns = grid_pixels(fig).shape
    assert rows > 3 * 28 and columns > 4 * 28
    with pytest.raises(ValueError, match="needs a GMVAE"):
        plot_component_samples(VAE(z_dim=2))
    plt.close(fig)


def test_plot_rate_distortion_labels_each_model_with_its_nelbo():
    points = {"beta = 0.5": (30.0, 80.0), "beta = 1": (20.0, 88.0), "beta = 5": (5.0, 120.0)}
    fig = plot_rate_distortion(points)
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["beta = 0.5\nNELBO 110.0", "beta = 1\nNELBO 108.0", "beta = 5\nNELBO 125.0"]
    guides = [line for line in ax.lines if line.get_linestyle() == ":"]
    assert len(guides) == 2
    for line, total in zip(guides, (108.0, 125.0), strict=True):
        x, y = line.get_data()
        np.testing.assert_allclose(x + y, total)  # lines of equal ELBO: slope -1
    with pytest.raises(ValueError, match="no model"):
        plot_rate_distortion({})
    plt.close(fig)


def test_plot_labels_are_in_the_readers_language(portuguese, model, images):
    """The pt-BR edition's figures: titles, axis labels and legends in Portuguese, the
    caller's labels and the numbers as given."""
    fig = plot_rate_distortion({"beta = 1": (20.0, 88.0), "beta = 5": (5.0, 120.0)})
    ax = fig.axes[0]
    assert ax.get_title() == "O compromisso taxa-distorção"
    assert ax.get_xlabel() == "taxa: KL(q(z|x) || p(z)) (nats)"
    assert legend_texts(ax) == ["ELBO igual"]
    assert [t.get_text() for t in ax.texts] == ["beta = 1\nNELBO 108.0", "beta = 5\nNELBO 125.0"]
    plt.close(fig)
    fig = plot_reconstructions(model, images[0], n=3)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["dados", "reconstrução"]
    assert fig.axes[0].get_title() == f"{model.name}: reconstruções"
    fig = plot_active_units({"vae": [0.5, 0.002]}, threshold=0.01)
    assert legend_texts(fig.axes[0]) == ["limiar 0.01", "vae: 1 ativas"]


def test_plot_kl_per_dimension_ranks_units_and_counts_those_above_the_threshold():
    kls = {"ELBO": [0.0, 3.0, 0.001, 1.0], "warm-up": [2.0, 0.5, 0.2, 0.0]}
    fig = plot_kl_per_dimension(kls, threshold=0.01)
    ax = fig.axes[0]
    assert set(legend_texts(ax)) == {"ELBO: 2 above", "warm-up: 3 above", "0.01 nats"}
    heights = [bar.get_height() for bar in ax.patches]
    assert heights == [3.0, 1.0, 0.001, 0.0, 2.0, 0.5, 0.2, 0.0]  # each model's, largest first
    with pytest.raises(ValueError, match="one KL per latent unit"):
        plot_kl_per_dimension({"empty": []})
    plt.close(fig)
