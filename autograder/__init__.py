"""The instructor side of the course.

``python -m autograder --help`` lists the nbgrader commands (modules ``course``,
``release``, ``validation``, ``grading``): regenerate and check the student release,
validate the solutions and the release, autograde a folder or zip of submissions. Each
takes the course directory as a parameter (default: this repository).
"""

import os
import warnings

from sqlalchemy.exc import SAWarning

# Before torch loads OpenMP (see nbgrader_config.py): the course's own processes, and the
# kernels they start, wait passively instead of spinning.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# nbgrader 0.9.6's gradebook code trips SQLAlchemy 2 autoflush warnings: noise, not news
# (in every process that grades: the coordinator and each worker).
warnings.filterwarnings("ignore", category=SAWarning)
