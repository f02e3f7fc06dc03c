"""Grading a class, one student at a time or in parallel: in this process, on local worker
processes, or on a Dask cluster. Every way grades each student with the same step.

Each submission is a task (``Task``): it carries the course's config and source notebooks
(the hidden tests, to restore the test cells) and the student's files; ``grade`` grades it
alone, with nbgrader and the course's config, in a temporary course with a gradebook of its
own (autograde, then feedback), and brings back a ``Result``: the autograded notebooks, the
feedback, the per-cell grades and comments, or nbgrader's log of the step that failed. Only
the coordinator (``grade_all``) writes the gradebook and the course's folders, one student
at a time, as results come, so SQLite stays safe and PostgreSQL is optional. The tasks run
on a ``concurrent.futures`` executor (``Workers.executor``): this process, a process pool,
or a Dask cluster (whose ``Client.get_executor()`` is one). Workers need the course's
environment, not its files.

Faults, the same on every executor: a task that fails (autograde or feedback) is tried
again once, then reported with its log; a worker that dies is replaced and its task tried
again (local pool) or moved to another worker (Dask); a task past its deadline (the
notebooks' deadlines and a margin) is reported, and the run goes on. Rerunning after a
crash regrades and overwrites: nothing is lost or doubled.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import hashlib
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from nbgrader.api import Gradebook
from traitlets.config import Config

from autograder import sandbox, time_limits
from autograder.course import CONFIG_FILE, Course, nbgrader_log
from autograder.nbgrader_hooks import GuardedExecute
from autograder.release import register

#: Config sections that name places of the coordinator, not how to grade.
PLACES = ("CourseDirectory", "ExportPlugin")
#: Seconds a task may take beyond its notebooks' deadlines (kernel starts, nbgrader).
MARGIN = 120


@dataclass(frozen=True)
class Workers:
    """Where to grade: ``count`` local worker processes, or a Dask ``scheduler``
    (``tcp://host:8786``); one student at a time in this process by default. ``threads``:
    torch threads per kernel (default: the cores shared out among the local workers)."""

    count: int = 1
    scheduler: str | None = None
    threads: int | None = None

    def kernel_threads(self) -> int:
        return self.threads or max(1, (os.cpu_count() or 1) // self.count)

    def executor(self) -> Executor:
        """What the tasks run on: this process, a local pool, or the Dask cluster."""
        if self.scheduler:
            return DaskExecutor(self.scheduler)
        if self.count > 1:
            return local_executor(self.count)
        return InThisProcess()

    def slots(self, pool: Executor) -> int:
        """How many tasks ``pool`` runs at once: a task is sent only when one can start, so
        its deadline counts from its start, not from a place in a queue."""
        return pool.slots() if isinstance(pool, DaskExecutor) else self.count


#: One student after another, in this process.
SEQUENTIAL = Workers()


@dataclass(frozen=True)
class Task:
    """One submission to grade, with all a worker needs but the course's environment."""

    student: str
    assignment: str
    config: str  # the text of nbgrader_config.py
    overrides: dict  # config settings on top of it (sections other than PLACES)
    source: dict[str, bytes]  # the assignment's source folder: relative path -> bytes
    submission: dict[str, bytes]  # the student's submitted folder: relative path -> bytes
    threads: int  # torch threads for each kernel


@dataclass(frozen=True)
class Result:
    """What grading a ``Task`` gives back; ``log`` is nbgrader's when it failed."""

    student: str
    success: bool
    log: str = ""
    autograded: dict[str, bytes] = field(default_factory=dict)
    feedback: dict[str, bytes] = field(default_factory=dict)
    timestamp: datetime | None = None
    # (notebook, grade_id) -> (auto_score, needs_manual_grade)
    grades: dict[tuple[str, str], tuple[float | None, bool]] = field(default_factory=dict)
    # (notebook, grade_id) -> auto_comment
    comments: dict[tuple[str, str], str | None] = field(default_factory=dict)
    # notebook -> late_submission_penalty
    penalties: dict[str, float | None] = field(default_factory=dict)
    # step -> seconds it took on the worker: "set-up" (the temporary course), "autograde",
    # "feedback" (nbgrader's steps)
    seconds: dict[str, float] = field(default_factory=dict)
    # The worker cannot grade anything (``autograder.sandbox.preflight`` failed): ``log``
    # says why, and the whole run stops.
    fatal: bool = False


def _files(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def _write(files: dict[str, bytes], folder: Path) -> None:
    for name, data in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def tasks(course: Course, students: Iterable[str], threads: int, cache_dir: str = "") -> list[Task]:
    """A task per collected submission of ``students``; ``cache_dir``: the run's folder of
    executed notebooks (``autograder.execution_cache``), none if empty."""
    overrides = {
        section: dict(values)
        for section, values in course.overrides.items()
        if section not in PLACES
    }
    if cache_dir:
        overrides.setdefault("GuardedExecute", {})["cache_dir"] = cache_dir
    config = (course.root / CONFIG_FILE).read_text()
    source = _files(course.source)
    return [
        Task(
            student,
            course.assignment,
            config,
            overrides,
            source,
            _files(course.submitted(student)),
            threads,
        )
        for student in students
    ]


# -- the worker's side ------------------------------------------------------------------------


#: Per worker process: course version (config and sources) -> its template course.
_TEMPLATES: dict[str, Path] = {}


@functools.cache
def _work_folder() -> Path:
    """The worker process's own folder, removed when it exits: its template courses, and
    the course each task is graded in (always the same path, emptied between tasks, so
    that what is cached per kind of course folder, the sandbox's pre-flight, is reused)."""
    folder = Path(tempfile.mkdtemp(prefix="vae-grading-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def _template(task: Task) -> Path:
    """A course with the task's config and source notebooks, its assignment recorded in a
    gradebook of its own: made once per worker process and course version."""
    content = repr((task.config, task.assignment, sorted(task.source.items())))
    key = hashlib.sha256(content.encode()).hexdigest()
    if key not in _TEMPLATES:
        root = Path(tempfile.mkdtemp(prefix="template-", dir=_work_folder()))
        (root / CONFIG_FILE).write_text(task.config)
        course = Course(root, task.assignment, _own_gradebook(root))
        _write(task.source, course.source)
        register(course)
        _TEMPLATES[key] = root
    return _TEMPLATES[key]


@contextlib.contextmanager
def _task_folder() -> Iterator[Path]:
    """Where a task's course goes: a path of the worker's own folder, per thread (a Dask
    worker may run several tasks at once), absent before and removed after."""
    root = _work_folder() / f"course-{threading.get_ident()}"
    shutil.rmtree(root, ignore_errors=True)  # what a task that crashed left
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _own_gradebook(root: Path, settings: dict | None = None) -> Config:
    """``settings`` with the gradebook of the course in ``root`` an SQLite file of its own
    (``root/gradebook.db``), whatever the config names (the class's, maybe PostgreSQL, is
    the coordinator's alone)."""
    config = Config(settings or {})
    config.CourseDirectory.db_url = f"sqlite:///{root / 'gradebook.db'}"
    return config


def grade(task: Task) -> Result:
    """Grade ``task`` in a temporary course: nbgrader's autograde, then its feedback, with the
    course's config; the grades read back from that course's gradebook. A step that fails
    gives a failed ``Result`` with nbgrader's log of it (the coordinator tries again once);
    a sandbox that cannot start a kernel gives a fatal one (grading stops)."""
    os.environ["OMP_NUM_THREADS"] = str(task.threads)
    started = time.perf_counter()
    template = _template(task)
    with _task_folder() as root:
        shutil.copytree(template, root)
        course = Course(root, task.assignment, _own_gradebook(root, task.overrides))
        if course.setting(GuardedExecute, "sandbox"):
            try:
                sandbox.preflight(course.config)
            except sandbox.SandboxUnavailable as error:
                why = f"on worker {socket.gethostname()}: {error}"
                return Result(task.student, False, why, fatal=True)
        _write(task.submission, course.submitted(task.student))
        api = course.api()
        seconds = {"set-up": time.perf_counter() - started}
        for name, step in (("autograde", api.autograde), ("feedback", api.generate_feedback)):
            started = time.perf_counter()
            result = step(task.assignment, task.student, force=True)
            seconds[name] = time.perf_counter() - started
            if not result["success"]:
                return Result(
                    task.student, False, f"{step.__name__} failed:\n{nbgrader_log(result)}"
                )
        return replace(_result(course, task.student), seconds=seconds)


def _result(course: Course, student: str) -> Result:
    grades, comments, penalties = {}, {}, {}
    with Gradebook(course.db_url) as gradebook:
        submission = gradebook.find_submission(course.assignment, student)
        timestamp = submission.timestamp
        for notebook in submission.notebooks:
            penalties[notebook.name] = notebook.late_submission_penalty
            for grade in notebook.grades:
                grades[notebook.name, grade.name] = (grade.auto_score, grade.needs_manual_grade)
            for comment in notebook.comments:
                comments[notebook.name, comment.name] = comment.auto_comment
    step = course.coursedir.autograded_directory
    return Result(
        student,
        True,
        autograded=_files(course.step_dir(step, student)),
        feedback=_files(course.feedback(student)),
        timestamp=timestamp,
        grades=grades,
        comments=comments,
        penalties=penalties,
    )


# -- the coordinator's side -------------------------------------------------------------------


def apply(course: Course, result: Result) -> None:
    """Write a worker's result into the course: its folders (each replaced whole) and the
    gradebook (one transaction). A grade by hand already given stays, flagged for review
    as nbgrader flags it."""
    step = course.coursedir.autograded_directory
    for folder, files in (
        (course.step_dir(step, result.student), result.autograded),
        (course.feedback(result.student), result.feedback),
    ):
        fresh = folder.with_name(folder.name + ".incoming")
        shutil.rmtree(fresh, ignore_errors=True)
        _write(files, fresh)
        shutil.rmtree(folder, ignore_errors=True)
        folder.parent.mkdir(parents=True, exist_ok=True)
        fresh.rename(folder)
    with Gradebook(course.db_url) as gradebook:
        gradebook.update_or_create_student(result.student)
        gradebook.update_or_create_submission(
            course.assignment, result.student, timestamp=result.timestamp
        )
        for (notebook, grade_id), (score, manual) in result.grades.items():
            grade = gradebook.find_grade(grade_id, notebook, course.assignment, result.student)
            grade.auto_score = score
            grade.needs_manual_grade = manual or grade.manual_score is not None
        for (notebook, grade_id), text in result.comments.items():
            comment = gradebook.find_comment(grade_id, notebook, course.assignment, result.student)
            comment.auto_comment = text
        for notebook, penalty in result.penalties.items():
            gradebook.find_submission_notebook(
                notebook, course.assignment, result.student
            ).late_submission_penalty = penalty
        gradebook.db.commit()


#: Dask's settings for grading workers, as environment variables that ``dask worker`` reads
#: at its start: no statistical profiler (it samples the running task's stack every 10 ms)
#: and slower system and memory monitors. An idle cluster of 2 workers used 3 s of CPU in
#: 30 s with Dask's defaults and less than 1 s with these.
QUIET_DASK = {
    "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False",
    "DASK_DISTRIBUTED__ADMIN__SYSTEM_MONITOR__INTERVAL": "10s",
    "DASK_DISTRIBUTED__WORKER__MEMORY__MONITOR_INTERVAL": "1s",
}


@contextlib.contextmanager
def local_cluster(workers: int, folder: Path, env: dict | None = None) -> Iterator[str]:
    """A Dask scheduler and ``workers`` single-threaded workers on this machine, each an OS
    process of its own (``dask scheduler``, ``dask worker``), in ``env`` (default: this
    process's) with ``QUIET_DASK``: the Dask path without a cluster. Yields the scheduler's
    address; stops them all at the end."""
    from distributed import Client

    dask = str(Path(sys.executable).parent / "dask")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    options = {
        "cwd": folder,
        "env": (os.environ if env is None else env) | QUIET_DASK,
        "stdout": subprocess.DEVNULL,
        "stderr": subprocess.DEVNULL,
    }
    scheduler = [dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"]
    worker = [dask, "worker", address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard"]
    processes = [subprocess.Popen(scheduler, **options)]
    processes += [subprocess.Popen(worker, **options) for _ in range(workers)]
    try:
        with Client(address, timeout=60) as client:
            client.wait_for_workers(workers, timeout=120)
        yield address
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(30)


def local_executor(workers: int) -> Executor:
    """A pool of ``workers`` fresh processes (spawned: no torch state forked)."""
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))


class InThisProcess(Executor):
    """The tasks run one after the other in this process, each as it is submitted."""

    def submit(self, function, /, *args, **kwargs) -> Future:
        future: Future = Future()
        try:
            future.set_result(function(*args, **kwargs))
        except Exception as error:  # the task's own error, as a worker's would come back
            future.set_exception(error)
        return future


class DaskExecutor(Executor):
    """The tasks on a Dask cluster (``tcp://host:8786``), as a ``concurrent.futures``
    executor (``Client.get_executor()``) that closes its client when shut down."""

    def __init__(self, scheduler: str) -> None:
        from distributed import Client

        self.client = Client(scheduler)
        self.executor = self.client.get_executor(pure=False)

    def submit(self, function, /, *args, **kwargs) -> Future:
        return self.executor.submit(function, *args, **kwargs)

    def slots(self) -> int:
        """The cluster's worker threads now (at least 1: a task waits for a worker)."""
        return max(1, sum(self.client.nthreads().values()))

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.executor.shutdown(wait=wait and not cancel_futures)
        self.client.close()


def task_deadline(course: Course) -> float:
    """Seconds a submission may take on a worker: every notebook to its time limit
    (``autograder.time_limits``, capped by ``GuardedExecute.deadline``), and a margin for
    starting kernels and nbgrader's own work."""
    cap = course.setting(GuardedExecute, "deadline")
    limits = [
        time_limits.plan(course.config, course.assignment, notebook.stem).deadline or cap
        for notebook in course.source.glob("*.ipynb")
    ]
    return sum(min(cap, limit) for limit in limits) + MARGIN


def grade_all(
    course: Course,
    students: list[str],
    workers: Workers = SEQUENTIAL,
    progress: Callable[[str], None] = lambda student: None,
    times: dict[str, dict[str, float]] | None = None,
) -> dict[str, str]:
    """Grade ``students`` on ``workers``; apply each result to the course as it comes.

    Returns student id -> why it could not be graded, for those that could not be: failed
    twice, or past ``task_deadline`` on a worker. ``progress(student)`` is called as each
    student is done (graded or given up); ``times``, if given, receives each graded
    student's seconds per step (``Result.seconds``, and "apply": the coordinator's writes).
    Raises ``SandboxUnavailable`` if a worker's sandbox cannot start a kernel: nothing can
    be graded there. On this machine's workers (not Dask's), a notebook identical to one
    executed earlier in the run is not run again (``autograder.execution_cache``).
    """
    cache = "" if workers.scheduler else tempfile.mkdtemp(prefix="vae-grading-cache-")
    threads = workers.kernel_threads()
    todo = {task.student: task for task in tasks(course, students, threads, cache)}
    deadline = task_deadline(course)
    attempts = dict.fromkeys(todo, 0)
    failed: dict[str, str] = {}
    pool = workers.executor()
    waiting = list(todo)  # not sent yet, in order
    # future -> (student, when it was sent, the pool it was sent to)
    running: dict[Future, tuple[str, float, Executor]] = {}

    def send_what_can_start() -> None:
        while waiting and len(running) < workers.slots(pool):
            student = waiting.pop(0)
            attempts[student] += 1
            running[pool.submit(grade, todo[student])] = (student, time.monotonic(), pool)

    def again_or_give_up(student: str, why: str) -> None:
        if attempts[student] < 2:
            waiting.insert(0, student)
        else:
            failed[student] = f"failed {attempts[student]} times; the last time: {why}"
            progress(student)

    try:
        send_what_can_start()
        while running:  # the tasks waiting are sent as those running end
            done, _ = wait(running, timeout=5, return_when=FIRST_COMPLETED)
            ended = [(future, *running.pop(future)) for future in done]
            if not isinstance(pool, InThisProcess) and not any(
                isinstance(future.exception(), BrokenProcessPool) for future in done
            ):
                send_what_can_start()  # the freed workers start before the results are written
            for future, student, _, sent_to in ended:
                try:
                    result = future.result()
                except BrokenProcessPool:  # a worker process died: a new pool, again
                    if sent_to is pool:
                        pool.shutdown(wait=False, cancel_futures=True)
                        pool = workers.executor()
                    again_or_give_up(student, "its worker process died, twice")
                    continue
                except Exception as error:  # the worker's own error, brought back
                    again_or_give_up(student, f"{type(error).__name__}: {error}")
                    continue
                if result.fatal:
                    raise sandbox.SandboxUnavailable(result.log)
                if result.success:
                    started = time.perf_counter()
                    apply(course, result)
                    if times is not None:
                        applied = time.perf_counter() - started
                        times[student] = {**result.seconds, "apply": applied}
                    progress(student)
                else:
                    again_or_give_up(student, result.log)
            for future, (student, sent, _) in list(running.items()):
                if time.monotonic() - sent > deadline:
                    future.cancel()
                    del running[future]
                    failed[student] = f"no result after {deadline:.0f} s: its worker is lost"
                    progress(student)
            send_what_can_start()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        if cache:
            shutil.rmtree(cache, ignore_errors=True)
    return failed
