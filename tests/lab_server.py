"""A JupyterLab server for the tests: loopback, a random token, its own settings and config
folders (none of the user's), stopped by its process group.

The browser tests drive it with Chromium; the deployment tests call its REST API, the
endpoints the Lab's buttons call (``POST /assignments/validate`` is the Validate button).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

START_S = 120


@dataclass
class Lab:
    """A running JupyterLab server serving ``root``."""

    url: str
    token: str
    root: Path
    process: subprocess.Popen

    def api(self, method: str, path: str, timeout: float = 30) -> object:
        """Call the server's REST API; the decoded JSON answer (None when empty)."""
        request = urllib.request.Request(
            f"{self.url}{path}",
            method=method,
            headers={"Authorization": f"token {self.token}"},
            data=b"" if method == "POST" else None,
        )
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            body = answer.read()
        return json.loads(body) if body else None

    def validate(self, path: str, timeout: float = 900) -> dict:
        """What nbgrader's Validate button gets for the notebook at ``path`` (relative to the
        root): ``{"success": ..., "value": ...}``."""
        query = urllib.parse.urlencode({"path": path})
        return self.api("POST", f"/assignments/validate?{query}", timeout=timeout)

    def open_url(self, path: str, workspace: str) -> str:
        """The address of a notebook in a fresh workspace of its own (so pages do not share)."""
        return f"{self.url}/lab/workspaces/{workspace}/tree/{path}?reset&token={self.token}"

    def shut_down_kernels(self, path: str) -> None:
        """Close the sessions (and kernels) of the notebook at ``path``."""
        for session in self.api("GET", "/api/sessions"):
            if session["path"] == path:
                self.api("DELETE", f"/api/sessions/{session['id']}")


def lab_settings(folder: Path) -> None:
    """User settings: every cell kept in the page (widgets render off screen), no news."""
    settings = {
        "notebook-extension/tracker": {"windowingMode": "none"},
        "apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    }
    for name, values in settings.items():
        path = folder / "@jupyterlab" / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(process: subprocess.Popen) -> None:
    """Stop the server and its kernels: its process group, SIGTERM then SIGKILL."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=20)


@contextmanager
def running_lab(root: Path, tmp: Path, log: Path, env: dict[str, str]) -> Iterator[Lab]:
    """JupyterLab (this venv's) serving ``root``, run from ``root`` (where the Validate button
    reads a course's nbgrader config), with ``env`` as its environment plus its own
    settings, workspaces and user config folders in ``tmp``; its output goes to ``log``."""
    lab_settings(tmp / "settings")
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **env,
        "PATH": os.pathsep.join([bin_dir, env.get("PATH", "")]),
        "JUPYTER_CONFIG_DIR": str(tmp / "config"),  # none of the user's ~/.jupyter
        "JUPYTERLAB_SETTINGS_DIR": str(tmp / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces"),
    }
    token, port = secrets.token_hex(16), _free_port()
    command = [
        str(Path(bin_dir) / "jupyter"),
        "lab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        *(["--allow-root"] if os.getuid() == 0 else []),
    ]
    with log.open("w") as output:
        process = subprocess.Popen(
            command,
            cwd=root,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        server = Lab(f"http://127.0.0.1:{port}", token, root, process)
        try:
            deadline = time.monotonic() + START_S
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"JupyterLab exited with {process.returncode}; see {log}")
                try:
                    server.api("GET", "/api/status")
                    break
                except OSError as error:
                    if time.monotonic() > deadline:
                        message = f"JupyterLab did not answer in {START_S} s; see {log}"
                        raise RuntimeError(message) from error
                    time.sleep(0.5)
            yield server
        finally:
            _stop(process)
