"""The records of the training seeds (``course_utils.records``) and their figures."""

import json

import numpy as np
import pytest

from course_utils import records
from course_utils.plotting import plot_heldout_curves, plot_rate_distortion, plot_seeds


def _record(seed: int, nelbo: float, *, curve: bool = True) -> dict:
    record = {
        "seed": seed,
        "model": {"z_dim": 2},
        "test": {"nelbo": nelbo, "niwae": {"1000": nelbo - 5}},
        "train": {"nelbo": nelbo - 20},
        "active_units": 2,
        "gaps": {
            images: {
                "log_px": [-100.0, -120.0, -90.0],
                "iwae_gap": {str(k): [g / k, 10 * g / k, g] for k in (1, 10, 100, 1000)},
                "approximation_gap": [1.0, 2.0, 0.5],
                "amortization_gap": [2.0, 8.0, 0.1],
            }
            for images, g in (("test", 3.0), ("train", 1.0))
        },
    }
    if curve:
        record["curve"] = {"iterations": [0, 500, 1000], "test": [500.0, nelbo - 1, nelbo]}
        record["curve"]["train"] = [500.0, nelbo - 15, nelbo - 20]
    return record


@pytest.fixture
def recorded(tmp_path, monkeypatch):
    """Two configurations of three seeds: "low" (one without a curve) and "high"."""
    for name, nelbos in (("low", (100.0, 101.0, 102.0)), ("high", (103.0, 104.5, 106.0))):
        (tmp_path / name).mkdir()
        for seed, nelbo in enumerate(nelbos):
            record = _record(seed, nelbo, curve=not (name == "low" and seed == 0))
            (tmp_path / name / f"seed{seed}.json").write_text(json.dumps(record))
    monkeypatch.setattr(records, "RECORDS_DIR", tmp_path)
    records._load.cache_clear()
    yield tmp_path
    records._load.cache_clear()


def test_summary_is_mean_sd_and_range_over_the_seeds(recorded):
    found = records.summary("low", "test.nelbo")
    assert (found.mean, found.low, found.high, found.n) == (101.0, 100.0, 102.0, 3)
    assert found.sd == pytest.approx(1.0)
    assert found.format(1) == "101.0 ± 1.0"
    assert records.summary("low", lambda r: r["test"]["nelbo"] - r["train"]["nelbo"]).mean == 20


def test_apart_means_no_seed_of_one_reaches_a_seed_of_the_other(recorded):
    low, high = records.summary("low", "test.nelbo"), records.summary("high", "test.nelbo")
    assert low.apart(high) and high.apart(low)
    close = records.Summary(102.5, 102.0, 103.5, 0.7, 3)
    assert not close.apart(high) and not close.apart(low)


def test_a_table_prints_each_measure_of_each_configuration(recorded):
    table = records.table(
        {"first": "low", "second": "high"},
        {"NELBO": "test.nelbo", "units": "active_units"},
        digits={"NELBO": 1, "units": 0},
    )
    assert table["second", "NELBO"].mean == pytest.approx(104.5)
    lines = str(table).splitlines()
    assert lines[0].split() == ["NELBO", "units", "seeds"]
    assert lines[1].split() == ["first", "101.0", "±", "1.0", "2", "±", "0", "3"]


def test_unknown_configurations_are_named_with_the_recorded_ones(recorded):
    with pytest.raises(KeyError, match="recorded: high, low"):
        records.runs("missing")


def test_curves_are_those_of_the_seeds_trained_with_a_monitor(recorded):
    assert len(records.curves("low")) == 2
    assert len(records.curves("high")) == 3


def test_gaps_stack_the_seeds_images_and_ks(recorded):
    gaps = records.gaps("high", "test")
    assert gaps["ks"].tolist() == [1, 10, 100, 1000]
    assert gaps["iwae"].shape == (3, 3, 4)  # (seeds, images, ks)
    np.testing.assert_allclose(gaps["iwae"][0, 0], [3.0, 0.3, 0.03, 0.003])
    assert gaps["log_px"].shape == gaps["approximation"].shape == (3, 3)


def test_gap_statistics_are_over_the_images_of_each_seed(recorded):
    found = records.gap_statistics("high", "test", largest=1)
    # each seed's gaps at k = 1: 3.0, 30.0 and 3.0 (see _record)
    np.testing.assert_allclose(found["mean"][:, 0], [12.0] * 3)
    np.testing.assert_allclose(found["median"][:, 0], [3.0] * 3)
    np.testing.assert_allclose(found["largest_share"][:, 0], [30.0 / 36.0] * 3)
    assert found["mean"].shape == (3, 4)


def test_plot_heldout_curves_draws_each_seed_and_marks_the_minimum_of_the_mean(recorded):
    fig = plot_heldout_curves({"low": records.curves("low"), "high": records.curves("high")})
    ax = fig.axes[0]
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels[0] == "low: test images, mean of 2 seeds"
    dots = [line for line in ax.lines if line.get_marker() == "o"]
    assert [tuple(dot.get_xydata()[0]) for dot in dots] == [(500.0, 100.5), (500.0, 103.5)]
    with pytest.raises(ValueError, match="same iterations"):
        plot_heldout_curves({"odd": [records.curves("low")[0], {"iterations": [0, 1, 2]}]})


def test_plot_seeds_draws_each_seed_and_the_spread(recorded):
    fig = plot_seeds({"NELBO": {"low": [100, 101, 102], "high": [103, 104.5, 106]}})
    ax = fig.axes[0]
    seeds = [line for line in ax.lines if line.get_marker() == "."]
    assert [len(line.get_xdata()) for line in seeds] == [3, 3]
    assert [tick.get_text() for tick in ax.get_xticklabels()] == ["low", "high"]
    with pytest.raises(ValueError, match="at least one"):
        plot_seeds({})


def test_plot_rate_distortion_draws_each_seed_of_a_model_beside_its_point():
    seeds = {"beta = 1": [(19.7, 90.1), (19.8, 90.5), (19.6, 90.9)]}
    fig = plot_rate_distortion({"beta = 1": (19.7, 90.5), "beta = 5": (7.8, 117.3)}, seeds=seeds)
    crosses = [line for line in fig.axes[0].lines if line.get_marker() == "x"]
    assert len(crosses) == 1 and len(crosses[0].get_xdata()) == 3


def test_measures_of_a_record_the_notebooks_and_their_text_share():
    record = {
        "test": {"nelbo": 110.0, "niwae": {"1000": 104.0}},
        "train": {"nelbo": 90.0, "niwae": {"1000": 86.5}},
        "kl_per_dimension": [0.0, 0.005, 0.02, 3.0],
    }
    assert records.elbo_to_iwae(record) == pytest.approx(6.0)
    assert records.overfitting(record) == pytest.approx(20.0)
    assert records.iwae_overfitting(record) == pytest.approx(17.5)
    assert records.informative_units(record) == 2
