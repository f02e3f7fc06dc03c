"""The instructor side of the course.

``python -m autograder --help`` lists the nbgrader commands (modules ``course``,
``release``, ``validation``, ``grading``): regenerate and check the student release,
validate the solutions and the release, autograde a folder or zip of submissions. Each
takes the course directory as a parameter (default: this repository). The environment
of the course's processes is set by its config (``nbgrader_config.py``), which each of
them reads first.
"""

import functools
import os
import warnings

import nbgrader
import nbgrader.api
from alembic.script import ScriptDirectory
from sqlalchemy.exc import SAWarning

# nbgrader 0.9.6's gradebook code trips SQLAlchemy 2 autoflush warnings: noise, not news
# (in every process that grades: the coordinator and each worker).
warnings.filterwarnings("ignore", category=SAWarning)


@functools.cache
def alembic_head() -> str:
    """The newest revision of nbgrader's gradebook migrations, read from its scripts in this
    process. nbgrader stamps every new gradebook with it, and reads it by running ``alembic
    heads`` in a subprocess (``nbgrader.api.get_alembic_version``): 3 s on this machine, 8 s
    with the other core busy, paid by every new course, every grading worker's template
    course and every course the tests make; 0.07 s here."""
    migrations = os.path.join(os.path.dirname(nbgrader.__file__), "alembic")
    return ScriptDirectory(migrations).get_current_head()


# In every process that loads the course's code: ours, the workers, and nbgrader's own
# commands (the course's config imports autograder.nbgrader_hooks).
nbgrader.api.get_alembic_version = alembic_head
