"""The script that makes the shipped checkpoints, run for a few iterations."""

import json
from dataclasses import replace

import torch

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


def test_notebook_4_recipe_is_shared_and_stores_float16(tmp_path, monkeypatch, reference_vae):
    """The models notebook 4 compares share NB4_ITERATIONS; their weights are stored as
    float16 and their bounds measured on the rounded weights, so the provenance matches
    what loads."""
    nb4 = set(make_checkpoints.CHECKPOINTS) - {"vae_z10", "vae_z2", "iwae5_z10"}
    recipes = {
        (make_checkpoints.CHECKPOINTS[n].iterations, make_checkpoints.CHECKPOINTS[n].stored_dtype)
        for n in nb4
    }
    assert recipes == {(make_checkpoints.NB4_ITERATIONS, torch.float16)}
    assert {f"vae_z10_beta{beta:g}" for beta in make_checkpoints.BETAS} <= set(nb4)
    short = replace(make_checkpoints.CHECKPOINTS["vae_z50_warmup"], iterations=3, warmup=2)
    monkeypatch.setitem(make_checkpoints.CHECKPOINTS, "vae_z50_warmup", short)
    monkeypatch.setattr(make_checkpoints, "PRETRAINED_DIR", tmp_path)
    monkeypatch.setattr(make_checkpoints, "IWAE_KS", (1,))

    make_checkpoints.make("vae_z50_warmup")

    provenance = json.loads((tmp_path / "vae_z50_warmup.json").read_text())
    assert provenance["weights_stored_as"] == "float16"
    assert provenance["training"]["iterations"] == 3 and provenance["training"]["warmup"] == 2
    assert len(provenance["test"]["kl_per_dimension"]) == 50
    model = load_checkpoint(tmp_path / "vae_z50_warmup.pt")
    with torch.no_grad():
        weights = model.enc.net[0].weight
        torch.testing.assert_close(weights, weights.half().float(), rtol=0, atol=0)
