import json
import sys

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


@pytest.fixture(scope="session")
def python3_kernel(tmp_path_factory):
    """Point the ``python3`` kernelspec nbgrader asks for at the interpreter running pytest."""
    data = tmp_path_factory.mktemp("jupyter")
    spec = data / "kernels" / "python3"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec.joinpath("kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "Python 3", "language": "python"})
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_PATH", str(data))
        yield
