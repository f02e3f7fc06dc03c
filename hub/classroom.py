"""``make hub`` and ``make hub-stop``: set the class up on this machine, start the hub, and
take it all down again. Each step is one of the administrator's steps in the README's
deployment section, carried out."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from autograder.course import REPO_ROOT
from autograder.sandbox import SandboxUnavailable, check_available
from autograder.wheel import build_wheel, run, source_copy
from hub import accounts, user_env
from hub.layout import COURSE_ID, HUB_CONFIG, PREFIX, Settings, student_names

#: Seconds the hub has to answer after it starts.
START_S = 120
#: The pinned proxy (scripts/setup_system.sh installs it from the npm registry).
PROXY = "configurable-http-proxy"
SETUP = "bash scripts/setup_system.sh bubblewrap patchelf configurable-http-proxy"


class HubError(RuntimeError):
    """The hub cannot be set up here; the message says what to install or do."""


def check_machine() -> str:
    """Raise ``HubError`` unless this machine can run the hub; the proxy's path."""
    if os.geteuid() != 0:
        raise HubError("make hub makes Unix accounts and runs the hub as root: run it as root")
    proxy = shutil.which(PROXY)
    if proxy is None:
        raise HubError(f"{PROXY} is not installed: run `{SETUP}` (npm install -g)")
    programs = {"useradd": "passwd", "chpasswd": "passwd", "patchelf": "patchelf"}
    for program, package in programs.items():
        if shutil.which(program) is None:
            raise HubError(f"{program} is missing: run `{SETUP}` (Debian's {package})")
    try:
        check_available()
    except SandboxUnavailable as error:
        raise HubError(f"autograde on the hub runs in the grading sandbox: {error}") from None
    return proxy


def up(students: int = 3, port: int = 8000, prefix: Path = PREFIX, log=print) -> Settings:
    """Set the class up and start the hub; the settings, passwords included."""
    proxy = check_machine()
    if (prefix / "state" / "hub.json").exists():
        log(f"a hub set up earlier is in {prefix}: taking it down first")
        down(prefix, log=log)
    ports = _free_ports(3, first=port)
    settings = Settings(prefix, port=ports[0], hub_port=ports[1], proxy_api_port=ports[2])
    settings.students, settings.proxy = student_names(students), proxy
    settings.state.mkdir(parents=True, mode=0o700)
    settings.made_folders.append(str(prefix))
    settings.save()  # from here on, `down` can undo what is made
    start = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="vae-hub-wheel-") as tmp:
            log("building the course's wheel")
            wheel, _ = build_wheel(Path(tmp))
            log(f"making the users' environment in {settings.user_env}")
            course = user_env.course_python(prefix)
            settings.mounts += map(str, course.mounts)
            settings.save()
            user_env.make(settings.user_env, wheel, course)
        settings.made_files.append(str(user_env.login_profile(settings.user_env)))
        log("making the accounts: " + ", ".join(settings.users))
        for user in settings.users:
            settings.passwords[user] = accounts.create(user)
            settings.made_accounts.append(user)
        settings.save()
        make_exchange(settings)
        log(f"the instructor's course folder: {settings.course}")
        course_folder(settings)
        settings.save()
        start_hub(settings)
    except BaseException:
        settings.save()
        raise
    log(f"set up and started in {time.monotonic() - start:.0f} s")
    if user_env.reachable(REPO_ROOT / "autograder"):
        log(
            f"warning: every user can read {REPO_ROOT} and its reference solutions "
            f"(autograder/): for a real class, `chmod o-rwx {REPO_ROOT}`"
        )
    return settings


def make_exchange(settings: Settings) -> None:
    """nbgrader's exchange: one folder every user can write to (``chmod ugo+rwx``); the
    instructor's release makes the course's folders in it with nbgrader's own modes."""
    exchange = settings.exchange
    for folder in [*reversed(exchange.parents), exchange]:
        if not folder.exists():
            folder.mkdir()
            settings.made_folders.append(str(folder))
    exchange.chmod(0o777)


def course_folder(settings: Settings) -> None:
    """The instructor's course folder: a copy of the repository's files, owned by them, and
    their Jupyter configuration: nbgrader's course root and the course's config (its grading
    hooks) for formgrader, and the instructor extensions turned back on."""
    user, home = settings.instructor, settings.home(settings.instructor)
    source_copy(settings.course)
    jupyter = home / ".jupyter"
    jupyter.mkdir(exist_ok=True)
    (jupyter / "nbgrader_config.py").write_text(instructor_config(settings.course))
    for path, values in user_env.instructor_extensions().items():
        (jupyter / path).parent.mkdir(parents=True, exist_ok=True)
        (jupyter / path).write_text(json.dumps(values, indent=2) + "\n")
    run(["chown", "-R", f"{user}:{user}", settings.course, jupyter])


def instructor_config(course: Path) -> str:
    """The instructor's ``~/.jupyter/nbgrader_config.py``: their server starts in their
    home, and formgrader reads nbgrader configs from the Jupyter folders and the server's
    folder only, so this file names the course folder and loads the course's config."""
    return (
        '"""The VAE course for formgrader and the nbgrader commands, wherever they run."""\n\n'
        "c = get_config()  # noqa: F821\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
        f"load_subconfig({str(course / 'nbgrader_config.py')!r})  # noqa: F821\n"
    )


def start_hub(settings: Settings) -> None:
    """Start JupyterHub (as root: PAM and the spawner need it) and wait until it answers."""
    log = settings.state / "jupyterhub.log"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "JUPYTER_PATH")}
    env["VAE_HUB_SETTINGS"] = str(settings.file)
    env["PYTHONPATH"] = str(HUB_CONFIG.parent.parent)  # the hub's config imports hub.layout
    command = [sys.executable, "-m", "jupyterhub", "-f", str(HUB_CONFIG)]
    with log.open("w") as output:
        process = subprocess.Popen(
            command,
            cwd=settings.state,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    (settings.state / "jupyterhub.pid").write_text(f"{process.pid}\n")
    deadline = time.monotonic() + START_S
    while True:
        if process.poll() is not None:
            raise HubError(f"JupyterHub exited with {process.returncode}: see {log}")
        try:
            with urllib.request.urlopen(f"{settings.url}/hub/api", timeout=5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise HubError(f"JupyterHub did not answer in {START_S} s: see {log}") from None
            time.sleep(0.5)


def down(prefix: Path = PREFIX, log=print) -> None:
    """Stop the hub and remove what ``up`` made: accounts (their processes and homes), the
    exchange folders it made, files, mounts, the hub's folder."""
    try:
        settings = Settings.load(prefix)
    except FileNotFoundError:
        log(f"no hub set up in {prefix}")
        return
    pid_file = settings.state / "jupyterhub.pid"
    if pid_file.exists():
        _stop_group(int(pid_file.read_text()))
    for user in reversed(settings.made_accounts):
        accounts.remove(user)
    for file in settings.made_files:
        Path(file).unlink(missing_ok=True)
    for mount in settings.mounts:
        subprocess.run(["umount", mount], capture_output=True)
    exchange_course = settings.exchange / COURSE_ID
    if str(settings.exchange) not in settings.made_folders:
        shutil.rmtree(exchange_course, ignore_errors=True)  # what the class put in it
    for folder in reversed(settings.made_folders):
        shutil.rmtree(folder, ignore_errors=True)
    log(f"removed the hub: accounts {', '.join(settings.made_accounts) or 'none'}")


def _stop_group(pid: int, grace_s: float = 20) -> None:
    """Stop the hub's process group (the hub, its proxy): SIGTERM, then SIGKILL."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    os.killpg(pid, signal.SIGKILL)


def _free_ports(count: int, first: int) -> list[int]:
    """``count`` ports free on the loopback, from ``first`` on."""
    found, port = [], first
    while len(found) < count:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                found.append(port)
            except OSError:
                pass
        port += 1
    return found
