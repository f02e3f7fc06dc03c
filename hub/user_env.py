"""The users' Python environment: what every user's JupyterLab and kernels run.

A venv (the Littlest JupyterHub's ``/opt/tljh/user``) whose packages are the course venv's,
read through one ``.pth`` path line (torch alone is several GB: a copy would not fit the
set-up's minutes), with the course's wheel installed into it, its own ``python3``
kernelspec and programs, and its own Jupyter configuration in ``etc/jupyter``: the course's
nbgrader settings (``hub/nbgrader_config.py``), and nbgrader's instructor extensions
(formgrader, Create Assignment) disabled and locked for everyone; the instructor's own
configuration turns them back on (``classroom.instructor_extensions``).

Every user must reach the environment: the venv is made from the course venv's own
interpreter, and what of the two is out of their reach (under ``/root``) is bind-mounted
read-only under the hub's folder (``course_python``); the venv's interpreter is then a copy
that finds its shared library in the mounted folder (``_own_interpreter``).
"""

from __future__ import annotations

import json
import shutil
import stat
import sys
import sysconfig
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path

from autograder.wheel import run
from hub.layout import NBGRADER_CONFIG

#: The login shells' profile (Debian's /etc/profile sources it): the Lab's terminals are
#: login shells, and /etc/profile resets PATH without the environment's programs.
PROFILE = Path("/etc/profile.d/vae-hub.sh")
#: nbgrader's instructor tools: the server extension, and the JupyterLab plugins.
FORMGRADER_SERVER = "nbgrader.server_extensions.formgrader"
INSTRUCTOR_PLUGINS = ("@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment")
#: The instructor's server may be framed by its own pages (formgrader in JupyterLab).
FRAME_SELF = "frame-ancestors 'self'"
#: JupyterLab settings for every user: no prompt to fetch Jupyter's news from the internet.
LAB_OVERRIDES = {
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False}
}
#: A console script of the environment: its interpreter, then the entry point.
SCRIPT = """#!{python}
import sys
from {module} import {name}
sys.exit({call}())
"""


def reachable(path: Path) -> bool:
    """Every user can read ``path`` (a folder): it and each folder above it let others in."""
    path = path.resolve()
    if not path.stat().st_mode & stat.S_IROTH:
        return False
    return all(p.stat().st_mode & stat.S_IXOTH for p in [path, *path.parents])


def bind_read_only(source: Path, target: Path) -> None:
    """Mount ``source`` at ``target`` (made), read-only."""
    target.mkdir(parents=True, exist_ok=True)
    run(["mount", "--bind", source, target])
    run(["mount", "-o", "remount,bind,ro", target])


@dataclass
class Reach:
    """How the users reach the course's Python: the installation's interpreter, the course
    venv's prefix and site-packages, what was mounted to get there, and the folder of the
    interpreter's shared library when the interpreter names a private one (its RUNPATH)."""

    interpreter: Path
    prefix: Path
    purelib: Path
    mounts: list[Path] = field(default_factory=list)
    library: Path | None = None


def course_python(hub: Path) -> Reach:
    """The course venv, and the Python installation it was made from, as every user can
    reach them: where they are, or bind-mounted read-only under ``hub`` when they are
    private (a course cloned under ``/root``, pyenv's Pythons in ``/root/.pyenv``).

    Users run the course's own interpreter, not another Python 3.11: soupsieve's possessive
    quantifiers do not match under Debian's 3.11.2 (fixed in later 3.11 releases), and
    nbconvert's HTML exporter then fails, formgrader's grading pages and feedback with it.
    """
    base = Path(sys.base_prefix).resolve()
    interpreter = Path(sys._base_executable).resolve()
    prefix, purelib = Path(sys.prefix), Path(sysconfig.get_paths()["purelib"])
    found = Reach(interpreter, prefix, purelib)
    if not (reachable(interpreter.parent) and reachable(base / "lib")):
        bind_read_only(base, hub / "python")
        found.mounts.append(hub / "python")
        found.interpreter = hub / "python" / interpreter.relative_to(base)
        if any((base / "lib").glob("libpython*.so*")):
            found.library = hub / "python" / "lib"
    if not (reachable(purelib) and reachable(prefix / "share" / "jupyter")):
        bind_read_only(prefix, hub / "course-venv")
        found.mounts.append(hub / "course-venv")
        found.prefix = hub / "course-venv"
        found.purelib = found.prefix / purelib.relative_to(prefix)
    return found


def make(prefix: Path, wheel: Path, course: Reach) -> Path:
    """Make the users' environment at ``prefix`` with ``wheel`` installed; its python."""
    course_prefix, course_purelib = course.prefix, course.purelib
    run([course.interpreter, "-m", "venv", "--without-pip", prefix])
    if course.library:
        _own_interpreter(prefix / "bin" / course.interpreter.name, course.library)
    python = prefix / "bin" / "python"
    purelib = run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
    Path(purelib.stdout.strip(), "course_venv.pth").write_text(f"{course_purelib}\n")
    _console_scripts(prefix / "bin")
    env = environment(prefix)
    run([python, "-m", "pip", "install", "--no-index", "--no-deps", wheel], cwd=prefix, env=env)
    run([python, "-m", "ipykernel", "install", "--sys-prefix"], cwd=prefix, env=env)
    _jupyter_data(course_prefix / "share" / "jupyter", prefix / "share" / "jupyter")
    config = prefix / "etc" / "jupyter"
    shutil.copytree(course_prefix / "etc" / "jupyter", config, dirs_exist_ok=True)
    shutil.copy(NBGRADER_CONFIG, config / "nbgrader_config.py")
    jupyter = [str(prefix / "bin" / "jupyter")]
    run([*jupyter, "server", "extension", "disable", "--sys-prefix", FORMGRADER_SERVER], env=env)
    for action in ("disable", "lock"):
        command = [*jupyter, "labextension", action, "--level=sys_prefix", *INSTRUCTOR_PLUGINS]
        run(command, env=env)
    for path in [prefix, *prefix.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | stat.S_IROTH | (stat.S_IXOTH if path.is_dir() else 0))
    return python


def _own_interpreter(link: Path, library: Path) -> None:
    """Replace the venv's ``link`` to a mounted interpreter by a copy that looks for its
    shared library (``libpython3.11.so``) in ``library``: the interpreter's own RUNPATH
    names its private build folder, and the loader would otherwise take the system's
    ``libpython3.11`` (Debian's 3.11.2, which lacks symbols the 3.11.7 modules need)."""
    interpreter = link.resolve()
    link.unlink()
    shutil.copy2(interpreter, link)
    run(["patchelf", "--set-rpath", library, link])


def login_profile(prefix: Path) -> Path:
    """Put the environment's programs (``python``, ``nbgrader``, ``jupyter``) first on the
    PATH of the login shells of the hub's servers (their terminals: ``$JUPYTERHUB_USER``
    set), as ``PROFILE``; its path."""
    bin_dir = prefix / "bin"
    PROFILE.write_text(
        "# The VAE course's hub (make hub; make hub-stop removes this file): the terminals\n"
        "# of its users' servers run the users' environment's programs.\n"
        'if [ -n "$JUPYTERHUB_USER" ]; then\n'
        f'  case ":$PATH:" in *":{bin_dir}:"*) ;; *) PATH="{bin_dir}:$PATH" ;; esac\n'
        "fi\n"
    )
    PROFILE.chmod(0o644)
    return PROFILE


def environment(prefix: Path) -> dict[str, str]:
    """The environment the users' programs run with: the venv's programs first, nothing of
    the repository on the Python path, nothing of the caller's Jupyter folders."""
    path = f"{prefix / 'bin'}:/usr/local/bin:/usr/bin:/bin"
    return {"PATH": path, "LANG": "C.UTF-8", "HOME": "/root"}


def _console_scripts(bin_dir: Path) -> None:
    """The programs of the installed packages (``jupyter``, ``nbgrader``, ...), run by the
    environment's interpreter (the course venv's own run an interpreter users cannot)."""
    python = bin_dir / "python"
    for entry in entry_points(group="console_scripts"):
        target = bin_dir / entry.name
        if target.exists() or "/" in entry.name:
            continue
        name = entry.attr.split(".")[0]
        target.write_text(
            SCRIPT.format(python=python, module=entry.module, name=name, call=entry.attr)
        )
        target.chmod(0o755)


def _jupyter_data(course: Path, ours: Path) -> None:
    """The course venv's Jupyter data (JupyterLab's assets, the lab extensions, nbconvert's
    templates), linked into the environment; its kernelspecs are not (ours runs our python),
    and JupyterLab's settings folder is our own, with the hub's setting overrides."""
    ours.mkdir(parents=True, exist_ok=True)
    for entry in course.iterdir():
        if entry.name not in ("kernels", "lab") and not (ours / entry.name).exists():
            (ours / entry.name).symlink_to(entry)
    lab = ours / "lab"
    lab.mkdir(exist_ok=True)
    for entry in (course / "lab").iterdir():
        if entry.name != "settings" and not (lab / entry.name).exists():
            (lab / entry.name).symlink_to(entry)
    if (course / "lab" / "settings").is_dir():
        shutil.copytree(course / "lab" / "settings", lab / "settings", dirs_exist_ok=True)
    overrides = lab / "settings" / "overrides.json"
    overrides.parent.mkdir(exist_ok=True)
    settings = json.loads(overrides.read_text()) if overrides.exists() else {}
    overrides.write_text(json.dumps(settings | LAB_OVERRIDES, indent=2) + "\n")


def instructor_extensions() -> dict[str, dict]:
    """The instructor's own Jupyter configuration files (relative to ``~/.jupyter``) that
    turn nbgrader's instructor tools back on (the user level outranks the environment's),
    and let JupyterLab show formgrader in a frame.

    Written as files: ``jupyter server extension enable --user`` refuses an extension not
    listed at the user level ("could not be found"), and ``jupyter labextension enable
    --level=user`` one locked at a higher level; the server reads the files all the same.
    """
    plugins = dict.fromkeys(INSTRUCTOR_PLUGINS, False)
    return {
        "jupyter_server_config.json": {
            "ServerApp": {
                "jpserver_extensions": {FORMGRADER_SERVER: True},
                # JupyterHub (4.1 on) forbids framing a user's server ("frame-ancestors
                # 'none'"), which blanks the Lab's Formgrader tab, a frame of the same
                # server (jupyter/nbgrader#1870): the instructor's server allows itself.
                "tornado_settings": {"headers": {"Content-Security-Policy": FRAME_SELF}},
            }
        },
        "labconfig/page_config.json": {
            "disabledExtensions": plugins,
            "lockedExtensions": plugins,
        },
    }
