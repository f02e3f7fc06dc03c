"""The grading sandbox (``autograder.sandbox``), through the course's real grading command.

The escapes of ``autograder.examples.escapes`` (submissions that only a sandbox stops) are
graded on the one-notebook fixture course next to three ordinary students, one graded
before them and two after; the same three are graded alone in a copy of the course. Each
escape must cost its own exercise and nothing else: the three students' gradebook rows,
feedback and files must be the same in both runs.
"""

import json
import re
import socket
import threading
import time
from pathlib import Path

import nbformat
import pytest
from test_autograde_corpus import (
    FIXTURE_NOTEBOOK,
    TIMEOUT,
    check_graded,
    feedback_text,
    gradebook_rows,
    make_course,
    run_cli,
)

from autograder import grading, sandbox
from autograder.course import Course
from autograder.examples import corpus
from autograder.examples.escapes import ESCAPES, EXFILTRATE
from autograder.nbgrader_hooks import GuardedExecute

pytestmark = [
    pytest.mark.filterwarnings("ignore::nbformat.warnings.MissingIDFieldWarning"),
    pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning"),
]

#: Ordinary students: one graded before the escapes (ids sort), two after.
BYSTANDERS = ["deleted_tests", "solutions", "untouched"]
#: A deadline per notebook that the fixture's first test, at its cell timeout, nearly uses
#: up: a solution that loops forever costs that test and the next (its timeout cut to what
#: is left), and the third is not run.
DEADLINE = TIMEOUT + 5
#: Seconds the lingering process waits before it strikes, and the margin after it.
LINGER = 3 + 5


class Listener:
    """A TCP server on 127.0.0.1 that records what it receives."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.server.getsockname()[1]}"
        self.received: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            with connection:
                self.received.append(connection.recv(1024))


def snapshot(course: Course, students: list[str]) -> dict:
    """The students' gradebook rows, feedback pages, files and exported grades, to compare
    two runs."""
    files = {}
    for student in students:
        for step in ("submitted_directory", "autograded_directory", "feedback_directory"):
            folder = course.step_dir(getattr(course.coursedir, step), student)
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    files[step, student, path.name] = _content(path)
    grades = grading.grades_csv(course).read_text().splitlines()
    exported = sorted(
        line for line in grades if any(f",{student}," in line for student in students)
    )
    return {"rows": gradebook_rows(course, set(students)), "files": files, "export": exported}


def _content(path: Path) -> object:
    """A file's content, without what differs between two gradings of the same submission:
    the execution timings nbclient records, and the cell ids nbformat makes up for the
    fixture's cells that have none (random on every write)."""
    if path.suffix == ".ipynb":
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            cell.metadata.pop("execution", None)
            cell.pop("id", None)
        return json.dumps(nb, sort_keys=True)
    if path.suffix == ".html":
        return re.sub(r'id="cell-id=[\w-]+"', "", path.read_text())
    return path.read_bytes()


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The escapes and the bystanders graded together, and the bystanders alone."""
    root = tmp_path_factory.mktemp("sandbox")
    deadline = f"c.GuardedExecute.deadline = {DEADLINE}"
    course = make_course(root / "course", [FIXTURE_NOTEBOOK], TIMEOUT, deadline)
    expected = corpus.write_corpus(course, root / "corpus", [*BYSTANDERS, *ESCAPES])
    listener = Listener()
    run_cli(course, root / "corpus", env={EXFILTRATE: listener.address})
    time.sleep(LINGER)  # what a process left behind would have done by now
    alone = make_course(root / "alone", [FIXTURE_NOTEBOOK], TIMEOUT, deadline)
    corpus.write_corpus(alone, root / "alone_corpus", BYSTANDERS)
    run_cli(alone, root / "alone_corpus")
    return course, expected, alone, listener


def test_each_escape_costs_its_own_exercise_only(graded):
    course, expected, _, _ = graded
    check_graded(course, expected)


def test_the_other_students_are_untouched(graded):
    course, _, alone, _ = graded
    assert snapshot(course, BYSTANDERS) == snapshot(alone, BYSTANDERS)


def test_the_network_is_out_of_reach(graded):
    course, _, _, listener = graded
    assert listener.received == []
    assert "ConnectionRefusedError" in feedback_text(course, "escape_socket", "add")


@pytest.mark.parametrize(
    "student, shown",
    [
        ("escape_memory", "MemoryError"),
        ("escape_disk", "File too large"),
        ("escape_fork_bomb", "Resource temporarily unavailable"),
        ("escape_read_solution", "no course directory above"),
        ("escape_import_instructor", "no course directory above"),
        ("escape_infinite_loop", f"the notebook's {DEADLINE} s to run were over"),
    ],
)
def test_the_limit_a_submission_hit_is_named_in_its_feedback(graded, student, shown):
    course, _, _, _ = graded
    assert shown in feedback_text(course, student, "add")


def test_read_reference_finds_no_hidden_test(graded):
    course, _, _, _ = graded
    text = feedback_text(course, "escape_read_reference", "add")
    assert "the hidden test, read by the student's code" not in text


def test_sandboxed_kernel_runs_inside_bubblewrap(tmp_path):
    """The kernel command is bubblewrap's, with the course and the instructor package hidden
    and the notebook folder a tmpfs without the notebook."""
    course = make_course(tmp_path / "course", [FIXTURE_NOTEBOOK], TIMEOUT)
    folder = course.release
    manager = sandbox.SandboxedKernelManager(kernel_name="python3", config=course.config)
    args = manager.bwrap(folder, tmp_path / "sockets")
    tmpfs = {args[i + 1] for i, arg in enumerate(args) if arg == "--tmpfs"}
    assert {str(course.root), str(folder), "/tmp"} <= tmpfs
    binds = {args[i + 1] for i, arg in enumerate(args) if arg == "--ro-bind"}
    assert not any(path.endswith(".ipynb") for path in binds)
    assert {"--unshare-net", "--unshare-pid", "--die-with-parent"} <= set(args)
    assert args[args.index("--cap-drop") + 1] == "ALL"


def test_grading_stops_with_what_to_install_when_bubblewrap_is_missing(tmp_path, monkeypatch):
    course = make_course(tmp_path / "course", [FIXTURE_NOTEBOOK], TIMEOUT)
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap on it
    sandbox.check_available.cache_clear()
    try:
        with pytest.raises(sandbox.SandboxUnavailable, match="apt-get install bubblewrap"):
            GuardedExecute(config=course.config)
        assert "--no-sandbox" in sandbox.INSTALL
    finally:
        sandbox.check_available.cache_clear()


@pytest.mark.slow
def test_without_the_sandbox_the_escapes_succeed(tmp_path):
    """What the tests above would see if the sandbox stopped nothing (they can fail)."""
    course = make_course(tmp_path / "course", [FIXTURE_NOTEBOOK], TIMEOUT)
    cases = ["deleted_tests", "escape_read_solution", "escape_gradebook", "escape_socket"]
    corpus.write_corpus(course, tmp_path / "corpus", cases)
    listener = Listener()
    run_cli(course, tmp_path / "corpus", "--no-sandbox", env={EXFILTRATE: listener.address})
    rows = gradebook_rows(course)
    assert rows["escape_read_solution", "add", "add_negatives"][0] == 2.0  # full marks
    assert rows["deleted_tests", "add", "add_negatives"][2] == 10  # extra credit from another
    assert listener.received == [b"the grading kernel reached the network"]
