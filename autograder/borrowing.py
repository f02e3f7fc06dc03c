"""Solutions that answer an exercise with the course's own code: read from the syntax tree.

The checks run in the student's kernel, so the course code that computes an exercise's
answer is within the student's reach: the reference densities of ``course_utils.grading``
(the checks compare with them and put them in place of a helper's), a model's prior
(``MixturePrior.log_prob`` is Exercise 4.1's mixture density), the evaluation's private
ELBO. A solution that calls them for its own exercise passes every test without answering
it. The registry says, per exercise, which names are its answer (``Exercise.answered_by``:
a name, or ``.attr`` for an attribute only); a solution cell that uses one, directly or
through a name another cell of the student's bound to it, is withheld for a grade by hand
(``nbgrader_hooks.WithholdBorrowed``). ``torch.distributions`` is a correct answer and is
never flagged; neither is the same name in another exercise's solution (a bound may compute
its KL any correct way).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

from course_utils.exercises import Exercise


def _parse(source: str) -> ast.AST | None:
    try:
        return ast.parse(source)
    except SyntaxError:
        return None


def _names_of(node: ast.AST) -> set[str]:
    """Every name a node mentions: identifiers, attributes, import paths and string
    constants that spell a dotted path (``importlib.import_module("course_utils.grading")``)."""
    found = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Name):
            found.add(child.id)
        elif isinstance(child, ast.Attribute):
            found.add("." + child.attr)
        elif isinstance(child, ast.alias):
            found.update(child.name.split("."))
        elif isinstance(child, ast.ImportFrom) and child.module:
            found.update(child.module.split("."))
        elif isinstance(child, ast.Constant) and isinstance(child.value, str):
            found.update(part for part in child.value.split(".") if part.isidentifier())
    return found


def _answers(names: set[str], where: Exercise) -> list[str]:
    """The entries of ``where.answered_by`` that ``names`` (from ``_names_of``) hold."""
    found = []
    for entry in where.answered_by:
        attribute_only = entry.startswith(".")
        bare = entry.lstrip(".")
        if ("." + bare) in names or (not attribute_only and bare in names):
            found.append(bare)
    return found


def aliases(sources: Iterable[str], where: Exercise) -> set[str]:
    """Names the student's cells ``sources`` bind to an answer of ``where``: an import of one
    (``from course_utils.grading.common import gaussian_kl as my_kl``) or an assignment from
    an expression that uses one (``kl = common.gaussian_kl``)."""
    bound = set()
    for tree in filter(None, map(_parse, sources)):
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom) and _answers(_names_of(node), where):
                bound.update(alias.asname or alias.name.split(".")[0] for alias in node.names)
            if isinstance(node, ast.Assign) and _answers(_names_of(node.value), where):
                for target in node.targets:
                    bound.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
            if isinstance(node, ast.FunctionDef) and _answers(_names_of(node), where):
                bound.add(node.name)
    return bound


def borrowed(source: str, where: Exercise, bound: set[str] = frozenset()) -> list[str]:
    """What in the solution cell ``source`` of exercise ``where`` answers it with the course's
    own code: each name used (``bound``: names other cells of the student's bound to such
    code, see ``aliases``), in the order of the registry."""
    tree = _parse(source)
    if tree is None:
        return []
    names = _names_of(tree)
    found = _answers(names, where)
    found += sorted(name for name in bound if name in names)
    return found
