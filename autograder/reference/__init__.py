"""The instructor's reference side, never shipped to students.

- ``bounds``: the reference implementation of the two bounds;
- ``values``: the reference values of the hidden tests, computed with ``bounds`` and
  written into the hidden test blocks of ``solutions/`` (``python -m autograder.reference.values``);
- ``checkpoints``: trains the checkpoints shipped in ``course_utils/pretrained/``
  (``python -m autograder.reference.checkpoints``).
"""
