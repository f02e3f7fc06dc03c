"""A new gradebook is stamped with nbgrader's newest migration without a subprocess
(``autograder.alembic_head``, in place of nbgrader's ``alembic heads``)."""

import subprocess
import sys

from nbgrader import dbutil
from nbgrader.api import Gradebook
from sqlalchemy import text

import autograder


def test_a_new_gradebook_has_nbgrader_s_revision_without_a_subprocess(tmp_path, monkeypatch):
    # What nbgrader itself reads, by running alembic.
    with dbutil._temp_alembic_ini("sqlite:////tmp/unused.db") as ini:
        heads = subprocess.check_output(
            [sys.executable, "-m", "alembic", "-c", ini, "heads"], text=True
        )
    revision = heads.split("\n")[0].split(" ")[0]
    assert autograder.alembic_head() == revision

    def no_subprocess(*args, **kwargs):
        raise AssertionError(f"a subprocess was started: {args}")

    monkeypatch.setattr(subprocess, "check_output", no_subprocess)
    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}") as gradebook:
        stamped = gradebook.db.execute(text("SELECT version_num FROM alembic_version")).scalar()
    assert stamped == revision
