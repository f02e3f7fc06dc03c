"""The course's wheel, built as a student's machine or a hub image gets it: from a clean copy
of the repository (the files a clone has), without build isolation (offline).

It holds ``course_utils`` with its checkpoints and nothing of the instructor's side
(``pyproject.toml`` packages ``course_utils`` only).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import tomllib
from importlib.metadata import version
from pathlib import Path

from packaging.requirements import Requirement

from autograder.course import REPO_ROOT


def run(command: list, **kwargs) -> subprocess.CompletedProcess:
    """Run ``command``, its output captured; raise with that output if it fails."""
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if result.returncode:
        raise RuntimeError(f"{command} exited {result.returncode}:\n{result.stdout}{result.stderr}")
    return result


def source_copy(destination: Path, root: Path = REPO_ROOT) -> Path:
    """The files a clean clone of ``root`` would have (tracked ones, and new ones git does
    not ignore), copied to ``destination``: a build there writes ``build/`` and
    ``*.egg-info`` into the copy, not into the repository (whose ``build/`` holds the
    gradebook)."""
    listed = run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=root).stdout
    for name in filter(None, listed.split("\0")):
        source = root / name
        if source.is_file():  # not a file deleted in the working tree
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


def check_build_requirements() -> None:
    """The wheel is built without build isolation (offline): this venv must hold what
    pyproject.toml's build-system requires (``make setup`` installs it)."""
    build = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["build-system"]
    for requirement in map(Requirement, build["requires"]):
        installed = version(requirement.name)
        if not requirement.specifier.contains(installed):
            raise RuntimeError(f"the build needs {requirement}; this venv has {installed}")


def build_wheel(tmp: Path) -> tuple[Path, float]:
    """Build the wheel from a clean copy of the repository in ``tmp``; its path and the
    seconds the build took."""
    check_build_requirements()
    source = source_copy(tmp / "source")
    start = time.monotonic()
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", tmp / "dist", source])
    (wheel,) = (tmp / "dist").glob("vae_course-*.whl")
    return wheel, time.monotonic() - start
