"""The student bundle: the zip a student downloads, and the check that it gives nothing away.

It holds the release (``notebooks/``: every edition, ``vae`` and its translation
``vae-pt``), the ``course_utils`` package (with its pretrained checkpoints), the files that set
up the environment (and the LICENSE they name), the nbgrader config (so the Validate button
grades as autograde does), the student part of each README (``README.md`` and its
Portuguese ``README.pt-BR.md``) and a Makefile with the student's commands. Nothing of
``solutions/``, ``autograder/`` or ``tests/``.
"""

import ast
import itertools
import json
import re
import stat
import zipfile
from collections.abc import Iterator
from fnmatch import fnmatch
from pathlib import Path

import nbformat
from nbgrader.utils import is_solution

from autograder.course import CONFIG_FILE, Course

#: Where ``python -m autograder bundle`` writes, relative to the course directory.
BUNDLE = Path("build", "student_bundle.zip")
#: The folder the zip unpacks into.
TOP = "vae-course"
#: Copied as they are, relative to the course directory (folders recursively).
SHIPPED = (
    "LICENSE",
    "course_utils",
    "environment.yml",
    "pyproject.toml",
    "requirements.lock",
    "scripts/setup.sh",
    CONFIG_FILE,
)
#: The Makefile rules a student uses.
STUDENT_RULES = ("help", "setup", "lab")
#: The READMEs, each with its sections (``## `` headings) for students; the text above the
#: first heading (title and introduction) is always included.
READMES = {"README.md": ("For students",), "README.pt-BR.md": ("Para estudantes",)}
#: Folders whose content must never reach a student.
PRIVATE = ("solutions", "autograder", "tests")
# nbgrader's markers of what generate_assignment removes.
_SECRET_BLOCK = re.compile(
    r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1", re.DOTALL | re.MULTILINE
)
# Fixed member timestamps make the zip byte-identical for identical content.
_EPOCH = (1980, 1, 1, 0, 0, 0)


def build(course: Course, path: Path | None = None) -> Path:
    """Write the bundle (default ``build/student_bundle.zip``); return its path."""
    path = Path(path or course.root / BUNDLE)
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data, mode in sorted(contents(course)):
            info = zipfile.ZipInfo(f"{TOP}/{name}", date_time=_EPOCH)
            info.external_attr = (stat.S_IFREG | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return path


def contents(course: Course) -> Iterator[tuple[str, bytes, int]]:
    """``(relative name, bytes, permission bits)`` of every file of the bundle."""
    for source in [course.release.parent] + [course.root / name for name in SHIPPED]:
        if not source.exists():
            raise FileNotFoundError(f"{source} is missing: the student bundle needs it")
        files = [source] if source.is_file() else sorted(source.rglob("*"))
        for file in files:
            relative = file.relative_to(course.root)
            if file.is_file() and not _ignored(relative, course.ignored):
                yield relative.as_posix(), file.read_bytes(), stat.S_IMODE(file.stat().st_mode)
    for name, sections in READMES.items():
        readme = student_readme((course.root / name).read_text(), sections)
        yield name, readme.encode(), 0o644
    yield "Makefile", student_makefile((course.root / "Makefile").read_text()).encode(), 0o644


def student_readme(readme: str, sections: tuple[str, ...] = READMES["README.md"]) -> str:
    """The title and introduction of a README, and its ``sections`` (for students)."""
    parts = re.split(r"^(?=## )", readme, flags=re.MULTILINE)
    kept = [parts[0]] + [part for part in parts[1:] if part.splitlines()[0][3:].strip() in sections]
    return "".join(kept).rstrip() + "\n"


def student_makefile(makefile: str) -> str:
    """The Makefile's header (what precedes the first rule: its variables) and the rules
    ``STUDENT_RULES`` with their recipes; anything else belongs to the rule above it."""
    kept, keep = [], True
    for line in makefile.replace("\\\n", " ").splitlines():  # continued lines joined
        rule = re.match(r"^([A-Za-z.-]+):", line)
        if rule:
            keep = rule.group(1) in (*STUDENT_RULES, ".PHONY")
            if rule.group(1) == ".PHONY":
                line = f".PHONY: {' '.join(STUDENT_RULES)}"
        if keep:
            kept.append(line)
    return "\n".join(kept).rstrip() + "\n"


def leaks(archive: Path, course: Course, top: str | None = TOP) -> list[str]:
    """What in the zip ``archive`` a student must not see (empty if nothing).

    ``archive`` is the bundle, whose files are under the folder ``top``, or another zip
    given to students with ``top=None`` (the package's wheel: its files at the root).
    Checks the member names (no private folder, no bytecode), and searches every text file
    (a notebook by its cell sources) for the solution and hidden-test blocks of the
    solutions of every assignment (each edition's: ``vae``, ``vae-pt``), their written
    answers, the bodies of the instructor's functions in ``autograder/`` and the reference
    values the hidden tests compare with.
    """
    # Secret text -> what it is, the first place it is found (a block both editions share
    # is named once, by the course's own assignment).
    secrets: dict[str, str] = {}
    instructor = _instructor_secrets(course.root / "autograder")
    for what, secret in itertools.chain(_solution_secrets(course), instructor):
        secrets.setdefault(secret, what)
    found = []
    with zipfile.ZipFile(archive) as bundle:
        for name in bundle.namelist():
            parts = Path(name).parts[1:] if top else Path(name).parts
            if (parts and parts[0] in PRIVATE) or _ignored(Path(*parts), course.ignored):
                found.append(f"{name}: must not be shipped")
            text = _searchable_text(name, bundle.read(name))
            found += [
                f"{name}: contains {what}"
                for secret, what in secrets.items()
                if f"\n{secret}\n" in f"\n{text}\n"
            ]
    return found


def _solution_secrets(course: Course) -> Iterator[tuple[str, str]]:
    """Solution and hidden-test blocks, and written reference answers, of the solutions of
    every assignment beside the course's (``solutions/*/``: the editions' too), the course's
    own first."""
    paths = course.source.parent.glob("*/*.ipynb")
    for path in sorted(paths, key=lambda path: (path.parent != course.source, path)):
        nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
        for index, cell in enumerate(nb.cells):
            where = f"{path.name} cell {index}"
            if path.parent != course.source:
                where += f" ({path.parent.name})"
            if cell.cell_type == "markdown" and is_solution(cell):
                yield f"the written answer of {where}", _normalized(cell.source)
            for kind, block in _SECRET_BLOCK.findall(cell.source):
                if _normalized(block):
                    yield f"the {kind.lower()} of {where}", _normalized(block)


def _instructor_secrets(folder: Path) -> Iterator[tuple[str, str]]:
    """Bodies (two lines or more) of the functions in the ``.py`` files under ``folder``, and
    the reference values (numbers of six or more digits) of its JSON files."""
    for path in sorted(folder.rglob("*.py")):
        source = path.read_text()
        lines = source.splitlines()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                body = _normalized("\n".join(lines[_first_line(node) - 1 : node.end_lineno]))
                if body.count("\n") >= 1:
                    yield f"the body of {path.relative_to(folder)}:{node.name}", body
    for path in sorted(folder.rglob("*.json")):
        for number in _numbers(json.loads(path.read_text())):
            text = repr(number)
            if sum(ch.isdigit() for ch in text) >= 6:
                yield f"the value {text} of {path.name}", text


def _first_line(function: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """The line where a function's code starts, after its docstring (if it has more)."""
    first, *rest = function.body
    docstring = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
    return rest[0].lineno if docstring and rest else first.lineno


def _numbers(node) -> Iterator[float]:
    if isinstance(node, float):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _numbers(value)
    elif isinstance(node, list):
        for value in node:
            yield from _numbers(value)


def _searchable_text(name: str, data: bytes) -> str:
    """A member's text, normalized as the secrets are; a notebook's cell sources; binary: ''."""
    try:
        text = data.decode()
    except UnicodeDecodeError:
        return ""
    if name.endswith(".ipynb"):
        nb = nbformat.reads(text, as_version=nbformat.NO_CONVERT)
        text = "\n".join(cell.source for cell in nb.cells)
    return _normalized(text)


def _normalized(text: str) -> str:
    """Non-blank lines, stripped: indentation and blank lines do not hide a copy."""
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def _ignored(relative: Path, ignored: list[str]) -> bool:
    """A path with a part matching nbgrader's ignore globs (caches, checkpoints, bytecode)."""
    return any(fnmatch(part, glob) for part in relative.parts for glob in ignored)
