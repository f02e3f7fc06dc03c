"""nbgrader's cell-metadata validation with its schema checked once
(``autograder.metadata_schema``): the same verdicts and errors as ``jsonschema.validate``,
and the schema checked once however many cells are validated."""

from pathlib import Path

import jsonschema
import nbformat
import pytest
from nbgrader.nbgraderformat import MetadataValidator, ValidationError

import autograder.nbgrader_hooks  # noqa: F401 (installs the validation, as nbgrader's config does)
from autograder import metadata_schema

RELEASE = Path(__file__).resolve().parents[1] / "notebooks" / "vae"

#: Metadata nbgrader's schema v3 refuses, each for a different rule.
WRONG = [
    {"grade": True, "solution": False, "locked": True, "grade_id": "a", "points": "one"},
    {"grade": False, "solution": False, "locked": True, "grade_id": 5},
    {"grade": "yes", "solution": False, "locked": True, "grade_id": "a", "points": 1},
    {"grade": False, "solution": False, "grade_id": "a"},  # no locked
]


def cell(meta: dict) -> nbformat.NotebookNode:
    code = nbformat.v4.new_code_cell("pass")
    code.metadata.nbgrader = {**meta, "schema_version": 3}
    return code


@pytest.mark.parametrize("meta", WRONG)
def test_wrong_metadata_raises_the_error_jsonschema_validate_raises(meta):
    schema = MetadataValidator().schema
    with pytest.raises(jsonschema.ValidationError) as plain:
        jsonschema.validate({**meta, "schema_version": 3}, schema)
    with pytest.raises(ValidationError) as installed:
        MetadataValidator().validate_cell(cell(meta))
    assert installed.value.message == plain.value.message
    assert list(installed.value.path) == list(plain.value.path)


def test_the_release_validates_with_its_schema_checked_once(monkeypatch):
    checks = []
    original = jsonschema.Draft4Validator.check_schema
    monkeypatch.setattr(
        jsonschema.Draft4Validator,
        "check_schema",
        classmethod(lambda cls, schema: checks.append(schema) or original(schema)),
    )
    metadata_schema._validator.cache_clear()
    cells = 0
    for path in sorted(RELEASE.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for _ in range(2):
            MetadataValidator().validate_nb(nb)  # raises if any cell is wrong
        cells += sum("nbgrader" in c.metadata for c in nb.cells)
    assert cells > 100
    assert len(checks) == 1
