"""The grading kernel's sandbox: Debian's bubblewrap around every kernel autograde starts.

``SandboxedKernelManager`` is the kernel manager of ``nbgrader_hooks.GuardedExecute`` (the
course's autograde executor, named in ``nbgrader_config.py``), so plain ``nbgrader
autograde`` grades in it too; the students' Validate button does not use it. Inside:

- the system and the venv are read-only; the course directory, the instructor's home and
  the instructor package (``autograder``: the reference bounds, wherever it is installed)
  are empty, but for the course's ``course_utils`` and the Python installation the kernel
  runs, put back read-only;
- the notebook's folder is a fresh tmpfs of ``writable_size`` bytes holding read-only
  copies of the folder's files except the notebooks (the autograded notebook carries the
  hidden tests), and ``/tmp`` is another such tmpfs: the only writable places;
- no network (a namespace of its own), no other process visible (a pid namespace: every
  process the notebook starts dies with its kernel), no capabilities;
- limits: ``memory_limit`` bytes of data per process (``RLIMIT_DATA``: allocation fails
  with MemoryError), ``cpu_time_limit`` seconds of CPU, files of at most ``file_size_limit``
  bytes (a larger write fails with OSError), ``process_limit`` processes (a pids cgroup when
  grading as root, ``RLIMIT_NPROC`` otherwise).

The kernel talks to the grader over ``ipc`` sockets in a private folder, the only host
folder it can write to. Before any grading, ``check_available`` says whether bubblewrap can
run here, and ``preflight`` starts one sandboxed kernel and imports the course's packages in
it: if either fails, grading stops with one message saying what failed and what to do.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import Execute
from traitlets import Integer

GiB, MiB = 2**30, 2**20
#: How to grade without the sandbox.
NO_SANDBOX = (
    "`python -m autograder autograde --no-sandbox`, "
    "`nbgrader autograde ... --GuardedExecute.sandbox=False`"
)
#: What to install, and how to grade without it.
INSTALL = (
    "the grading sandbox needs Debian's bubblewrap: install it with "
    "`sudo apt-get install bubblewrap` (the course's set-up does: scripts/setup_system.sh), "
    f"or grade without the sandbox: {NO_SANDBOX}"
)
#: The kernel's private /tmp, a tmpfs covering the host's.
TMP = Path("/tmp")
#: Where the pids cgroups of sandboxed kernels go (cgroup v1 pids controller, or v2).
CGROUP_ROOTS = (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup"))


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing, cannot create its namespaces here, or cannot start a grading
    kernel that imports the course's packages."""


@functools.cache
def check_available() -> None:
    """Raise ``SandboxUnavailable`` (saying what to install) unless bubblewrap runs here."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxUnavailable(f"bwrap is not installed: {INSTALL}")
    probe = [bwrap, "--ro-bind", "/", "/", "--unshare-net", "--unshare-pid", "--cap-drop", "ALL"]
    result = subprocess.run([*probe, "true"], capture_output=True, text=True)
    if result.returncode != 0:
        raise SandboxUnavailable(f"bwrap cannot run here ({result.stderr.strip()}): {INSTALL}")


#: Run by the launcher, in the kernel's process, before it becomes bubblewrap: resource
#: limits, SIGXFSZ ignored (a write past the file size limit then fails with OSError
#: instead of killing the kernel), the pids cgroup joined. argv: the limits as JSON, then
#: the command to execute.
LAUNCHER = """\
import json, os, resource, signal, sys
limits = json.loads(sys.argv[1])
for name, value in limits["rlimits"].items():
    resource.setrlimit(getattr(resource, name), (value, value))
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
if limits["cgroup"]:
    with open(os.path.join(limits["cgroup"], "cgroup.procs"), "w") as procs:
        procs.write(str(os.getpid()))
os.execvp(sys.argv[2], sys.argv[2:])
"""


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager that starts its kernel inside bubblewrap (see the module)."""

    memory_limit = Integer(4 * GiB, help="bytes of data per kernel process").tag(config=True)
    cpu_time_limit = Integer(1200, help="seconds of CPU per kernel process").tag(config=True)
    file_size_limit = Integer(256 * MiB, help="the largest file written").tag(config=True)
    process_limit = Integer(256, help="processes of the kernel, itself included").tag(config=True)
    writable_size = Integer(
        512 * MiB, help="bytes each of the writable folders (notebook's, /tmp) holds"
    ).tag(config=True)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        check_available()
        self._sockets: Path | None = None
        self._cgroup: Path | None = None
        # A signal would reach bubblewrap, not the kernel: interrupt with a control message.
        self.kernel_spec.interrupt_mode = "message"

    async def _async_pre_start_kernel(self, **kw):
        # Unix sockets in a private folder: they cross the network namespace, tcp does not.
        self._sockets = Path(tempfile.mkdtemp(prefix="vae-kernel-"))
        self.transport = "ipc"
        self.ip = str(self._sockets / "kernel")
        self.connection_file = str(self._sockets / "kernel.json")
        return await super()._async_pre_start_kernel(**kw)

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw) -> None:
        folder = Path(kw.get("cwd") or os.getcwd()).resolve()
        self._cgroup = _make_cgroup(self.process_limit)
        rlimits = {
            "RLIMIT_DATA": self.memory_limit,
            "RLIMIT_CPU": self.cpu_time_limit,
            "RLIMIT_FSIZE": self.file_size_limit,
        }
        if self._cgroup is None and os.getuid() != 0:
            rlimits["RLIMIT_NPROC"] = _processes_of_this_user() + self.process_limit
        limits = json.dumps({"rlimits": rlimits, "cgroup": str(self._cgroup or "")})
        sandboxed = [*self.bwrap(folder, self._sockets, Path(kernel_cmd[0])), *kernel_cmd]
        command = [sys.executable, "-c", LAUNCHER, limits, *sandboxed]
        await super()._async_launch_kernel(command, **kw)

    def bwrap(self, folder: Path, sockets: Path, interpreter: Path | None = None) -> list[str]:
        """The bubblewrap command line, up to the kernel's own, for a kernel in ``folder``
        that talks to the grader through sockets in ``sockets`` and runs ``interpreter``."""
        size = ["--size", str(self.writable_size)]
        args = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
        args += [*size, "--tmpfs", str(TMP)]
        hidden = _hidden(self.config)
        for folder_hidden in hidden:
            args += ["--tmpfs", str(folder_hidden)]
        # After every tmpfs that could cover them (/tmp included: a course cloned under /tmp
        # has its venv there), the Python installations and course_utils, read-only.
        for needed in _needed([TMP, *hidden], interpreter):
            args += ["--ro-bind", str(needed), str(needed)]
        for hidden in _instructor_package():
            args += ["--tmpfs", str(hidden)]
        args += [*size, "--tmpfs", str(folder)]
        for file in sorted(folder.iterdir()):
            if file.suffix != ".ipynb" and not file.name.startswith("."):
                args += ["--ro-bind", str(file), str(file)]
        args += ["--bind", str(sockets), str(sockets)]
        args += ["--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-pid"]
        args += ["--die-with-parent", "--cap-drop", "ALL", "--chdir", str(folder)]
        # ipykernel exits when its parent is not the pid it was given: here its parent is
        # bubblewrap's init, and --die-with-parent already ends it with the grader.
        args += ["--setenv", "JPY_PARENT_PID", "1", "--setenv", "HOME", str(folder)]
        # The data the notebooks load, as outside (the instructor's cache, read-only). Imported
        # here: course_utils.data loads torch, which nbgrader's start need not wait for.
        from course_utils.data import cache_dir

        data = cache_dir().resolve()
        args += ["--setenv", "VAE_COURSE_DATA", str(data)]
        if data.is_dir():
            args += ["--ro-bind", str(data), str(data)]
        return args

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if self._cgroup is not None:
            _remove_cgroup(self._cgroup)
            self._cgroup = None
        if self._sockets is not None and not restart:
            shutil.rmtree(self._sockets, ignore_errors=True)


def _hidden(config) -> list[Path]:
    """Folders the kernel must not see: the course directory and the instructor's home."""
    root = Path(CourseDirectory(config=config).root).resolve()
    home = Path.home().resolve()
    return [path for path in (home, root) if path != Path("/")]


def _needed(covered: list[Path], interpreter: Path | None = None) -> list[Path]:
    """What the kernel needs from inside the ``covered`` folders (each an empty tmpfs in the
    sandbox): the Python installations it runs (this process's venv and the interpreter it
    was made from, and the kernel's own ``interpreter``, as named and as its links resolve),
    every site directory on this process's path (a venv may reach another's packages through
    a ``.pth`` file or ``--system-site-packages``) and the course's package. Parents come
    before what they hold."""
    spec = importlib.util.find_spec("course_utils")
    package = list(spec.submodule_search_locations) if spec else []
    python = [sys.prefix, sys.base_prefix, sys.exec_prefix, Path(sys.executable).resolve().parent]
    python += [p for p in sys.path if Path(p).name in ("site-packages", "dist-packages")]
    python += [Path(sys.executable).absolute().parent.parent]
    if interpreter is not None and interpreter.is_absolute():
        python += [interpreter.parent.parent, interpreter.resolve().parent.parent]
    candidates = {Path(os.path.abspath(path)) for path in (*python, *package)}
    candidates |= {Path(path).resolve() for path in candidates}
    inside = [p for p in candidates if p.exists() and any(_within(p, c) for c in covered)]
    # A folder already bound with its parent need not be bound again.
    return sorted(p for p in inside if not any(q in p.parents for q in inside))


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _instructor_package() -> list[Path]:
    """The ``autograder`` package, wherever it is installed (the reference bounds)."""
    spec = importlib.util.find_spec("autograder")
    return [Path(p).resolve() for p in spec.submodule_search_locations] if spec else []


def _processes_of_this_user() -> int:
    uid = os.getuid()
    count = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                count += entry.stat().st_uid == uid
            except OSError:
                continue
    return count


@functools.cache
def _cgroup_root() -> Path | None:
    """A pids cgroup this process may create children in (grading as root), or None."""
    if os.getuid() != 0:
        return None
    v1, v2 = CGROUP_ROOTS
    try:
        if (v1 / "cgroup.procs").exists():
            folder = v1 / "vae-course-grading"
            folder.mkdir(exist_ok=True)
            return folder
        if "pids" in (v2 / "cgroup.controllers").read_text().split():
            (v2 / "cgroup.subtree_control").write_text("+pids")
            folder = v2 / "vae-course-grading"
            folder.mkdir(exist_ok=True)
            (folder / "cgroup.subtree_control").write_text("+pids")
            return folder
    except OSError:
        pass
    warnings.warn("no pids cgroup here: grading kernels have no process limit", stacklevel=2)
    return None


def _make_cgroup(limit: int) -> Path | None:
    root = _cgroup_root()
    if root is None:
        return None
    group = root / uuid.uuid4().hex
    group.mkdir()
    (group / "pids.max").write_text(str(limit))
    return group


def _remove_cgroup(group: Path) -> None:
    """Kill what is left in the group (the kernel's pid namespace is gone by now, so
    normally nothing), then remove it, waiting up to a second for the processes to end."""
    for _ in range(100):
        pids = [int(pid) for pid in (group / "cgroup.procs").read_text().split()]
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)
    with contextlib.suppress(OSError):
        group.rmdir()


#: What a grading kernel must be able to do before any submission is graded.
PREFLIGHT_CODE = "import course_utils, torch"
#: Seconds the pre-flight kernel has to start, and then to import.
PREFLIGHT_TIMEOUT = 120
#: (kernel name, the folder course directories are made in) -> what the pre-flight found.
_PREFLIGHTS: dict[tuple[str, str], str | None] = {}


def preflight(config) -> None:
    """Start one sandboxed kernel (the config's ``Execute.kernel_name``, with its sandbox
    settings) and run ``PREFLIGHT_CODE`` in it; raise ``SandboxUnavailable`` with what
    failed and what to do if it cannot. Done once per process and kind of course folder (a
    worker's temporary courses are alike): later calls repeat the first verdict."""
    check_available()
    kernel_name = Execute(config=config).kernel_name or "python3"  # "": nbclient's default
    root = Path(CourseDirectory(config=config).root).resolve()
    key = (kernel_name, str(root.parent))
    if key not in _PREFLIGHTS:
        with concurrent.futures.ThreadPoolExecutor(1) as thread:  # outside any event loop
            _PREFLIGHTS[key] = thread.submit(asyncio.run, _try_kernel(config, kernel_name)).result()
    failure = _PREFLIGHTS[key]
    if failure is not None:
        raise SandboxUnavailable(failure)


async def _try_kernel(config, kernel_name: str) -> str | None:
    """None if a sandboxed ``kernel_name`` kernel starts and runs ``PREFLIGHT_CODE``, else
    the message ``preflight`` raises."""
    with tempfile.TemporaryDirectory(prefix="vae-preflight-") as tmp:
        folder, log = Path(tmp, "notebook"), Path(tmp, "kernel.log")
        folder.mkdir()
        manager = client = failure = None
        try:
            manager = SandboxedKernelManager(config=config, kernel_name=kernel_name)
            with log.open("w") as output:
                await manager.start_kernel(cwd=str(folder), stdout=output, stderr=output)
            client = manager.client()
            client.start_channels()
            await client.wait_for_ready(timeout=PREFLIGHT_TIMEOUT)
            errors: list[str] = []

            def keep_error(message: dict) -> None:
                if message["msg_type"] == "error":
                    errors.append(f"{message['content']['ename']}: {message['content']['evalue']}")

            await client.execute_interactive(
                PREFLIGHT_CODE, timeout=PREFLIGHT_TIMEOUT, output_hook=keep_error
            )
            if errors:
                failure = f"`{PREFLIGHT_CODE}` failed in the kernel: {errors[0]}"
        except Exception as error:  # whatever stopped the kernel, said with its own output
            printed = log.read_text().strip() if log.exists() else ""
            failure = f"the kernel did not start ({type(error).__name__}: {error})"
            failure += f"; it printed: {printed[-600:]}" if printed else ""
        finally:
            if client is not None:
                client.stop_channels()
            if manager is not None:
                with contextlib.suppress(Exception):
                    await manager.shutdown_kernel(now=True)
    if failure is None:
        return None
    return (
        "grading stopped before any submission: the grading sandbox could not run a kernel "
        f"that imports the course's packages.\n  kernel: {_kernel_said(kernel_name)}\n"
        f"  what failed: {failure}\nWhat to do: make sure that kernel's Python has the "
        "course's packages and its kernelspec points at it (`make setup` in the course "
        "installs both; `python -m ipykernel install --sys-prefix` rewrites the kernelspec); "
        f"or grade without the sandbox: {NO_SANDBOX}."
    )


def _kernel_said(kernel_name: str) -> str:
    """Which interpreter the kernel ``kernel_name`` runs, and where its kernelspec is."""
    from jupyter_client.kernelspec import KernelSpecManager

    try:
        spec = KernelSpecManager().get_kernel_spec(kernel_name)
    except Exception:  # NoSuchKernel, or a kernelspec that does not parse
        return f"{kernel_name!r}, which has no kernelspec here (`jupyter kernelspec list`)"
    return f"{kernel_name!r} runs {spec.argv[0]} (kernelspec in {spec.resource_dir})"
