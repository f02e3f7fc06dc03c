"""The student release: generate it from the solutions, keep it byte-stable, check it; and
measure what the solutions take when graded (``autograder.time_limits``)."""

import contextlib
import difflib
import json
import os
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from fnmatch import fnmatch
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbgrader.api import Gradebook, MissingEntry
from traitlets.config import Config

from autograder import time_limits, translation
from autograder.cells import grade_id_of, is_test
from autograder.course import Course, check
from autograder.nbgrader_hooks import GuardedExecute
from course_utils import calibration


def generate(course: Course) -> list[Path]:
    """Regenerate the release: ``nbgrader generate_assignment --force``, which the config
    makes byte-stable (``nbgrader_hooks.NormalizeRelease``).

    Also records the assignment (cells, checksums, hidden tests) in the gradebook, which
    autograde needs. Returns the release notebooks.
    """
    check(course.api().generate_assignment(course.assignment, force=True), "generate_assignment")
    return sorted(course.release.glob("*.ipynb"))


def generate_editions(course: Course) -> list[Path]:
    """Build the translated editions of the course's assignment (``autograder.translation``:
    ``solutions/vae-pt`` from ``solutions/vae`` and ``translations/pt_BR``) and release each
    as an assignment of its own (``notebooks/vae-pt``). Returns their release notebooks."""
    written = []
    for edition in translation.editions_of(course.assignment, course.root):
        translation.build(course.root, edition)
        written += generate(edition_course(course, edition))
    return written


def edition_course(course: Course, edition: translation.Edition) -> Course:
    """``course`` (its root and overrides) with the edition's assignment."""
    return Course(course.root, edition.assignment, course.overrides)


def differences(course: Course) -> list[str]:
    """How the committed release differs from a fresh one (empty if it is up to date).

    The fresh release goes to a temporary folder, without the gradebook (``--no-db``), so
    neither the committed notebooks nor the gradebook are touched.
    """
    with tempfile.TemporaryDirectory() as tmp:
        overrides = Config()
        overrides.CourseDirectory.release_directory = tmp
        overrides.SaveCells.enabled = False
        overrides.GenerateAssignment.no_database = True
        fresh = Course(course.root, course.assignment, overrides)
        generate(fresh)
        return compare_trees(course.release, fresh.release, course.ignored)


def compare_trees(committed: Path, generated: Path, ignored: list[str]) -> list[str]:
    """Readable differences between two release folders, notebooks compared cell by cell."""
    ours, theirs = _files(committed, ignored), _files(generated, ignored)
    found = [
        f"{committed / name}: missing (generate_assignment writes it)" for name in theirs - ours
    ]
    found += [f"{committed / name}: not produced by generate_assignment" for name in ours - theirs]
    for name in sorted(ours & theirs):
        if name.endswith(".ipynb"):
            found += compare_notebooks(committed / name, generated / name)
        elif (committed / name).read_bytes() != (generated / name).read_bytes():
            found.append(f"{committed / name}: differs from the source copy")
    return found


def compare_notebooks(committed: Path, generated: Path) -> list[str]:
    """One entry per differing cell (named by grade_id) or notebook metadata, with a diff."""
    old = nbformat.read(committed, as_version=nbformat.NO_CONVERT)
    new = nbformat.read(generated, as_version=nbformat.NO_CONVERT)
    found = []
    if len(old.cells) != len(new.cells):
        found.append(f"{committed}: {len(old.cells)} cells, the fresh release has {len(new.cells)}")
    for index in range(max(len(old.cells), len(new.cells))):
        a = old.cells[index] if index < len(old.cells) else {}
        b = new.cells[index] if index < len(new.cells) else {}
        if a != b:
            found.append(f"{committed}: cell {index} ({_cell_name(a or b)})\n{_diff(a, b)}")
    rest_old = {key: value for key, value in old.items() if key != "cells"}
    rest_new = {key: value for key, value in new.items() if key != "cells"}
    if rest_old != rest_new:
        found.append(f"{committed}: notebook metadata\n{_diff(rest_old, rest_new)}")
    if not found and committed.read_bytes() != generated.read_bytes():
        found.append(f"{committed}: same content, different JSON layout (run the release command)")
    return found


def _files(root: Path, ignored: list[str]) -> set[str]:
    """Relative paths of the files under ``root``, skipping nbgrader's ignore globs."""
    if not root.is_dir():
        return set()
    return {
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.is_file()
        and not any(
            fnmatch(part, glob) for part in path.relative_to(root).parts for glob in ignored
        )
    }


def _cell_name(cell: dict) -> str:
    grade_id = grade_id_of(cell)
    return grade_id or f"id {cell.get('id', '?')}"


def _diff(committed: dict, generated: dict) -> str:
    diff = difflib.unified_diff(
        _json_lines(committed), _json_lines(generated), "committed", "generated", lineterm="", n=2
    )
    return "\n".join("    " + line for line in diff)


def _json_lines(node: dict) -> list[str]:
    """A cell or notebook as JSON lines, its source split into lines as in the file."""
    if "source" in node:
        node = {**node, "source": node["source"].splitlines(keepends=True)}
    return json.dumps(node, indent=1, sort_keys=True).splitlines()


def register(course: Course) -> None:
    """Record the assignment in the gradebook if it is not there (a fresh clone has none).

    Runs generate_assignment into a temporary folder, leaving the committed release alone.
    """
    with Gradebook(course.db_url) as gradebook:
        try:
            gradebook.find_assignment(course.assignment)
            return
        except MissingEntry:
            pass
    with tempfile.TemporaryDirectory() as tmp:
        overrides = Config()
        overrides.merge(course.config)  # the course's own overrides (its gradebook) included
        overrides.CourseDirectory.release_directory = tmp
        api = Course(course.root, course.assignment, overrides).api()
        check(api.generate_assignment(course.assignment), "generate_assignment")


# -- the solutions' own times ------------------------------------------------------------------


def refresh_times(course: Course, progress=print) -> list[str]:
    """Measure the solutions' times again if a source notebook changed since they were
    measured (``measure_times``); returns the notebooks that were stale."""
    changed = time_limits.stale(course.source)
    if changed:
        progress(f"measuring the solutions' times (changed: {', '.join(changed)})")
        measure_times(course, progress)
    return changed


def measure_times(course: Course, progress=print) -> dict:
    """Run each source notebook as autograde does (in the sandbox if the config says so,
    one thread, its display-only cells left out) and write its cells' times and its own to
    ``time_limits.FILE`` beside it, with the machine's calibration; returns what was written.
    Raises if a test fails on the solutions with the display-only cells left out."""
    reference = {
        "calibration": calibration.calibrate(),
        "measured": datetime.now().isoformat(timespec="seconds"),
        "notebooks": {},
    }
    with _environment(OMP_NUM_THREADS="1", NBGRADER_EXECUTION="autograde"):
        for path in sorted(course.source.glob("*.ipynb")):
            nb = nbformat.read(path, as_version=4)
            skip = time_limits.display_only(nb)
            plan = time_limits.Plan(frozenset(skip))
            start = time.perf_counter()
            GuardedExecute(config=course.config).preprocess(
                nb, {"metadata": {"path": str(course.source)}, "plan": plan}
            )
            seconds = time.perf_counter() - start
            _check_passes(path, nb)
            reference["notebooks"][path.stem] = {
                "sha256": time_limits.digest(path),
                "seconds": round(seconds, 2),
                "cells": _cell_times(nb),
                "display_only": skip,
            }
            progress(f"{path.stem}: {seconds:.1f} s, {len(skip)} display-only cells left out")
    text = json.dumps(reference, indent=1, sort_keys=True) + "\n"
    (course.source / time_limits.FILE).write_text(text)
    return reference


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    """``values`` in ``os.environ`` for the block, then what was there before."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _check_passes(path: Path, nb: NotebookNode) -> None:
    """Raise if a test cell of the solutions failed with the display-only cells left out."""
    failed = [
        grade_id_of(cell)
        for cell in nb.cells
        if is_test(cell) and any(out.output_type == "error" for out in cell.outputs)
    ]
    if failed:
        raise RuntimeError(
            f"{path.name}: test cells {failed} fail on the solutions with the display-only "
            "cells left out: one of those does something they need "
            "(autograder.time_limits.display_only)"
        )


def _cell_times(nb: NotebookNode) -> dict[str, float]:
    """Seconds each executed cell took, by grade id (from nbclient's timing metadata)."""
    times = {}
    for cell in nb.cells:
        timing = cell.metadata.get("execution", {})
        if grade_id_of(cell) and "shell.execute_reply" in timing:
            began = datetime.fromisoformat(timing["iopub.execute_input"].replace("Z", "+00:00"))
            ended = datetime.fromisoformat(timing["shell.execute_reply"].replace("Z", "+00:00"))
            times[grade_id_of(cell)] = round((ended - began).total_seconds(), 3)
    return times
