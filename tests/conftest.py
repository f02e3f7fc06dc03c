import json
import sys
from pathlib import Path

from autograder.course import Course

# Before torch loads OpenMP: the environment the course's config sets for its processes
# (passive OpenMP waits, the venv's scripts on PATH).
Course()

import pytest
import torch
from wheel_install import InstalledWheel, build_wheel, install_wheel

from autograder.examples.corpus import run_solution_cells
from autograder.examples.implementations import Implementation
from autograder.reference import bounds as reference_bounds
from course_utils import language


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _english(monkeypatch):
    """English, whatever the environment running the tests says (``course_utils.language``)."""
    monkeypatch.delenv(language.ENVIRONMENT, raising=False)


@pytest.fixture
def portuguese(monkeypatch, tmp_path):
    """The pt-BR edition's language, as a kernel has it: run from a folder named after the
    edition's assignment (``vae-pt``), as nbgrader names the notebook's."""
    (folder,) = [a for a, code in language.EDITIONS.items() if code == "pt_BR"]
    (tmp_path / folder).mkdir()
    monkeypatch.chdir(tmp_path / folder)


@pytest.fixture(scope="module")
def one_thread():
    """Torch on one thread for the module: the probes' tensors are small, and one thread
    spares the cost of synchronizing two on a busy machine (5x faster here when other
    processes load the cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def attach():
    """Run the solution cells of an exercise's notebook as its kernel would, the corpus entry
    ``implementation`` in the exercise's cell and the reference solutions in the others:
    ``attach(name, implementation)``. The stubs are restored after the test."""

    def run(name: str, implementation: Implementation) -> None:
        run_solution_cells(Course(), name, implementation)

    yield run
    reference_bounds.uninstall()


@pytest.fixture
def reference_vae():
    """The reference densities and bounds attached over the stubs for the test's duration (the
    stubs restored after)."""
    reference_bounds.install()
    yield
    reference_bounds.uninstall()


def write_kernelspec(data: Path, env: dict[str, str] | None = None) -> None:
    """A ``python3`` kernelspec under ``data/kernels`` running the interpreter that runs
    pytest (the venv's), with ``env`` added to its kernels' environment."""
    spec = data / "kernels" / "python3"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernel = {"argv": argv, "display_name": "Python 3 (ipykernel)", "language": "python"}
    spec.joinpath("kernel.json").write_text(json.dumps(kernel | ({"env": env} if env else {})))


@pytest.fixture(scope="session", autouse=True)
def python3_kernel(tmp_path_factory):
    """Point the ``python3`` kernelspec nbgrader asks for at the interpreter running pytest,
    for this process and the grading commands it starts (``JUPYTER_PATH``)."""
    data = tmp_path_factory.mktemp("jupyter")
    write_kernelspec(data)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_PATH", str(data))
        yield


@pytest.fixture(scope="session")
def installed_wheel(tmp_path_factory) -> InstalledWheel:
    """The course's wheel, built from a clean copy of the repository and installed (not
    editable) into a fresh venv that reuses this venv's packages (``tests/wheel_install.py``)."""
    tmp = tmp_path_factory.mktemp("wheel")
    wheel, seconds = build_wheel(tmp)
    installed = install_wheel(wheel, tmp / "venv")
    installed.seconds["build"] = seconds
    return installed
