import pytest
import torch

from course_utils.checkpoints import load_checkpoint
from course_utils.models import VAE
from course_utils.training import (
    TrainingHistory,
    UnfinishedError,
    progress_enabled,
    require_finished,
    train,
)


@pytest.fixture(scope="module")
def grey_images():
    """200 blurry 'strokes': grey levels in [0, 1] with structure a VAE can learn quickly."""
    g = torch.Generator().manual_seed(0)
    centres = torch.randint(4, 24, (200, 1), generator=g)
    columns = torch.arange(28).expand(200, 28)
    rows = (-((columns - centres) ** 2) / 8.0).exp()  # (200, 28)
    return rows.repeat_interleave(28, dim=0).reshape(200, 784).clamp(0, 1)


def test_training_lowers_the_loss_and_logs_windows(reference_vae, grey_images):
    history = train(VAE(z_dim=2), grey_images, iterations=300, batch_size=50, log_every=100)
    assert history.iterations == [100, 200, 300]
    assert set(history.metrics) == {"train/loss", "gen/elbo", "gen/kl_z", "gen/rec"}
    loss = history.metrics["train/loss"]
    assert loss[-1] < loss[0] - 50
    for nelbo, kl, rec in zip(
        loss, history.metrics["gen/kl_z"], history.metrics["gen/rec"], strict=True
    ):
        assert nelbo == pytest.approx(kl + rec, rel=1e-5)
    assert history.seconds > 0 and history.images_per_second > 0


def test_iwae_objective_trains_and_logs_the_bound(reference_vae, grey_images):
    history = train(VAE(z_dim=2), grey_images, iterations=200, batch_size=50, iw=5, log_every=100)
    assert set(history.metrics) == {"train/loss", "gen/elbo", "gen/kl_z", "gen/rec", "gen/iwae"}
    loss, elbo = history.metrics["train/loss"], history.metrics["gen/elbo"]
    assert loss[-1] < loss[0]
    assert all(-bound <= -e + 1e-3 for bound, e in zip(loss, elbo, strict=True))  # IWAE >= ELBO


def test_beta_weights_the_kl_term_of_the_training_loss(reference_vae, grey_images, tmp_path):
    model = VAE(z_dim=2)
    history = train(
        model,
        grey_images,
        iterations=40,
        batch_size=50,
        beta=0.25,
        log_every=20,
        checkpoint=tmp_path / "beta.pt",
    )
    metrics = history.metrics
    for loss, kl, rec, elbo in zip(
        metrics["train/loss"],
        metrics["gen/kl_z"],
        metrics["gen/rec"],
        metrics["gen/elbo"],
        strict=True,
    ):
        assert loss == pytest.approx(rec + 0.25 * kl, rel=1e-5)
        assert elbo == pytest.approx(-(kl + rec), rel=1e-5)
    assert load_checkpoint(tmp_path / "beta.pt").metadata["beta"] == 0.25


def test_a_partial_last_window_is_averaged_over_its_own_length(reference_vae, grey_images):
    history = train(VAE(z_dim=2), grey_images, iterations=7, batch_size=50, log_every=5)
    assert history.iterations == [5, 7]


def test_same_seed_same_model(reference_vae, grey_images):
    a, b = VAE(z_dim=2), VAE(z_dim=2)
    b.load_state_dict(a.state_dict())
    train(a, grey_images, iterations=20, batch_size=50, seed=3)
    train(b, grey_images, iterations=20, batch_size=50, seed=3)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), name


def test_checkpoint_written_after_training(reference_vae, grey_images, tmp_path):
    model = VAE(z_dim=2, name="tiny")
    train(model, grey_images, iterations=10, batch_size=50, checkpoint=tmp_path / "tiny.pt")
    loaded = load_checkpoint(tmp_path / "tiny.pt")
    assert loaded.metadata["iterations"] == 10 and loaded.metadata["batch_size"] == 50
    assert torch.equal(loaded.dec.net[0].weight, model.dec.net[0].weight)


def test_training_without_an_implemented_bound_names_the_exercise(grey_images):
    with pytest.raises(NotImplementedError, match="negative_elbo_bound"):
        train(VAE(), grey_images, iterations=1, batch_size=10)


@pytest.mark.parametrize(
    "images, kwargs, message",
    [
        (torch.full((10, 784), 255.0), {}, "divide 8-bit images by 255"),
        (torch.rand(10, 28, 28), {}, r"\(n, 784\)"),
        (torch.rand(0, 784), {}, "empty training set"),
        (torch.rand(10, 784), {"batch_size": 11}, r"batch_size must be in \[1, 10\]"),
        (torch.rand(10, 784), {"iterations": 0}, "must be positive"),
        (torch.rand(10, 784), {"iw": 0}, "must be positive"),
        (torch.rand(10, 784), {"iw": 5, "beta": 2.0}, "use beta=1 with iw > 1"),
        (torch.rand(10, 784), {"beta": -1.0}, "must be finite and >= 0"),
    ],
)
def test_bad_input_is_rejected_before_training(images, kwargs, message):
    with pytest.raises(ValueError, match=message):
        train(VAE(), images, **{"batch_size": 5, **kwargs})


def test_progress_bars_are_off_under_nbgrader(monkeypatch):
    monkeypatch.delenv("VAE_COURSE_QUIET", raising=False)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    assert progress_enabled()
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert not progress_enabled()


def test_progress_bar_reports_every_iteration(reference_vae, grey_images, capsys):
    train(VAE(z_dim=2), grey_images, iterations=30, batch_size=50, log_every=10, progress=True)
    err = capsys.readouterr().err
    assert "30/30" in err and "loss=" in err


def test_empty_history_has_no_last_value():
    with pytest.raises(ValueError, match="no training iterations"):
        TrainingHistory().last()


def test_require_finished_stops_on_a_result_that_was_never_set():
    model = VAE(z_dim=2)
    assert require_finished(model, "The training cell") is model
    with pytest.raises(UnfinishedError, match=r"The training cell of Section 2\.3 did not finish"):
        require_finished(None, "The training cell of Section 2.3")
