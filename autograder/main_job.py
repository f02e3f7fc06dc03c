"""The course's main job: build the release, grade the example submissions, bundle for students.

1. Regenerates ``notebooks/`` from ``solutions/`` (byte-stable: unchanged if in sync) and
   says whether anything changed.
2. Writes the example submissions (``autograder.examples``: correct variants, common
   mistakes, hostile cases, each with the score it should get) and autogrades them with the
   instructor's own command (``grading.autograde``) in a course build of their own,
   ``build/examples/`` (its own submitted, autograded and feedback folders, gradebook,
   grades and report, wiped at every run: a class's gradebook in ``build/`` is never
   touched); then reports on them: each example's expected and actual score, the pass rate
   of every test and the most common mistakes.
3. Builds the student bundle and checks that it gives no solution away.

Exits 1 if an example's score differs from the expected one, or the bundle leaks.
By default it grades a sample of the corpus (``sample``: the solutions, the untouched
release, one correct variant and one mistake per exercise, one hostile case of each kind),
a few minutes on 2 cores; ``--all`` grades all of it, and
``python -m autograder course CASE...`` only the named examples (``case_ids``).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from traitlets.config import Config

from autograder import bundle, grading, release, report, report_page
from autograder.course import Course
from autograder.examples import corpus
from autograder.parallel import SEQUENTIAL, Workers

#: Where the examples are graded, relative to the course directory.
EXAMPLES_DIR = Path("build", "examples")

#: Hostile examples in the default sample: one of each way grading must not break.
SAMPLE_HOSTILE = (
    "killed_kernel",  # a kernel that dies
    "infinite_loop",  # a cell that never ends: its time limit
    "huge_output",  # output without end: the output cap
    "nan_everywhere",  # numbers that are not numbers
    "redefined_helpers",  # tampering with what the tests use
    "deleted_tests",  # test cells deleted: put back
    "corrupt_notebook",  # a file that is not a notebook
    "escape_import_instructor",  # reading what the sandbox hides
    "escape_gradebook",  # writing where grades are kept
    "escape_fork_bomb",  # processes without end
    "escape_socket",  # the network
)
#: Longest line of a problem printed (the feedback and the report have all of it).
WIDTH = 150


def sample(course: Course) -> list[str]:
    """The solutions, the untouched release, the first correct variant and the first mistake
    of each exercise, the first borrowed answer, and ``SAMPLE_HOSTILE``."""
    chosen = ["solutions", "untouched", *SAMPLE_HOSTILE]
    for case in corpus.case_ids(course):
        exercise, _, entry = case.partition("-")
        kind = entry.split("_")[0]
        if kind == "borrowed":
            if not any("-borrowed_" in c for c in chosen):
                chosen.append(case)
        elif entry and not any(c.startswith(f"{exercise}-{kind}_") for c in chosen):
            chosen.append(case)
    return chosen


def run(
    course: Course, cases: list[str], every: bool = False, workers: Workers = SEQUENTIAL
) -> int:
    """The whole job: ``cases``, the examples to grade (default: ``sample``; ``every``: all),
    on ``workers``."""
    start = time.perf_counter()
    if every:
        cases = []
    elif not cases:
        cases = sample(course)
    print(f"1. Release: {build_release(course)}")

    print("2. Grading the example submissions with nbgrader")
    folder = course.root / EXAMPLES_DIR
    shutil.rmtree(folder, ignore_errors=True)
    written = corpus.write_corpus(course, folder / "corpus", cases or None)
    examples = example_course(course)
    run = grading.autograde(examples, folder / "corpus", progress=True, workers=workers)
    for student, log in run.failed.items():
        print(f"   {student}: {not_graded(log)}")
    found = report.build(examples, {student: e.score for student, e in written.items()})
    pages = report_page.write(found, folder / "report")
    print(found.summary())
    print(f"   feedback: {examples.feedback('*')}/*.html")
    print(f"   report:   {pages['report.html']}")
    print(f"   grades:   {grading.grades_csv(examples)}")

    path = bundle.build(course)
    leaks = bundle.leaks(path, course)
    print(f"3. Student bundle: {path}" + (" LEAKS:" if leaks else " (no solutions in it)"))
    for leak in leaks:
        print(f"   {leak}")

    mismatches = found.mismatches
    for s in mismatches:
        actual = "nothing" if s.score is None else f"{s.score:g}"
        print(
            f"MISMATCH {s.student} ({written[s.student].description}): "
            f"expected {s.expected:g}, got {actual}"
        )
    print(f"Done in {time.perf_counter() - start:.0f} s.")
    return int(bool(mismatches or leaks))


def example_course(course: Course) -> Course:
    """``course`` with every grading output (folders, gradebook, CSV) in ``EXAMPLES_DIR``."""
    folder = course.root / EXAMPLES_DIR
    overrides = Config()
    overrides.merge(course.overrides)
    for step in ("submitted", "autograded", "feedback"):
        # Relative, as in nbgrader_config.py (nbgrader makes regexes of these paths).
        setattr(overrides.CourseDirectory, f"{step}_directory", f"{EXAMPLES_DIR.as_posix()}/{step}")
    overrides.CourseDirectory.db_url = f"sqlite:///{folder / 'gradebook.db'}"
    overrides.ExportPlugin.to = str(folder / "grades.csv")
    return Course(course.root, course.assignment, overrides)


def not_graded(log: str) -> str:
    """One short line for a submission nbgrader could not grade: its log's last line."""
    lines = log.strip().splitlines()
    line = f"nbgrader could not grade it: {lines[-1] if lines else '(no log)'}"
    return line if len(line) <= WIDTH else line[: WIDTH - 1] + "…"


def build_release(course: Course) -> str:
    """Regenerate the release and its translated editions' (``release.generate_editions``);
    say which files changed (none when it was in sync)."""
    folder = course.release.parent  # notebooks/: every edition's release
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    release.refresh_times(course)
    release.generate(course)
    release.generate_editions(course)
    after = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    changed = sorted(
        p.relative_to(folder).as_posix()
        for p in before.keys() | after.keys()
        if before.get(p) != after.get(p)
    )
    if changed:
        return f"regenerated {folder} from the solutions: {', '.join(changed)} changed"
    return f"{folder} is in sync with the solutions"
