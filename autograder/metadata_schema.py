"""nbgrader's cell-metadata validation, with its schema checked once instead of per cell.

nbgrader 0.9.6 validates each cell's ``nbgrader`` metadata with ``jsonschema.validate``,
which first checks the schema itself (``check_schema``), for every cell of every pass: a
4-notebook submission's grading validates its 236 cells four times over, 0.8 s of a 20 s
grading run spent re-checking one unchanged schema. ``install`` makes nbgrader validate with
one validator per schema, its schema checked when it is made: the same verdicts and the
same error (``jsonschema.ValidationError``, the best match, as ``jsonschema.validate``
raises). ``autograder.nbgrader_hooks`` installs it, so every command that reads the
course's config validates this way.
"""

from __future__ import annotations

import functools
import json
from types import SimpleNamespace

import jsonschema
from nbgrader.nbgraderformat import common


@functools.cache
def _validator(schema_text: str) -> jsonschema.protocols.Validator:
    schema = json.loads(schema_text)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def validate(instance: object, schema: dict) -> None:
    """``jsonschema.validate(instance, schema)``, the schema checked on its first use only."""
    validator = _validator(json.dumps(schema, sort_keys=True))
    if (error := jsonschema.exceptions.best_match(validator.iter_errors(instance))) is not None:
        raise error


def install() -> None:
    """Have nbgrader's metadata validators (``nbgrader.nbgraderformat``) use ``validate``."""
    common.jsonschema = SimpleNamespace(validate=validate)
