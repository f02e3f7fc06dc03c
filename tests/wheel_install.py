"""The package as a JupyterHub image installs it: the wheel built from a clean copy of the
repository, installed (not editable) into a fresh venv.

The venv reuses the course venv's packages (torch among them, 5.5 GB) through a ``.pth``
file naming the course venv's ``site-packages``: a path line in a ``.pth`` file adds that
folder to ``sys.path`` but does not run the ``.pth`` files in it, so the editable install
of the repository (its import finder) stays out, and ``course_utils`` comes from the wheel.
pip resolves the wheel's dependencies from what is installed (``--no-index``): a missing or
out-of-range dependency fails the install. The venv gets its own ``python3`` kernelspec
(``ipykernel install --sys-prefix``), as a hub image has.
"""

from __future__ import annotations

import os
import sys
import sysconfig
import time
from dataclasses import dataclass, field
from pathlib import Path

from autograder.wheel import build_wheel, run

__all__ = ["InstalledWheel", "build_wheel", "install_wheel"]


@dataclass(frozen=True)
class InstalledWheel:
    """A fresh venv with the course's wheel installed, and what making it took."""

    wheel: Path
    prefix: Path
    seconds: dict[str, float] = field(default_factory=dict)  # step -> seconds it took

    @property
    def python(self) -> Path:
        return self.prefix / "bin" / "python"

    @property
    def data(self) -> Path:
        """The venv's Jupyter data folder (``JUPYTER_PATH``): its ``python3`` kernelspec."""
        return self.prefix / "share" / "jupyter"

    def env(self, **extra: str) -> dict[str, str]:
        """An environment for this venv's programs: none of the repository on the path
        (``PYTHONPATH`` removed), no user-level Jupyter folders, one thread."""
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "JUPYTER_PATH")}
        env |= {"JUPYTER_PATH": str(self.data), "OMP_NUM_THREADS": "1", **extra}
        return env


def install_wheel(wheel: Path, prefix: Path) -> InstalledWheel:
    """A fresh venv at ``prefix`` reusing this venv's packages, with ``wheel`` installed."""
    seconds = {}
    start = time.monotonic()
    run([sys.executable, "-m", "venv", "--without-pip", prefix])
    installed = InstalledWheel(wheel, prefix, seconds)
    site_packages = run(
        [installed.python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
    ).stdout.strip()
    Path(site_packages, "course_venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    seconds["venv"] = time.monotonic() - start
    start = time.monotonic()
    pip = [installed.python, "-m", "pip", "--disable-pip-version-check"]
    # Run from the venv's folder: the repository is not on the path of the install.
    run([*pip, "install", "--no-index", wheel], cwd=prefix, env=installed.env())
    seconds["install"] = time.monotonic() - start
    kernel = [installed.python, "-m", "ipykernel", "install", "--sys-prefix"]
    run(kernel, cwd=prefix, env=installed.env())
    return installed
