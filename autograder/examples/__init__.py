"""The example corpus: submissions written from the release, and what grading each must give.

- ``implementations``: students' versions of each exercise, correct variants and known
  mistakes, each with the mistake ids the checks must report;
- ``submission``: the release and the expectations a submission is graded against;
- ``hostile``: submissions that attack or break the grader;
- ``corpus``: every case by id, and the writer of a corpus folder (``autograder.main_job``
  grades it).
"""
