import json
import sys
from pathlib import Path

import pytest
import torch

from autograder.reference import bounds as reference_bounds


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture
def reference_vae():
    """VAE with the reference bounds attached for the test's duration (the stubs restored after)."""
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
