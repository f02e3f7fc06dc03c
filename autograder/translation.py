"""Translated editions of an assignment, built from the English solutions and a translation
kept beside them, cell by cell (issue 25).

The English solutions (``solutions/<english>/``) stay the one source. A translation is a
JSON file per notebook, ``translations/<language>/<notebook>.json``, mapping a cell's
nbformat ``id`` to ``{"grade_id": str, "en_sha256": str, "source": [lines]}``: the
translated source (split into lines as nbformat does) and the SHA-256 of the English source
it translates. Markdown cells are translated whole; a code cell only in its prose (comments,
string literals: printed text, plot labels, docstrings), its code unchanged (``code_changes``).

``build`` writes the edition's own assignment source, ``solutions/<assignment>/`` (e.g.
``solutions/vae-pt/``): the English notebooks with every up-to-date translation applied,
everything else (code, ids, nbgrader metadata, grade ids, points, notebook metadata) as in
English. It is committed, like the release, so that plain ``nbgrader generate_assignment
vae-pt`` and formgrader find it; ``differences`` says whether the committed copy is current.
An entry whose English cell changed since it was translated is *stale*: the build keeps the
English cell there (never a translation of code that no longer exists) and ``problems``
names it, as it names the cells still *missing* a translation.

The edition's reference times (``autograder.time_limits``) are the English ones, re-keyed to
the translated notebook's SHA-256: the two notebooks run the same code, cell for cell.

nbgrader's stubs, which ``ClearSolutions`` writes where a solution was (``code_stub`` for
Python and ``text_stub``, set in ``nbgrader_config.py``), are translated the same way:
``translations/<language>/stubs.json`` holds an entry per stub, keyed by its name, with the
SHA-256 of the configured English stub. The build writes the up-to-date ones into the
edition's source (``STUBS``), where ``nbgrader_hooks.TranslatedStubs`` finds them when it
releases the edition; a stale or missing one leaves the English stub in the release.

What the course's code says to a student (the checks' failure messages, the mistakes'
explanations, the exercises' titles, the labels of figures and widgets) is translated by
message id instead (``course_utils.language``): English templates in the code,
``msg("elbo.negative_terms", "kl = {kl:.4f} ...", kl=kl)``, read here from the source
(``english_messages``), and the edition's in ``course_utils/locale/<language>.json`` (shipped
with the package: the grading kernel sees nothing else of the course), each recording the
SHA-256 of the English template it translates. ``message_problems`` names each message that
is missing, stale, unknown, formats other fields than the English, or prints a number with a
decimal comma.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
import tempfile
import tokenize
from dataclasses import dataclass
from io import StringIO
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbgrader.preprocessors import ClearSolutions
from traitlets.config import Config, PyFileConfigLoader

from autograder import bundle, time_limits
from autograder.cells import grade_id_of, is_test
from autograder.course import CONFIG_FILE, STUBS
from course_utils import language as course_language
from course_utils.exercises import EXERCISES, MISTAKES

#: Where the translations live, relative to the course directory.
TRANSLATIONS = Path("translations")
#: Lines nbgrader reads in a cell's source: a translation keeps them as they are.
_MARKER = re.compile(r"^\s*### (BEGIN|END) (SOLUTION|HIDDEN TESTS)\s*$", re.MULTILINE)
#: A string literal that reads as prose: two words of letters in a row.
_PROSE = re.compile(r"[^\W\d_]{2,}\s+[^\W\d_]{2,}")
#: What ``problems`` calls the stubs' file in place of a notebook.
STUBS_NAME = Path(STUBS).stem
#: In a translated README, the SHA-256 of the English students' part it translates.
_README_DIGEST = re.compile(r"<!-- en_sha256: ([0-9a-f]{64}) ")
#: A README's Python examples.
_PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


@dataclass(frozen=True)
class Edition:
    """A translated edition: ``assignment`` (its nbgrader name, ``vae-pt``), built from the
    English ``english`` assignment (``vae``) and ``translations/<language>/``."""

    assignment: str
    english: str
    language: str

    def translations(self, root: Path) -> Path:
        """The folder of the translation files under the course directory ``root``."""
        return Path(root) / TRANSLATIONS / self.language

    def english_source(self, root: Path) -> Path:
        """The English solutions it is built from, ``solutions/<english>``."""
        return Path(root) / "solutions" / self.english

    def source(self, root: Path) -> Path:
        """Its own assignment source, generated: ``solutions/<assignment>``."""
        return Path(root) / "solutions" / self.assignment

    def readme(self, root: Path) -> Path:
        """The students' part of the README in its language, ``README.<language tag>.md``
        (``README.pt-BR.md``), beside ``README.md``."""
        return Path(root) / f"README.{self.language.replace('_', '-')}.md"

    def messages(self, root: Path) -> Path:
        """The translation of the course code's messages, shipped with the package:
        ``course_utils/locale/<language>.json``."""
        return Path(root) / PACKAGE / "locale" / f"{self.language}.json"


#: The package that holds the translations of the messages (``locale/``), relative to the
#: course directory.
PACKAGE = Path("course_utils")
#: The packages whose ``msg`` calls are messages: the course's code, and the grader's own
#: verdicts (``autograder.nbgrader_hooks``).
SPEAKERS = (PACKAGE, Path("autograder"))
#: Each edition; its assignment and language as ``course_utils.language.EDITIONS`` has them
#: (the kernel tells the language from the assignment's folder).
EDITIONS = tuple(
    Edition(assignment, "vae", language)
    for assignment, language in course_language.EDITIONS.items()
)


def editions_of(english: str, root: Path) -> list[Edition]:
    """The editions translated from the assignment ``english`` in the course directory
    ``root`` (those whose translations it holds: a course without them has none)."""
    return [e for e in EDITIONS if e.english == english and e.translations(root).is_dir()]


@dataclass(frozen=True)
class Problem:
    """What is wrong with one cell's translation: ``kind`` is ``stale`` (the English cell
    changed since), ``missing`` (no translation yet), ``unknown`` (no such English cell)
    or ``code`` (the translation changes code); ``detail`` says more. ``part`` says what
    ``cell_id`` names: a notebook's ``cell``, a ``stub`` of ``STUBS_NAME``, or a ``section``
    of the README."""

    notebook: str
    cell_id: str
    grade_id: str | None
    kind: str
    detail: str = ""
    part: str = "cell"

    def __str__(self) -> str:
        name = f"{self.part} {self.cell_id}" + (f" ({self.grade_id})" if self.grade_id else "")
        return f"{self.notebook}: {name}: {self.kind}" + (f": {self.detail}" if self.detail else "")


# -- the translation files ----------------------------------------------------------------------


def digest(source: str) -> str:
    """SHA-256 (hex) of a cell's source, as UTF-8."""
    return hashlib.sha256(source.encode()).hexdigest()


def read_entries(path: Path) -> dict[str, dict]:
    """A notebook's translation, ``{cell id: entry}`` with ``entry["source"]`` joined into
    one string (empty if the file does not exist)."""
    if not path.is_file():
        return {}
    entries = json.loads(path.read_text(encoding="utf-8"))
    return {cell_id: {**e, "source": "".join(e["source"])} for cell_id, e in entries.items()}


def write_entries(path: Path, entries: dict[str, dict]) -> None:
    """Write ``{cell id: entry}`` (sources as strings) as a translation file, sources split
    into lines, in the order given."""
    lines = {
        cell_id: {**e, "source": e["source"].splitlines(keepends=True)}
        for cell_id, e in entries.items()
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(lines, indent=1, ensure_ascii=False) + "\n"
    path.write_text(text, encoding="utf-8")


def record(root: Path, edition: Edition, notebook: str, cell_id: str, source: str) -> None:
    """Set the translation of one cell of ``notebook`` (its stem, ``01_jensen_elbo``) to
    ``source``, against the English cell as it is now; entries kept in the notebook's order.
    Raises ``ValueError`` for a cell the English notebook does not have or a translation
    that changes code."""
    english = _read(edition.english_source(root) / f"{notebook}.ipynb")
    cells = {cell.id: cell for cell in english.cells}
    if cell_id not in cells:
        raise ValueError(f"{notebook}: no cell {cell_id} in the English notebook")
    cell = cells[cell_id]
    if cell.cell_type == "code" and (changes := _changes(cell, source)):
        raise ValueError(f"{notebook}: cell {cell_id}: {'; '.join(changes)}")
    path = edition.translations(root) / f"{notebook}.json"
    entries = read_entries(path)
    entries[cell_id] = {
        "grade_id": grade_id_of(cell),
        "en_sha256": digest(cell.source),
        "source": source,
    }
    write_entries(path, {c.id: entries[c.id] for c in english.cells if c.id in entries})


# -- what a translation may change --------------------------------------------------------------


def needs_translation(cell: NotebookNode) -> bool:
    """A cell a reader meets in English until it is translated: a markdown cell with text, or
    a code cell with a comment or a prose string, except the test cells (their messages wait
    for the checks' own translation, by message id)."""
    if cell.cell_type == "markdown":
        return bool(cell.source.strip())
    if cell.cell_type != "code" or is_test(cell):
        return False
    return bool(_comments(cell.source)) or any(_PROSE.search(s) for s in _strings(cell.source))


def code_changes(english: str, translated: str, test: bool = False) -> list[str]:
    """How a translated code cell changes more than comments and string literals (empty if
    it does not): its code (compared as syntax trees with every string blanked), nbgrader's
    ``### BEGIN/END`` lines, or the code of each hidden-test block (no line may move in or
    out of one); in a ``test`` cell, a string other than a failure's message (``assert ...,
    message``, ``raise AssertionError(...)``: students read those, hidden tests' included),
    or a message's mistake id (``(mistake: id)``: the class report reads it)."""
    found = []
    if test and _strings(english, fixed=True) != _strings(translated, fixed=True):
        found.append(
            "a test cell's strings differ beyond its failure messages (only those and its "
            "comments may be translated)"
        )
    if test and _mistake_ids(english) != _mistake_ids(translated):
        found.append("a failure message's mistake id differs: keep each (mistake: id)")
    if _MARKER.findall(english) != _MARKER.findall(translated):
        found.append("nbgrader's ### BEGIN/END lines differ")
    if [_code(block) for block in _hidden(english)] != [
        _code(block) for block in _hidden(translated)
    ]:
        found.append("the hidden tests differ beyond their comments and failure messages")
    if _skeleton(english) != _skeleton(translated):
        found.append("the code differs beyond comments and string literals")
    return found


def _changes(cell: NotebookNode, translated: str) -> list[str]:
    """``code_changes`` of an English code cell and its translation."""
    return code_changes(cell.source, translated, test=is_test(cell))


class _BlankStrings(ast.NodeTransformer):
    """Every string constant made empty; an f-string keeps only its expressions (with their
    conversions, not their format specs: widths and precisions are presentation)."""

    def visit_Constant(self, node: ast.Constant) -> ast.Constant:
        return ast.Constant("") if isinstance(node.value, str) else node

    def visit_JoinedStr(self, node: ast.JoinedStr) -> ast.expr:
        values = [
            ast.FormattedValue(self.visit(v.value), v.conversion, None)
            for v in node.values
            if isinstance(v, ast.FormattedValue)
        ]
        return ast.JoinedStr(values) if values else ast.Constant("")


def _skeleton(source: str) -> str:
    """The cell's syntax tree with its strings blanked, as text (the source if it does not
    parse: then only an identical source matches)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    return ast.dump(_BlankStrings().visit(tree))


def _strings(source: str, fixed: bool = False) -> list[str]:
    """The string constants of a cell (the literal parts of f-strings included); ``fixed``:
    only those outside its failure messages (``_messages``)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    skipped = {id(node) for message in _messages(tree) for node in ast.walk(message)}
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and not (fixed and id(node) in skipped)
    ]


def _messages(tree: ast.AST) -> list[ast.expr]:
    """What a test cell says when it fails: each ``assert``'s message and the arguments of
    each ``raise AssertionError(...)``."""
    found: list[ast.expr] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert) and node.msg is not None:
            found.append(node.msg)
        elif (
            isinstance(node, ast.Raise)
            and isinstance(node.exc, ast.Call)
            and isinstance(node.exc.func, ast.Name)
            and node.exc.func.id == "AssertionError"
        ):
            found += node.exc.args
    return found


_MISTAKE_ID = re.compile(r"\(mistake: (\w+)\)")


def _mistake_ids(source: str) -> list[str]:
    """The mistake ids a cell's messages end with, in order."""
    return _MISTAKE_ID.findall(source)


def _comments(source: str) -> list[str]:
    """The comments of a cell, nbgrader's ``### BEGIN/END`` lines left out."""
    try:
        tokens = list(tokenize.generate_tokens(StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return []
    return [t.string for t in tokens if t.type == tokenize.COMMENT and not _MARKER.match(t.string)]


def _hidden(source: str) -> list[str]:
    """The text of each hidden-test block of a cell."""
    return re.findall(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", source, re.DOTALL)


def _code(source: str) -> tuple[str, list[str]]:
    """What a translation keeps of a block of a test cell: its syntax tree with the strings
    blanked, and its strings outside failure messages."""
    return _skeleton(source), _strings(source, fixed=True)


# -- checking and building ------------------------------------------------------------------------


def problems(root: Path, edition: Edition) -> list[Problem]:
    """Every stale, missing, unknown or code-changing entry of the edition, notebook by
    notebook in the English notebooks' cell order, then those of its stubs and README."""
    found = []
    for path in english_notebooks(root, edition):
        english = _read(path)
        entries = read_entries(edition.translations(root) / f"{path.stem}.json")
        found += _notebook_problems(path.stem, english, entries)
    return found + stub_problems(root, edition) + readme_problems(root, edition)


def _notebook_problems(notebook: str, english: NotebookNode, entries: dict) -> list[Problem]:
    found = []
    for cell in english.cells:
        entry = entries.get(cell.id)
        grade_id = grade_id_of(cell)
        if entry is None:
            if needs_translation(cell):
                found.append(Problem(notebook, cell.id, grade_id, "missing"))
        elif entry["en_sha256"] != digest(cell.source):
            detail = "the English cell changed since it was translated"
            found.append(Problem(notebook, cell.id, grade_id, "stale", detail))
        elif cell.cell_type == "code" and (changes := _changes(cell, entry["source"])):
            found.append(Problem(notebook, cell.id, grade_id, "code", "; ".join(changes)))
    known = {cell.id for cell in english.cells}
    for cell_id, entry in entries.items():
        if cell_id not in known:
            detail = "the English notebook has no such cell"
            found.append(Problem(notebook, cell_id, entry.get("grade_id"), "unknown", detail))
    return found


def english_notebooks(root: Path, edition: Edition) -> list[Path]:
    """The English solution notebooks of the edition, in order."""
    return sorted(edition.english_source(root).glob("*.ipynb"))


def translate(english: NotebookNode, entries: dict[str, dict]) -> NotebookNode:
    """A copy of ``english`` with the up-to-date translations of ``entries`` applied (stale
    ones, and those that would change code, left out: their cells stay in English)."""
    nb = nbformat.from_dict(english)
    for cell in nb.cells:
        entry = entries.get(cell.id)
        if entry is None or entry["en_sha256"] != digest(cell.source):
            continue
        if cell.cell_type == "code" and _changes(cell, entry["source"]):
            continue
        cell.source = entry["source"]
    return nb


def build(root: Path, edition: Edition, folder: Path | None = None) -> list[Path]:
    """Write the edition's assignment source into ``folder`` (default
    ``solutions/<assignment>``): each English notebook translated (``translate``), written
    as nbformat writes the English ones, the reference times and the translated stubs.
    Returns the notebooks."""
    folder = Path(folder or edition.source(root))
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for path in english_notebooks(root, edition):
        entries = read_entries(edition.translations(root) / f"{path.stem}.json")
        nb = translate(_read(path), entries)
        target = folder / path.name
        target.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
        written.append(target)
    for old in set(folder.glob("*.ipynb")) - set(written):
        old.unlink()
    _write_times(edition.english_source(root), folder)
    _write_stubs(translated_stubs(root, edition), folder)
    return written


def _write_times(english: Path, folder: Path) -> None:
    """The English reference times of each notebook whose times are up to date, keyed to the
    translated notebook's SHA-256 (``time_limits.plan`` checks it); none if English has none."""
    reference = time_limits.read(english)
    target = folder / time_limits.FILE
    if not reference:
        target.unlink(missing_ok=True)
        return
    notebooks = {}
    for stem, entry in reference.get("notebooks", {}).items():
        source, translated = english / f"{stem}.ipynb", folder / f"{stem}.ipynb"
        current = source.is_file() and entry["sha256"] == time_limits.digest(source)
        if current and translated.is_file():
            notebooks[stem] = {**entry, "sha256": time_limits.digest(translated)}
    text = json.dumps({**reference, "notebooks": notebooks}, indent=1, sort_keys=True)
    target.write_text(text + "\n")


# -- nbgrader's stubs ------------------------------------------------------------------------------


def english_stubs(root: Path) -> dict[str, str]:
    """The stubs ``ClearSolutions`` writes into a Python notebook's release under the config
    of the course directory ``root`` (nbgrader's own where it has no config): stub name
    (``code_stub``, ``text_stub``) -> text."""
    config = Config()
    if (Path(root) / CONFIG_FILE).is_file():
        config = PyFileConfigLoader(CONFIG_FILE, path=str(root)).load_config()
    clear = ClearSolutions(config=config)
    return {"code_stub": clear.code_stub["python"], "text_stub": clear.text_stub}


def translated_stubs(root: Path, edition: Edition) -> dict[str, str]:
    """The edition's up-to-date stub translations (stale and code-changing ones left out):
    stub name -> text."""
    entries = read_entries(edition.translations(root) / STUBS)
    return {
        name: entries[name]["source"]
        for name, english in english_stubs(root).items()
        if name in entries and not _stub_problem(name, english, entries[name])
    }


def stub_problems(root: Path, edition: Edition) -> list[Problem]:
    """The stale, missing or code-changing translations of the course's stubs, named as
    cells of ``STUBS_NAME``."""
    entries = read_entries(edition.translations(root) / STUBS)
    found = []
    for name, english in english_stubs(root).items():
        if name not in entries:
            found.append(Problem(STUBS_NAME, name, None, "missing", part="stub"))
        elif problem := _stub_problem(name, english, entries[name]):
            found.append(problem)
    return found


def _stub_problem(name: str, english: str, entry: dict) -> Problem | None:
    """What is wrong with the translation ``entry`` of the English stub ``name`` (None if
    it is up to date): stale, or a code stub whose code changed."""
    if entry["en_sha256"] != digest(english):
        detail = "the configured English stub changed since it was translated"
        return Problem(STUBS_NAME, name, None, "stale", detail, "stub")
    if name == "code_stub" and (changes := code_changes(english, entry["source"])):
        return Problem(STUBS_NAME, name, None, "code", "; ".join(changes), "stub")
    return None


def record_stub(root: Path, edition: Edition, name: str, source: str) -> None:
    """Set the translation of the stub ``name`` (``code_stub`` or ``text_stub``) to ``source``,
    against the English stub as the course's config sets it now. Raises ``ValueError`` for
    an unknown stub or a code stub whose code changes."""
    english = english_stubs(root)
    if name not in english:
        raise ValueError(f"no stub {name}: the stubs are {', '.join(english)}")
    entry = {"en_sha256": digest(english[name]), "source": source}
    if problem := _stub_problem(name, english[name], entry):
        raise ValueError(str(problem))
    path = edition.translations(root) / STUBS
    write_entries(path, {**read_entries(path), name: entry})


def read_stubs(folder: Path) -> dict[str, str]:
    """The translated stubs an assignment's source ``folder`` holds (``build`` writes them):
    stub name -> text; empty for an English assignment."""
    path = Path(folder) / STUBS
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _write_stubs(stubs: dict[str, str], folder: Path) -> None:
    """``stubs`` as ``STUBS`` in the edition's source ``folder`` (none if there are none)."""
    target = folder / STUBS
    if not stubs:
        target.unlink(missing_ok=True)
        return
    text = json.dumps(stubs, indent=1, sort_keys=True, ensure_ascii=False)
    target.write_text(text + "\n", encoding="utf-8")


# -- the students' README ---------------------------------------------------------------------


def readme_problems(root: Path, edition: Edition) -> list[Problem]:
    """The edition's README (``Edition.readme``) missing, stale (the students' part of
    ``README.md``, ``bundle.student_readme``, changed since the SHA-256 it records in a
    ``<!-- en_sha256: ... -->`` comment) or with Python examples whose code differs from
    the English ones; nothing for a course without ``README.md``."""
    english_path, path = Path(root) / "README.md", edition.readme(root)
    if not english_path.is_file():
        return []
    sections = ", ".join(bundle.READMES[english_path.name])

    def problem(kind: str, detail: str = "") -> list[Problem]:
        return [Problem(path.name, sections, None, kind, detail, "section")]

    if not path.is_file():
        return problem("missing")
    english = bundle.student_readme(english_path.read_text())
    translated = path.read_text()
    recorded = _README_DIGEST.search(translated)
    if not recorded or recorded.group(1) != digest(english):
        return problem("stale", "README.md's students' part changed since it was translated")
    examples = _PYTHON_BLOCK.findall(english), _PYTHON_BLOCK.findall(translated)
    if len(examples[0]) != len(examples[1]) or any(
        code_changes(a, b) for a, b in zip(*examples, strict=True)
    ):
        return problem("code", "a Python example differs from the English one beyond comments")
    return []


def differences(root: Path, edition: Edition) -> list[str]:
    """The files of the committed ``solutions/<assignment>`` that differ from a fresh build
    (empty if it is current)."""
    committed = edition.source(root)
    with tempfile.TemporaryDirectory() as tmp:
        build(root, edition, Path(tmp))
        fresh = {p.name: p.read_bytes() for p in Path(tmp).glob("*") if p.is_file()}
    ours = {p.name: p.read_bytes() for p in committed.glob("*") if p.is_file()}
    return [
        f"{committed / name}: out of date (python -m autograder release rebuilds it)"
        for name in sorted(ours.keys() | fresh.keys())
        if ours.get(name) != fresh.get(name)
    ]


def _read(path: Path) -> NotebookNode:
    return nbformat.read(path, as_version=nbformat.NO_CONVERT)


# -- the messages of the course's code --------------------------------------------------------


@dataclass(frozen=True)
class MessageProblem:
    """What is wrong with one message's translation: ``kind`` is ``missing``, ``stale`` (the
    English template changed since), ``unknown`` (no such message in the code), ``fields``
    (other replacement fields than the English) or ``number`` (a decimal comma or a
    thousands separator: numbers the code prints read as Python prints them)."""

    message_id: str
    kind: str
    detail: str = ""

    def __str__(self) -> str:
        return f"message {self.message_id}: {self.kind}" + (
            f": {self.detail}" if self.detail else ""
        )


#: The English of a message whose id is made from the registry, not written in a ``msg`` call.
def _registry_messages() -> dict[str, str]:
    found = {mistake.explained.id: mistake.text for mistake in MISTAKES.values()}
    found |= {where.heading.id: where.title for where in EXERCISES}
    return found


def messages_in(source: str, filename: str = "<source>") -> list[tuple[str, str, int]]:
    """The ``msg(id, template, ...)`` calls of a module's ``source``: ``(id, template,
    line)``. Raises ``ValueError`` for a call whose id or template is not a literal string."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "msg"):
            continue
        literal = [
            isinstance(arg, ast.Constant) and isinstance(arg.value, str) for arg in node.args
        ]
        if len(node.args) != 2 or not all(literal):
            raise ValueError(
                f"{filename}:{node.lineno}: msg() takes a literal id and a literal template"
            )
        found.append((node.args[0].value, node.args[1].value, node.lineno))
    return found


def english_messages(root: Path) -> dict[str, str]:
    """Every message of the course's code, id -> English template: the ``msg`` calls of the
    modules of ``SPEAKERS`` under the course directory ``root``, each mistake's text
    (``mistake.<id>``) and each exercise's title (``exercise.<name>``). Raises ``ValueError``
    for an id given two templates."""
    found = _registry_messages()
    where = dict.fromkeys(found, "course_utils/exercises.py (the registry)")
    modules = [path for package in SPEAKERS for path in (Path(root) / package).rglob("*.py")]
    for path in sorted(modules):
        name = path.relative_to(root).as_posix()
        for message_id, template, line in messages_in(path.read_text(encoding="utf-8"), name):
            if found.setdefault(message_id, template) != template:
                raise ValueError(
                    f"{name}:{line}: message {message_id} has another template in "
                    f"{where[message_id]}"
                )
            where.setdefault(message_id, f"{name}:{line}")
    return dict(sorted(found.items()))


def read_messages(path: Path) -> dict[str, dict[str, str]]:
    """A language's messages, ``{id: {"en_sha256": ..., "text": ...}}`` (empty if none)."""
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def write_messages(path: Path, entries: dict[str, dict[str, str]]) -> None:
    """Write a language's messages, sorted by id."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(dict(sorted(entries.items())), indent=1, ensure_ascii=False)
    path.write_text(text + "\n", encoding="utf-8")


#: A number written with a decimal comma or a thousands separator ("0,5", "1,000").
_COMMA_NUMBER = re.compile(r"\d,\d")


def check_message(english: str, translated: str) -> list[str]:
    """How a translation of the English template ``english`` is wrong (empty if it is not):
    other replacement fields (names, conversions, format specs), or a number with a comma."""
    found = []
    ours, theirs = set(course_language.fields(english)), set(course_language.fields(translated))
    if ours != theirs:
        found.append(
            f"its fields {sorted(theirs)} differ from the English {sorted(ours)}: the same "
            "values, formatted alike"
        )
    if _COMMA_NUMBER.search(translated) and not _COMMA_NUMBER.search(english):
        found.append("a number with a comma: write it as Python prints it (0.5, 1000)")
    return found


def message_problems(english: dict[str, str], entries: dict[str, dict]) -> list[MessageProblem]:
    """Every missing, stale, unknown, field-changing or comma-numbered translation in
    ``entries`` (``read_messages``) of the ``english`` messages (``english_messages``)."""
    found = []
    for message_id, template in english.items():
        entry = entries.get(message_id)
        if entry is None:
            found.append(MessageProblem(message_id, "missing"))
        elif entry["en_sha256"] != course_language.digest(template):
            detail = f"the English changed since it was translated; it is now {template!r}"
            found.append(MessageProblem(message_id, "stale", detail))
        else:
            for wrong in check_message(template, entry["text"]):
                kind = "number" if "comma" in wrong else "fields"
                found.append(MessageProblem(message_id, kind, wrong))
    for message_id in entries.keys() - english.keys():
        found.append(MessageProblem(message_id, "unknown", "the code has no such message"))
    return found


def edition_message_problems(root: Path, edition: Edition) -> list[MessageProblem]:
    """``message_problems`` of the edition's messages file against the course's code."""
    entries = read_messages(edition.messages(root))
    return message_problems(english_messages(root), entries)


def record_message(root: Path, edition: Edition, message_id: str, text: str) -> None:
    """Set the translation of the message ``message_id`` to ``text``, against its English
    template as the code has it now. Raises ``ValueError`` for an unknown id or a
    translation whose fields differ from the English (``check_message``)."""
    english = english_messages(root)
    if message_id not in english:
        raise ValueError(f"no message {message_id} in the course's code")
    if wrong := check_message(english[message_id], text):
        raise ValueError(f"message {message_id}: {'; '.join(wrong)}")
    path = edition.messages(root)
    entries = read_messages(path)
    entries[message_id] = {"en_sha256": course_language.digest(english[message_id]), "text": text}
    write_messages(path, entries)
