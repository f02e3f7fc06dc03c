"""Grading a class in parallel (``autograder.parallel``), through the course's real command:
2 local worker processes, a Dask scheduler and 2 workers started as separate processes, and
the gradebook on a PostgreSQL server started for the tests. Each run's grades and feedback
must equal nbgrader's sequential run of the same submissions; faults (a submission nbgrader
cannot grade; ``-m slow``: a worker or the coordinator killed with SIGKILL) lose nothing.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from test_autograde_corpus import (
    ENV,
    FIXTURE_NOTEBOOK,
    TIMEOUT,
    autograde_cli,
    gradebook_rows,
    make_course,
    run_cli,
)

from autograder import grading, parallel
from autograder.course import Course
from autograder.examples import corpus

#: Submissions of the fixture course that exercise every grading rule.
CASES = [
    "solutions",
    "untouched",
    "raising_cell",
    "killed_kernel",
    "corrupt_notebook",
    "redefined_helpers",
    "nan_everywhere",
    "edited_tests",
]
#: Where Debian's postgresql package puts the server's programs.
POSTGRES = Path("/usr/lib/postgresql")


def feedback(course: Course, students: list[str]) -> dict[str, str]:
    """Each student's feedback page, without the cell ids nbformat makes up for the
    fixture's id-less cells."""
    return {
        student: re.sub(
            r'id="cell-id=[\w-]+"', "", (course.feedback(student) / "add.html").read_text()
        )
        for student in students
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def sequential(tmp_path_factory) -> tuple[Course, Path]:
    """The cases graded one after the other (nbgrader's way): the reference of this module."""
    root = tmp_path_factory.mktemp("sequential")
    course = make_course(root / "course", [FIXTURE_NOTEBOOK], TIMEOUT)
    corpus.write_corpus(course, root / "corpus", CASES)
    run_cli(course, root / "corpus")
    return course, root / "corpus"


def grade_like(sequential, root: Path, workers: tuple[str, ...], **settings) -> Course:
    """The sequential run's submissions graded in a new course with ``workers``; its
    grades and feedback must be the sequential run's."""
    reference, submissions = sequential
    course = make_course(root, [FIXTURE_NOTEBOOK], TIMEOUT, *settings.values())
    run_cli(course, submissions, workers=workers)
    assert gradebook_rows(course) == gradebook_rows(reference)
    assert feedback(course, CASES) == feedback(reference, CASES)
    return course


def test_two_local_workers_grade_as_nbgrader_does(sequential, tmp_path):
    grade_like(sequential, tmp_path / "course", ("--workers", "2"))


# -- a Dask cluster of separate processes ----------------------------------------------------


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory) -> Iterator[str]:
    """A Dask scheduler and 2 single-threaded workers, each an OS process of its own."""
    with parallel.local_cluster(2, tmp_path_factory.mktemp("dask"), ENV) as address:
        yield address


def test_a_dask_cluster_grades_as_nbgrader_does(sequential, scheduler, tmp_path):
    grade_like(sequential, tmp_path / "course", ("--scheduler", scheduler))


# -- the gradebook on PostgreSQL -------------------------------------------------------------


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """A PostgreSQL server in a temporary folder, on a free port: its SQLAlchemy URL."""
    servers = sorted(POSTGRES.glob("*/bin/pg_ctl"))
    if not servers:
        pytest.fail(
            "the PostgreSQL server is not installed: `sudo apt-get install postgresql` "
            "(scripts/setup_system.sh installs it)"
        )
    bin_dir = servers[-1].parent
    folder = Path(tempfile.mkdtemp(prefix="vae-postgres-"))
    folder.chmod(0o755)
    data, port = folder / "data", free_port()
    as_owner = []
    if os.getuid() == 0:  # the server refuses to run as root: as Debian's postgres user
        shutil.chown(folder, "postgres")
        as_owner = ["runuser", "-u", "postgres", "--"]
    run = {"check": True, "capture_output": True}
    subprocess.run(
        [*as_owner, str(bin_dir / "initdb"), "-D", str(data), "-U", "grader", "--auth=trust"], **run
    )
    settings = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1"
    pg_ctl = [*as_owner, str(bin_dir / "pg_ctl"), "-D", str(data)]
    subprocess.run([*pg_ctl, "-o", settings, "-l", str(folder / "log"), "-w", "start"], **run)
    try:
        yield f"postgresql+psycopg://grader@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*pg_ctl, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def test_two_workers_grade_into_postgresql(sequential, postgres, tmp_path):
    course = grade_like(
        sequential,
        tmp_path / "course",
        ("--workers", "2"),
        db=f"c.CourseDirectory.db_url = {postgres!r}",
    )
    assert course.db_url.startswith("postgresql")


# -- faults ----------------------------------------------------------------------------------


def wait_for(condition, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def graded(course: Course) -> int:
    folder = course.step_dir(course.coursedir.autograded_directory, "*").parent.parent
    return len(list(folder.glob("*/*/add.ipynb"))) if folder.exists() else 0


def grading_underway(course: Course, submissions: Path, graded_first: int, **popen):
    """The course's command grading ``submissions`` on 2 workers in a subprocess, once it
    has graded ``graded_first`` students."""
    process = autograde_cli(course, submissions, workers=("--workers", "2"), **popen)
    wait_for(lambda: graded(course) >= graded_first)
    return process


@pytest.mark.slow
def test_a_worker_killed_mid_run_loses_nothing(sequential, tmp_path):
    reference, submissions = sequential
    course = make_course(tmp_path / "course", [FIXTURE_NOTEBOOK], TIMEOUT)
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    process = grading_underway(course, submissions, 1, **pipes)
    children = psutil.Process(process.pid).children()
    workers = [child for child in children if "spawn" in " ".join(child.cmdline())]
    assert workers, "no worker process found"
    workers[0].send_signal(signal.SIGKILL)
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, out + err
    assert gradebook_rows(course) == gradebook_rows(reference)


@pytest.mark.slow
def test_the_coordinator_killed_mid_run_then_rerun_loses_nothing(sequential, tmp_path):
    reference, submissions = sequential
    course = make_course(tmp_path / "course", [FIXTURE_NOTEBOOK], TIMEOUT)
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    process = grading_underway(course, submissions, 2, start_new_session=True, **quiet)
    os.killpg(process.pid, signal.SIGKILL)  # the coordinator, its workers and kernels
    process.wait()
    assert graded(course) < len(CASES)
    run_cli(course, submissions, workers=("--workers", "2"))
    assert gradebook_rows(course) == gradebook_rows(reference)


def test_a_submission_nbgrader_cannot_grade_is_tried_twice_then_reported(sequential, tmp_path):
    _, submissions = sequential
    course = make_course(tmp_path / "course", [FIXTURE_NOTEBOOK], TIMEOUT)
    folder = tmp_path / "corpus"
    shutil.copytree(submissions / "solutions", folder / "solutions")
    (folder / "mallory" / "vae").mkdir(parents=True)
    shutil.copy(FIXTURE_NOTEBOOK, folder / "mallory" / "vae" / "not_in_the_assignment.ipynb")
    process = autograde_cli(
        course, folder, workers=("--workers", "2"), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = process.communicate(timeout=600)
    assert process.returncode == 1
    assert "mallory: autograde failed" in err and "failed 2 times" in err and "No notebooks" in err
    assert re.search(r"solutions +4\.0 / 4\.0", out)


@pytest.mark.parametrize("where", ["in this process", "2 local workers", "Dask"])
def test_a_failing_feedback_step_is_treated_alike_on_every_path(where, request, tmp_path):
    """One step grades a student on every path: when nbgrader's feedback fails, the student
    is tried again, then reported with nbgrader's log, and the run goes on to export."""
    broken = 'c.GenerateFeedback.preprocessors = ["nbgrader.preprocessors.NoSuchStep"]'
    course = make_course(tmp_path / "course", [FIXTURE_NOTEBOOK], TIMEOUT, broken)
    corpus.write_corpus(course, tmp_path / "corpus", ["solutions", "untouched"])
    workers = {
        "in this process": (),
        "2 local workers": ("--workers", "2"),
        "Dask": lambda: ("--scheduler", request.getfixturevalue("scheduler")),
    }[where]
    workers = workers() if callable(workers) else workers
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    process = autograde_cli(course, tmp_path / "corpus", workers=workers, **pipes)
    out, err = process.communicate(timeout=600)
    assert process.returncode == 1, out + err
    for student in ("solutions", "untouched"):
        assert (
            f"{student}: autograde failed\nfailed 2 times; the last time: generate_feedback" in err
        )
    assert "NoSuchStep" in err and "Traceback (most recent call last)" not in out
    assert grading.grades_csv(course).is_file()


def test_a_worker_checks_its_sandbox_once_and_keeps_no_task_folder(tmp_path, monkeypatch):
    """Every task of a worker is graded at the same path (so the sandbox's pre-flight, one
    kernel importing torch, runs once per worker, not once per submission), and nothing of
    a task is left there after it."""
    from autograder import sandbox

    course = make_course(tmp_path / "course", [FIXTURE_NOTEBOOK], TIMEOUT)
    corpus.write_corpus(course, tmp_path / "corpus", ["solutions", "raising_cell"])
    students = grading.collect(course, tmp_path / "corpus")
    kernels = []
    try_kernel = sandbox._try_kernel

    async def counted(config, kernel_name):
        kernels.append(kernel_name)
        return await try_kernel(config, kernel_name)

    monkeypatch.setattr(sandbox, "_PREFLIGHTS", {})
    monkeypatch.setattr(sandbox, "_try_kernel", counted)
    results = [parallel.grade(task) for task in parallel.tasks(course, students, threads=1)]
    assert [r.success for r in results] == [True, True], [r.log for r in results]
    assert len(kernels) == 1
    assert [p.name for p in parallel._work_folder().iterdir() if p.name.startswith("course-")] == []
