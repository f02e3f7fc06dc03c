"""``python -m hub up|down``: the course's class on a real JupyterHub on this machine."""

import argparse
import sys

from hub import classroom
from hub.layout import PREFIX, Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hub", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="set the class up and start the hub (make hub)")
    up.add_argument("--students", type=int, default=3, help="student accounts (default 3)")
    up.add_argument("--port", type=int, default=8000, help="the hub's port (or the next free)")
    commands.add_parser("down", help="stop the hub, remove what up made (make hub-stop)")
    args = parser.parse_args(argv)
    try:
        if args.command == "down":
            classroom.down(PREFIX)
            return 0
        settings = classroom.up(args.students, args.port, PREFIX)
    except classroom.HubError as error:
        print(f"hub: {error}", file=sys.stderr)
        return 1
    print(describe(settings))
    return 0


def describe(settings: Settings) -> str:
    """The hub's address and accounts, as ``make hub`` prints them."""
    width = max(map(len, settings.users))
    lines = [f"JupyterHub: {settings.url}/hub/login  (make hub-stop removes it all)"]
    for user in settings.users:
        role = "instructor (formgrader)" if user == settings.instructor else "student"
        lines.append(f"  {user:<{width}}  password {settings.passwords[user]}  {role}")
    lines.append(f"course folder: {settings.course}; exchange: {settings.exchange}")
    lines.append(f"the passwords are also in {settings.file} (root only)")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
