"""The main job's choices (``python -m autograder course``): which examples it grades by
default, and how it prints what went wrong. Its grading is tested in test_instructor_commands."""

from autograder import main_job as course_job
from autograder.course import Course
from autograder.examples import corpus as submissions
from course_utils.exercises import EXERCISES


def test_sample_has_one_correct_variant_and_one_mistake_per_exercise():
    course = Course()
    chosen = course_job.sample(course)

    assert chosen[:2] == ["solutions", "untouched"]
    assert set(course_job.SAMPLE_HOSTILE) <= set(chosen)
    assert set(chosen) <= set(submissions.case_ids(course))
    variants = [case.partition("-") for case in chosen if "-" in case]
    borrowed = [(e, entry) for e, _, entry in variants if entry.startswith("borrowed_")]
    assert len(borrowed) == 1
    variants = [(e, entry) for e, _, entry in variants if not entry.startswith("borrowed_")]
    exercises = {exercise for exercise, _ in variants}
    assert exercises == {e.name for e in EXERCISES}
    kinds = sorted((exercise, entry.split("_")[0]) for exercise, entry in variants)
    assert kinds == sorted((e, k) for e in exercises for k in ("correct", "mistake"))
    expected = 2 + len(course_job.SAMPLE_HOSTILE) + 2 * len(EXERCISES) + 1
    assert len(chosen) == len(set(chosen)) == expected


def test_a_submission_nbgrader_cannot_grade_is_one_short_line():
    assert course_job.not_graded("starting\nKernelDied: boom\n") == (
        "nbgrader could not grade it: KernelDied: boom"
    )
    assert course_job.not_graded("") == "nbgrader could not grade it: (no log)"
    line = course_job.not_graded(f"NbGraderException: {'x' * 300}")
    assert len(line) == course_job.WIDTH and line.endswith("…")
