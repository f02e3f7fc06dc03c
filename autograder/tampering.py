"""What in a student's code changes what the tests rely on: read from its syntax tree.

Student code runs in the kernel that runs the tests, so it can reach the tests' tools:
rebind ``torch.allclose``, replace the grading checks, hook IPython, make its results
compare equal to anything. The grading sandbox keeps it from the course's files; this scan
flags the rest for a grade by hand (``nbgrader_hooks.WithholdTampered``). It reads the code's
syntax tree, not its text: comments, strings and the student's own objects (``setattr(self,
...)``) are not flagged. No scan is complete; the hidden tests and the instructor do the rest.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator

from course_utils.language import Message, msg

#: Names of the modules the tests use, whatever the notebook imports.
MODULES = {
    "torch",
    "math",
    "numpy",
    "np",
    "builtins",
    "course_utils",
    "densities",
    "elbo",
    "iwae",
    "common",
}
#: Attributes through which code changes how IPython runs or reports cells.
IPYTHON_HOOKS = {
    "input_transformers_cleanup",
    "input_transformers_post",
    "ast_transformers",
    "run_cell",
    "showtraceback",
    "set_custom_exc",
    "settrace",
    "setprofile",
}
#: Comparison methods: a result that defines them can compare equal to anything.
COMPARISONS = {"__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__bool__"}
#: Calls that run code the scan cannot read, or reach modules by name: builtins called by
#: name, and ``importlib.import_module``.
DYNAMIC = {"exec", "eval", "compile", "__import__"}

#: What each finding means, by id.
FINDINGS = {
    "module_attribute": msg("tampering.module_attribute", "assigns to an attribute of a module"),
    "setattr": msg("tampering.setattr", "calls setattr or delattr on a module"),
    "module_namespace": msg(
        "tampering.module_namespace", "writes into a module's namespace (vars, __dict__, globals)"
    ),
    "ipython_hooks": msg("tampering.ipython_hooks", "changes how IPython runs or reports cells"),
    "modules_or_builtins": msg(
        "tampering.modules_or_builtins", "reaches sys.modules or the builtins"
    ),
    "comparisons": msg("tampering.comparisons", "defines how its results compare"),
    "dynamic_code": msg(
        "tampering.dynamic_code", "runs code it builds at run time (exec, eval, __import__)"
    ),
}


def findings(source: str, modules: set[str] | frozenset[str] = frozenset()) -> list[Message]:
    """``finding id: the line`` for each thing in ``source`` that tampers, in line order.

    ``modules`` adds names the notebook binds to modules (``import torch as t``); the
    imports of ``source`` itself count too. Code that does not parse has nothing to flag.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    names = MODULES | set(modules) | imported_names(tree)
    lines = source.splitlines()
    found = sorted(set(_scan(tree, names)))
    return [
        msg(
            "tampering.finding", "{what}: {line}", what=FINDINGS[what], line=lines[line - 1].strip()
        )
        for line, what in found
    ]


def module_names(sources: Iterable[str]) -> set[str]:
    """The names the imports of ``sources`` (cells' code) bind; code that does not parse
    binds none."""
    names = set()
    for source in sources:
        try:
            names |= imported_names(ast.parse(source))
        except SyntaxError:
            continue
    return names


def imported_names(tree: ast.AST) -> set[str]:
    """The names an ``import`` binds in ``tree`` (``import a.b as c``: ``c``; ``import a.b``:
    ``a``); ``from m import n`` binds ``n``, which may be a module too."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                names.add(alias.asname or alias.name.split(".")[0])
    return names


def _root(node: ast.AST) -> str | None:
    """The name an attribute chain or subscript starts from: ``a`` of ``a.b[c].d``."""
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _targets(node: ast.AST) -> list[ast.AST]:
    if isinstance(node, ast.Assign):
        return node.targets
    if isinstance(node, ast.AugAssign | ast.AnnAssign):
        return [node.target]
    if isinstance(node, ast.Delete):
        return node.targets
    return []


def _scan(tree: ast.AST, modules: set[str]) -> Iterator[tuple[int, str]]:
    """``(line, finding id)`` of every tampering node of ``tree``."""
    for node in ast.walk(tree):
        for target in _targets(node):
            if isinstance(target, ast.Attribute) and _root(target) in modules:
                yield node.lineno, "module_attribute"
            if isinstance(target, ast.Subscript) and _writes_a_namespace(target.value, modules):
                yield node.lineno, "module_namespace"
        if isinstance(node, ast.Call):
            function = node.func
            bare = function.id if isinstance(function, ast.Name) else None
            if bare in ("setattr", "delattr") and node.args and _root(node.args[0]) in modules:
                yield node.lineno, "setattr"
            if bare in DYNAMIC or getattr(function, "attr", None) == "import_module":
                yield node.lineno, "dynamic_code"
        if isinstance(node, ast.Attribute):
            registers = node.attr == "register" and getattr(node.value, "attr", "") == "events"
            if node.attr in IPYTHON_HOOKS or registers:
                yield node.lineno, "ipython_hooks"
            if node.attr in ("modules", "__builtins__") and _root(node) == "sys":
                yield node.lineno, "modules_or_builtins"
        if isinstance(node, ast.Name) and node.id in ("__builtins__", "builtins"):
            yield node.lineno, "modules_or_builtins"
        if isinstance(node, ast.FunctionDef) and node.name in COMPARISONS:
            yield node.lineno, "comparisons"


def _writes_a_namespace(node: ast.AST, modules: set[str]) -> bool:
    """``vars(m)``, ``m.__dict__``, ``globals()``-like namespaces of a module."""
    if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "vars":
        return bool(node.args) and _root(node.args[0]) in modules
    return isinstance(node, ast.Attribute) and node.attr == "__dict__" and _root(node) in modules
