"""The main job's choices (``python -m autograder course``): which examples it grades by
default, and how it prints what went wrong. Its grading is tested in test_instructor_commands."""

from autograder import main_job as course_job
from autograder.course import Course
from autograder.examples import corpus as submissions


def test_sample_has_one_correct_variant_and_one_mistake_per_exercise():
    course = Course()
    chosen = course_job.sample(course)

    assert chosen[:2] == ["solutions", "untouched"]
    assert set(course_job.SAMPLE_HOSTILE) <= set(chosen)
    assert set(chosen) <= set(submissions.case_ids(course))
    variants = [case.partition("-") for case in chosen if "-" in case]
    exercises = {exercise for exercise, _, _ in variants}
    assert exercises == {
        "jensen_gap_solution",
        "elbo_mc_solution",
        "negative_elbo_bound",
        "negative_iwae_bound",
    }
    kinds = sorted((exercise, entry.split("_")[0]) for exercise, _, entry in variants)
    assert kinds == sorted((e, k) for e in exercises for k in ("correct", "mistake"))
    assert len(chosen) == len(set(chosen)) == 2 + len(course_job.SAMPLE_HOSTILE) + 8


def test_problems_are_one_short_line_per_notebook():
    log = (
        "[AutogradeApp | ERROR] a traceback\n"
        "01_jensen_elbo.ipynb: autograde failed, scored 0\n"
        "Traceback (most recent call last):\n"
        f"03_iwae.ipynb: tests scored 0 for review, {'x' * 300}\n"
    )

    found = course_job.problems(log)

    assert found[0] == "01_jensen_elbo.ipynb: autograde failed, scored 0"
    assert found[1].startswith("03_iwae.ipynb: tests scored 0 for review, xxx")
    assert len(found) == 2 and len(found[1]) == course_job.WIDTH and found[1].endswith("…")


def test_a_log_without_notebook_lines_gives_its_last_line():
    assert course_job.problems("starting\nKernelDied: boom\n") == [
        "nbgrader could not grade it: KernelDied: boom"
    ]
    assert course_job.problems("") == ["nbgrader could not grade it: (no log)"]
