"""The instructor side of the course.

``python -m autograder --help`` lists the nbgrader commands (modules ``course``,
``release``, ``validation``, ``grading``): regenerate and check the student release,
validate the solutions and the release, autograde a folder or zip of submissions. Each
takes the course directory as a parameter (default: this repository). The environment
of the course's processes is set by its config (``nbgrader_config.py``), which each of
them reads first.
"""

import warnings

from sqlalchemy.exc import SAWarning

# nbgrader 0.9.6's gradebook code trips SQLAlchemy 2 autoflush warnings: noise, not news
# (in every process that grades: the coordinator and each worker).
warnings.filterwarnings("ignore", category=SAWarning)
