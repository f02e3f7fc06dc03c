"""The reference values of the hidden tests: computed with the reference bounds and written
into the hidden test blocks of the solution notebooks.

    python -m autograder.reference.values            # compute and write them (about 5 min)
    python -m autograder.reference.values --check    # recompute with fewer calls and compare
    python -m autograder.reference.values check_gmvae_elbo_reference    # only these checks

A hidden test carries its numbers itself (nbgrader's pattern: the hidden block is the
secret, cut from the release), so grading reads no file and the student's code, which runs
in the same kernel, finds nothing to open. Each hidden block that the exercise registry
names (``TestCell.hidden``) is rewritten whole: a comment with the provenance (command,
seed, calls, versions, checkpoint hashes) and the call of its check with the values. Each
value is a mean with its standard error over many calls of the reference bound, on a
shipped checkpoint and fixed images; the quadrature check holds the exact log p(x) of its
images and the largest gap a correct bound leaves at the largest k.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import math
import platform
import re
import sys
import textwrap
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from types import SimpleNamespace

import nbformat
import torch

from autograder.cells import grade_id_of
from autograder.course import Course
from autograder.reference import bounds as reference_bounds
from course_utils.checkpoints import PRETRAINED_DIR, load_pretrained
from course_utils.exercises import EXERCISES
from course_utils.grading import checkpoints
from course_utils.grading.common import Z_SCORE, repeated_means
from course_utils.likelihood import DEFAULT_EXTENT, DEFAULT_POINTS, quadrature_error
from course_utils.training import set_seed

COMMAND = "python -m autograder.reference.values"
SEED = 0
REPEATS = 2000
#: Calls per reference value of the IWAE bound at k up to 1000, whose calls cost up to 100
#: times more (the quadrature check's k = 100 costs 35 ms a call: it has the usual calls).
IWAE_REPEATS = 200
#: The hidden block of a test cell, markers included.
HIDDEN_BLOCK = re.compile(r"### BEGIN HIDDEN TESTS\n.*?### END HIDDEN TESTS", re.DOTALL)

#: A hidden check's arguments: keyword -> value.
Arguments = dict[str, object]


def _means(bound: Callable, x, *args, repeats: int) -> dict[str, tuple[float, float]]:
    """``{"bound" | "kl" | "rec": (mean, standard error)}`` over ``repeats`` seeded calls."""
    set_seed(SEED)
    return repeated_means(bound, x, *args, repeats=repeats)


def _elbo_reference(checkpoint: str, repeats: int) -> Arguments:
    """The negative ELBO of the shipped ``checkpoint`` on ``checkpoints.reference_batch()``."""
    model = load_pretrained(checkpoint)
    x = checkpoints.reference_batch()
    return {"reference": _means(model.negative_elbo_bound, x, repeats=repeats)}


def _iwae_reference(checkpoint: str, repeats: int) -> Arguments:
    """The negative IWAE bound of the shipped ``checkpoint`` on
    ``checkpoints.reference_batch()``, for each k of ``checkpoints.REFERENCE_KS``."""
    model = load_pretrained(checkpoint)
    x = checkpoints.reference_batch()
    return {
        "references": {
            k: _means(model.negative_iwae_bound, x, k, repeats=repeats)
            for k in checkpoints.REFERENCE_KS
        }
    }


def _quadrature_reference(repeats: int) -> Arguments:
    """The exact log p(x) of ``checkpoints.quadrature_batch()`` under the shipped ``vae_z2``,
    and the largest gap ``log p(x) - IWAE_k`` accepted at the largest k: the reference's mean
    gap over ``repeats`` calls plus ``Z_SCORE`` of its standard errors.

    log p(x) is computed on the default grid, as the finer grid of ``quadrature_error`` on
    a grid with half the points; the notes give Richardson's estimate of its error (a third
    of the change between the two, the midpoint rule's error being ~ h^2) and the change on
    doubling the extent.
    """
    model = load_pretrained(checkpoints.QUADRATURE_CHECKPOINT)
    x = checkpoints.quadrature_batch()
    error = quadrature_error(model, x, points=DEFAULT_POINTS // 2)
    log_px = error.log_px + error.finer  # (n,) float64, on the DEFAULT_POINTS grid
    niwae, se = _means(
        model.negative_iwae_bound, x, max(checkpoints.QUADRATURE_KS), repeats=repeats
    )["bound"]
    gap = log_px.mean().item() + niwae
    return {
        "log_px": log_px.tolist(),
        "max_gap": gap + Z_SCORE * se,
        "_notes": (
            f"log p(x) on a {DEFAULT_POINTS}x{DEFAULT_POINTS} grid over +-{DEFAULT_EXTENT:g}, "
            f"its error estimated at {error.finer_error.abs().max().item():.1e} nats at most "
            f"(Richardson), {error.wider.abs().max().item():.1e} from the extent; the "
            f"reference's gap at "
            f"k={max(checkpoints.QUADRATURE_KS)}: {gap:.4f} (standard error {se:.4f})"
        ),
    }


#: Hidden check -> what computes its arguments from (calls of the bound for a value).
COMPUTE: dict[str, Callable[[int], Arguments]] = {
    "check_elbo_reference": functools.partial(_elbo_reference, checkpoints.VAE_CHECKPOINT),
    "check_iwae_reference": functools.partial(_iwae_reference, checkpoints.VAE_CHECKPOINT),
    "check_iwae_quadrature_reference": _quadrature_reference,
    "check_gmvae_elbo_reference": functools.partial(_elbo_reference, checkpoints.GMVAE_CHECKPOINT),
    "check_gmvae_iwae_reference": functools.partial(_iwae_reference, checkpoints.GMVAE_CHECKPOINT),
}
#: Hidden check -> calls per value (the IWAE bound costs up to 100 times more per call).
CALLS = {
    "check_elbo_reference": REPEATS,
    "check_iwae_reference": IWAE_REPEATS,
    "check_iwae_quadrature_reference": REPEATS,
    "check_gmvae_elbo_reference": REPEATS,
    "check_gmvae_iwae_reference": IWAE_REPEATS,
}


def hidden_cells() -> Iterator[tuple[str, str, str, str]]:
    """``(notebook, grade_id, grading module, hidden check)`` of every hidden check."""
    for exercise in EXERCISES:
        for test in exercise.tests:
            for check in test.hidden:
                yield exercise.notebook, test.grade_id, exercise.module, check


def compute(scale: float = 1.0, only: Collection[str] = ()) -> dict[str, Arguments]:
    """Hidden check -> its arguments, with ``scale`` times the usual calls per value; for the
    checks ``only`` if given, else for all."""
    reference_bounds.install()
    try:
        return {
            check: COMPUTE[check](max(2, round(CALLS[check] * scale)))
            for _, _, _, check in hidden_cells()
            if not only or check in only
        }
    finally:
        reference_bounds.uninstall()


def _literal(value: object, indent: str = "") -> str:
    """A Python literal, laid out as ruff would: a dict one entry per line, a list or tuple on
    one line while it fits in 100 characters; numbers rounded to 6 decimals."""
    inner = indent + "    "
    if isinstance(value, float):
        return repr(round(value, 6))
    if isinstance(value, str):
        return '"' + value.replace('"', '\\"') + '"'
    if isinstance(value, dict):
        entries = [f"{inner}{_literal(k)}: {_literal(v, inner)}," for k, v in value.items()]
        return "{\n" + "\n".join(entries) + f"\n{indent}}}"
    if isinstance(value, list | tuple):
        opening, closing = "[]" if isinstance(value, list) else "()"
        items = [_literal(item, inner) for item in value]
        flat = opening + ", ".join(items) + closing
        if len(indent) + len(flat) + 20 <= 100:
            return flat
        return opening + "\n" + "".join(f"{inner}{item},\n" for item in items) + indent + closing
    return repr(value)


def block(module: str, check: str, arguments: Arguments, provenance: str) -> str:
    """The hidden block that calls ``module.check`` with ``arguments``."""
    notes = arguments.get("_notes")
    comment = f"Written by `{COMMAND}`: {provenance}." + (f" {notes}." if notes else "")
    lines = [
        "### BEGIN HIDDEN TESTS",
        textwrap.fill(comment, 92, initial_indent="# ", subsequent_indent="# "),
    ]
    lines.append(f"{module}.{check}(")
    for name, value in arguments.items():
        if not name.startswith("_"):
            lines.append(f"    {name}={_literal(value, '    ')},")
    lines += [")", "### END HIDDEN TESTS"]
    return "\n".join(lines)


def provenance(calls: int) -> str:
    """Seed, calls, versions and the hashes of the checkpoints the values come from."""
    hashes = ", ".join(
        f"{path.stem} {hashlib.sha256(path.read_bytes()).hexdigest()[:12]}"
        for path in sorted(PRETRAINED_DIR.glob("*.pt"))
    )
    return (
        f"seed {SEED}, {calls} calls of the reference bound per value, torch "
        f"{torch.__version__}, Python {platform.python_version()}, checkpoints {hashes}"
    )


def write(course: Course, values: dict[str, Arguments]) -> list[Path]:
    """Rewrite the hidden block of every cell whose hidden check ``values`` holds; return the
    notebooks."""
    written = []
    for notebook, grade_id, module, check in hidden_cells():
        if check not in values:
            continue
        path = course.source / f"{notebook}.ipynb"
        nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
        cell = _cell(nb, grade_id, path)
        new = block(module, check, values[check], provenance(CALLS[check]))
        start, end = HIDDEN_BLOCK.search(cell.source).span()
        cell.source = cell.source[:start] + new + cell.source[end:]
        nbformat.write(nb, path)
        written.append(path)
    return sorted(set(written))


def _cell(nb: nbformat.NotebookNode, grade_id: str, path: Path) -> nbformat.NotebookNode:
    """The cell ``grade_id`` of ``nb``, which must hold exactly one hidden block."""
    cells = [cell for cell in nb.cells if grade_id_of(cell) == grade_id]
    if len(cells) != 1 or len(HIDDEN_BLOCK.findall(cells[0].source)) != 1:
        raise ValueError(f"{path}: cell {grade_id!r} must exist once with one hidden test block")
    return cells[0]


def hidden_block(course: Course, notebook: str, grade_id: str) -> str:
    """The code of a test cell's hidden block (without the markers)."""
    path = course.source / f"{notebook}.ipynb"
    source = _cell(nbformat.read(path, as_version=4), grade_id, path).source
    return "\n".join(HIDDEN_BLOCK.search(source).group().splitlines()[1:-1])


def stored(course: Course) -> dict[str, Arguments]:
    """Hidden check -> the keyword arguments its hidden block passes, read by running the
    block with a stand-in for the grading module that records them."""
    found: dict[str, Arguments] = {}
    for notebook, grade_id, module, check in hidden_cells():

        def record(check=check, **kwargs):
            found[check] = kwargs

        exec(hidden_block(course, notebook, grade_id), {module: SimpleNamespace(**{check: record})})
    return found


def disagreements(stored_values: dict[str, Arguments], fresh: dict[str, Arguments]) -> list[str]:
    """Where freshly computed values stray from the stored ones by more than ``Z_SCORE``
    combined standard errors (or, for the exact log p(x), by more than 1e-3 nats)."""
    found = []
    for check, arguments in fresh.items():
        for path, new_value, old_value in _leaves(check, arguments, stored_values[check]):
            if isinstance(new_value, tuple):
                (mean, se), (old_mean, old_se) = new_value, old_value
                tolerance = Z_SCORE * math.hypot(se, old_se) + 1e-6
                if abs(mean - old_mean) > tolerance:
                    found.append(
                        f"{path}: stored {old_mean:.4f}, now {mean:.4f} (+-{tolerance:.4f})"
                    )
            elif path.endswith("log_px"):
                worst = max(abs(a - b) for a, b in zip(new_value, old_value, strict=True))
                if worst > 1e-3:
                    found.append(f"{path}: differs by up to {worst:.2e} nats")
    return found


def _leaves(path: str, new: object, old: object) -> Iterator[tuple[str, object, object]]:
    """``(path, new, old)`` of the (mean, se) pairs and lists under two argument trees."""
    if isinstance(new, dict):
        for key, value in new.items():
            if not str(key).startswith("_") and key != "max_gap":
                yield from _leaves(f"{path}.{key}", value, old[key])
    else:
        yield path, new, old


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="recompute with a tenth of the calls and compare with the stored values",
    )
    parser.add_argument(
        "checks",
        nargs="*",
        metavar="CHECK",
        help=f"only these hidden checks (default: all, {', '.join(COMPUTE)})",
    )
    args = parser.parse_args(argv)
    unknown = set(args.checks) - COMPUTE.keys()
    if unknown:
        parser.error(f"unknown hidden check(s) {', '.join(sorted(unknown))}")
    course = Course()
    if args.check:
        found = disagreements(stored(course), compute(scale=0.1, only=args.checks))
        print("\n".join(found) or "the stored reference values reproduce")
        return int(bool(found))
    for path in write(course, compute(only=args.checks)):
        print(f"wrote the hidden reference values of {path}", file=sys.stderr)
    print("regenerate the release and the gradebook: python -m autograder release", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
