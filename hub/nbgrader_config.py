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
read after this one: it applies the same shared settings (``course_utils.nbgrader_settings``)
and adds the grading hooks.
"""

from course_utils import nbgrader_settings

c = get_config()  # noqa: F821 -- defined by traitlets when it executes this file

# What Validate shares with autograde (the kernel, the cell time limit, stderr, the course
# id, OpenMP's passive waits), as the course's nbgrader_config.py applies it: from the
# vae-course wheel every user's environment has.
nbgrader_settings.apply(c)

# The exchange: the instructor releases into it and collects from it; students fetch from
# it and submit into it. The folder must exist, writable by every user
# (mkdir -p /srv/nbgrader/exchange && chmod ugo+rwx /srv/nbgrader/exchange).
c.Exchange.root = "/srv/nbgrader/exchange"
