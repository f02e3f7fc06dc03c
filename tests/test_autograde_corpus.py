"""The example submissions of ``autograder.examples``, graded by the real nbgrader.

Each course here is temporary: the repository's ``nbgrader_config.py`` (with a shorter cell
timeout), some solution notebooks and their generated release. Submissions are graded
twice, in two copies of the course: by ``python -m autograder autograde`` and by the plain
``nbgrader autograde <assignment> --force`` and ``generate_feedback`` commands from the
course directory, each in a subprocess; the per-cell scores must be equal, and as expected.
Scores are read back with ``nbgrader.api.Gradebook``, verdicts (mistake ids) from the
autograded notebooks. The hostile cases run on the one-notebook fixture course (seconds per
submission); the VAE notebooks cost a kernel, torch and the notebook's own demos per
submission, so the default run grades a few of their cases and ``-m slow`` all.
"""

import html
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook
from test_nbgrader_pipeline import FIXTURES

from autograder import grading, release, report
from autograder.course import REPO_ROOT, Course, new_course
from autograder.examples import corpus as submissions
from autograder.examples.escapes import ESCAPES
from autograder.examples.implementations import ELBO_MC, JENSEN_GAP, PRELUDE
from autograder.reference import values
from course_utils.exercises import mistake_of

#: Cell timeout of the fixture course: room for importing torch on a busy machine.
TIMEOUT = 15
FIXTURE_NOTEBOOK = FIXTURES / "course" / "solutions" / "vae" / "add.ipynb"
NOTEBOOK_1 = REPO_ROOT / "solutions" / "vae" / "01_jensen_elbo.ipynb"
#: Cases of notebook 1 graded in the default run: the reference, a correct variant, a mistake.
NOTEBOOK_1_DEFAULT = [
    "solutions",
    "elbo_monte_carlo-correct_torch_distributions",
    "elbo_monte_carlo-mistake_detached_sample",
]


def make_course(root: Path, notebooks: list[Path], timeout: int, *settings: str) -> Course:
    """A course of ``notebooks`` (solution notebooks), its release generated, with the
    repository's config, a cell timeout of ``timeout`` seconds and ``settings`` (lines of
    config) added."""
    course = new_course(root, notebooks, f"c.Execute.timeout = {timeout}", *settings)
    release.generate(course)
    return course


#: The environment of the grading commands: this interpreter's scripts first (nbgrader
#: runs ``alembic``), one thread per kernel.
ENV = {
    **os.environ,
    "OMP_NUM_THREADS": "1",
    "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
}


def autograde_cli(
    course: Course,
    folder: Path,
    *options: str,
    env: dict | None = None,
    workers: tuple[str, ...] = (),
    **popen,
) -> subprocess.Popen:
    """``python -m autograder [options] autograde [workers] folder`` on the course, as a
    subprocess, with ``env`` added to the environment."""
    command = [sys.executable, "-m", "autograder", "--root", str(course.root), *options]
    command += ["autograde", *workers, str(folder)]
    return subprocess.Popen(command, cwd=REPO_ROOT, env=ENV | (env or {}), text=True, **popen)


def run_cli(
    course: Course,
    folder: Path,
    *options: str,
    env: dict | None = None,
    workers: tuple[str, ...] = (),
) -> str:
    """Autograde through the course's command line; return its stderr."""
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    process = autograde_cli(course, folder, *options, env=env, workers=workers, **pipes)
    out, err = process.communicate()
    assert process.returncode == 0, out + err
    assert "Traceback" not in out
    return err


def run_plain_nbgrader(course: Course, folder: Path) -> str:
    """Collect ``folder``, then plain ``nbgrader autograde`` and ``nbgrader generate_feedback``
    from the course directory, as an instructor types them; return their logs."""
    grading.collect(course, folder)
    nbgrader = Path(sys.executable).parent / "nbgrader"
    logs = []
    for step in ("autograde", "generate_feedback"):
        result = subprocess.run(
            [str(nbgrader), step, course.assignment, "--force"],
            cwd=course.root,
            env=ENV,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        logs.append(result.stderr)
    return "\n".join(logs)


def copy_course(course: Course, root: Path) -> Course:
    """The course's config, solutions and release in ``root``, its release recorded in a
    gradebook of its own."""
    root.mkdir(parents=True)
    shutil.copy(course.root / "nbgrader_config.py", root)
    for folder in (course.source, course.release):
        shutil.copytree(folder, root / folder.relative_to(course.root))
    copy = Course(root, course.assignment)
    release.register(copy)
    return copy


def grade_both_ways(course: Course, folder: Path, scratch: Path) -> tuple[Course, float]:
    """Grade ``folder`` with the course's command in ``course``, and at the same time (one
    core each) with plain nbgrader in a copy of the course in ``scratch``; the gradebook
    rows of the two must be equal. Returns the copy, and the seconds the course's command
    took per submission (next to the other run)."""
    plain = copy_course(course, scratch / "plain_nbgrader")
    students = {path.name for path in folder.iterdir()}
    with ThreadPoolExecutor(1) as pool:
        plain_run = pool.submit(run_plain_nbgrader, plain, folder)
        start = time.monotonic()
        run_cli(course, folder)
        seconds = (time.monotonic() - start) / len(students)
        plain_run.result()
    ours, theirs = gradebook_rows(course, students), gradebook_rows(plain, students)
    differ = {
        k: (ours.get(k), theirs.get(k)) for k in ours | theirs if ours.get(k) != theirs.get(k)
    }
    assert not differ, f"(python -m autograder, plain nbgrader): {differ}"
    return plain, seconds


def gradebook_rows(
    course: Course, students: set[str] | None = None
) -> dict[tuple[str, str, str], tuple]:
    """(student, notebook, grade_id) -> (auto_score, manual_score, extra_credit,
    needs_manual_grade), of every student or of ``students``."""
    with Gradebook(course.db_url) as gradebook:
        rows = {}
        for submission in gradebook.find_assignment(course.assignment).submissions:
            if students is not None and submission.student_id not in students:
                continue
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    key = (submission.student_id, notebook.name, grade.name)
                    assert key not in rows
                    rows[key] = (
                        grade.auto_score,
                        grade.manual_score,
                        grade.extra_credit,
                        grade.needs_manual_grade,
                    )
        return rows


def feedback_text(course: Course, student: str, notebook: str) -> str:
    """The text of a feedback page, without tags and entities."""
    page = (course.feedback(student) / f"{notebook}.html").read_text()
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def hidden_secrets(course: Course) -> set[str]:
    """What no feedback may show: each line of the hidden test blocks of the course's
    solutions (stripped, 12 characters or more) and each number in them with 4 or more
    decimals (the reference values), that the release does not show anyway."""
    secrets, public = set(), ""
    for path in course.source.glob("*.ipynb"):
        public += (course.release / path.name).read_text()
        for cell in nbformat.read(path, as_version=4).cells:
            for block in values.HIDDEN_BLOCK.findall(cell.source):
                lines = [line.strip() for line in block.splitlines()[1:-1]]
                secrets |= {line for line in lines if len(line) >= 12}
                secrets |= set(re.findall(r"-?\d+\.\d{4,}", block))
    return {secret for secret in secrets if json.dumps(secret)[1:-1] not in public}


def check_feedback_hides_hidden_tests(course: Course, students: list[str]) -> None:
    """The students' feedback shows no line of a hidden test and no reference value."""
    secrets = hidden_secrets(course)
    for student in students:
        for page in course.feedback(student).glob("*.html"):
            text = feedback_text(course, student, page.stem)
            shown = sorted(secret for secret in secrets if secret in text)
            assert not shown, f"{page}: {shown}"


def check_graded(course: Course, expected: dict[str, submissions.Expected]) -> None:
    """Every cell's score and verdict, every total, the feedback and the notebooks reported
    as a whole are as expected. A student who submitted no notebook at all is not graded
    (nbgrader matches no file): every cell then counts 0."""
    rows = gradebook_rows(course)
    found = report.build(course)
    problems = {s.student: s.problems for s in found.students}
    wrong = {}  # every student whose cells differ, not only the first
    for student, expect in expected.items():
        actual = {key: (rows.get((student, *key)) or (0.0,))[0] or 0.0 for key in expect.points}
        graded = report.verdicts(course, student, [f"{nb}/{cell}" for nb, cell in expect.verdicts])
        verdicts = {tuple(test.split("/")): verdict for test, (verdict, _) in graded.items()}
        differ = {
            key: (actual[key], expect.cells[key], verdicts.get(key), expect.verdicts.get(key))
            for key in expect.points
            if actual[key] != expect.cells[key]
            or expect.verdicts.get(key) not in (None, verdicts.get(key))
        }
        # Notebooks where any failure will do may get a whole-notebook verdict too.
        loose = {notebook for (notebook, _), verdict in expect.verdicts.items() if not verdict}
        found = {nb: v for nb, v in problems.get(student, {}).items() if nb not in loose}
        if student in problems and found != expect.problems:
            differ["problems"] = (problems[student], expect.problems)
        if differ:
            wrong[f"{student} ({expect.description})"] = differ
    assert not wrong, f"cells (score, expected score, verdict, expected verdict): {wrong}"
    check_feedback_hides_hidden_tests(course, list(expected))
    for student, expect in expected.items():
        if student not in problems:
            assert set(expect.problems.values()) == {"missing_notebook"}, student
            continue
        manual = [row for key, row in rows.items() if key[0] == student and any(row[1:3])]
        assert manual == [], student
        for notebook, fragments in expect.feedback.items():
            text = feedback_text(course, student, notebook)
            for fragment in fragments:
                assert fragment in text, (student, notebook, fragment)


# -- the corpus itself -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def notebook_1(tmp_path_factory) -> Course:
    """A course of notebook 1 alone."""
    return make_course(tmp_path_factory.mktemp("notebook_1"), [NOTEBOOK_1], timeout=120)


def test_expectations_follow_from_points_and_fails(notebook_1, tmp_path):
    expected = submissions.write_corpus(notebook_1, tmp_path)
    ids = submissions.case_ids(notebook_1)
    assert list(expected) == ids
    assert set(submissions.HOSTILE) < set(ids)
    assert len(ids) == len(submissions.HOSTILE) + len(ESCAPES) + len(JENSEN_GAP) + len(ELBO_MC)
    full = expected["solutions"]
    assert full.score == full.max_score == 7  # 1 + (1 + 2 + 1 + 2); written answers excluded
    mistake = expected["elbo_monte_carlo-mistake_sum_over_samples"]
    assert mistake.score == 7 - 2 - 1 - 2
    assert mistake.verdicts == {
        ("01_jensen_elbo", "elbo_mc_unbiased"): "biased_estimate",
        ("01_jensen_elbo", "elbo_mc_averages_samples"): "variance_not_one_over_n",
        ("01_jensen_elbo", "elbo_mc_gradients"): "gradient_biased",
    }
    assert mistake.feedback == {
        "01_jensen_elbo": (
            "(mistake: biased_estimate)",
            "(mistake: gradient_biased)",
            "(mistake: variance_not_one_over_n)",
        )
    }
    assert expected["untouched"].score == 0
    assert expected["killed_kernel"].problems == {"01_jensen_elbo": "kernel_died"}


def test_a_case_differs_from_the_solutions_in_its_cell_only(notebook_1, tmp_path):
    submissions.write_corpus(notebook_1, tmp_path, ["solutions", "jensen_gap-mistake_sums"])
    path = Path("vae", "01_jensen_elbo.ipynb")
    full = nbformat.read(tmp_path / "solutions" / path, as_version=4).cells
    mistake = nbformat.read(tmp_path / "jensen_gap-mistake_sums" / path, as_version=4).cells
    differ = [a.metadata.nbgrader["grade_id"] for a, b in zip(full, mistake, strict=True) if a != b]
    assert differ == ["jensen_gap_solution"]


def test_unknown_case_is_an_error(notebook_1, tmp_path):
    with pytest.raises(KeyError, match="no such example submissions: nobody"):
        submissions.write_corpus(notebook_1, tmp_path, ["nobody"])
    misspelt = "jensen_gap-mistake_sum"
    with pytest.raises(KeyError, match=r"did you mean jensen_gap-mistake_sums\b"):
        submissions.write_corpus(notebook_1, tmp_path, [misspelt])


def test_the_main_job_names_an_unknown_case_without_a_traceback():
    result = subprocess.run(
        [sys.executable, "-m", "autograder", "course", "nobody"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1
    assert "no such example submissions: nobody" in result.stderr
    assert "Traceback" not in result.stderr


def notebook_1_outcomes(source: str) -> dict[str, str | None]:
    """Run notebook 1's setup, solution cells (``source`` for the one it defines) and test
    cells, hidden tests included, in this process (not its demos): grade_id -> failure
    message or None."""
    nb = nbformat.read(NOTEBOOK_1, as_version=4)
    namespace: dict = {}
    outcomes: dict[str, str | None] = {}
    defines = re.search(r"^def (\w+)", source, re.MULTILINE).group(1)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        runs = meta.get("solution") or meta.get("grade") or meta.get("grade_id") == "setup"
        if cell.cell_type != "code" or not runs:
            continue
        code = cell.source
        if meta.get("solution") and f"def {defines}(" in code:
            code = PRELUDE + source
        try:
            exec(compile(code, meta["grade_id"], "exec"), namespace)
        except AssertionError as error:
            outcomes[meta["grade_id"]] = str(error)
        else:
            outcomes[meta["grade_id"]] = None
    return outcomes


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize(
    "name", [f"jensen_gap.{n}" for n in JENSEN_GAP] + [f"elbo_mc.{n}" for n in ELBO_MC]
)
def test_notebook_1_implementation_fails_what_it_should(name):
    """The fast layer under the nbgrader runs below: the test cells, in process, each
    failure ending with the mistake id expected of it."""
    exercise, entry = name.split(".")
    implementation = {"jensen_gap": JENSEN_GAP, "elbo_mc": ELBO_MC}[exercise][entry]
    outcomes = notebook_1_outcomes(implementation.source)
    failed = {grade_id: mistake_of(message) for grade_id, message in outcomes.items() if message}
    assert failed == implementation.fails, outcomes


# -- hostile submissions on the fixture course -----------------------------------------------


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """The fixture course after grading every hostile case, with the course's command and
    with plain nbgrader (in a copy): course, expected, rows, corpus, the plain copy."""
    root = tmp_path_factory.mktemp("hostile")
    course = make_course(root / "course", [FIXTURE_NOTEBOOK], TIMEOUT)
    expected = submissions.write_corpus(course, root / "corpus", submissions.HOSTILE)
    plain, _ = grade_both_ways(course, root / "corpus", root)
    return course, expected, gradebook_rows(course), root / "corpus", plain


def test_hostile_submissions_get_what_they_earned(hostile):
    course, expected, _, _, plain = hostile
    check_graded(course, expected)
    check_graded(plain, expected)


def test_tampering_is_withheld_with_the_reason(hostile):
    course, _, rows, _, _ = hostile
    assert rows["redefined_helpers", "add", "add_small_ints"] == (0.0, None, None, True)
    text = feedback_text(course, "redefined_helpers", "add")
    assert "withheld for review: the student's code" in text
    assert "assigns to an attribute of a module: torch.allclose = lambda" in text
    withheld = [m for m in report.build(course).mistakes if m.verdict == "tampering"]
    assert [(m.count, m.students) for m in withheld] == [(1, ("redefined_helpers",))]


def test_a_dead_kernel_or_unreadable_file_is_reported_once_per_notebook(hostile):
    course, _, _, _, _ = hostile
    found = report.build(course)
    problems = {s.student: s.problems for s in found.students if s.problems}
    assert problems == {
        "corrupt_notebook": {"add": "unreadable_notebook"},
        "killed_kernel": {"add": "kernel_died"},
        "redefined_helpers": {"add": "tampering"},
    }
    killed = next(s for s in found.students if s.student == "killed_kernel")
    assert killed.failures == ["add: kernel_died"]
    assert "    add: the student's code changes what the tests rely on" in found.summary()
    text = feedback_text(course, "corrupt_notebook", "add")
    assert "could not be read as a notebook" in text and "NotJSONError" in text


def test_huge_output_is_truncated(hostile):
    course, _, _, _, _ = hostile
    path = course.step_dir(course.coursedir.autograded_directory, "huge_output") / "add.ipynb"
    assert path.stat().st_size < 200_000


def test_regrading_is_idempotent(hostile):
    course, _, rows, corpus, _ = hostile
    run_cli(course, corpus)
    assert gradebook_rows(course) == rows


def test_autograde_killed_halfway_loses_nothing(tmp_path):
    course = make_course(tmp_path / "course", [FIXTURE_NOTEBOOK], TIMEOUT)
    cases = ["solutions", "untouched", "nan_everywhere", "raising_cell", "sys_exit"]
    expected = submissions.write_corpus(course, tmp_path / "corpus", cases)
    process = autograde_cli(
        course,
        tmp_path / "corpus",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    first = course.step_dir(course.coursedir.autograded_directory, sorted(cases)[0])
    deadline = time.monotonic() + 120
    while not (first / "add.ipynb").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)  # the run, its kernel, everything it started
    process.wait()
    assert (first / "add.ipynb").exists()
    assert not course.feedback(sorted(cases)[-1]).exists()  # killed before the end

    run_cli(course, tmp_path / "corpus")
    check_graded(course, expected)
    assert {key[0] for key in gradebook_rows(course)} == set(cases)


# -- the VAE notebooks -----------------------------------------------------------------------


def grade_cases(course: Course, folder: Path, cases: list[str]) -> float:
    """Grade ``cases`` both ways and check them; return the seconds the course's command
    took per submission."""
    expected = submissions.write_corpus(course, folder / "corpus", cases)
    _, seconds = grade_both_ways(course, folder / "corpus", folder)
    check_graded(course, expected)
    return seconds


def kernel_floor(repeats: int = 3) -> float:
    """Seconds to start the grading kernel and import torch (the least a notebook costs)."""
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import torch")])
    start = time.monotonic()
    for _ in range(repeats):
        NotebookClient(nb, kernel_name="python3").execute()
    seconds = (time.monotonic() - start) / repeats
    print(f"floor: {seconds:.1f} s to start a kernel and import torch")
    return seconds


def grade_every_case(course: Course, folder: Path, label: str, *hostile: str) -> None:
    """Grade the solutions, ``hostile`` cases and every implementation case of the course
    both ways, check them, and print the seconds per submission against ``kernel_floor``."""
    cases = [c for c in submissions.case_ids(course) if c not in submissions.HOSTILE]
    seconds = grade_cases(course, folder, ["solutions", *hostile, *cases])
    floor = kernel_floor()
    print(f"{label}: {seconds:.1f} s per submission, {seconds / floor:.1f} x the floor")


def test_notebook_1_cases(notebook_1, tmp_path):
    grade_cases(notebook_1, tmp_path, NOTEBOOK_1_DEFAULT)


@pytest.mark.slow
def test_notebook_1_every_case(notebook_1, tmp_path):
    grade_every_case(notebook_1, tmp_path, "notebook 1")


NOTEBOOK_2 = REPO_ROOT / "solutions" / "vae" / "02_negative_elbo.ipynb"
NOTEBOOK_3 = REPO_ROOT / "solutions" / "vae" / "03_iwae.ipynb"


@pytest.fixture(scope="module")
def notebook_2(tmp_path_factory) -> Course:
    """A course of notebook 2 alone; its graded fast path loads the shipped checkpoints."""
    return make_course(tmp_path_factory.mktemp("notebook_2"), [NOTEBOOK_2], timeout=300)


@pytest.fixture(scope="module")
def notebook_3(tmp_path_factory) -> Course:
    """A course of notebook 3 alone, graded on the shipped checkpoints too."""
    return make_course(tmp_path_factory.mktemp("notebook_3"), [NOTEBOOK_3], timeout=300)


def test_notebook_2_cases(notebook_2, tmp_path):
    helper, borrowed = "kl_normal-mistake_std_for_variance", "log_normal-borrowed_grading_density"
    cases = [
        "negative_elbo_bound-correct_torch_distributions",
        helper,  # costs kl_normal's tests only: the ELBO's pass, and say which function to fix
        borrowed,  # Exercise 2.2 withheld for a grade by hand, the other exercises scored
        "log_bernoulli_with_logits-correct_softplus",
    ]
    grade_cases(notebook_2, tmp_path, cases)
    text = feedback_text(notebook_2, helper, "02_negative_elbo")
    assert "Note: your negative_elbo_bound passes this test with the course's reference" in text
    assert "your kl_normal fails its own test" in text
    rows = gradebook_rows(notebook_2)
    withheld = [row for key, row in rows.items() if key[0] == borrowed and row[0] == 0.0]
    assert {key[2] for key in rows if key[0] == borrowed and rows[key][0] == 0.0} == {
        "log_normal_shape",
        "log_normal_values",
    }
    assert all(row[3] for row in withheld)  # flagged for a grade by hand
    assert "calls the course's own code that computes its answer" in feedback_text(
        notebook_2, borrowed, "02_negative_elbo"
    )
    lost = {e.exercise: (e.losing, e.lost) for e in report.build(notebook_2).exercises}
    assert lost["negative_elbo_bound"] == (0, 0.0)
    assert lost["kl_normal"][0] == 1 and lost["log_normal"] == (1, 3.0)


@pytest.mark.slow
def test_notebook_2_every_case(notebook_2, tmp_path):
    grade_every_case(notebook_2, tmp_path, "notebook 2", "killed_kernel")


def test_notebook_3_cases(notebook_3, tmp_path):
    cases = [
        "negative_iwae_bound-correct_batch_major_decoded_whole",
        "negative_iwae_bound-mistake_batch_major_missing_log_k",
    ]
    grade_cases(notebook_3, tmp_path, cases)


@pytest.mark.slow
def test_notebook_3_every_case(notebook_3, tmp_path):
    grade_every_case(notebook_3, tmp_path, "notebook 3")


NOTEBOOK_4 = REPO_ROOT / "solutions" / "vae" / "04_priors_and_collapse.ipynb"


@pytest.fixture(scope="module")
def notebook_4(tmp_path_factory) -> Course:
    """A course of notebook 4 alone, graded on the shipped checkpoints too."""
    return make_course(tmp_path_factory.mktemp("notebook_4"), [NOTEBOOK_4], timeout=300)


def test_notebook_4_cases(notebook_4, tmp_path):
    cases = [
        "gmvae_negative_elbo_bound-correct_torch_distributions",
        "log_normal_mixture-mistake_missing_log_k",  # its own tests only, not the bounds'
    ]
    seconds = grade_cases(notebook_4, tmp_path, cases)
    print(f"notebook 4: {seconds:.1f} s per submission")


@pytest.mark.slow
def test_notebook_4_every_case(notebook_4, tmp_path):
    grade_every_case(notebook_4, tmp_path, "notebook 4")
