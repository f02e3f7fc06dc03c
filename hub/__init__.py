"""The course as a class on a real JupyterHub on this machine (``make hub``).

Set up the way the Littlest JupyterHub sets up a small class: real Unix accounts for an
instructor and the students, JupyterHub (PAM logins, its local process spawner starting each
user's JupyterLab as that user, configurable-http-proxy in front), one environment for the
users with the course's wheel installed, nbgrader's exchange, and the instructor's course
folder with formgrader and the grading sandbox. ``python -m hub up`` makes it all and starts
the hub; ``python -m hub down`` stops it and removes what it made.
"""
