"""Both editions grade alike (issue 25): the example corpus (``autograder.examples``) graded on
the pt-BR release (``vae-pt``) gives the gradebook it gives on the English one (``vae``).

Each edition is a temporary course of this repository's config and its solutions, released
by nbgrader (the pt-BR one with its Portuguese stubs); the same example submissions, written
from each release, are graded by the course's command (``grading.autograde``) on 2 local
workers, as ``make course`` grades. Per cell, the scores and the flags for a grade by hand
must be equal, and so must each student's failed tests and whole-notebook verdicts; the
English run must also be what the corpus expects of it. The default run grades a sample on
notebook 2, the quickest to grade (its exercises, helpers and written answers; four
submissions per edition, two rounds of the 2 workers: most of the time goes to each
submission's kernel, nbgrader and feedback, not to the notebook); ``-m slow`` the whole
corpus on all four notebooks (hours).
"""

from pathlib import Path

import nbformat
import pytest
from nbgrader.utils import is_solution
from test_autograde_corpus import check_graded, gradebook_rows

from autograder import grading, release, report, translation
from autograder.course import REPO_ROOT, Course, new_course
from autograder.examples import corpus
from autograder.parallel import Workers

EDITION = translation.EDITIONS[0]
ASSIGNMENTS = (EDITION.english, EDITION.assignment)
#: The default run's notebook: the quickest to grade (5.7 s of reference time).
NOTEBOOKS = ("02_negative_elbo",)
#: The default run's sample: the reference answers (the tampering and borrowing scans read
#: the student's cells against the release's: the pt solutions' translated comments must not
#: trip them), the untouched release (the Portuguese stubs left in place graded as
#: unanswered, the written answers' included), a mistake in a helper (which the bound's
#: tests must not count) and a borrowed answer (withheld for a grade by hand).
SAMPLE = (
    "solutions",
    "untouched",
    "kl_normal-mistake_std_for_variance",
    "log_normal-borrowed_grading_density",
)
#: As ``make course`` grades on this 2-core machine: a student per core.
WORKERS = Workers(2)


def released(root: Path, assignment: str, notebooks: tuple[str, ...]) -> Course:
    """A course in ``root`` of the repository's config and the solution ``notebooks`` of
    ``assignment`` (with their reference times and stubs), released by nbgrader."""
    source = REPO_ROOT / "solutions" / assignment
    paths = [source / f"{name}.ipynb" for name in notebooks]
    course = new_course(root, paths, assignment=assignment)
    release.generate(course)
    return course


def outcome(course: Course) -> tuple[dict, dict]:
    """The gradebook's row of every cell of every student (``gradebook_rows``: scores and
    the flag for a grade by hand), and each student's failed tests and whole-notebook
    verdicts (the mistake ids of the class report)."""
    students = {s.student: (s.failed_tests, s.problems) for s in report.build(course).students}
    return gradebook_rows(course), students


def assert_same_outcome(english: Course, portuguese: Course) -> None:
    """Both courses' gradebooks hold the same rows, and their reports the same verdicts."""
    (rows, students), (pt_rows, pt_students) = outcome(english), outcome(portuguese)
    assert rows, "nothing was graded"
    differ = {
        k: (rows.get(k), pt_rows.get(k)) for k in rows | pt_rows if rows.get(k) != pt_rows.get(k)
    }
    assert not differ, f"(vae, vae-pt) rows that differ: {differ}"
    assert pt_students == students


def grade_both_editions(tmp_path: Path, notebooks: tuple[str, ...], cases) -> dict[str, Course]:
    """Write ``cases`` (None: the whole corpus) from each edition's release and grade them on
    ``WORKERS``; check that both editions expect and give the same, and that the English
    run gives what the corpus expects. Returns the graded courses by assignment."""
    courses, expected = {}, {}
    for assignment in ASSIGNMENTS:
        course = released(tmp_path / assignment, assignment, notebooks)
        folder = tmp_path / f"corpus-{assignment}"
        expected[assignment] = corpus.write_corpus(course, folder, cases)
        run = grading.autograde(course, folder, workers=WORKERS)
        assert run.failed == {}, run.failed
        courses[assignment] = course
    assert expected[EDITION.assignment] == expected[EDITION.english]
    assert_same_outcome(*(courses[a] for a in ASSIGNMENTS))
    check_graded(courses[EDITION.english], expected[EDITION.english])
    return courses


def test_the_pt_release_grades_a_sample_as_the_english_one(tmp_path):
    courses = grade_both_editions(tmp_path, NOTEBOOKS, SAMPLE)
    portuguese = courses[EDITION.assignment]
    # What was graded as unanswered held the Portuguese stubs: all scored 0, none flagged for
    # a grade by hand (an untouched written answer is recognised by its checksum).
    stubs = translation.read_stubs(portuguese.source)
    untouched = portuguese.submitted("untouched")
    cells = [
        cell
        for path in sorted(untouched.glob("*.ipynb"))
        for cell in nbformat.read(path, as_version=4).cells
        if is_solution(cell)
    ]
    assert {c.source for c in cells if c.cell_type == "markdown"} == {stubs["text_stub"]}
    comment = stubs["code_stub"].splitlines()[0]
    assert all(comment in c.source for c in cells if c.cell_type == "code")
    rows = gradebook_rows(portuguese, {"untouched"})
    assert rows and all(row[0] == 0.0 and not row[3] for row in rows.values()), rows


@pytest.mark.slow
def test_the_pt_release_grades_the_whole_corpus_as_the_english_one(tmp_path):
    """Every example submission, all four notebooks: about two hours per edition on 2
    cores (README: `make course ALL=1`)."""
    notebooks = tuple(
        path.stem for path in sorted((REPO_ROOT / "solutions" / "vae").glob("*.ipynb"))
    )
    grade_both_editions(tmp_path, notebooks, None)
