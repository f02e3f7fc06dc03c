"""The set-up files agree with each other, the code is ruff-clean, and the README's example runs."""

import json
import re
import shutil
import subprocess
import sys
import time
import tomllib
import zipfile
from pathlib import Path

import nbformat
import pytest
import yaml
from nbgrader.utils import is_solution
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from autograder import bundle
from autograder.course import Course

ROOT = Path(__file__).resolve().parents[1]
# PyPI name -> conda-forge name where they differ (matplotlib-base: without Qt).
CONDA_NAMES = {"torch": "pytorch", "matplotlib": "matplotlib-base"}
#: The extras environment.yml holds too: a student's JupyterLab with nbgrader.
CONDA_EXTRAS = ("lab",)


def pyproject_requirements(*extras: str):
    """The package's requirements, and those of ``extras``."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    optional = [r for extra in extras for r in project["optional-dependencies"][extra]]
    return [Requirement(r) for r in project["dependencies"] + optional]


def locked_versions():
    lines = (ROOT / "requirements.lock").read_text().splitlines()
    pins = (line.split("==") for line in lines if "==" in line and not line.startswith("#"))
    return {canonicalize_name(name): version for name, version in pins}


def conda_pins():
    """environment.yml, and its conda packages: name -> (version, build string or "")."""
    spec = yaml.safe_load((ROOT / "environment.yml").read_text())
    pins = {}
    for entry in spec["dependencies"]:
        if isinstance(entry, str):
            name, _, pin = entry.partition("=")
            version, _, build = pin.partition("=")
            pins[name] = (version, build)
    return spec, pins


def test_lock_satisfies_the_pyproject_ranges():
    locked = locked_versions()
    for requirement in pyproject_requirements():
        version = locked.get(canonicalize_name(requirement.name))
        assert version, f"{requirement.name} is not pinned in requirements.lock"
        assert requirement.specifier.contains(version), (
            f"{requirement.name}=={version} vs {requirement}"
        )


def test_environment_yml_has_every_dependency_at_the_locked_version():
    spec, pins = conda_pins()
    locked = locked_versions()
    assert spec["channels"] == ["conda-forge"]
    assert pins["python"] == ("3.11", "")
    for requirement in pyproject_requirements(*CONDA_EXTRAS):
        conda_name = CONDA_NAMES.get(requirement.name, requirement.name)
        assert conda_name in pins, f"environment.yml lacks {conda_name}"
        pin, _ = pins[conda_name]
        locked_version = locked[canonicalize_name(requirement.name)]
        assert locked_version == pin or locked_version.startswith(pin + "."), (
            f"environment.yml pins {conda_name}={pin}, requirements.lock has {locked_version}"
        )
        assert requirement.specifier.contains(locked_version)
    assert {"pip": ["-e ."]} in spec["dependencies"], "environment.yml must install the package"


def test_environment_yml_takes_the_cpu_build_and_no_qt():
    """conda-forge picks pytorch's CUDA build where it finds a CUDA driver unless the build
    string asks for the CPU one; ``matplotlib`` pulls Qt, ``matplotlib-base`` does not."""
    _, pins = conda_pins()
    assert pins["pytorch"][1] == "cpu_*"
    assert "matplotlib" not in pins and "pyqt" not in pins


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make test     # the test suite" in readme
    assert re.search(r"^make test$", (ROOT / ".ci" / "run").read_text(), re.MULTILINE)


@pytest.mark.parametrize("command", [["check", "."], ["format", "--check", "."]])
def test_ruff_is_clean(command):
    ruff = Path(sys.executable).with_name("ruff")
    result = subprocess.run([ruff, *command], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_readme_example_trains_and_evaluates(reference_vae, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("VAE_COURSE_QUIET", "1")
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL)
    example = next(b for b in blocks if "add_to_class" in b)
    # The student's function is the reference one (installed by the fixture); the rest runs
    # verbatim, but for fewer iterations.
    example = re.sub(
        r"@add_to_class\(VAE\)\ndef negative_elbo_bound.*?\n\n\n", "", example, flags=re.S
    )
    assert "negative_elbo_bound" not in example
    example = example.replace("iterations=2_000", "iterations=200")
    exec(compile(example, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "Data:" in out and "-IWAE-100" in out


# The wheel: what a JupyterHub image or a student installs (the `installed_wheel` fixture
# builds it from a clean copy of the repository and installs it into a fresh venv).


def test_build_requirement_understands_the_license_expression():
    """``license = "MIT"`` (an SPDX expression) and ``license-files`` need setuptools 77."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (setuptools,) = [Requirement(r) for r in pyproject["build-system"]["requires"]]
    assert setuptools.name == "setuptools" and not setuptools.specifier.contains("76.9")
    assert pyproject["project"]["license"] == "MIT"
    assert pyproject["project"]["license-files"] == ["LICENSE"]
    assert "MIT License" in (ROOT / "LICENSE").read_text()


def test_package_needs_no_jupyter_server_or_grader():
    """A hub image brings its own JupyterLab and nbgrader: the package leaves them to extras."""
    names = {canonicalize_name(r.name) for r in pyproject_requirements()}
    assert not names & {"jupyterlab", "nbgrader", "notebook", "jupyter-server"}, names
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert {"lab", "grader", "test"} <= set(extras["optional-dependencies"])


def test_wheel_holds_all_of_course_utils_and_no_solution(installed_wheel):
    with zipfile.ZipFile(installed_wheel.wheel) as wheel:
        names = set(wheel.namelist())
        metadata = wheel.read("vae_course-0.1.0.dist-info/METADATA").decode()
    package = {name for name in names if not name.startswith("vae_course-0.1.0.dist-info/")}
    tracked = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "course_utils"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    tracked = set(tracked)
    assert package == tracked, {"missing": tracked - package, "extra": package - tracked}
    assert "vae_course-0.1.0.dist-info/licenses/LICENSE" in names
    assert "License-Expression: MIT" in metadata.splitlines()
    assert bundle.leaks(installed_wheel.wheel, Course(), top=None) == []


#: The reference solution of the exercises.
REFERENCE = "autograder/reference/bounds.py"


def test_leak_check_reads_the_wheel(installed_wheel, tmp_path):
    """The leak check finds the reference solution slipped into a copy of the wheel."""
    leaky = tmp_path / installed_wheel.wheel.name
    shutil.copy(installed_wheel.wheel, leaky)
    with zipfile.ZipFile(leaky, "a") as wheel:
        wheel.write(ROOT / REFERENCE, REFERENCE)
    found = bundle.leaks(leaky, Course(), top=None)
    assert f"{REFERENCE}: must not be shipped" in found
    assert any(f.startswith(f"{REFERENCE}: contains the body of") for f in found)


#: Run by the installed wheel's interpreter, from a folder outside the repository: where
#: the package comes from, the shipped checkpoints loaded, and the first cells of release
#: notebook 02 (up to its first exercise) run in a kernel of that venv.
CHECK_INSTALLED = """
import importlib.util, json, sys
from importlib.metadata import requires, version

import nbformat
from nbclient import NotebookClient
from packaging.requirements import Requirement

import course_utils
import course_utils.grading
from course_utils.checkpoints import load_pretrained, pretrained_names
from course_utils.language import catalog

unmet = [
    str(r) for r in map(Requirement, requires("vae-course"))
    if not r.marker and not r.specifier.contains(version(r.name))
]
models = {name: type(load_pretrained(name)).__name__ for name in pretrained_names()}
nb = nbformat.read(sys.argv[1], as_version=4)
first = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("solution"))
nb.cells = [c for c in nb.cells[:first] if c.cell_type == "code"]
nb.cells.append(nbformat.v4.new_code_cell("import sys, course_utils\\nprint(sys.prefix)"))
NotebookClient(nb, kernel_name="python3", timeout=600).execute()
outputs = [o.get("text", "") for c in nb.cells for o in c.outputs if o.output_type == "stream"]
print(json.dumps({
    "prefix": sys.prefix,
    "course_utils": course_utils.__file__,
    "grading": course_utils.grading.__file__,
    "autograder": importlib.util.find_spec("autograder") is not None,
    "unmet": unmet,
    "models": models,
    "messages": len(catalog("pt_BR")),
    "cells": len(nb.cells),
    "outputs": outputs,
}))
"""


def test_installed_wheel_works_outside_the_repository(installed_wheel, tmp_path):
    script = tmp_path / "check_installed.py"
    script.write_text(CHECK_INSTALLED)
    notebook = ROOT / "notebooks" / "vae" / "02_negative_elbo.ipynb"
    start = time.monotonic()
    result = subprocess.run(
        [installed_wheel.python, script, notebook],
        cwd=tmp_path,
        env=installed_wheel.env(JUPYTER_DATA_DIR=str(tmp_path / "jupyter-data")),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    found = json.loads(result.stdout.splitlines()[-1])
    prefix = str(installed_wheel.prefix)
    assert found["prefix"] == prefix
    assert found["course_utils"].startswith(prefix) and found["grading"].startswith(prefix)
    assert not found["autograder"], "the instructor's package is importable next to the wheel"
    assert found["unmet"] == []
    pretrained = ROOT / "course_utils" / "pretrained"
    shipped = {  # name -> the class its provenance names (VAE unless it says otherwise)
        path.stem: json.loads(path.with_suffix(".json").read_text())["model"].get("class", "VAE")
        for path in pretrained.glob("*.pt")
    }
    assert {"VAE", "GMVAE"} <= set(shipped.values()) and found["models"] == shipped
    assert found["messages"] > 0, "the pt-BR messages (course_utils/locale) are not in the wheel"
    release = nbformat.read(notebook, as_version=4)
    first = next(i for i, cell in enumerate(release.cells) if is_solution(cell))
    before = [cell for cell in release.cells[:first] if cell.cell_type == "code"]
    assert len(before) >= 2 and found["cells"] == len(before) + 1  # the setup and a demo run
    assert any("every variance positive: True" in text for text in found["outputs"]), found[
        "outputs"
    ]
    assert found["outputs"][-1].strip() == prefix, "the kernel is not the wheel's venv"
    print(
        f"wheel {installed_wheel.wheel.stat().st_size / 1e6:.1f} MB; seconds: "
        f"{installed_wheel.seconds | {'check': round(time.monotonic() - start, 1)}}"
    )
