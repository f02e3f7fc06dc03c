"""The course in a real browser: JupyterLab in headless Chromium, driven by playwright.

A JupyterLab server (loopback, a random token) serves a temporary copy of the course: the
repository's ``nbgrader_config.py``, ``solutions/`` and ``notebooks/``. For every notebook,
the solution (reference code in place) and the untouched release are opened in Chromium and
run with the Run menu, and the tests check what a person would see (notebook 1's solution
in the Portuguese edition ``vae-pt`` too: its heading in Portuguese, its widgets):

- the solution shows no error, every cell that draws shows a decoded image, and the widgets
  render and redraw when a slider or the dropdown moves (the PNG bytes of their images are
  compared before and after);
- the release runs its imports and fails only with the ``NotImplementedError`` of its
  exercise stubs (run on past each failing cell, as a student would), or with the
  ``NameError`` of a variable that such a failing cell would have assigned;
- nbgrader's Validate button passes the solution and fails the release;
- formgrader (the Nbgrader menu) takes a score and a comment on a written answer of an
  autograded submission: the gradebook holds both, the exported grades and the class report
  count the score, the student's feedback shows the comment.

The kernels take the graded fast path (``NBGRADER_EXECUTION=validate``, set in the
kernelspec): notebooks load the shipped checkpoints instead of training, as under nbgrader.

A second server is a student's on the JupyterHub (``hub/``): a home folder with the
released notebook 02 (answered), the hub's nbgrader config, the installed wheel's kernels
and no ``NBGRADER_EXECUTION`` anywhere; Validate pressed twice must take the fast path both
times, as nbgrader sets the variable for each run.

Screenshots go to ``artifacts/browser/``, with the server's log.

Needs Debian's ``chromium`` (``scripts/setup_system.sh`` installs it) and the ``playwright``
package (``requirements.lock``); playwright's own browser download is not used.
"""

from __future__ import annotations

import ast
import base64
import os
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import chromium
import nbformat
import pytest
from conftest import write_kernelspec
from formgrader_ui import grade_answer, submission_links
from IPython.core.inputtransformer2 import TransformerManager
from lab_server import Lab, running_lab
from nbgrader.api import Gradebook

from autograder import grading, report
from autograder.course import Course
from autograder.examples.submission import Release
from autograder.release import register
from course_utils.language import languages, msg
from course_utils.widgets import JENSEN_DISTRIBUTIONS

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = "vae"
#: The Portuguese edition (issue 25): its notebook 1 runs too.
PT_ASSIGNMENT = "vae-pt"
NOTEBOOKS = sorted(p.name for p in (ROOT / "solutions" / ASSIGNMENT).glob("*.ipynb"))
#: The notebooks run in the browser: (assignment, notebook name).
RUNS = [(ASSIGNMENT, name) for name in NOTEBOOKS]
PT_RUN = (PT_ASSIGNMENT, NOTEBOOKS[0])
ARTIFACTS = ROOT / "artifacts" / "browser"
# Cells that draw: a top-level call of one of these (plot_* functions, pyplot figures).
DRAWING_CALLS = re.compile(r"plot_\w+|show|subplots|image_grid")
WIDGET_CALLS = ("JensenExplorer", "LatentExplorer", "MixtureExplorer")
SERVER_START_S = 120
RUN_S = 600  # one notebook, top to bottom, on 2 busy cores
VALIDATE_S = 600
REDRAW_S = 60
# A second Validate may take this much longer than the first and still be the fast path.
FAST_PATH_SLACK_S = 60
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CELLS = ".jp-NotebookPanel .jp-WindowedPanel-viewport > .jp-Cell"
CODE_PROMPTS = ".jp-NotebookPanel .jp-CodeCell .jp-InputArea-prompt"

pytestmark = pytest.mark.browser


def _unavailable(reason: str) -> None:
    """Skip, except in CI, where the set-up (``make test``) must have installed it: fail."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (make test installs it)")
    pytest.skip(reason)


# What the notebooks contain, read from their sources


def _calls(statement: ast.stmt) -> set[str]:
    """The names of the functions called anywhere in ``statement``."""
    return {
        node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        for node in ast.walk(statement)
        if isinstance(node, ast.Call)
    }


def _parse(source: str) -> ast.Module:
    """A cell's syntax tree (IPython magics turned into Python first)."""
    return ast.parse(TransformerManager().transform_cell(source))


def _top_level_calls(source: str) -> set[str]:
    """Functions called by the unconditional statements of a cell (not under if, for, def)."""
    simple = (ast.Expr, ast.Assign, ast.AugAssign, ast.AnnAssign)
    return set().union(*(_calls(s) for s in _parse(source).body if isinstance(s, simple)))


def _bound_names(source: str) -> set[str]:
    """The names a cell assigns or defines (anywhere in it)."""
    tree = _parse(source)
    stored = {
        n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }
    defined = (ast.FunctionDef, ast.ClassDef)
    return stored | {n.name for n in ast.walk(tree) if isinstance(n, defined)}


@dataclass(frozen=True)
class Contents:
    """Indices (into ``nb.cells``) of the cells of a notebook that the tests look at."""

    code: list[int]
    drawing: list[int]
    widgets: dict[str, int]  # widget function -> cell
    exercises: list[str]  # the functions the students write, in order
    bound: dict[int, set[str]]  # cell -> the names it assigns


def contents(name: str, assignment: str = ASSIGNMENT) -> Contents:
    """What the solution notebook ``name`` of ``assignment`` holds: its drawing, widget and
    exercise cells."""
    nb = nbformat.read(ROOT / "solutions" / assignment / name, as_version=4)
    code = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"]
    calls = {i: _top_level_calls(nb.cells[i].source) for i in code}
    exercises = [
        match
        for i in code
        if "### BEGIN SOLUTION" in nb.cells[i].source
        for match in re.findall(r"^def (\w+)", nb.cells[i].source, re.MULTILINE)
    ]
    return Contents(
        code=code,
        drawing=[i for i in code if any(DRAWING_CALLS.fullmatch(c) for c in calls[i])],
        widgets={w: i for i in code for w in WIDGET_CALLS if w in calls[i]},
        exercises=exercises,
        bound={i: _bound_names(nb.cells[i].source) for i in code},
    )


# The JupyterLab server


def _python3_kernel(data: Path) -> None:
    """A ``python3`` kernelspec running this interpreter (found first through JUPYTER_PATH).

    Its kernels see ``NBGRADER_EXECUTION=validate``, so the notebooks take their graded fast
    path (load the shipped checkpoints instead of training) under Run All as well. Set in the
    kernelspec, not in the server's environment: nbgrader 0.9.6's ``utils.setenv`` deletes
    a variable of the server's own environment after the first Validate (it saves
    ``os.environ.get(value)`` instead of ``.get(key)``), and later kernels would train.
    """
    write_kernelspec(data, {"NBGRADER_EXECUTION": "validate"})


@pytest.fixture(scope="module")
def artifacts() -> Path:
    """``artifacts/browser/``, emptied of the previous run's screenshots."""
    return chromium.screenshots_folder(ARTIFACTS)


@pytest.fixture(scope="module")
def lab(tmp_path_factory, artifacts) -> Iterator[Lab]:
    """JupyterLab on 127.0.0.1 serving a copy of the course, stopped (by PID) afterwards."""
    tmp = tmp_path_factory.mktemp("lab")
    root = tmp / "course"
    root.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", root)
    for folder in ("solutions", "notebooks"):
        for assignment in (ASSIGNMENT, PT_ASSIGNMENT):
            shutil.copytree(ROOT / folder / assignment, root / folder / assignment)
    _python3_kernel(tmp / "data")
    env = {**os.environ, "JUPYTER_PATH": str(tmp / "data")}
    # The course folder is the working directory: the Validate button reads its config there.
    try:
        with running_lab(root, tmp, artifacts / "jupyterlab.log", env) as server:
            yield server
    except RuntimeError as error:
        pytest.fail(str(error))


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Headless Debian Chromium under playwright."""
    reason = chromium.missing()
    if reason:
        _unavailable(reason)
    with chromium.chromium() as running:
        yield running


# A notebook in the browser


class NotebookPage:
    """One notebook open in its own Chromium page, with the actions a person takes."""

    def __init__(self, lab: Lab, browser, path: str, artifacts: Path, label: str) -> None:
        self.lab, self.path, self.artifacts, self.label = lab, path, artifacts, label
        self.page = browser.new_page(viewport={"width": 1400, "height": 1000})
        self.page.set_default_timeout(30_000)
        self.page.goto(lab.open_url(path, workspace=label))
        self.wait_for_kernel_idle(SERVER_START_S)

    def close(self) -> None:
        """Close the page and shut the notebook's kernel down."""
        self.page.close()
        self.lab.shut_down_kernels(self.path)

    def screenshot(self, view: str, target=None) -> Path:
        """Save the page (or one element of it) as ``<label>-<view>.png`` in the artifacts."""
        path = self.artifacts / f"{self.label}-{view}.png"
        if target is None:
            self.page.screenshot(path=path)
        else:
            target.scroll_into_view_if_needed()
            target.screenshot(path=path)
        return path

    def cell(self, index: int):
        """The locator of cell ``index`` (as in ``nb.cells``)."""
        return self.page.locator(CELLS).nth(index)

    def menu(self, menu: str, item: str) -> None:
        """Click ``item`` in the menu bar's ``menu``."""
        self.page.get_by_role("menuitem", name=menu, exact=True).click()
        self.page.get_by_role("menuitem", name=item, exact=True).click()

    def wait_for_kernel_idle(self, timeout_s: float) -> None:
        """Wait until the kernel is idle and no cell is queued or running (prompt ``[*]``)."""
        self.page.wait_for_function(
            """prompts => {
                const status = document.querySelector(
                    '.jp-StatusBar-TextItem[title^="Change kernel"]');
                return status && status.textContent.trim().endsWith('| Idle')
                    && ![...document.querySelectorAll(prompts)]
                        .some(p => p.textContent.includes('*'));
            }""",
            arg=CODE_PROMPTS,
            timeout=timeout_s * 1000,
            polling=500,
        )

    def prompts(self) -> list[str]:
        """The input prompts of the code cells, e.g. ``['[1]:', '[ ]:']``."""
        return self.page.locator(CODE_PROMPTS).all_text_contents()

    def run_all(self, *, past_errors: bool = False) -> None:
        """Run > Run All Cells, then wait until the kernel is idle.

        A failing cell stops the run. With ``past_errors``, then select the first cell that
        has not run and use Run > Run Selected Cell and All Below, until every cell has run,
        as a student does to see the whole notebook.
        """
        self.menu("Run", "Run All Cells")
        self.wait_for_kernel_idle(RUN_S)
        done = -1
        while past_errors:
            waiting = [i for i, p in enumerate(self.prompts()) if not re.search(r"\d", p)]
            if not waiting:
                break
            assert waiting[0] > done, f"code cell {waiting[0]} did not run when asked to"
            done = waiting[0]
            self.page.locator(CODE_PROMPTS).nth(done).click()
            self.menu("Run", "Run Selected Cell and All Below")
            self.wait_for_kernel_idle(RUN_S)

    def errors(self, index: int) -> list[str]:
        """The exceptions shown under cell ``index``: their traceback text, one each."""
        texts = (
            self.cell(index)
            .locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
            .all_text_contents()
        )
        return [text for text in texts if exception_name(text)]


def exception_name(text: str) -> str | None:
    """The exception an output shows (IPython's traceback header or last line), if any."""
    match = re.search(r"^\s*(\w*(?:Error|Exception|Interrupt|Exit))\b", text, re.MULTILINE)
    return match.group(1) if match else None


def image_bytes(image) -> bytes:
    """The bytes behind an ``<img>`` (ipywidgets shows PNG values through blob: URLs)."""
    encoded = image.evaluate(
        """async img => {
            const bytes = new Uint8Array(await (await fetch(img.src)).arrayBuffer());
            let text = '';
            for (const b of bytes) text += String.fromCharCode(b);
            return btoa(text);
        }"""
    )
    return base64.b64decode(encoded)


def redrawn(notebook: NotebookPage, image, action, what: str) -> tuple[bytes, bytes]:
    """The image's bytes before and after ``action()``; fails if the image does not change."""
    before, source = image_bytes(image), image.get_attribute("src")
    action()
    try:
        notebook.page.wait_for_function(
            "([img, old]) => img.src !== old && img.complete",
            arg=[image.element_handle(), source],
            timeout=REDRAW_S * 1000,
            polling=200,
        )
    except Exception as error:  # playwright's TimeoutError
        pytest.fail(f"{what}: the image did not change within {REDRAW_S} s ({error})")
    after = image_bytes(image)
    assert before.startswith(PNG_SIGNATURE) and after.startswith(PNG_SIGNATURE)
    assert after != before, f"{what}: the image was replaced by the same picture"
    return before, after


def press(slider, key: str, times: int) -> None:
    """Focus a slider's handle and press ``key`` (an arrow) ``times`` times."""
    handle = slider.locator(".noUi-handle")
    handle.focus()
    for _ in range(times):
        handle.press(key)


@dataclass
class Run:
    """A notebook after Run All in the browser, with what its source says it contains."""

    notebook: NotebookPage
    contents: Contents


def _run(request, lab: Lab, browser, artifacts: Path, folder: str) -> Iterator[Run]:
    """Open ``folder/<assignment>/<name>`` (the param) in the browser, run it top to bottom,
    close it afterwards."""
    (assignment, name), variant = request.param, "solution" if folder == "solutions" else "release"
    path = f"{folder}/{assignment}/{name}"
    if not (lab.root / path).exists():
        pytest.fail(f"{path} is missing: run `python -m autograder release`")
    label = f"{_stem(request.param)}-{variant}"
    notebook = NotebookPage(lab, browser, path, artifacts, label)
    try:
        notebook.run_all(past_errors=variant == "release")
        notebook.screenshot("end")
        yield Run(notebook, contents(name, assignment))
    finally:
        notebook.close()


def _stem(run: tuple[str, str]) -> str:
    """A run's id: the notebook's stem, ``-pt`` added for the Portuguese edition."""
    assignment, name = run
    return Path(name).stem + ("-pt" if assignment == PT_ASSIGNMENT else "")


@pytest.fixture(scope="module", params=[*RUNS, PT_RUN], ids=_stem)
def solution(request, lab, browser, artifacts) -> Iterator[Run]:
    """A solution notebook (the reference code in place) after Run All."""
    yield from _run(request, lab, browser, artifacts, "solutions")


@pytest.fixture(scope="module", params=RUNS, ids=_stem)
def release(request, lab, browser, artifacts) -> Iterator[Run]:
    """The untouched release of a notebook after Run All, continued past each failing cell."""
    yield from _run(request, lab, browser, artifacts, "notebooks")


def validate(notebook: NotebookPage) -> tuple[str, str]:
    """Press nbgrader's Validate button; the result dialog's outcome class and text."""
    page = notebook.page
    page.locator(".jp-NotebookPanel-toolbar .validate-button").click()
    dialog = page.locator(".jp-Dialog", has_text="Validation Results")
    dialog.wait_for(timeout=VALIDATE_S * 1000)
    body = dialog.locator("[class*='validation-']").first
    outcome = next(c for c in body.get_attribute("class").split() if c.startswith("validation-"))
    text = dialog.inner_text()
    notebook.screenshot("validate", dialog.locator(".jp-Dialog-content"))
    dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
    return outcome, text


# The solution


def assert_every_cell_ran(notebook: NotebookPage) -> None:
    prompts = notebook.prompts()
    assert all(re.fullmatch(r"\[\d+\]:", p) for p in prompts), f"cells did not all run: {prompts}"


def test_solution_runs_without_errors(solution):
    notebook, code = solution.notebook, solution.contents.code
    assert_every_cell_ran(notebook)
    errors = {i: notebook.errors(i) for i in code}
    assert not any(errors.values()), {i: e for i, e in errors.items() if e}


def test_solution_plots_render(solution):
    notebook, drawing = solution.notebook, solution.contents.drawing
    assert drawing, "no cell of the notebook draws a figure (is the detection broken?)"
    for i in drawing:
        images = notebook.cell(i).locator(".jp-RenderedImage img")
        assert images.count() >= 1, f"cell {i} draws a figure but shows no image"
        decoded = images.evaluate_all("imgs => imgs.map(i => i.complete && i.naturalWidth > 0)")
        assert all(decoded), f"cell {i}: an image did not decode ({decoded})"
        notebook.screenshot(f"plot-cell{i:02d}", notebook.cell(i).locator(".jp-Cell-outputArea"))


def check_jensen_explorer(notebook: NotebookPage, view) -> None:
    """Dropdown, sliders, readout and plot; a slider and the dropdown redraw the plot."""
    sliders, image = view.locator(".widget-slider"), view.locator("img.widget-image")
    assert view.locator(".widget-dropdown select").count() == 1
    assert sliders.count() >= 2 and image.count() == 1
    readout = view.locator(".widget-html").inner_text()
    gap = {msg("widgets.jensen.gap", "gap").said(code) for code in languages()}  # either edition
    assert "E[log X]" in readout and any(word in readout for word in gap)
    notebook.screenshot("jensen-explorer-before", view)
    redrawn(notebook, image, lambda: press(sliders.nth(1), "ArrowRight", 3), "Jensen slider")
    assert view.locator(".widget-html").inner_text() != readout, "the readout did not update"
    select = view.locator(".widget-dropdown select")
    uniform = list(JENSEN_DISTRIBUTIONS).index("uniform")  # its label is the edition's
    redrawn(notebook, image, lambda: select.select_option(index=uniform), "Jensen dropdown")
    assert view.locator(".widget-slider .widget-label").all_inner_texts() == ["a", "b"]
    notebook.screenshot("jensen-explorer-after", view)


def check_latent_explorer(notebook: NotebookPage, view) -> None:
    """Scatter, decoded image, sliders z1 and z2; moving z redraws the marker and the digit."""
    sliders = view.locator(".widget-slider")
    scatter, decoded = (
        view.locator("img.widget-image").nth(0),
        view.locator("img.widget-image").nth(1),
    )
    assert sliders.locator(".widget-label").all_inner_texts() == ["z1", "z2"]
    caption = view.locator(".widget-html").inner_text()
    notebook.screenshot("latent-explorer-before", view)
    before = image_bytes(scatter)
    redrawn(notebook, decoded, lambda: press(sliders.nth(0), "ArrowRight", 10), "latent z1")
    redrawn(notebook, decoded, lambda: press(sliders.nth(1), "ArrowLeft", 10), "latent z2")
    assert image_bytes(scatter) != before, "the marker on the latent scatter did not move"
    assert view.locator(".widget-html").inner_text() != caption, "the caption did not update"
    notebook.screenshot("latent-explorer-after", view)


def check_mixture_explorer(notebook: NotebookPage, view) -> None:
    """Component slider, caption, decoded draws and the prior over the encoded digits; moving
    to another component redraws the draws, the highlighted ellipse and the caption."""
    slider = view.locator(".widget-slider")
    samples, scatter = (
        view.locator("img.widget-image").nth(0),
        view.locator("img.widget-image").nth(1),
    )
    assert slider.locator(".widget-label").all_inner_texts() == ["component"]
    caption = view.locator(".widget-html").inner_text()
    assert caption.startswith("component 0 of "), caption
    notebook.screenshot("mixture-explorer-before", view)
    before = image_bytes(scatter)
    redrawn(notebook, samples, lambda: press(slider, "ArrowRight", 1), "mixture component")
    assert image_bytes(scatter) != before, "the highlighted component did not move"
    assert view.locator(".widget-html").inner_text().startswith("component 1 of ")
    notebook.screenshot("mixture-explorer-after", view)


WIDGET_CHECKS = {
    "JensenExplorer": check_jensen_explorer,
    "LatentExplorer": check_latent_explorer,
    "MixtureExplorer": check_mixture_explorer,
}


#: The runs whose notebook calls a widget (read from the notebooks): a notebook without one
#: has nothing for ``test_widgets_redraw`` to test.
WIDGET_RUNS = [run for run in [*RUNS, PT_RUN] if contents(run[1], run[0]).widgets]


@pytest.mark.parametrize("solution", WIDGET_RUNS, indirect=True, ids=_stem)
def test_widgets_redraw(solution):
    """Every widget of the notebook renders and redraws (same page as the other tests)."""
    notebook, widgets = solution.notebook, solution.contents.widgets
    for widget, index in widgets.items():
        view = notebook.cell(index).locator(".jp-OutputArea-output .jupyter-widgets").first
        view.wait_for()
        WIDGET_CHECKS[widget](notebook, view)


@pytest.mark.parametrize("solution", [PT_RUN], indirect=True, ids=_stem)
def test_pt_notebook_shows_its_heading_in_portuguese(solution):
    """The Portuguese edition's notebook 1, run in the browser as the English one is, shows
    its own title (the first line of its first cell), not the English one."""
    notebook = solution.notebook
    assignment, name = PT_RUN
    source = nbformat.read(ROOT / "solutions" / assignment / name, as_version=4).cells[0].source
    title = source.splitlines()[0].lstrip("# ")
    assert title.startswith("1. A desigualdade de Jensen"), title
    heading = notebook.cell(0).locator(".jp-RenderedMarkdown h1").first
    heading.scroll_into_view_if_needed()
    assert heading.is_visible() and heading.inner_text().strip().rstrip("¶").strip() == title
    notebook.screenshot("heading", notebook.cell(0))


def test_validate_passes_the_solution(solution):
    outcome, text = validate(solution.notebook)
    assert outcome == "validation-success", text


# The untouched release


def test_release_fails_only_at_its_exercises(release):
    """Every error is an exercise's NotImplementedError, the NameError of a variable that
    an earlier failing cell would have assigned, or the UnfinishedError of a cell that shows
    what an earlier failing training cell would have trained; the setup cell (imports) runs."""
    notebook, found = release.notebook, release.contents
    assert_every_cell_ran(notebook)
    shown = {i: notebook.errors(i) for i in found.code}
    shown = {i: texts for i, texts in shown.items() if texts}
    assert found.code[0] not in shown, f"the setup cell fails: {shown[found.code[0]]}"
    assert shown, "no cell fails, yet the exercises are stubs"
    unset: set[str] = set()  # names the failed cells did not assign
    for i, texts in shown.items():
        for text in texts:
            name = exception_name(text)
            missing = re.search(r"NameError: name '(\w+)' is not defined", text)
            if name == "NameError" and missing and missing.group(1) in unset:
                continue
            if name == "UnfinishedError" and i > min(shown):
                assert "did not finish" in text, f"cell {i}: {text}"
                continue
            assert name == "NotImplementedError", f"cell {i}: {text}"
            assert any(exercise in text for exercise in found.exercises), (
                f"cell {i}: the error names none of the exercises {found.exercises}: {text}"
            )
        unset |= found.bound[i]
    first = min(shown)
    assert f"in {found.exercises[0]}(" in shown[first][0], shown[first][0]
    notebook.screenshot("first-error", notebook.cell(first))


# The button's failure path on one notebook (the smallest); `python -m autograder
# validate-release` checks every notebook of both editions with the same nbgrader code
# (test_notebooks, test_translation).
@pytest.mark.parametrize("release", RUNS[:1], indirect=True, ids=_stem)
def test_validate_fails_the_release(release):
    outcome, text = validate(release.notebook)
    assert outcome == "validation-failed", text
    assert "NotImplementedError" in text


# A student's server on a JupyterHub: Validate twice


#: Appended to the student's notebook: each run records what its kernel saw (the variable
#: nbgrader sets, and the notebook's own decision to train), in the notebook's folder.
FAST_PATH_PROBE = """\
with open("fast_path.log", "a") as log:
    log.write(f"{os.environ.get('NBGRADER_EXECUTION')} TRAIN={TRAIN}\\n")
"""
FAST_PATH_NOTEBOOK = "02_negative_elbo.ipynb"


@pytest.fixture(scope="module")
def student_lab(tmp_path_factory, artifacts, installed_wheel) -> Iterator[Lab]:
    """JupyterLab as a student's server on the hub (``hub/``): run from a home folder that
    holds the released notebook 02 only, with the reference answer written in and the
    fast-path probe appended; the hub's nbgrader config as the system config; the kernels
    of the installed wheel, and ``NBGRADER_EXECUTION`` in no environment or kernelspec."""
    tmp = tmp_path_factory.mktemp("student-lab")
    home = tmp / "home"
    (home / ASSIGNMENT).mkdir(parents=True)
    nb = Release(Course()).solved()[Path(FAST_PATH_NOTEBOOK).stem]
    nb.cells.append(nbformat.v4.new_code_cell(FAST_PATH_PROBE))
    nbformat.write(nb, home / ASSIGNMENT / FAST_PATH_NOTEBOOK)
    system = tmp / "etc" / "jupyter"
    system.mkdir(parents=True)
    shutil.copy(ROOT / "hub" / "nbgrader_config.py", system)
    env = installed_wheel.env(JUPYTER_CONFIG_PATH=str(system))
    env.pop("NBGRADER_EXECUTION", None)
    try:
        with running_lab(home, tmp, artifacts / "jupyterlab-student.log", env) as server:
            yield server
    except RuntimeError as error:
        pytest.fail(str(error))


def test_validate_twice_takes_the_fast_path_both_times(student_lab, browser, artifacts):
    """nbgrader sets ``NBGRADER_EXECUTION=validate`` for each Validate, so the notebook
    loads the shipped checkpoints every time, the second press as the first (training
    for real takes minutes: 5,000 iterations per model)."""
    path = f"{ASSIGNMENT}/{FAST_PATH_NOTEBOOK}"
    notebook = NotebookPage(student_lab, browser, path, artifacts, "02-student")
    seconds = []
    try:
        for _ in range(2):
            start = time.monotonic()
            outcome, text = validate(notebook)
            seconds.append(time.monotonic() - start)
            assert outcome == "validation-success", text
    finally:
        notebook.close()
    runs = (student_lab.root / ASSIGNMENT / "fast_path.log").read_text().splitlines()
    assert runs == ["validate TRAIN=False"] * 2, runs
    print(f"Validate twice: {seconds[0]:.1f} s, {seconds[1]:.1f} s")
    assert seconds[1] < seconds[0] + FAST_PATH_SLACK_S, f"Validate took {seconds} s"


# Formgrader: the written answers, graded by hand

#: The written answer graded by hand, with what the grader enters.
WRITTEN = ("01_jensen_elbo", "written_jensen_geometry")
MANUAL_SCORE = 1.5
COMMENT = "The chord lies below the curve: right. Say where the gap is largest."
SAVE_S = 30


def saved_grade(course: Course, student: str) -> tuple[float | None, str | None]:
    """The manual score and comment of the written answer ``WRITTEN`` in the gradebook."""
    notebook, cell = WRITTEN
    with Gradebook(course.db_url) as gradebook:
        grade = gradebook.find_grade(cell, notebook, ASSIGNMENT, student)
        comment = gradebook.find_comment(cell, notebook, ASSIGNMENT, student)
        return grade.manual_score, comment.manual_comment


def test_formgrader_grades_a_written_answer(lab, browser, artifacts, tmp_path):
    """A submission of notebook 01 (the reference answers) is autograded; in JupyterLab's
    Nbgrader menu, Formgrader's Manual Grading finds the assignment and the submission,
    and a score and a comment go into a written answer. The gradebook holds them, the
    exported grades and the class report count the score, and the student's feedback
    shows the comment."""
    course = Course(lab.root)
    notebook_name, cell = WRITTEN
    register(course)
    submission = tmp_path / "alice" / ASSIGNMENT
    submission.mkdir(parents=True)
    solved = Release(course).solved()[notebook_name]
    nbformat.write(solved, submission / f"{notebook_name}.ipynb")
    grading.autograde(course, tmp_path)
    (before,) = grading.scores(course)
    assert before.needs_manual_grade and saved_grade(course, "alice") == (None, None)

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(30_000)
    try:
        page.goto(f"{lab.url}/lab/workspaces/formgrader?reset&token={lab.token}")
        page.get_by_role("menuitem", name="Nbgrader", exact=True).click()
        page.get_by_role("menuitem", name="Formgrader", exact=True).first.click()
        formgrader = page.frame_locator("#formgrader iframe")
        submissions = submission_links(formgrader, ASSIGNMENT, notebook_name)
        assert submissions.all_inner_texts() == ["Submission #1"]
        submissions.first.click()
        grade_answer(page, formgrader, cell, MANUAL_SCORE, COMMENT)
        deadline = time.monotonic() + SAVE_S
        while saved_grade(course, "alice") != (MANUAL_SCORE, COMMENT):
            assert time.monotonic() < deadline, f"not saved: {saved_grade(course, 'alice')}"
            time.sleep(0.5)
        page.screenshot(path=artifacts / "formgrader-written-answer.png")
    finally:
        page.close()

    grading.export(course)
    rows = grading.grades_csv(course).read_text().splitlines()
    header, (alice,) = rows[0].split(","), [r.split(",") for r in rows[1:]]
    assert float(alice[header.index("score")]) == before.score + MANUAL_SCORE
    (student,) = report.build(course).students
    assert student.score == before.score + MANUAL_SCORE
    grading.feedback(course)
    assert COMMENT in (course.feedback("alice") / f"{notebook_name}.html").read_text()
