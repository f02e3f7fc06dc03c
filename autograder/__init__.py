"""The instructor side of the course.

``python -m autograder --help`` lists the nbgrader commands (modules ``course``,
``release``, ``validation``, ``grading``): regenerate and check the student release,
validate the solutions and the release, autograde a folder or zip of submissions. Each
takes the course directory as a parameter (default: this repository).
"""

import os

# Before torch loads OpenMP (see nbgrader_config.py): the course's own processes, and the
# kernels they start, wait passively instead of spinning.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
