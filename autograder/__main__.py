"""``python -m autograder <command>``: the instructor's commands (``--help`` lists them)."""

import argparse
import json
import sys
import zipfile
from pathlib import Path

from traitlets.config import Config
from traitlets.config.loader import ConfigFileNotFound

from autograder import (
    bundle,
    grading,
    lms_export,
    main_job,
    parallel,
    release,
    report,
    report_page,
    sandbox,
    time_limits,
    translation,
    validation,
)
from autograder.course import ASSIGNMENT, REPO_ROOT, Course, NbgraderError
from autograder.examples import corpus
from autograder.nbgrader_hooks import GuardedExecute
from autograder.sandbox import SandboxUnavailable


def main(argv: list[str] | None = None) -> int:
    """Run one command; return the process exit code (0 on success)."""
    args = _parser().parse_args(argv)
    overrides = Config()
    if args.no_sandbox:
        overrides.GuardedExecute.sandbox = False
        print(
            "WARNING: grading without the sandbox: student code can read and change the course",
            file=sys.stderr,
        )
    try:
        course = Course(args.root, args.assignment, overrides)
        if course.setting(GuardedExecute, "sandbox"):
            sandbox.check_available()
        return args.command(course, args)
    except (
        ConfigFileNotFound,
        NbgraderError,
        FileNotFoundError,
        SandboxUnavailable,
        corpus.UnknownCases,
    ) as error:
        print(error, file=sys.stderr)
        return 1


def _course(course: Course, args: argparse.Namespace) -> int:
    return main_job.run(course, args.cases, every=args.all, workers=_workers(args))


def _workers(args: argparse.Namespace) -> parallel.Workers:
    return parallel.Workers(args.workers, args.scheduler, args.threads)


def _release(course: Course, _: argparse.Namespace) -> int:
    release.refresh_times(course)
    for path in release.generate(course) + release.generate_editions(course):
        print(f"wrote {path}")
    return 0


def _check_release(course: Course, _: argparse.Namespace) -> int:
    found = _release_differences(course)
    for edition in translation.editions_of(course.assignment, course.root):
        found += translation.differences(course.root, edition)
        found += _release_differences(release.edition_course(course, edition))
    for difference in found:
        print(difference)
    if found:
        print(f"{course.release} is out of date: run `python -m autograder release`")
        return 1
    print(f"{course.release} matches the solutions")
    return 0


def _release_differences(course: Course) -> list[str]:
    """How the committed release, and the reference times, differ from fresh ones."""
    found = release.differences(course)
    if (course.source / time_limits.FILE).exists():  # a course without one has fixed limits
        found += [
            f"{course.source / time_limits.FILE}: {notebook}'s times are out of date"
            for notebook in time_limits.stale(course.source)
        ]
    return found


def _translations(course: Course, args: argparse.Namespace) -> int:
    editions = translation.editions_of(course.assignment, course.root)
    found = [p for e in editions for p in translation.problems(course.root, e)]
    messages = [p for e in editions for p in translation.edition_message_problems(course.root, e)]
    for problem in [*found, *messages]:
        if args.all or problem.kind != "missing":
            print(problem)
    missing = sum(problem.kind == "missing" for problem in found)
    untranslated = sum(problem.kind == "missing" for problem in messages)
    print(
        f"{missing} cells and {untranslated} messages not translated yet"
        + ("" if args.all else " (--all lists them)")
    )
    return int(any(problem.kind != "missing" for problem in [*found, *messages]))


def _released(course: Course) -> list[Course]:
    """The course and its translated editions (``vae-pt``), each an assignment of its own."""
    editions = translation.editions_of(course.assignment, course.root)
    return [course] + [release.edition_course(course, edition) for edition in editions]


def _validate(course: Course, _: argparse.Namespace) -> int:
    found = {p: f for c in _released(course) for p, f in validation.check_solutions(c).items()}
    return _verdicts(found, "all test cells pass")


def _validate_release(course: Course, _: argparse.Namespace) -> int:
    found = {p: f for c in _released(course) for p, f in validation.check_release(c).items()}
    return _verdicts(found, "every test cell fails cleanly")


def _collect(course: Course, args: argparse.Namespace) -> int:
    students = grading.collect(course, args.submissions)
    print(f"collected {len(students)} submissions into {course.submitted('*')}:")
    print("  " + " ".join(students))
    return 0


def _autograde(course: Course, args: argparse.Namespace) -> int:
    run = grading.autograde(course, args.submissions, progress=True, workers=_workers(args))
    for student, log in run.failed.items():
        print(f"{student}: autograde failed\n{log}", file=sys.stderr)
    for student in run.empty:
        print(f"{student}: NOT GRADED: the submission holds no notebook", file=sys.stderr)
    for s in run.scores:
        if s.student in run.failed:
            note = "  NOT GRADED: autograde failed (log above)"
        else:
            note = "  (+ answers to grade by hand)" if s.needs_manual_grade else ""
        print(f"{s.student:<24} {s.score:6.1f} / {s.max_score:.1f}{note}")
    print(f"feedback: {course.feedback('*')}\ngrades: {grading.grades_csv(course)}")
    return int(bool(run.failed))


def _feedback(course: Course, _: argparse.Namespace) -> int:
    files = grading.feedback(course)
    print(f"{len(files)} feedback files in {course.feedback('*')}")
    return 0


def _export(course: Course, args: argparse.Namespace) -> int:
    print(f"grades: {lms_export.export(course, args.format)}")
    return 0


def _report(course: Course, args: argparse.Namespace) -> int:
    expected = json.loads(args.expected.read_text()) if args.expected else None
    found = report.build(course, expected)
    paths = report_page.write(found, course.root / report_page.REPORT_DIR)
    print(found.summary())
    print(f"report: {paths['report.html']} (with {paths['scores.png'].name}, report.json)")
    return int(bool(found.mismatches))


def _bundle(course: Course, _: argparse.Namespace) -> int:
    for each in _released(course):  # the bundle ships every edition's release
        if release.differences(each):
            print(f"{each.release} is out of date: run `python -m autograder release` first")
            return 1
    path = bundle.build(course)
    found = bundle.leaks(path, course)
    for leak in found:
        print(leak)
    if found:
        print(f"{path}: NOT for students, it gives away what is listed above")
        return 1
    with zipfile.ZipFile(path) as archive:
        print(f"{path}: {len(archive.namelist())} files for students")
    return 0


def _verdicts(problems: dict[Path, list[str]], success: str) -> int:
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
    parser.add_argument(
        "--no-sandbox",
        action="store_true",
        help="run student code without the grading sandbox (bubblewrap): it can then read "
        "and change the course",
    )
    commands = parser.add_subparsers(required=True, metavar="command")
    submissions = "folder or .zip of <student_id>/<assignment>/*.ipynb"
    for name, run, text in [
        ("course", _course, "the main job: build the release, grade the examples, bundle"),
        ("release", _release, "regenerate notebooks/ from solutions/"),
        ("check-release", _check_release, "fail if notebooks/ differs from a fresh release"),
        (
            "validate",
            _validate,
            "fail unless every test cell passes on the solutions (every edition's)",
        ),
        (
            "validate-release",
            _validate_release,
            "fail unless every test fails on the release (every edition's)",
        ),
        ("collect", _collect, "copy submissions into build/submitted (replacing earlier ones)"),
        ("autograde", _autograde, "collect (if given) and grade; write feedback and grades"),
        ("feedback", _feedback, "regenerate the HTML feedback of every graded submission"),
        ("export", _export, "export the grades: build/grades.csv, or for Canvas or Moodle"),
        ("report", _report, "class report: scores, pass rates, common mistakes (build/report)"),
        ("bundle", _bundle, "zip what students get into build/student_bundle.zip"),
        (
            "translations",
            _translations,
            "stale and missing cells and messages of the translated editions",
        ),
    ]:
        command = commands.add_parser(name, help=text, description=text)
        command.set_defaults(command=run)
        if name == "course":
            command.add_argument("cases", nargs="*", help="examples to grade (default: a sample)")
            command.add_argument("--all", action="store_true", help="grade every example")
        if name in ("course", "autograde"):
            command.add_argument(
                "--workers", type=int, default=1, help="students graded at once, locally"
            )
            command.add_argument(
                "--scheduler", help="grade on a Dask cluster: its scheduler, tcp://HOST:8786"
            )
            command.add_argument(
                "--threads", type=int, help="torch threads per kernel (default: cores/workers)"
            )
        if name == "collect":
            command.add_argument("submissions", type=Path, help=submissions)
        if name == "autograde":
            command.add_argument(
                "submissions", type=Path, nargs="?", help=f"{submissions} (default: collected)"
            )
        if name == "export":
            command.add_argument(
                "--format",
                choices=lms_export.FORMATS,
                default="csv",
                help="csv: nbgrader's (build/grades.csv); canvas, moodle: their gradebook "
                "imports, with the graders' comments (build/grades-<format>.csv)",
            )
        if name == "translations":
            command.add_argument(
                "--all", action="store_true", help="list the missing cells and messages too"
            )
        if name == "report":
            command.add_argument(
                "--expected", type=Path, help="JSON {student_id: expected score}: adds a column"
            )
    return parser


if __name__ == "__main__":
    sys.exit(main())
