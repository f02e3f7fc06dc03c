"""Checks of the students' bounds, used by the notebooks' test cells.

Every check accepts any correct implementation, however it draws its noise, and
raises an ``AssertionError`` whose message names the likely mistake. The checks work
on *probe* models whose encoder and decoder outputs are fixed numbers, so the right
answers are known exactly or in closed form with a Monte Carlo standard error.
The hidden tests compare trained models with reference values that they carry
themselves (students never receive the hidden tests), and their messages never show those
values. Every failure ends with the id of the likely mistake, ``(mistake: <id>)``, one of
``course_utils.exercises.MISTAKES``.

A test cell reads ``from course_utils.grading import elbo; elbo.check_elbo_kl()``.
"""
