"""``python -m autograder <command>``: the instructor's commands (``--help`` lists them)."""

import argparse
import sys
from pathlib import Path

from traitlets.config.loader import ConfigFileNotFound

from autograder import grading, release, validation
from autograder.course import ASSIGNMENT, REPO_ROOT, Course, NbgraderError


def main(argv: list[str] | None = None) -> int:
    """Run one command; return the process exit code (0 on success)."""
    args = _parser().parse_args(argv)
    try:
        return args.command(Course(args.root, args.assignment), args)
    except (ConfigFileNotFound, NbgraderError, FileNotFoundError) as error:
        print(error, file=sys.stderr)
        return 1


def _release(course: Course, _: argparse.Namespace) -> int:
    for path in release.generate(course):
        print(f"wrote {path}")
    return 0


def _check_release(course: Course, _: argparse.Namespace) -> int:
    found = release.differences(course)
    for difference in found:
        print(difference)
    if found:
        print(f"{course.release} is out of date: run `python -m autograder release`")
        return 1
    print(f"{course.release} matches the solutions")
    return 0


def _validate(course: Course, _: argparse.Namespace) -> int:
    return _report(validation.check_solutions(course), "all test cells pass")


def _validate_release(course: Course, _: argparse.Namespace) -> int:
    return _report(validation.check_release(course), "every test cell fails cleanly")


def _autograde(course: Course, args: argparse.Namespace) -> int:
    run = grading.autograde(course, args.submissions)
    for student, log in run.failed.items():
        print(f"{student}: autograde failed\n{log}", file=sys.stderr)
    for s in run.scores:
        if s.student in run.failed:
            note = "  NOT GRADED: autograde failed (log above)"
        else:
            note = "  (+ answers to grade by hand)" if s.needs_manual_grade else ""
        print(f"{s.student:<24} {s.score:6.1f} / {s.max_score:.1f}{note}")
    print(f"feedback: {course.feedback('*')}\ngrades: {grading.grades_csv(course)}")
    return int(bool(run.failed))


def _report(problems: dict[Path, list[str]], success: str) -> int:
    """Print each notebook's verdict; exit code 1 if any notebook has problems."""
    for path, found in problems.items():
        print(f"{path}: " + ("\n".join(found) if found else success))
    return int(any(problems.values()))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m autograder", description="The course's nbgrader commands."
    )
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="course directory")
    parser.add_argument("--assignment", default=ASSIGNMENT, help="assignment name")
    commands = parser.add_subparsers(required=True, metavar="command")
    for name, run, text in [
        ("release", _release, "regenerate notebooks/ from solutions/"),
        ("check-release", _check_release, "fail if notebooks/ differs from a fresh release"),
        ("validate", _validate, "fail unless every test cell passes on the solutions"),
        ("validate-release", _validate_release, "fail unless every test fails on the release"),
        ("autograde", _autograde, "grade a folder or zip of <student>/<assignment>/*.ipynb"),
    ]:
        command = commands.add_parser(name, help=text, description=text)
        command.set_defaults(command=run)
        if name == "autograde":
            command.add_argument("submissions", type=Path, help="folder or .zip")
    return parser


if __name__ == "__main__":
    sys.exit(main())
