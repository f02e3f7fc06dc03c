"""Time limits that follow the solutions' own times (``autograder.time_limits``): which cells
only show, how an entry becomes limits, and, through the course's real command, a
submission that loops forever graded within its limits while the other student keeps every
point and the display-only cells are left out under autograde."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from test_autograde_corpus import FIXTURE_NOTEBOOK, gradebook_rows, run_cli

from autograder import release, time_limits
from autograder.cells import grade_id_of
from autograder.course import Course, new_course
from autograder.release import generate
from course_utils import calibration, nbgrader_settings


def locked(source: str, grade_id: str, **flags) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata.nbgrader = {
        "grade": False,
        "solution": False,
        "locked": True,
        "grade_id": grade_id,
        "schema_version": 3,
        "task": False,
        **flags,
    }
    return cell


def test_display_only_cells_are_those_nothing_graded_reads():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        locked("import math\nx0 = 1", "setup"),
        locked("import matplotlib.pyplot as plt\nfig = plt.figure()\nplt.plot([x0])", "picture"),
        locked("scale = 2.0  # read by the test below", "constants"),
        locked("print(scale, math.pi)", "demo"),
        locked("def f(x):\n    return scale * x", "f", solution=True, locked=False),
        locked("%matplotlib inline\nassert f(1) == scale", "test_f", grade=True, points=1),
        locked("fig.savefig('out.png')  # reads the picture: display only too", "save"),
    ]
    assert time_limits.display_only(nb) == ["demo", "picture", "save"]
    nb.cells[4].source = "def f(x):\n    return scale * x * len(fig.axes)"  # a student's
    assert time_limits.display_only(nb) == ["demo", "save"]  # the picture is now needed
    nb.cells[4].source = "def f(x):\n    return scale *"  # a student's that cannot run
    assert time_limits.display_only(nb) == ["demo", "picture", "save"]


def write_reference(course: Course, notebook: str, **entry) -> None:
    """Reference times measured by a machine whose calibration took 1 s: about 14 times
    slower than this one, so the limits are never scaled here (the factor is at least 1)."""
    source = course.source / f"{notebook}.ipynb"
    record = {"sha256": time_limits.digest(source), "display_only": [], **entry}
    reference = {"calibration": 1.0, "notebooks": {notebook: record}}
    (course.source / time_limits.FILE).write_text(json.dumps(reference))


@pytest.fixture
def course(tmp_path) -> Course:
    return new_course(tmp_path / "course", [FIXTURE_NOTEBOOK])


def test_limits_are_multiples_of_the_reference_and_scale_with_the_machine(course, monkeypatch):
    write_reference(course, "add", seconds=5.0, cells={"add_small_ints": 0.5})
    monkeypatch.setattr(calibration, "now", lambda: 1.0)  # as fast as the reference machine
    plan = time_limits.plan(course.config, course.assignment, "add")
    limits = time_limits.TimeLimits(config=course.config)
    assert (
        plan.cell_limit("add_small_ints")
        == 10 * 0.5 + 15
        == (limits.cell_multiple * 0.5 + limits.cell_margin)
    )
    assert plan.deadline == 4 * 5.0 + 30
    assert plan.cell_limit("add_solution") == plan.cell_limit(None) == 15  # not measured
    assert time_limits.Plan().cell_limit("add_small_ints") is None  # no reference: fixed
    monkeypatch.setattr(calibration, "now", lambda: 3.0)  # three times slower
    assert time_limits.plan(course.config, course.assignment, "add").deadline == 3 * (20 + 30)
    monkeypatch.setattr(calibration, "now", lambda: 0.1)  # faster: never below the reference
    assert time_limits.plan(course.config, course.assignment, "add").deadline == 20 + 30


def test_an_entry_of_another_version_of_the_notebook_is_ignored(course):
    write_reference(course, "add", seconds=5.0, cells={}, display_only=["setup"])
    assert time_limits.stale(course.source) == []
    with open(course.source / "add.ipynb", "a") as notebook:
        notebook.write("\n")
    assert time_limits.stale(course.source) == ["add"]
    assert time_limits.plan(course.config, course.assignment, "add") == time_limits.Plan()


def test_the_reference_times_stay_out_of_the_release(course):
    write_reference(course, "add", seconds=5.0, cells={})
    generate(course)
    assert not (course.release / time_limits.FILE).exists()


def test_validate_cuts_a_cell_where_autograde_would(tmp_path):
    """The release's cells carry autograde's limits, and the students' Validate (plain
    ``nbgrader validate`` with the course's config, no ``autograder`` needed) applies them:
    an answer that loops forever is cut after its test cells' limits, not the fixed 300 s."""
    course = new_course(tmp_path / "course", [FIXTURE_NOTEBOOK], "c.TimeLimits.cell_margin = 2.0")
    tests = {"add_small_ints": 0.1, "add_negatives": 0.1, "add_with_stderr": 0.1}
    write_reference(course, "add", seconds=1.0, cells=tests)
    generate(course)
    released = nbformat.read(course.release / "add.ipynb", as_version=4)
    carried = {grade_id_of(c): c.metadata.get(nbgrader_settings.LIMIT) for c in released.cells}
    assert {name: carried[name] for name in tests} == {
        name: {"seconds": 3.0, "calibration": 1.0}
        for name in tests  # 10 x 0.1 + 2
    }
    assert carried["add_solution"] is None  # not measured: Validate's fixed limit
    timeouts = {grade_id_of(c): nbgrader_settings.cell_timeout(c) for c in released.cells}
    assert timeouts["add_small_ints"] == 3
    assert timeouts["add_solution"] == nbgrader_settings.CELL_TIMEOUT_S

    answer = next(c for c in released.cells if c.metadata.get("nbgrader", {}).get("solution"))
    answer.source = "def add(a, b):\n    while True:\n        pass"
    student = tmp_path / "student" / "add.ipynb"
    student.parent.mkdir()
    nbformat.write(released, student)
    validate = [sys.executable, "-m", "nbgrader", "validate", str(student)]
    done = subprocess.run(validate, cwd=course.root, capture_output=True, text=True, timeout=120)
    timeouts = re.findall(r"Timeout waiting for execute reply \((\d+)s\)", done.stderr)
    assert timeouts == ["3"] * len(tests), done.stdout + done.stderr
    assert "VALIDATION FAILED" in done.stdout, done.stdout


def test_the_repository_s_reference_times_are_up_to_date():
    repository = Course()
    assert time_limits.stale(repository.source) == [], (
        "the solutions changed since their times were measured: `python -m autograder release`"
    )


# -- through the course's command ------------------------------------------------------------


def with_a_picture(path: Path) -> None:
    """The fixture notebook with a slow display-only cell after its set-up."""
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(2, locked("import time\ntime.sleep(4)\npicture = 'drawn'", "picture"))
    nbformat.write(nb, path)


def test_an_infinite_loop_costs_its_limits_and_only_its_own_points(tmp_path):
    solutions = tmp_path / "solutions.ipynb"
    shutil.copy(FIXTURE_NOTEBOOK, solutions)
    with_a_picture(solutions)
    # Smaller margins than the course's, so that the loop's cost shows in seconds.
    margins = ("c.TimeLimits.cell_margin = 5.0", "c.TimeLimits.notebook_margin = 10.0")
    course = new_course(tmp_path / "course", [solutions], *margins)
    (course.source / "solutions.ipynb").rename(course.source / "add.ipynb")
    reference = release.measure_times(course, progress=lambda _: None)
    entry = reference["notebooks"]["add"]
    assert entry["display_only"] == ["picture"]
    assert "picture" not in entry["cells"] and entry["seconds"] < 30
    generate(course)

    submissions = tmp_path / "submitted"
    for student in ("good", "loops"):
        (submissions / student / "vae").mkdir(parents=True)
        nb = nbformat.read(course.source / "add.ipynb", as_version=4)
        if student == "loops":
            answer = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution"))
            answer.source = "def add(a, b):\n    while True:\n        pass"
        nbformat.write(nb, submissions / student / "vae" / "add.ipynb")
    run_cli(course, submissions)

    rows = gradebook_rows(course)
    assert {key[2]: row[0] for key, row in rows.items() if key[0] == "good"} == {
        "add_small_ints": 1,
        "add_negatives": 2,
        "add_with_stderr": 1,
    }
    assert all(row[0] == 0 for key, row in rows.items() if key[0] == "loops")

    plan = time_limits.plan(course.config, course.assignment, "add")
    autograded = course.coursedir.autograded_directory
    graded = nbformat.read(course.step_dir(autograded, "loops") / "add.ipynb", 4)
    errors = [
        out
        for cell in graded.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.output_type == "error"
    ]
    timed_out = [e for e in errors if "Timeout" in e.ename or "timeout" in e.evalue.lower()]
    stopped = [e for e in errors if e.ename == "DeadlinePassed"]
    assert timed_out, errors  # the first test ran into its cell's limit, not 600 s
    assert not stopped or f"{plan.deadline:.0f} s" in stopped[0].evalue
    good = nbformat.read(course.step_dir(autograded, "good") / "add.ipynb", 4)
    picture = next(c for c in good.cells if grade_id_of(c) == "picture")
    assert picture.outputs == [] and picture.execution_count is None  # left out
