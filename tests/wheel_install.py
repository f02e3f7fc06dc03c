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
import shutil
import subprocess
import sys
import sysconfig
import time
import tomllib
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


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


def _run(command: list, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if result.returncode:
        raise RuntimeError(f"{command} exited {result.returncode}:\n{result.stdout}{result.stderr}")
    return result


def source_copy(destination: Path) -> Path:
    """The files a clean clone would have (tracked ones, and new ones git does not ignore),
    copied to ``destination``: the build writes ``build/`` and ``*.egg-info`` there, not into
    the repository (whose ``build/`` holds the gradebook)."""
    listed = _run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT).stdout
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():  # not a file deleted in the working tree
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


def check_build_requirements() -> None:
    """The wheel is built without build isolation (offline): this venv must hold what
    pyproject.toml's build-system requires (``make setup`` installs it)."""
    build = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]
    for requirement in map(Requirement, build["requires"]):
        installed = version(requirement.name)
        if not requirement.specifier.contains(installed):
            raise RuntimeError(f"the build needs {requirement}; this venv has {installed}")


def build_wheel(tmp: Path) -> tuple[Path, float]:
    """Build the wheel from a clean copy of the repository; its path and the seconds taken."""
    check_build_requirements()
    source = source_copy(tmp / "source")
    start = time.monotonic()
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    _run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", tmp / "dist", source])
    (wheel,) = (tmp / "dist").glob("vae_course-*.whl")
    return wheel, time.monotonic() - start


def install_wheel(wheel: Path, prefix: Path) -> InstalledWheel:
    """A fresh venv at ``prefix`` reusing this venv's packages, with ``wheel`` installed."""
    seconds = {}
    start = time.monotonic()
    _run([sys.executable, "-m", "venv", "--without-pip", prefix])
    installed = InstalledWheel(wheel, prefix, seconds)
    site_packages = _run(
        [installed.python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
    ).stdout.strip()
    Path(site_packages, "course_venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    seconds["venv"] = time.monotonic() - start
    start = time.monotonic()
    pip = [installed.python, "-m", "pip", "--disable-pip-version-check"]
    # Run from the venv's folder: the repository is not on the path of the install.
    _run([*pip, "install", "--no-index", wheel], cwd=prefix, env=installed.env())
    seconds["install"] = time.monotonic() - start
    kernel = [installed.python, "-m", "ipykernel", "install", "--sys-prefix"]
    _run(kernel, cwd=prefix, env=installed.env())
    return installed
