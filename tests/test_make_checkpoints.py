"""The script that makes the shipped checkpoints, run for a few iterations."""

import json

from autograder.reference import checkpoints as make_checkpoints
from course_utils.checkpoints import load_checkpoint


def test_make_writes_a_loadable_checkpoint_with_provenance(tmp_path, monkeypatch, reference_vae):
    monkeypatch.setattr(make_checkpoints, "PRETRAINED_DIR", tmp_path)
    monkeypatch.setitem(make_checkpoints.RECIPE, "iterations", 3)
    monkeypatch.setattr(make_checkpoints, "IWAE_KS", (1, 2))

    make_checkpoints.make("iwae5_z10")

    model = load_checkpoint(tmp_path / "iwae5_z10.pt")
    provenance = json.loads((tmp_path / "iwae5_z10.json").read_text())
    assert model.z_dim == 10 and model.name == "iwae5_z10"
    assert model.metadata["objective"] == provenance["objective"] == "negative IWAE bound, k=5"
    assert provenance["training"]["iterations"] == 3
    assert provenance["test"]["n_images"] == 1000
    assert set(provenance["test"]["niwae"]) == {"1", "2"}
    assert len(provenance["sha256"]) == 64
