"""Shared code of the VAE course: distributions, the VAE, data, training and evaluation.

The notebooks import what they need from the modules, e.g.
``from course_utils.models import VAE, add_to_class``.
"""

__version__ = "0.1.0"
