import pytest
import torch
from torch.testing import assert_close

from course_utils.checkpoints import (
    PRETRAINED_DIR,
    load_checkpoint,
    load_pretrained,
    pretrained_names,
    save_checkpoint,
)
from course_utils.models import VAE


def test_round_trip_restores_weights_config_and_metadata(tmp_path):
    model = VAE(nn="v1", name="vae-z3", z_dim=3)
    path = save_checkpoint(model, tmp_path / "sub" / "model.pt", iterations=7, data="mnist-subset")
    loaded = load_checkpoint(path)
    assert (loaded.name, loaded.z_dim, loaded.arch) == ("vae-z3", 3, "v1")
    assert loaded.metadata == {"iterations": 7, "data": "mnist-subset"}
    assert not loaded.training
    for key, value in model.state_dict().items():
        assert_close(loaded.state_dict()[key], value)
    assert not list(tmp_path.glob("**/*.partial"))


def test_missing_and_foreign_files_get_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "nothing.pt")
    torch.save({"weights": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="is not a course checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


def test_metadata_is_stored_as_plain_json(tmp_path):
    path = save_checkpoint(VAE(z_dim=2), tmp_path / "m.pt", torch=torch.__version__, model="v1")
    assert load_checkpoint(path).metadata == {"torch": str(torch.__version__), "model": "v1"}
    with pytest.raises(TypeError, match="not JSON serializable"):
        save_checkpoint(VAE(z_dim=2), tmp_path / "bad.pt", weights=torch.zeros(1))


@pytest.mark.parametrize("name", pretrained_names())
def test_shipped_checkpoints_load_with_the_state_dict_they_were_saved_with(name):
    """The prior's buffers keep their names and values: checkpoints saved before load as is."""
    saved = torch.load(PRETRAINED_DIR / f"{name}.pt", weights_only=True)["state_dict"]
    loaded = load_pretrained(name).state_dict()
    assert list(loaded) == list(saved)
    assert {"z_prior_m", "z_prior_v"} <= set(loaded)
    for key, value in saved.items():
        assert loaded[key].dtype == value.dtype and torch.equal(loaded[key], value), key
