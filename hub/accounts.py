"""Real Unix accounts for the hub's users: made with ``useradd``, a random password each
(PAM checks it at the hub's login), a private home; removed with ``userdel``."""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import signal
import subprocess
import time
from pathlib import Path

#: Debian's useradd makes homes readable by everyone (UMASK 022, no HOME_MODE): each
#: home is the user's alone, so no student reads another's work.
HOME_MODE = 0o700
#: The accounts' full name field, to tell them from the machine's own accounts.
COMMENT = "VAE course hub account"


def exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def ours(name: str) -> bool:
    """The account exists and was made by the hub's set-up."""
    return exists(name) and pwd.getpwnam(name).pw_gecos == COMMENT


def create(name: str) -> str:
    """Make the account ``name`` (home ``/home/<name>``, its own group, bash) with a fresh
    random password; return the password. An account of the hub's made earlier is kept
    and given a new password; any other existing account is refused."""
    if exists(name) and not ours(name):
        raise RuntimeError(f"the account {name} exists and is not the hub's: not touching it")
    if not exists(name):
        command = ["useradd", "--create-home", "--user-group", "--shell", "/bin/bash"]
        subprocess.run([*command, "--comment", COMMENT, name], check=True)
    home = Path(pwd.getpwnam(name).pw_dir)
    home.chmod(HOME_MODE)
    password = secrets.token_urlsafe(12)
    subprocess.run(["chpasswd"], input=f"{name}:{password}\n", text=True, check=True)
    return password


def processes(name: str) -> list[int]:
    """The ids of the processes running as the account ``name``."""
    uid = pwd.getpwnam(name).pw_uid
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def stop_processes(name: str, grace_s: float = 10) -> None:
    """End the account's processes (its server, kernels, terminals), by id: SIGTERM, then
    SIGKILL what is left after ``grace_s`` seconds."""
    for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5)):
        for pid in processes(name):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while processes(name) and time.monotonic() < deadline:
            time.sleep(0.2)


def remove(name: str) -> None:
    """Remove the hub's account ``name``, its processes and its home."""
    if not ours(name):
        return
    stop_processes(name)
    subprocess.run(["userdel", "--remove", name], check=True, capture_output=True)
