"""Checks of the students' functions, used by the notebooks' test cells: the densities of
notebook 2 (``densities``), the negative ELBO (``elbo``), the negative IWAE bound (``iwae``),
and notebook 4's mixture density and GMVAE bounds (``gmvae``).

These four modules share through the modules below them, never through each other:
``common`` (probe models, tolerant comparisons, diagnoses, grading an exercise alone),
``probes`` (the bounds' probe settings, mistake tables and the checks a VAE's and a GMVAE's
bounds share) and ``checkpoints`` (the checks on the shipped trained models, which ``elbo``,
``iwae`` and ``gmvae`` offer under the names their notebooks call).

Every check accepts any correct implementation, however it draws its noise, and
raises an ``AssertionError`` whose message names the likely mistake. The densities are
checked against known answers; the bounds on *probe* models whose encoder and decoder
outputs are fixed numbers, so the right answers are known exactly or in closed form with a
Monte Carlo standard error. The checks compute those answers with ``torch.distributions``
(``course_utils.reference_densities``), never with the student's densities. The checkpoint
checks compare the shipped trained models loosely with their provenance (visible) and tightly
with reference values that the hidden tests carry themselves (students never receive the
hidden tests), and their messages never show those values. Every failure ends with the id of
the likely mistake, ``(mistake: <id>)``, one of ``course_utils.exercises.MISTAKES``.

A test cell reads ``from course_utils.grading import elbo; elbo.check_elbo_kl()``.
"""
