"""A course venv somewhere else: a fresh venv at a chosen path that reuses this venv's
packages, for tests of where the course's environment may live (under ``/tmp``, in a home
folder, on a path with spaces).

Its ``site-packages`` holds one ``.pth`` line that runs ``site.addsitedir`` on this venv's:
unlike a plain path line, that also runs the ``.pth`` files there, so the editable install
of the repository and the instructor's ``autograder`` come along, as in the venv
``make setup`` makes. Its ``bin`` links this venv's programs (``alembic``, ``nbgrader``,
``dask``), its ``share/jupyter`` this venv's templates, and it has a ``python3`` kernelspec
of its own, running its own interpreter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path


def venv_at(prefix: Path) -> Path:
    """Make the venv at ``prefix``; return its interpreter."""
    subprocess.run(
        [Path(sys.base_prefix, "bin", "python3"), "-m", "venv", "--without-pip", prefix],
        check=True,
    )
    python = prefix / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    ours = sysconfig.get_paths()["purelib"]
    Path(purelib, "course_venv.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    for program in Path(sys.prefix, "bin").iterdir():
        link = prefix / "bin" / program.name
        if not link.exists():
            link.symlink_to(program)
    data = prefix / "share" / "jupyter"
    data.mkdir(parents=True)
    for entry in Path(sys.prefix, "share", "jupyter").iterdir():
        if entry.name != "kernels":
            (data / entry.name).symlink_to(entry)
    spec = data / "kernels" / "python3"
    spec.mkdir(parents=True)
    argv = [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernel = {"argv": argv, "display_name": "Python 3 (ipykernel)", "language": "python"}
    spec.joinpath("kernel.json").write_text(json.dumps(kernel))
    return python


def env_of(python: Path) -> dict[str, str]:
    """An environment for the venv of ``python``: its kernelspec, its programs first."""
    prefix = python.parent.parent
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    path = os.pathsep.join([str(python.parent), env.get("PATH", "")])
    return env | {"JUPYTER_PATH": str(prefix / "share" / "jupyter"), "PATH": path}
