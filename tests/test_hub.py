"""The course as a class on a real JupyterHub (``make hub``), end to end in Chromium.

``hub.classroom.up`` sets the class up on this machine as ``make hub`` does (real Unix
accounts, JupyterHub with PAM logins and its local process spawner, configurable-http-proxy,
the users' environment with the course's wheel, nbgrader's exchange in /srv/nbgrader, the
instructor's course folder) and takes it all down afterwards. Then, each user in a browser
of their own:

- the instructor logs in, and in formgrader (Nbgrader menu) generates and releases the
  assignment into the exchange;
- two students log in, fetch it in the Assignments tab, answer notebook 02's exercises (one
  correctly, with a debugging print to stderr; one with a known mistake), press Validate
  in the notebook and submit;
- the instructor collects, autogrades each submission (in the grading sandbox, as the
  instructor), grades a written answer by hand with a comment, generates and releases
  feedback, and in a terminal writes the Canvas file and the class report (the comment
  and the gradebook's scores in both);
- each student fetches their feedback and sees their own scores and messages, no hidden
  test's code, nothing of the other student;
- a student's server has no formgrader, and the student, in a terminal, cannot read the
  other student's home, the course folder, the gradebook or the exchange's submissions.

Validate's verdict on every test cell equals autograde's (a cell with hidden tests, which
only autograde runs, may pass Validate and fail autograde). Screenshots of each step go to
``artifacts/browser/hub/``.

Needs root, bubblewrap, patchelf, configurable-http-proxy and Chromium: ``make test-hub``
installs them (``scripts/setup_system.sh``); without them the test fails, saying what to
install. It is not in the default run (``-m hub``): it takes about 5 minutes (CI's second
step, ``.ci/run``).
"""

from __future__ import annotations

import html
import json
import re
import shutil
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import chromium
import nbformat
import pytest
from canvas_import import canvas_import
from formgrader_ui import grade_answer, submission_links
from nbgrader.api import Gradebook

from autograder.cells import grade_id_of, is_test
from autograder.course import Course
from autograder.examples.corpus import verdicts
from autograder.examples.implementations import ELBO, PRELUDE
from autograder.examples.submission import solution_sources
from course_utils.exercises import exercise
from hub import classroom
from hub.layout import COURSE_ID, Settings

pytestmark = [
    pytest.mark.hub,
    pytest.mark.filterwarnings("ignore::nbformat.warnings.MissingIDFieldWarning"),
    pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning"),
]

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts" / "browser" / "hub"
ASSIGNMENT = "vae"
NOTEBOOK = "02_negative_elbo"
EXERCISE = exercise("negative_elbo_bound")
#: The written answer the instructor grades by hand, and what they enter.
WRITTEN = "written_kl_derivation"
MANUAL_SCORE = 1.0
COMMENT = "The KL term is right; say why the expectation of log q is a negative entropy."
MISTAKE = ELBO["mistake_std_for_variance"]
MISTAKE_MESSAGE = "(mistake: std_for_variance)"
#: Seconds for a server to start, for Validate, for one formgrader action, for the
#: commands of a terminal.
SPAWN_S, VALIDATE_S, ACTION_S, TERMINAL_S = 240, 600, 900, 300
#: What a terminal prints when its commands are done (the command itself, echoed as typed,
#: does not contain it).
DONE, DONE_COMMAND = "done-42", "done-$((6*7))"


@dataclass(frozen=True)
class Student:
    name: str
    source: str  # their negative_elbo_bound
    mistake: bool


def students(hub: Settings) -> list[Student]:
    """The two students and their answers: a correct one that prints to stderr (Validate
    fails such cells without the hub's stderr redirect), and a known mistake."""
    correct = ELBO["correct_sample_gaussian"].source.replace(
        "    m, v = self.enc(x)\n",
        '    print("debug: negative_elbo_bound called", file=sys.stderr)\n    m, v = self.enc(x)\n',
    )
    assert "file=sys.stderr" in correct, "the corpus entry changed: update students()"
    first, second = hub.students[:2]
    return [Student(first, correct, False), Student(second, MISTAKE.source, True)]


@pytest.fixture(scope="module")
def hub() -> Iterator[Settings]:
    """The class, set up as ``make hub`` does (two students), taken down afterwards."""
    reason = chromium.missing()
    if reason:
        pytest.fail(f"{reason} (make test-hub installs it)")
    try:
        settings = classroom.up(students=2, port=8010, log=lambda line: print(f"hub: {line}"))
    except classroom.HubError as error:
        classroom.down()
        pytest.fail(f"{error} (make test-hub installs what the hub needs)")
    try:
        yield settings
    finally:
        log = settings.state / "jupyterhub.log"  # the hub's and the servers' log
        if log.exists():
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            shutil.copy(log, ARTIFACTS / log.name)
        classroom.down()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium.chromium() as running:
        yield running


@pytest.fixture(scope="module")
def artifacts() -> Path:
    """``artifacts/browser/hub/``, emptied of the previous run's screenshots."""
    return chromium.screenshots_folder(ARTIFACTS)


class User:
    """One user's browser (a context of its own: its own cookies), logged in to the hub."""

    def __init__(self, hub: Settings, browser, name: str, artifacts: Path) -> None:
        self.hub, self.name, self.artifacts = hub, name, artifacts
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.page = self.context.new_page()
        self.page.set_default_timeout(60_000)
        self.shots = 0

    @property
    def server(self) -> str:
        """The address of the user's server, through the hub's proxy."""
        return f"{self.hub.url}/user/{self.name}"

    def shot(self, view: str, target=None) -> None:
        """Save the page (or ``target``) as ``<user>-<n>-<view>.png``."""
        self.shots += 1
        path = self.artifacts / f"{self.name}-{self.shots:02d}-{view}.png"
        (target or self.page).screenshot(path=path)

    def log_in(self) -> None:
        """Log in with the account's password; wait for the server and JupyterLab."""
        page = self.page
        page.goto(f"{self.hub.url}/hub/login")
        page.fill("#username_input", self.name)
        page.fill("#password_input", self.hub.passwords[self.name])
        self.shot("login")
        page.click("#login_submit")
        page.wait_for_url(f"**/user/{self.name}/lab**", timeout=SPAWN_S * 1000)
        self.wait_for_lab()
        self.shot("lab")

    def open_lab(self) -> None:
        """JupyterLab afresh: a reset workspace (no tab of before comes back)."""
        self.page.goto(f"{self.server}/lab?reset")
        self.wait_for_lab()

    def wait_for_lab(self) -> None:
        menu = self.page.get_by_role("menuitem", name="Nbgrader", exact=True)
        menu.wait_for(timeout=SPAWN_S * 1000)

    def nbgrader_menu(self) -> list[str]:
        """The items of JupyterLab's Nbgrader menu (closed again)."""
        self.page.get_by_role("menuitem", name="Nbgrader", exact=True).click()
        items = self.page.locator(".lm-Menu .lm-Menu-itemLabel").all_inner_texts()
        self.page.keyboard.press("Escape")
        return [item for item in items if item]

    def open_from_nbgrader_menu(self, item: str) -> None:
        self.page.get_by_role("menuitem", name="Nbgrader", exact=True).click()
        self.page.get_by_role("menuitem", name=item, exact=True).first.click()

    def api(self, method: str, path: str, data: object = None, timeout_s: float = 60) -> object:
        """Call the user's server's REST API from their browser (their cookies and XSRF
        token): the decoded JSON answer."""
        xsrf = next(c["value"] for c in self.context.cookies() if c["name"] == "_xsrf")
        response = self.page.request.fetch(
            f"{self.server}{path}",
            method=method,
            headers={"X-XSRFToken": xsrf, "Content-Type": "application/json"},
            data=json.dumps(data) if data is not None else None,
            timeout=timeout_s * 1000,
        )
        assert response.ok, f"{method} {path}: {response.status} {response.text()[:500]}"
        return response.json() if response.text() else None

    def terminal(self, commands: str, view: str, wait_s: float = TERMINAL_S) -> str:
        """Open a terminal in JupyterLab (File > New > Terminal), type ``commands`` into it,
        wait until they print ``DONE`` and screenshot it as ``view``; what it printed (read
        from the terminal's websocket: the page draws the terminal on a canvas)."""
        self.open_lab()
        before = {t["name"] for t in self.api("GET", "/api/terminals")}
        self.page.get_by_role("menuitem", name="File", exact=True).click()
        items = self.page.locator(".lm-Menu .lm-Menu-item")
        items.filter(has_text="New").first.hover()
        items.filter(has_text="Terminal").first.click()
        self.page.locator(".jp-Terminal").wait_for()
        while not (new := {t["name"] for t in self.api("GET", "/api/terminals")} - before):
            time.sleep(0.5)
        (name,) = new
        self.page.evaluate(
            """(url) => {
                window.terminalOutput = '';
                window.terminalSocket = new WebSocket(url);
                window.terminalSocket.onmessage = (event) => {
                    const [kind, text] = JSON.parse(event.data);
                    if (kind === 'stdout') window.terminalOutput += text;
                };
                return new Promise((resolve) => { window.terminalSocket.onopen = resolve; });
            }""",
            self.server.replace("http", "ws", 1) + f"/terminals/websocket/{name}",
        )
        self.page.locator(".jp-Terminal").click()
        self.page.keyboard.type(f"{commands}; echo {DONE_COMMAND}\n")
        self.page.wait_for_function(
            "(done) => window.terminalOutput.includes(done)", arg=DONE, timeout=wait_s * 1000
        )
        printed = self.page.evaluate(
            "() => { window.terminalSocket.close(); return window.terminalOutput; }"
        )
        time.sleep(1)  # the page's terminal draws the last lines
        self.shot(view)
        return printed


# The instructor in formgrader


def formgrader(user: User):
    """Formgrader, opened from the Nbgrader menu of a fresh JupyterLab: its page's frame."""
    user.open_lab()
    user.open_from_nbgrader_menu("Formgrader")
    frame = user.page.frame_locator("#formgrader iframe")
    frame.locator("#main-table").wait_for()
    return frame


def formgrader_action(user: User, frame, button, view: str) -> str:
    """Click ``button`` (a locator) in formgrader's page ``frame`` and wait for its result
    dialog; screenshot it and close it; the dialog's text. Fails on formgrader's error
    dialog."""
    button.click()
    dialog = frame.locator("#success-modal, #error-modal").first
    dialog.wait_for(timeout=ACTION_S * 1000)
    time.sleep(1)  # the dialog fades in
    user.shot(view)
    text = dialog.inner_text()
    assert dialog.get_attribute("id") == "success-modal", text
    dialog.locator("button.close").first.click()
    dialog.wait_for(state="detached")
    return text


def assignment_action(user: User, frame, column: str, view: str) -> str:
    """``formgrader_action`` on the button of the Manage Assignments table's ``column``."""
    return formgrader_action(user, frame, frame.locator(f"td.{column} a").first, view)


def manually_grade(user: User, frame, student: str) -> None:
    """Formgrader's Manual Grading: the written answer ``WRITTEN`` of ``student``'s
    notebook 02 gets a score and a comment."""
    submission_links(frame, ASSIGNMENT, NOTEBOOK)
    frame.locator("#toggle_names").click()
    frame.locator("#main-table tr", has_text=student).locator("a.name-shown").click()
    grade_answer(user.page, frame, WRITTEN, MANUAL_SCORE, COMMENT)
    time.sleep(2)  # saved when the fields lose focus
    user.shot("manual-grade")


def grades_for_the_lms(hub: Settings, instructor: User, students: list[str]) -> None:
    """In a terminal of the instructor's, the course's commands write the Canvas file and
    the class report: both carry the gradebook's scores and the comment written in
    formgrader."""
    printed = instructor.terminal(
        f"cd {hub.course} && python -m autograder export --format canvas"
        " && python -m autograder report | grep -A1 -F comment",
        "grades-for-canvas",
    )
    assert COMMENT in printed, printed
    imported = canvas_import(hub.course / "build" / "grades-canvas.csv", {"Notes"})
    assert set(imported["students"]) == set(students)
    with Gradebook(Course(hub.course).db_url) as gradebook:
        for student in students:
            grades = imported["students"][student]["grades"]
            for notebook in gradebook.find_assignment(ASSIGNMENT).notebooks:
                score = gradebook.find_submission_notebook(notebook.name, ASSIGNMENT, student)
                assert float(grades[f"{ASSIGNMENT} {notebook.name}"]) == score.score
    notes = imported["students"][students[0]]["custom"]["Notes"]
    assert notes == f"{NOTEBOOK}/{WRITTEN}: {COMMENT}", notes
    report = (hub.course / "build" / "report" / "report.html").read_text()
    assert html.escape(COMMENT) in report


# The students in the Assignments tab


def assignments_tab(user: User):
    """The Assignments tab (Nbgrader > Assignment List)."""
    user.open_from_nbgrader_menu("Assignment List")
    panel = user.page.locator("#nbgrader-assignment-list")
    panel.wait_for()
    return panel


def click_and_wait(user: User, panel, button: str, listed_in: str, view: str) -> None:
    """Click ``button`` in the assignment's row, wait until the assignment is listed in
    the list ``listed_in`` (an id), screenshot."""
    panel.get_by_role("button", name=button, exact=True).first.click()
    panel.locator(f"#{listed_in}").get_by_text(ASSIGNMENT, exact=True).first.wait_for(
        timeout=ACTION_S * 1000
    )
    time.sleep(1)
    user.shot(view)


def answer(user: User, student: Student) -> dict:
    """Write the student's answers into their fetched notebook 02 through their server
    (the reference solution in the notebook's other exercises); the notebook."""
    path = f"/api/contents/{ASSIGNMENT}/{NOTEBOOK}.ipynb"
    model = user.api("GET", path)
    answers = solution_sources(Course(ROOT), NOTEBOOK, code_only=True)
    answers[EXERCISE.solution_cell] = PRELUDE + "import sys\n" + student.source
    for cell in model["content"]["cells"]:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell["source"] = answers[grade_id]
    user.api("PUT", path, {"type": "notebook", "format": "json", "content": model["content"]})
    return model["content"]


def press_validate(user: User) -> dict:
    """Open notebook 02 in JupyterLab, press nbgrader's Validate button; the server's
    answer to it (``{"success": ..., "value": ...}``), after a screenshot of its dialog."""
    page = user.page
    page.goto(f"{user.server}/lab/tree/{ASSIGNMENT}/{NOTEBOOK}.ipynb")
    button = page.locator(".jp-NotebookPanel-toolbar .validate-button")
    button.wait_for(timeout=SPAWN_S * 1000)
    with page.expect_response(
        lambda r: "/assignments/validate" in r.url, timeout=VALIDATE_S * 1000
    ) as response:
        button.click()
    dialog = page.locator(".jp-Dialog", has_text="Validation Results")
    dialog.wait_for(timeout=VALIDATE_S * 1000)
    user.shot("validate", dialog.locator(".jp-Dialog-content"))
    dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
    return response.value.json()


# What each side saw


def graded_cells(cells: list[dict]) -> dict[str, str]:
    """The auto-graded test cells: grade_id -> source."""
    found = {}
    for cell in cells:
        cell = nbformat.from_dict(cell)
        if is_test(cell):
            found[grade_id_of(cell)] = "".join(cell.source)
    return found


def validate_failures(result: dict, cells: list[dict]) -> set[str]:
    """The grade_ids of the test cells that Validate reports as failed."""
    assert result["success"], result["value"]
    found = result["value"]
    if isinstance(found, str):
        found = json.loads(found)
    assert set(found) <= {"failed", "passed"}, found  # no changed or type-changed cells
    grade_ids = {source: grade_id for grade_id, source in graded_cells(cells).items()}
    failed = [failure["source"] for failure in found.get("failed", [])]
    return {grade_ids[source] for source in failed if source in grade_ids}


def autograde_failures(course: Path, student: str) -> set[str]:
    """The grade_ids of notebook 02's test cells that autograde scored below their points."""
    with Gradebook(Course(course).db_url) as gradebook:
        submission = gradebook.find_submission_notebook(NOTEBOOK, ASSIGNMENT, student)
        return {
            grade.name
            for grade in submission.grades
            if grade.cell.cell_type == "code" and grade.score < grade.max_score
        }


def hidden_test_lines() -> list[str]:
    """Lines of notebook 02's hidden tests (the reference values among them)."""
    nb = nbformat.read(ROOT / "solutions" / ASSIGNMENT / f"{NOTEBOOK}.ipynb", as_version=4)
    lines = []
    for cell in nb.cells:
        hidden = re.findall(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", cell.source, re.S)
        lines += [line.strip() for block in hidden for line in block.splitlines()]
    return [line for line in lines if len(line) > 20]


def test_a_class_on_the_hub(hub, browser, artifacts):
    users: list[User] = []
    try:
        run_the_class(hub, browser, artifacts, users)
    except Exception:
        for user in users:  # where each user was when it failed
            user.shot("failure")
        raise


def run_the_class(hub: Settings, browser, artifacts: Path, users: list) -> None:
    seconds: dict[str, float] = {}
    clock = time.monotonic()

    def lap(step: str) -> None:
        nonlocal clock
        seconds[step] = round(time.monotonic() - clock, 1)
        clock = time.monotonic()

    class_ = students(hub)
    instructor = User(hub, browser, hub.instructor, artifacts)
    pupils = {s.name: User(hub, browser, s.name, artifacts) for s in class_}
    users += [instructor, *pupils.values()]

    # The instructor generates and releases the assignment in formgrader.
    instructor.log_in()
    assert {"Formgrader", "Create assignment"} <= set(instructor.nbgrader_menu())
    frame = formgrader(instructor)
    instructor.shot("formgrader")
    assignment_action(instructor, frame, "assign", "generated")
    assignment_action(instructor, frame, "release", "released")
    outbound = hub.exchange / COURSE_ID / "outbound" / ASSIGNMENT
    assert sorted(p.name for p in outbound.glob("*.ipynb")) == sorted(
        p.name for p in (ROOT / "notebooks" / ASSIGNMENT).glob("*.ipynb")
    )
    lap("instructor: log in, generate, release")

    # Each student fetches it, answers notebook 02, validates and submits.
    validated, notebooks = {}, {}
    for student in class_:
        user = pupils[student.name]
        user.log_in()
        menu = user.nbgrader_menu()
        assert "Formgrader" not in menu and "Create assignment" not in menu, menu
        panel = assignments_tab(user)
        click_and_wait(user, panel, "Fetch", "fetched_assignments_list", "fetched")
        home = hub.home(student.name)
        fetched = sorted(p.relative_to(home).as_posix() for p in (home / ASSIGNMENT).iterdir())
        assert fetched == [f"{ASSIGNMENT}/{p.name}" for p in sorted(outbound.iterdir())]
        notebooks[student.name] = answer(user, student)
        validated[student.name] = validate_failures(
            press_validate(user), notebooks[student.name]["cells"]
        )
        panel = assignments_tab(user)
        click_and_wait(user, panel, "Submit", "submitted_assignments_list", "submitted")
        lap(f"{student.name}: log in, fetch, answer, validate, submit")

    # The instructor collects, autogrades, grades a written answer, releases feedback.
    frame = formgrader(instructor)
    assignment_action(instructor, frame, "collect", "collected")
    frame.locator("td.num-submissions a").first.click()
    for student in class_:
        row = frame.locator("#main-table tr", has_text=student.name)
        row.wait_for()
        button = row.locator("td.autograde a")
        formgrader_action(instructor, frame, button, f"autograded-{student.name}")
    lap("instructor: collect, autograde")
    graded = {s.name: autograde_failures(hub.course, s.name) for s in class_}
    mistake_cells = {grade_id for _, grade_id in verdicts(EXERCISE, MISTAKE)}
    assert graded == {class_[0].name: set(), class_[1].name: mistake_cells}, graded

    frame = formgrader(instructor)
    manually_grade(instructor, frame, class_[0].name)
    with Gradebook(Course(hub.course).db_url) as gradebook:
        grade = gradebook.find_grade(WRITTEN, NOTEBOOK, ASSIGNMENT, class_[0].name)
        comment = gradebook.find_comment(WRITTEN, NOTEBOOK, ASSIGNMENT, class_[0].name)
        assert (grade.manual_score, comment.manual_comment) == (MANUAL_SCORE, COMMENT)
    frame = formgrader(instructor)
    assignment_action(instructor, frame, "generate-feedback", "feedback-generated")
    assignment_action(instructor, frame, "release-feedback", "feedback-released")
    lap("instructor: grade by hand, generate and release feedback")
    grades_for_the_lms(hub, instructor, [s.name for s in class_])
    lap("instructor: the grades for Canvas, the class report")

    # Each student fetches their feedback: their own scores and messages, no hidden test.
    hidden = hidden_test_lines()
    assert hidden, "notebook 02 has no hidden tests (is the extraction broken?)"
    for student in class_:
        user = pupils[student.name]
        user.open_lab()
        panel = assignments_tab(user)
        panel.get_by_role("button", name="Fetch Feedback").first.click()
        feedback_dir = hub.home(student.name) / ASSIGNMENT / "feedback"
        deadline = time.monotonic() + ACTION_S
        while not list(feedback_dir.glob(f"*/{NOTEBOOK}.html")):
            assert time.monotonic() < deadline, "the feedback did not arrive"
            time.sleep(1)
        user.shot("feedback-fetched")
        (page,) = feedback_dir.glob(f"*/{NOTEBOOK}.html")
        relative = page.relative_to(hub.home(student.name)).as_posix()
        user.page.goto(f"{user.server}/files/{urllib.parse.quote(relative)}")
        text = user.page.locator("body").inner_text()
        user.shot("feedback")
        what = MISTAKE_MESSAGE if student.mistake else COMMENT  # scrolled to what they get
        user.page.get_by_text(what).first.scroll_into_view_if_needed()
        user.shot("feedback-message")
        other = next(s.name for s in class_ if s is not student)
        assert other not in text, "another student's name in the feedback"
        assert not [line for line in hidden if line in text], "hidden test code in feedback"
        if student.mistake:
            messages = {f"(mistake: {mistake})" for mistake in verdicts(EXERCISE, MISTAKE).values()}
            assert MISTAKE_MESSAGE in messages and all(m in text for m in messages), messages
        else:
            assert COMMENT in text
    lap("students: fetch feedback")

    # What a student cannot reach: formgrader, the other's home, the course, the gradebook.
    first, second = class_[0].name, class_[1].name
    user = pupils[first]
    response = user.page.goto(f"{user.server}/formgrader")
    assert response.status == 404, response.status
    printed = user.terminal(
        f"ls /home/{second}; ls {hub.course}; head -c 10 {hub.course}/build/gradebook.db"
        f"; ls {hub.exchange / COURSE_ID / 'inbound'}",
        "no-access",
    )
    assert printed.count("Permission denied") >= 4, printed
    lap("isolation checks")
    print(seconds)

    # Validate runs what the student sees: a cell with hidden tests can fail autograde only.
    source = graded_cells(
        nbformat.read(ROOT / "solutions" / ASSIGNMENT / f"{NOTEBOOK}.ipynb", as_version=4).cells
    )
    with_hidden = {grade_id for grade_id, text in source.items() if "BEGIN HIDDEN TESTS" in text}
    assert {s: cells - with_hidden for s, cells in validated.items()} == {
        s: cells - with_hidden for s, cells in graded.items()
    }
    assert all(validated[s] <= graded[s] for s in validated), (validated, graded)
