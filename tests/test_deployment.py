"""The course on a JupyterHub with nbgrader's exchange (``hub/``, the README's deployment
section), played through with the real commands on one machine.

A temporary folder stands for the hub: ``etc/jupyter`` for ``/etc/jupyter`` (the hub's
``nbgrader_config.py``, found through ``JUPYTER_CONFIG_PATH``, its exchange moved into the
folder), an instructor's course folder (the repository's ``nbgrader_config.py`` and notebook
02), and the students' home folders. The instructor generates and releases the assignment
into the exchange; each student fetches it (their home then holds the released notebook
only), writes an answer, presses Validate (``POST /assignments/validate`` on a JupyterLab
server run from the homes, whose kernels are those of the installed wheel) and submits; the
instructor collects and autogrades. Validate's verdict on every test cell must be
autograde's (on a cell with hidden tests, which only autograde runs, Validate may pass what
autograde fails), for a correct answer that prints to stderr (Validate fails such cells
without the hub's stderr redirect) and for a known mistake.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from lab_server import running_lab
from nbgrader.api import Gradebook
from traitlets.config import PyFileConfigLoader

from autograder.cells import grade_id_of, is_test
from autograder.course import Course
from autograder.examples.corpus import verdicts
from autograder.examples.implementations import ELBO, PRELUDE
from autograder.examples.submission import solution_sources
from course_utils.exercises import exercise

ROOT = Path(__file__).resolve().parents[1]
HUB_CONFIG = ROOT / "hub" / "nbgrader_config.py"
ASSIGNMENT = "vae"
NOTEBOOK = "02_negative_elbo"
EXERCISE = exercise("negative_elbo_bound")
#: A correct answer with a student's debugging print to stderr, and a known mistake.
ANSWERS = {
    "alice": ELBO["correct_sample_gaussian"].source.replace(
        "    m, v = self.enc(x)\n",
        '    print("debug: negative_elbo_bound called", file=sys.stderr)\n    m, v = self.enc(x)\n',
    ),
    "bob": ELBO["mistake_std_for_variance"].source,
}
MISTAKE_CELLS = {grade_id for _, grade_id in verdicts(EXERCISE, ELBO["mistake_std_for_variance"])}


def test_hub_config_has_the_courses_execution_settings_and_no_instructor_code():
    hub = PyFileConfigLoader(HUB_CONFIG.name, path=str(HUB_CONFIG.parent)).load_config()
    course = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    assert hub.Execute == course.Execute
    assert set(hub) == {"CourseDirectory", "Exchange", "Execute"}
    assert hub.CourseDirectory.course_id and hub.Exchange.root
    assert "autograder" not in repr(hub), "students do not have the instructor's package"


def test_readme_deployment_section_names_the_kit():
    hub = PyFileConfigLoader(HUB_CONFIG.name, path=str(HUB_CONFIG.parent)).load_config()
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Deployment on a JupyterHub") :]
    for text in (
        "hub/nbgrader_config.py",
        "/etc/jupyter/nbgrader_config.py",
        hub.CourseDirectory.course_id,
        hub.Exchange.root,
        "python -m pip wheel --no-deps -w dist .",
    ):
        assert text in section, text


@dataclass
class Hub:
    """The folders of the hub, and the environments its users' commands run with."""

    root: Path
    course: Path
    homes: Path
    instructor_env: dict[str, str]
    student_env: dict[str, str]

    def nbgrader(self, *args: str, cwd: Path, env: dict[str, str]) -> str:
        """Run ``nbgrader <args>`` from ``cwd``; its log."""
        nbgrader = Path(sys.executable).parent / "nbgrader"
        command = [str(nbgrader), *args]
        result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
        assert result.returncode == 0, f"nbgrader {args}:\n{result.stdout}{result.stderr}"
        return result.stderr

    def instructor(self, *args: str) -> str:
        """``nbgrader <args>`` in the instructor's course folder."""
        return self.nbgrader(*args, cwd=self.course, env=self.instructor_env)

    def student(self, name: str, *args: str) -> str:
        """``nbgrader <args>`` in the home folder of the student ``name``."""
        return self.nbgrader(*args, cwd=self.home(name), env=self.student_env)

    def home(self, student: str) -> Path:
        return self.homes / student


@pytest.fixture(scope="module")
def hub(tmp_path_factory, installed_wheel) -> Hub:
    root = tmp_path_factory.mktemp("hub")
    system = root / "etc" / "jupyter"
    system.mkdir(parents=True)
    exchange = root / "exchange"
    exchange.mkdir(mode=0o777)
    config = HUB_CONFIG.read_text() + f"\nc.Exchange.root = {str(exchange)!r}\n"
    (system / "nbgrader_config.py").write_text(config)
    course = root / "course"
    (course / "solutions" / ASSIGNMENT).mkdir(parents=True)
    (course / "nbgrader_config.py").write_text((ROOT / "nbgrader_config.py").read_text())
    notebook = ROOT / "solutions" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    (course / "solutions" / ASSIGNMENT / notebook.name).write_bytes(notebook.read_bytes())
    system_config = {
        "JUPYTER_CONFIG_PATH": str(system),  # for /etc/jupyter
        "JUPYTER_CONFIG_DIR": str(root / "user-config"),  # none of ~/.jupyter
    }
    # The instructor: this process's environment (its python3 kernelspec, the repository's
    # autograder). Students: the installed wheel's kernels, nothing of the repository.
    instructor_env = {**os.environ, **system_config}
    student_env = installed_wheel.env(**system_config, JUPYTER_DATA_DIR=str(root / "user-data"))
    path = os.pathsep.join([str(Path(sys.executable).parent), student_env.get("PATH", "")])
    student_env["PATH"] = path
    return Hub(root, course, root / "homes", instructor_env, student_env)


def answer(path: Path, source: str) -> None:
    """Answer the notebook at ``path``: ``source`` in the exercise's solution cell, the
    reference solution in the notebook's other code solution cells (its other exercises)."""
    answers = solution_sources(Course(ROOT), NOTEBOOK, code_only=True)
    answers[EXERCISE.solution_cell] = PRELUDE + "import sys\n" + source
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if grade_id_of(cell) in answers:
            cell.source = answers[grade_id_of(cell)]
    nbformat.write(nb, path)


def graded_cells(path: Path) -> dict[str, str]:
    """The auto-graded test cells of the notebook at ``path``: grade_id -> source."""
    cells = nbformat.read(path, as_version=4).cells
    return {grade_id_of(cell): cell.source for cell in cells if is_test(cell)}


def validate_failures(result: dict, path: Path) -> set[str]:
    """The grade_ids of the test cells that Validate's answer reports as failed."""
    assert result["success"], result["value"]
    found = result["value"]
    assert set(found) <= {"failed"}, found  # no changed or type-changed cells
    grade_ids = {source: grade_id for grade_id, source in graded_cells(path).items()}
    failed = [failure["source"] for failure in found.get("failed", [])]
    return {grade_ids[source] for source in failed if source in grade_ids}


def autograde_failures(course: Path, student: str) -> set[str]:
    """The grade_ids of the test cells that autograde scored below their points."""
    with Gradebook(Course(course).db_url) as gradebook:
        submission = gradebook.find_submission_notebook(NOTEBOOK, ASSIGNMENT, student)
        return {
            grade.name
            for grade in submission.grades
            if grade.cell.cell_type == "code" and grade.score < grade.max_score
        }


def test_validate_in_a_students_home_grades_as_autograde(hub, tmp_path):
    assert "file=sys.stderr" in ANSWERS["alice"], "the corpus entry changed: update ANSWERS"
    seconds = {}
    start = time.monotonic()
    # The instructor releases the assignment into the exchange.
    hub.instructor("generate_assignment", ASSIGNMENT, "--force")
    hub.instructor("release_assignment", ASSIGNMENT)

    # Each student fetches it into their home, answers, presses Validate, submits.
    for student, source in ANSWERS.items():
        home = hub.home(student)
        home.mkdir(parents=True)
        hub.student(student, "fetch_assignment", ASSIGNMENT)
        files = sorted(p.relative_to(home).as_posix() for p in home.rglob("*") if p.is_file())
        assert files == [f"{ASSIGNMENT}/{NOTEBOOK}.ipynb"], files
        answer(home / ASSIGNMENT / f"{NOTEBOOK}.ipynb", source)
    seconds["release and fetch"] = time.monotonic() - start
    validated = {}
    with running_lab(hub.homes, tmp_path, tmp_path / "jupyterlab.log", hub.student_env) as lab:
        for student in ANSWERS:
            start = time.monotonic()
            path = f"{student}/{ASSIGNMENT}/{NOTEBOOK}.ipynb"
            validated[student] = validate_failures(lab.validate(path), hub.homes / path)
            seconds[f"validate {student}"] = time.monotonic() - start
    start = time.monotonic()
    for student in ANSWERS:
        hub.student(student, "submit", ASSIGNMENT, f"--student={student}")

    # The instructor collects and autogrades.
    hub.instructor("collect", ASSIGNMENT)
    hub.instructor("autograde", ASSIGNMENT, "--force")
    graded = {student: autograde_failures(hub.course, student) for student in ANSWERS}
    seconds["submit, collect, autograde"] = time.monotonic() - start
    print({step: round(s, 1) for step, s in seconds.items()})

    assert graded == {"alice": set(), "bob": MISTAKE_CELLS}
    # Validate runs what the student sees: a cell with hidden tests can fail autograde only.
    source = graded_cells(hub.course / "solutions" / ASSIGNMENT / f"{NOTEBOOK}.ipynb")
    hidden = {grade_id for grade_id, text in source.items() if "BEGIN HIDDEN TESTS" in text}
    assert {s: cells - hidden for s, cells in validated.items()} == {
        s: cells - hidden for s, cells in graded.items()
    }
    assert all(validated[s] <= graded[s] for s in ANSWERS), (validated, graded)
