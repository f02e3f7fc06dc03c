"""Checks of the students' bounds, used by the notebooks' test cells.

Every check accepts any correct implementation, however it draws its noise, and
raises an ``AssertionError`` whose message names the likely mistake. The checks work
on *probe* models whose encoder and decoder outputs are fixed numbers, so the right
answers are known exactly or in closed form with a Monte Carlo standard error.
Values that hidden tests compare with stored references come from
``autograder/reference_values.json``, which is not shipped to students.

A test cell reads ``from course_utils.grading import elbo; elbo.check_elbo_kl()``.
"""
