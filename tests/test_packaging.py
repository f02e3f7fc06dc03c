"""The set-up files agree with each other, the code is ruff-clean, and the README's example runs."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
CONDA_NAMES = {"torch": "pytorch"}  # PyPI name -> conda-forge name where they differ


def pyproject_requirements():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(r) for r in project["dependencies"]]


def locked_versions():
    lines = (ROOT / "requirements.lock").read_text().splitlines()
    pins = (line.split("==") for line in lines if "==" in line and not line.startswith("#"))
    return {canonicalize_name(name): version for name, version in pins}


def conda_pins():
    spec = yaml.safe_load((ROOT / "environment.yml").read_text())
    pins = {}
    for entry in spec["dependencies"]:
        if isinstance(entry, str):
            name, _, version = entry.partition("=")
            pins[name] = version
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
    assert pins["python"] == "3.11"
    for requirement in pyproject_requirements():
        conda_name = CONDA_NAMES.get(requirement.name, requirement.name)
        assert conda_name in pins, f"environment.yml lacks {conda_name}"
        pin = pins[conda_name]
        locked_version = locked[canonicalize_name(requirement.name)]
        assert locked_version == pin or locked_version.startswith(pin + "."), (
            f"environment.yml pins {conda_name}={pin}, requirements.lock has {locked_version}"
        )
        assert requirement.specifier.contains(locked_version)
    assert {"pip": ["-e ."]} in spec["dependencies"], "environment.yml must install the package"


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
