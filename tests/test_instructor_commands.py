"""The instructor's commands (``python -m autograder``) and the class report, with nbgrader
for real on the fixture course of ``test_nbgrader_pipeline`` (see tests/fixtures/README.md);
the student bundle of this repository (no notebook runs).
"""

import base64
import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbgrader.utils import is_solution
from test_nbgrader_pipeline import EXPECTED_SCORES, SUBMISSIONS, make_course

from autograder import bundle, grading, release, report, report_page
from autograder.__main__ import main
from autograder.course import Course
from autograder.main_job import EXAMPLES_DIR, example_course

#: The fixture's hidden test fails with a message and no mistake id: its verdict is the
#: exception's name, its text the message.
SIGN_MISTAKE = ("AssertionError", "AssertionError: did you drop the sign of a negative argument?")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """A fixture course after ``collect`` then ``autograde`` (no argument) on the CLI."""
    course = make_course(tmp_path_factory.mktemp("graded"))
    root = ["--root", str(course.root)]
    assert main([*root, "collect", str(SUBMISSIONS)]) == 0
    assert main([*root, "autograde"]) == 0
    return course


def test_collect_from_a_zip_and_a_folder(tmp_path):
    (tmp_path / "course").mkdir()
    course = make_course(tmp_path / "course")
    archive = Path(shutil.make_archive(str(tmp_path / "submissions"), "zip", SUBMISSIONS))

    assert grading.collect(course, archive) == sorted(EXPECTED_SCORES)
    assert grading.submitted_students(course) == sorted(EXPECTED_SCORES)
    (tmp_path / "dave" / "vae").mkdir(parents=True)
    shutil.copy(SUBMISSIONS / "alice" / "vae" / "add.ipynb", tmp_path / "dave" / "vae")
    assert grading.collect(course, tmp_path) == ["dave"]
    assert grading.submitted_students(course) == [*sorted(EXPECTED_SCORES), "dave"]
    assert (course.submitted("dave") / "add.ipynb").read_bytes() == (
        SUBMISSIONS / "alice" / "vae" / "add.ipynb"
    ).read_bytes()


def test_cli_grades_what_was_collected(graded, capsys):
    assert {s.student: s.score for s in grading.scores(graded)} == EXPECTED_SCORES
    root = ["--root", str(graded.root)]

    assert main([*root, "export"]) == 0
    assert capsys.readouterr().out == f"grades: {grading.grades_csv(graded)}\n"
    rows = grading.grades_csv(graded).read_text().splitlines()[1:]
    assert {row.split(",")[3]: float(row.split(",")[-2]) for row in rows} == EXPECTED_SCORES

    shutil.rmtree(graded.feedback("bob"))
    assert main([*root, "feedback"]) == 0
    assert capsys.readouterr().out.startswith("3 feedback files in ")
    assert grading.feedback(graded) == [graded.feedback(s) / "add.html" for s in EXPECTED_SCORES]
    assert "did you drop the sign" in (graded.feedback("bob") / "add.html").read_text()


def test_report_pass_rates_and_common_mistakes(graded):
    found = report.build(graded)

    assert [(t.test, t.points, t.passed, t.graded) for t in found.tests] == [
        ("add/add_small_ints", 1.0, 3, 3),
        ("add/add_negatives", 2.0, 1, 3),
        ("add/add_with_stderr", 1.0, 3, 3),
    ]
    assert found.tests[1].pass_rate == pytest.approx(1 / 3)
    assert found.mistakes == [
        report.Mistake(*SIGN_MISTAKE, 2, ("add/add_negatives",), ("bob", "carol"))
    ]
    assert {s.student: (s.score, s.failed_tests) for s in found.students} == {
        "alice": (4.0, ()),
        "bob": (2.0, ("add/add_negatives",)),
        "carol": (2.0, ("add/add_negatives",)),
    }
    assert not found.has_expected and found.mismatches == []


def test_report_compares_with_expected_scores(graded):
    found = report.build(graded, {"alice": 4.0, "bob": 3.0, "zoe": 1.0})

    assert [(s.student, s.score, s.expected, s.mismatch) for s in found.students] == [
        ("alice", 4.0, 4.0, False),
        ("bob", 2.0, 3.0, True),
        ("carol", 2.0, None, False),
        ("zoe", None, 1.0, True),
    ]
    summary = found.summary()
    assert re.search(r"bob +2\.0 / 4 +expected +3\.0 +MISMATCH", summary)
    assert re.search(r"zoe +- +/ 4 +expected +1\.0 +MISMATCH", summary)
    assert f"  2 x {': '.join(SIGN_MISTAKE)}  [add/add_negatives]" in summary


def test_report_files_are_self_contained(graded, tmp_path):
    found = report.build(graded, {"bob": 3.0})
    paths = report_page.write(found, tmp_path / "report")

    png = paths["scores.png"].read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    page = paths["report.html"].read_text()
    embedded = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert [base64.b64decode(data) for data in embedded] == [png]
    assert not re.search(r"(src|href)=\"(?!data:)", page), "the page links to another file"
    assert '<tr class="mismatch"><td>bob</td>' in page
    assert f"<td>{SIGN_MISTAKE[0]}</td><td>{SIGN_MISTAKE[1]}</td>" in page
    data = json.loads(paths["report.json"].read_text())
    assert [t["pass_rate"] for t in data["tests"]] == pytest.approx([1, 1 / 3, 1])
    assert data["mistakes"][0]["count"] == 2


def test_cli_report(graded, tmp_path, capsys):
    root = ["--root", str(graded.root)]
    assert main([*root, "report"]) == 0
    out = capsys.readouterr().out
    assert "add/add_negatives" in out and "33%" in out
    assert (graded.root / report_page.REPORT_DIR / "report.html").is_file()

    (tmp_path / "expected.json").write_text(json.dumps({"alice": 3.0}))
    assert main([*root, "report", "--expected", str(tmp_path / "expected.json")]) == 1
    assert "MISMATCH" in capsys.readouterr().out


def test_cli_fails_cleanly_before_grading(tmp_path, capsys):
    course = make_course(tmp_path)
    root = ["--root", str(course.root)]
    assert main([*root, "report"]) == 1
    assert "nothing graded yet" in capsys.readouterr().err
    assert main([*root, "autograde"]) == 1
    assert "no submissions collected" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # argparse: the folder is required
        main([*root, "collect"])


def test_error_message_is_the_first_line_with_numbers_masked():
    output = {
        "ename": "AssertionError",
        "evalue": "\x1b[0mkl = 3.2500 for m = [0.10, -2.5e-3], expected 1e-05, 784 pixels\nmore",
    }
    assert report.error_message(output) == (
        "AssertionError: kl = … for m = […, …], expected …, 784 pixels"
    )
    assert report.error_message({"ename": "NotImplementedError", "evalue": ""}) == (
        "NotImplementedError"
    )


def test_examples_are_graded_apart_from_the_class(tmp_path):
    """The main job's grading: its own gradebook and folders, expected scores compared."""
    course = make_course(tmp_path)
    corpus = tmp_path / "corpus"
    for student in ("alice", "bob"):
        shutil.copytree(SUBMISSIONS / student, corpus / student)
    (corpus / "dave" / "vae").mkdir(parents=True)  # submitted no notebook
    examples = example_course(course)

    run = grading.autograde(examples, corpus)
    found = report.build(examples, {"alice": 4.0, "bob": 4.0, "dave": 0.0})

    # dave's folder holds no notebook: nothing of his is graded (as plain nbgrader does).
    assert run.empty == ["dave"]
    assert [(s.student, s.score) for s in found.mismatches] == [("bob", 2.0), ("dave", None)]
    assert found.mistakes == [report.Mistake(*SIGN_MISTAKE, 1, ("add/add_negatives",), ("bob",))]
    assert (tmp_path / EXAMPLES_DIR / "gradebook.db").is_file()
    assert (tmp_path / EXAMPLES_DIR / "feedback" / "bob" / "vae" / "add.html").is_file()
    assert not (tmp_path / "build" / "submitted").exists()
    assert not (tmp_path / "build" / "gradebook.db").exists()


# -- the student bundle, built from this repository ------------------------------------------


@pytest.fixture(scope="module")
def student_bundle(tmp_path_factory) -> Path:
    return bundle.build(Course(), tmp_path_factory.mktemp("bundle") / "student_bundle.zip")


def test_bundle_ships_what_students_need(student_bundle):
    with zipfile.ZipFile(student_bundle) as archive:
        names = {name.removeprefix(f"{bundle.TOP}/") for name in archive.namelist()}
    repo = Course().root
    # Every edition's release: vae and its Portuguese translation vae-pt.
    needed = {p.relative_to(repo).as_posix() for p in (repo / "notebooks").glob("*/*.ipynb")}
    assert {"notebooks/vae/01_jensen_elbo.ipynb", "notebooks/vae-pt/01_jensen_elbo.ipynb"} < needed
    needed |= {
        p.relative_to(repo).as_posix()
        for pattern in (
            "*.py",
            "grading/*.py",
            "pretrained/*.pt",
            "pretrained/*.json",
            "records/*/*.json",
            "locale/*.json",
        )
        for p in (repo / "course_utils").glob(pattern)
    }
    needed |= {"README.md", "README.pt-BR.md", "Makefile", "environment.yml", "pyproject.toml"}
    needed |= {"requirements.lock"}
    needed |= {"LICENSE"}  # pyproject.toml's license-files
    needed |= {"scripts/setup.sh", "nbgrader_config.py"}
    assert "course_utils/grading/elbo.py" in needed and len(needed) > 20
    assert names == needed


def test_bundle_gives_nothing_away(student_bundle):
    assert bundle.leaks(student_bundle, Course()) == []


def test_leak_check_finds_what_was_slipped_in(student_bundle, tmp_path):
    course = Course()
    nb = nbformat.read(course.source / "02_negative_elbo.ipynb", as_version=4)
    solution = next(c.source for c in nb.cells if "### BEGIN SOLUTION" in c.source)
    body = solution.split("### BEGIN SOLUTION\n")[1].split("### END SOLUTION")[0]
    answer = next(c.source for c in nb.cells if c.cell_type == "markdown" and is_solution(c))
    pt = nbformat.read(course.source.parent / "vae-pt" / "02_negative_elbo.ipynb", as_version=4)
    resposta = next(c.source for c in pt.cells if c.cell_type == "markdown" and is_solution(c))
    assert resposta != answer
    leaky = tmp_path / "leaky.zip"
    shutil.copy(student_bundle, leaky)
    with zipfile.ZipFile(leaky, "a") as archive:
        archive.writestr(f"{bundle.TOP}/course_utils/cheat.py", "def f(self, x):\n" + body)
        archive.writestr(f"{bundle.TOP}/course_utils/__pycache__/data.cpython-311.pyc", b"\0")
        archive.writestr(f"{bundle.TOP}/notes.md", f"Notes\n\n{answer}\n")
        archive.writestr(f"{bundle.TOP}/notas.md", f"Notas\n\n{resposta}\n")
        reference = (course.root / "autograder" / "reference" / "bounds.py").read_text()
        archive.writestr(f"{bundle.TOP}/autograder/reference/bounds.py", reference)

    found = bundle.leaks(leaky, course)

    assert f"{bundle.TOP}/course_utils/cheat.py: contains the solution of 02_negative_elbo" in (
        "\n".join(found)
    )
    assert any(f.startswith(f"{bundle.TOP}/notes.md: contains the written answer") for f in found)
    # The Portuguese edition's answers too, named by their edition.
    assert any(
        f.startswith(f"{bundle.TOP}/notas.md: contains the written answer of 02_negative_elbo")
        and f.endswith("(vae-pt)")
        for f in found
    ), found
    assert (
        f"{bundle.TOP}/course_utils/__pycache__/data.cpython-311.pyc: must not be shipped" in found
    )
    assert f"{bundle.TOP}/autograder/reference/bounds.py: must not be shipped" in found
    assert (
        f"{bundle.TOP}/autograder/reference/bounds.py: contains the body of "
        "reference/bounds.py:negative_iwae_bound"
    ) in found


def test_bundle_is_byte_stable(student_bundle, tmp_path):
    assert bundle.build(Course(), tmp_path / "again.zip").read_bytes() == (
        student_bundle.read_bytes()
    )


def test_bundle_readme_and_makefile_are_the_students(student_bundle, tmp_path):
    with zipfile.ZipFile(student_bundle) as archive:
        archive.extractall(tmp_path)
    root = tmp_path / bundle.TOP
    readme = (root / "README.md").read_text()
    assert readme.startswith("# Variational autoencoders") and "## For students" in readme
    assert "## For instructors" not in readme and "make course" not in readme
    for target in ("setup", "lab"):
        dry_run = subprocess.run(["make", "-n", target], cwd=root, capture_output=True, text=True)
        assert dry_run.returncode == 0, dry_run.stderr
        assert "bash scripts/setup.sh" in dry_run.stdout
    assert "autograder" not in (root / "Makefile").read_text()
    leia = (root / "README.pt-BR.md").read_text()
    assert leia.startswith("# Autoencoders variacionais") and "## Para estudantes" in leia
    assert "make course" not in leia and "notebooks/vae-pt/" in leia


def test_cli_bundle(monkeypatch, tmp_path, capsys):
    """Builds the bundle only from a release in sync (what check-release checks, tested in
    test_nbgrader_pipeline); the check is stubbed here."""
    monkeypatch.setattr(bundle, "BUNDLE", tmp_path / "student_bundle.zip")
    monkeypatch.setattr(release, "differences", lambda course: ["a difference"])
    assert main(["bundle"]) == 1
    assert "is out of date: run `python -m autograder release` first" in capsys.readouterr().out
    assert not bundle.BUNDLE.exists()

    monkeypatch.setattr(release, "differences", lambda course: [])
    assert main(["bundle"]) == 0
    assert re.fullmatch(
        rf"{re.escape(str(bundle.BUNDLE))}: \d+ files for students\n", capsys.readouterr().out
    )
