import hashlib
import json

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
from course_utils.models import GMVAE, VAE


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
    """The prior's buffers (a GMVAE's z_pre) keep their names and values: checkpoints saved
    before load as is; weights stored as float16 load exactly, as float32."""
    saved = torch.load(PRETRAINED_DIR / f"{name}.pt", weights_only=True)["state_dict"]
    model = load_pretrained(name)
    loaded = model.state_dict()
    assert list(loaded) == list(saved)
    prior = {"z_pre"} if isinstance(model, GMVAE) else {"z_prior_m", "z_prior_v"}
    assert prior <= set(loaded)
    stored = model.metadata.get("weights_stored_as", "float32")
    for key, value in saved.items():
        assert str(value.dtype) == f"torch.{stored}", key
        assert loaded[key].dtype == torch.float32 and torch.equal(loaded[key], value.float()), key


def test_weights_stored_as_float16_halve_the_file_and_load_as_float32(tmp_path):
    model = VAE(nn="v1", name="vae-z3", z_dim=3)
    full = save_checkpoint(model, tmp_path / "full.pt")
    half = save_checkpoint(model, tmp_path / "half.pt", stored_dtype=torch.float16)
    assert half.stat().st_size < 0.55 * full.stat().st_size
    loaded = load_checkpoint(half).state_dict()
    for key, value in model.state_dict().items():
        assert loaded[key].dtype == torch.float32
        assert_close(loaded[key], value.half().float(), rtol=0, atol=0)


def test_shipped_checkpoints_are_small_and_their_provenance_matches_the_file():
    """A few MB each (STYLE.md), float16 halving the notebook-4 ones; the provenance JSON's
    SHA-256 is the file's."""
    for name in pretrained_names():
        path = PRETRAINED_DIR / f"{name}.pt"
        provenance = json.loads(path.with_suffix(".json").read_text())
        assert hashlib.sha256(path.read_bytes()).hexdigest() == provenance["sha256"], name
        limit = 1.5e6 if provenance.get("weights_stored_as") == "float16" else 3e6
        assert path.stat().st_size < limit, name
