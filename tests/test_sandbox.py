"""The grading sandbox (``autograder.sandbox``), through the course's real grading command.

The escapes of ``autograder.examples.escapes`` (submissions that only a sandbox stops) are
graded on the one-notebook fixture course next to three ordinary students, one graded
before them and two after; the same three are graded alone in a copy of the course. Each
escape must cost its own exercise and nothing else: the three students' gradebook rows,
feedback and files must be the same in both runs.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import nbformat
import pytest
from test_autograde_corpus import (
    ENV,
    FIXTURE_NOTEBOOK,
    TIMEOUT,
    check_graded,
    feedback_text,
    gradebook_rows,
    make_course,
    run_cli,
)
from venv_at import env_of, venv_at

from autograder import grading, sandbox
from autograder.course import REPO_ROOT, Course
from autograder.examples import corpus
from autograder.examples.escapes import ESCAPES, EXFILTRATE
from autograder.nbgrader_hooks import GuardedExecute

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


def test_what_the_kernel_needs_is_bound_after_every_tmpfs_over_it(tmp_path):
    """A venv under /tmp, or inside the course, or in the home folder, is bound read-only
    after the tmpfs that covers it (bwrap mounts in order: a later tmpfs would hide it)."""
    course = make_course(tmp_path / "course", [FIXTURE_NOTEBOOK], TIMEOUT)
    manager = sandbox.SandboxedKernelManager(kernel_name="python3", config=course.config)
    interpreters = [
        tmp_path / "a venv" / "bin" / "python",
        course.root / ".venv" / "bin" / "python",
        Path.home() / "venvs" / "course" / "bin" / "python",
    ]
    for interpreter in interpreters:
        interpreter.parent.mkdir(parents=True)
        interpreter.symlink_to(sys.executable)
        args = manager.bwrap(course.release, tmp_path / "sockets", interpreter)
        mounts = [(arg, args[i + 1]) for i, arg in enumerate(args) if arg.startswith("--")]
        venv = str(interpreter.parent.parent)
        bound = mounts.index(("--ro-bind", venv))
        covering = [
            i
            for i, (kind, path) in enumerate(mounts)
            if kind == "--tmpfs" and (venv + "/").startswith(path.rstrip("/") + "/")
        ]
        assert covering and max(covering) < bound, (interpreter, mounts)
        if interpreter.is_relative_to(Path.home()):
            shutil.rmtree(Path.home() / "venvs")


def test_a_site_directory_reached_through_a_pth_file_is_bound(tmp_path, monkeypatch):
    """A venv can take its packages from another venv's site-packages (a ``.pth`` line, as
    ``tests/venv_at.py`` makes, or ``--system-site-packages``): when that one lives under
    /tmp (a clone under /tmp), the kernel must still see it after the tmpfs over /tmp."""
    course = make_course(tmp_path / "course", [FIXTURE_NOTEBOOK], TIMEOUT)
    manager = sandbox.SandboxedKernelManager(kernel_name="python3", config=course.config)
    other = tmp_path / "other venv" / "lib" / "python3" / "site-packages"
    other.mkdir(parents=True)
    monkeypatch.setattr(sys, "path", [*sys.path, str(other)])
    args = manager.bwrap(course.release, tmp_path / "sockets", Path(sys.executable))
    mounts = [(arg, args[i + 1]) for i, arg in enumerate(args) if arg.startswith("--")]
    assert mounts.index(("--ro-bind", str(other))) > mounts.index(("--tmpfs", str(sandbox.TMP)))


@pytest.fixture(scope="module")
def venv_under_tmp() -> Path:
    """A course venv under /tmp, on a path with a space (``tests/venv_at.py``)."""
    folder = Path(tempfile.mkdtemp(prefix="course env "))
    yield venv_at(folder / "a venv")
    shutil.rmtree(folder)


def test_a_venv_under_tmp_grades_one_student_per_worker(venv_under_tmp, tmp_path):
    """The course's venv under /tmp: each local worker grades in a temporary course of its
    own under /tmp, whose sandbox (a tmpfs over /tmp) must still show the venv."""
    course = make_course(tmp_path / "course", [FIXTURE_NOTEBOOK], TIMEOUT)
    expected = corpus.write_corpus(course, tmp_path / "corpus", ["solutions", "untouched"])
    command = [venv_under_tmp, "-m", "autograder", "--root", course.root, "autograde"]
    command += ["--workers", "2", tmp_path / "corpus"]
    done = subprocess.run(
        command, cwd=tmp_path, env=env_of(venv_under_tmp), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "execvp" not in done.stderr
    check_graded(course, expected)


@pytest.mark.parametrize(
    "place",
    # /srv and /opt are seen as /var/tmp is (no tmpfs covers them): the slow set has them.
    [
        "/var/tmp",
        "home",
        pytest.param("/srv", marks=pytest.mark.slow),
        pytest.param("/opt", marks=pytest.mark.slow),
    ],
)
def test_a_kernel_starts_from_a_venv_in(place, tmp_path):
    """The pre-flight kernel (sandboxed, importing course_utils and torch) starts from a venv
    in each place a course may live, for a course in a worker's temporary folder."""
    parent = Path.home() if place == "home" else Path(place)
    folder = parent / f"vae course {uuid.uuid4().hex[:8]}"
    try:
        python = venv_at(folder / ".venv")
        course = make_course(tmp_path / "course", [FIXTURE_NOTEBOOK], TIMEOUT)
        code = (
            "from autograder import sandbox; from autograder.course import Course; "
            f"sandbox.preflight(Course({str(course.root)!r}).config); print('ready')"
        )
        done = subprocess.run(
            [python, "-c", code], env=env_of(python), capture_output=True, text=True
        )
        assert done.stdout.strip() == "ready", done.stdout + done.stderr
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def missing_interpreter(tmp_path) -> dict[str, str]:
    """An environment whose ``python3`` kernelspec names an interpreter that is not there
    (a venv deleted since the kernelspec was written)."""
    spec = tmp_path / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    argv = [str(tmp_path / "gone" / "bin" / "python"), "-m", "ipykernel_launcher"]
    kernel = {"argv": [*argv, "-f", "{connection_file}"], "language": "python"}
    spec.joinpath("kernel.json").write_text(json.dumps(kernel | {"display_name": "gone"}))
    return {"JUPYTER_PATH": str(spec.parent.parent)}


@pytest.mark.parametrize("how", ["sequential", "two workers", "plain nbgrader"])
def test_no_kernel_can_start_so_grading_stops_with_one_message(how, missing_interpreter, tmp_path):
    course = make_course(tmp_path / "course", [FIXTURE_NOTEBOOK], TIMEOUT)
    students = ["solutions", "untouched", "raising_cell"]
    corpus.write_corpus(course, tmp_path / "corpus", students)
    env = ENV | missing_interpreter
    if how == "plain nbgrader":
        grading.collect(course, tmp_path / "corpus")
        command = [Path(sys.executable).parent / "nbgrader", "autograde", "vae", "--force"]
    else:
        command = [sys.executable, "-m", "autograder", "--root", course.root, "autograde"]
        command += ["--workers", "2"] if how == "two workers" else []
        command += [tmp_path / "corpus"]
    done = subprocess.run(command, cwd=course.root, env=env, capture_output=True, text=True)
    said = done.stdout + done.stderr
    assert done.returncode != 0, said
    assert said.count("grading stopped before any submission") == 1, said
    assert f"runs {tmp_path / 'gone' / 'bin' / 'python'}" in said
    assert "execvp" in said and "make setup" in said and "--no-sandbox" in said
    assert "Traceback" not in said
    graded = course.step_dir(course.coursedir.autograded_directory, "*")
    assert not list(graded.parent.glob("*/vae/*.ipynb")) or how == "plain nbgrader"
    assert all(row[0] is None for row in gradebook_rows(course).values())


def test_preflight_names_the_import_that_failed(tmp_path, monkeypatch):
    course = make_course(tmp_path / "course", [FIXTURE_NOTEBOOK], TIMEOUT)
    monkeypatch.setattr(sandbox, "PREFLIGHT_CODE", "import course_utils, no_such_module")
    monkeypatch.setattr(sandbox, "_PREFLIGHTS", {})
    with pytest.raises(sandbox.SandboxUnavailable) as raised:
        sandbox.preflight(course.config)
    message = str(raised.value)
    assert "ModuleNotFoundError: No module named 'no_such_module'" in message
    assert f"runs {sys.executable}" in message or "runs " in message


@pytest.mark.slow
def test_a_fresh_clone_under_tmp_runs_the_main_job(tmp_path):
    """The README's first command in a clone under /tmp, with the venv it makes there."""
    clone = Path(tempfile.mkdtemp(prefix="vae-course-clone-")) / "course"
    try:
        subprocess.run(["git", "clone", "-q", REPO_ROOT, clone], check=True)
        env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "JUPYTER_PATH")}
        done = subprocess.run(
            ["make", "course", "CASES=solutions untouched"],
            cwd=clone,
            env=env,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
        assert "MISMATCH" not in done.stdout and "execvp" not in done.stderr
        assert re.search(r"solutions\s.*106", done.stdout), done.stdout[-4000:]
    finally:
        shutil.rmtree(clone.parent, ignore_errors=True)


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
