"""Where the hub's parts live on the machine, and the settings ``make hub`` hands the hub."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from course_utils.nbgrader_settings import COURSE_ID

#: The hub's own folder (the Littlest JupyterHub uses /opt/tljh): the users' environment
#: and the hub's state.
PREFIX = Path("/opt/vae-hub")
#: nbgrader's exchange, as its documentation puts it on a shared machine.
EXCHANGE = Path("/srv/nbgrader/exchange")
INSTRUCTOR = "vae-instructor"
STUDENT_PREFIX = "vae-student"
#: The hub's configuration file (JupyterHub's ``-f``).
HUB_CONFIG = Path(__file__).resolve().parent / "jupyterhub_config.py"
#: The course's nbgrader settings for every user's server (``/etc/jupyter`` in an image).
NBGRADER_CONFIG = Path(__file__).resolve().parent / "nbgrader_config.py"


def student_names(count: int) -> list[str]:
    """The students' account names: ``vae-student1`` ... ``vae-studentN``."""
    return [f"{STUDENT_PREFIX}{i}" for i in range(1, count + 1)]


@dataclass
class Settings:
    """What ``make hub`` made and how the hub runs: written to ``state/hub.json`` (root
    only), read by ``hub/jupyterhub_config.py`` and by ``make hub-stop``."""

    prefix: Path = PREFIX
    exchange: Path = EXCHANGE
    port: int = 8000
    hub_port: int = 8081
    proxy_api_port: int = 8001
    instructor: str = INSTRUCTOR
    students: list[str] = field(default_factory=lambda: student_names(3))
    #: account -> password (the file is readable by root only).
    passwords: dict[str, str] = field(default_factory=dict)
    #: The configurable-http-proxy executable.
    proxy: str = "configurable-http-proxy"
    #: What the set-up made, so that ``down`` removes exactly that: accounts, folders,
    #: mounts, files, in the order made.
    made_accounts: list[str] = field(default_factory=list)
    made_folders: list[str] = field(default_factory=list)
    mounts: list[str] = field(default_factory=list)
    made_files: list[str] = field(default_factory=list)

    @property
    def state(self) -> Path:
        """The hub's database, cookie secret, logs and this file."""
        return self.prefix / "state"

    @property
    def user_env(self) -> Path:
        """The users' Python environment (the Littlest JupyterHub's /opt/tljh/user)."""
        return self.prefix / "user"

    @property
    def user_python(self) -> Path:
        return self.user_env / "bin" / "python"

    @property
    def file(self) -> Path:
        return self.state / "hub.json"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def home(self, user: str) -> Path:
        return Path("/home") / user

    @property
    def course(self) -> Path:
        """The instructor's course folder (a copy of the repository's files)."""
        return self.home(self.instructor) / COURSE_ID

    @property
    def users(self) -> list[str]:
        return [self.instructor, *self.students]

    def save(self) -> None:
        self.state.mkdir(parents=True, exist_ok=True, mode=0o700)
        data = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()}
        self.file.write_text(json.dumps(data, indent=2) + "\n")
        self.file.chmod(0o600)

    @classmethod
    def load(cls, prefix: Path = PREFIX) -> Settings:
        data = json.loads((prefix / "state" / "hub.json").read_text())
        return cls(**{**data, "prefix": Path(data["prefix"]), "exchange": Path(data["exchange"])})
