"""What the student writes, declared in the package: stubs, and how notebooks attach the
student's version.

A stub keeps the signature and the shape-annotated docstring of a function the student
implements (the bounds of ``models.VAE``, the densities of ``distributions``), so readers and
tools see it, and raises a ``NotImplementedError`` that names the notebook and exercise where
it is written (from the registry, ``course_utils.exercises``). The notebook's solution cell
attaches the student's function over the stub: ``@add_to_class(VAE)`` for a method,
``@add_to_module(distributions)`` for a function. The idea is d2l's ``add_to_class``
(Zhang et al., Dive into Deep Learning, sec. 3.2).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from types import ModuleType
from typing import TypeVar

from course_utils.exercises import exercise
from course_utils.language import msg

__all__ = ["add_to_class", "add_to_module", "not_implemented"]

F = TypeVar("F", bound=Callable)


def not_implemented(owner: str, name: str, decorator: str) -> NotImplementedError:
    """The error of the stub ``owner.name`` the student has not written yet, naming where to
    write it and the ``decorator`` that attaches it."""
    try:
        where = exercise(f"{owner}.{name}")  # a method of a named class (GMVAE)
    except KeyError:
        where = exercise(name)
    message = msg(
        "stubs.not_implemented",
        "{owner}.{name} is not implemented yet: write it in notebook {notebook}.ipynb, "
        "'{title}', and run that cell (it attaches your function with {decorator}). Each "
        "notebook runs in its own kernel: what another notebook attached is not here.",
        owner=owner,
        name=name,
        notebook=where.notebook,
        title=where.heading,
        decorator=decorator,
    )
    return NotImplementedError(str(message))


def _attach(owner: type | ModuleType, label: str) -> Callable[[F], F]:
    def attach(function: F) -> F:
        name = function.__name__
        if not hasattr(owner, name):
            close = difflib.get_close_matches(name, dir(owner), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise AttributeError(f"{label} declares no {name!r} to implement{hint}")
        setattr(owner, name, function)
        return function

    return attach


def add_to_class(cls: type) -> Callable[[F], F]:
    """Attach the decorated function to ``cls`` as the method of the same name.

    The method must already be declared in ``cls`` (as the bounds are in ``VAE``), so
    a misspelt name fails here instead of silently adding a second method.
    """
    return _attach(cls, cls.__name__)


def add_to_module(module: ModuleType) -> Callable[[F], F]:
    """Attach the decorated function to ``module`` as the function of the same name.

    The function must already be declared there (as the densities are in
    ``course_utils.distributions``), so a misspelt name fails here. Code that reads the
    function from the module at call time (``distributions.log_normal(...)``: the tests do)
    then runs the student's version; the decorated name in the notebook is the same function.
    """
    return _attach(module, module.__name__.rsplit(".", 1)[-1])
