"""System-wide nbgrader configuration of the VAE course on a JupyterHub.

A hub image puts this file in ``/etc/jupyter/nbgrader_config.py``: every user's server
reads it, students' and instructors'. A student's server starts in their home folder, which
holds the notebooks fetched from the exchange (``~/vae/*.ipynb``) and no course config, so
this file gives their Validate button the settings autograde uses: the cell time limit, the
stderr redirect, the kernel. Under Validate, nbgrader sets ``NBGRADER_EXECUTION=validate``
in the kernel's environment, which makes the notebooks load the shipped checkpoints
(``course_utils/pretrained``) instead of training: nothing to configure for that fast path.

It names nothing of the instructor's side (``autograder`` is not installed for students).
The instructor's course folder (a clone of the repository) has its own ``nbgrader_config.py``,
read after this one: it keeps these values and adds the grading hooks.
``tests/test_deployment.py`` checks that the settings below equal the course's.
"""

import os

c = get_config()  # noqa: F821 -- defined by traitlets when it executes this file

# torch's OpenMP threads wait passively, in the server and every kernel it starts (see the
# course's nbgrader_config.py: spinning threads next to a busy core train many times slower).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# The exchange: the instructor releases into it and collects from it; students fetch from
# it and submit into it. The folder must exist, writable by every user
# (mkdir -p /srv/nbgrader/exchange && chmod ugo+rwx /srv/nbgrader/exchange).
c.CourseDirectory.course_id = "vae-course"
c.Exchange.root = "/srv/nbgrader/exchange"

# What Validate runs, as autograde runs it (the course's nbgrader_config.py).
c.Execute.timeout = 300
c.Execute.interrupt_on_timeout = True
# The image's Python kernel (it has the vae-course wheel), whatever a notebook names.
c.Execute.kernel_name = "python3"
# Any stderr output in a test cell scores 0: the kernel sends Python's stderr to stdout
# (warnings, progress bars, a student's debugging prints), and keeps its own log quiet.
c.Execute.extra_arguments = [
    '--IPKernelApp.exec_lines=__import__("sys").stderr = __import__("sys").stdout',
    "--IPKernelApp.log_level=ERROR",
]
