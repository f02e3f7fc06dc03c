"""JupyterHub's configuration of the course's class on one machine (``make hub``).

Reads what the set-up made from ``$VAE_HUB_SETTINGS`` (``/opt/vae-hub/state/hub.json``):
the ports, the accounts, the users' environment. Users log in with their Unix account's
password (PAM); the local process spawner starts each user's JupyterLab as that user, in
their home, from the users' environment.
"""

import os
from pathlib import Path

from hub.layout import Settings

c = get_config()  # noqa: F821 -- defined by traitlets when it executes this file

settings = Settings.load(Path(os.environ["VAE_HUB_SETTINGS"]).parent.parent)

c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = settings.port
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = settings.hub_port
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{settings.proxy_api_port}"
c.ConfigurableHTTPProxy.command = [settings.proxy]
c.ConfigurableHTTPProxy.pid_file = str(settings.state / "jupyterhub-proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{settings.state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(settings.state / "jupyterhub_cookie_secret")

c.JupyterHub.authenticator_class = "pam"
c.Authenticator.allowed_users = set(settings.users)
c.Authenticator.admin_users = {settings.instructor}
c.PAMAuthenticator.open_sessions = False

c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [str(settings.user_python), "-m", "jupyterhub.singleuser"]
c.Spawner.default_url = "/lab"
# Only these of the hub's own environment reach a user's server: not PYTHONPATH (the
# repository's `autograder` would reach every student) nor the hub's PATH.
c.Spawner.env_keep = ["LANG", "LC_ALL"]
c.Spawner.environment = {
    "PATH": f"{settings.user_env / 'bin'}:/usr/local/bin:/usr/bin:/bin",
    "SHELL": "/bin/bash",
}
# Servers start on a busy machine: a kernel's first `import torch` alone takes seconds.
c.Spawner.http_timeout = 120
c.Spawner.start_timeout = 180


def instructor_path(spawner):
    """The instructor's server imports the course's grading hooks from the course folder."""
    if spawner.user.name == settings.instructor:
        spawner.environment = {**spawner.environment, "PYTHONPATH": str(settings.course)}


c.Spawner.pre_spawn_hook = instructor_path
