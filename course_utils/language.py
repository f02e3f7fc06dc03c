"""The language of what the course's code says to a student: the checks' failure messages, the
mistakes' explanations, and the titles, labels and legends of the figures and widgets.

English is written in the code, where it is said, as a template with named fields:
``msg("elbo.negative_terms", "kl = {kl:.4f} and rec = {rec:.4f}: ...", kl=kl, rec=rec)``.
A translated edition's templates live in ``course_utils/locale/<language>.json``, keyed by
the message id, each with the SHA-256 of the English template it translates
(``{"en_sha256": ..., "text": ...}``). A message is rendered when it is shown (``str``, or a
field of an f-string or of another message), in the reader's language, with the same fields
formatted by the same specs, so numbers, shapes and names read the same in both languages
(Python's decimal point included). A translation whose English template changed since, or
that does not format, is not used: the English is shown instead (``tests/test_translation.py``
fails on both, naming the id).

Which language: the notebooks' code is the same in every edition, so the kernel cannot tell
from the code. It tells from the folder it runs in, which nbgrader names after the assignment
(``vae-pt``): autograde runs each notebook in ``<autograded>/<student>/<assignment>/`` (the
grading sandbox keeps that path), Validate and a kernel started by JupyterLab run in the
notebook's own folder, which is the assignment's as nbgrader fetches it, as the student bundle
unpacks it (``notebooks/vae-pt/``) and as the release is committed. The environment variable
``VAE_COURSE_LANGUAGE`` (``en``, ``pt_BR``) overrides the folder, for a notebook run from a
folder of another name. English is the default.

This module uses nothing but the standard library: ``course_utils.exercises`` (data only)
imports it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import string
from pathlib import Path

__all__ = [
    "EDITIONS",
    "ENGLISH",
    "ENVIRONMENT",
    "LOCALE",
    "Message",
    "catalog",
    "digest",
    "fields",
    "language",
    "languages",
    "msg",
    "of_assignment",
]

ENGLISH = "en"
#: Overrides the language the notebook's folder says.
ENVIRONMENT = "VAE_COURSE_LANGUAGE"
#: The assignment (folder) of each translated edition -> its language
#: (``autograder.translation.EDITIONS`` builds them).
EDITIONS = {"vae-pt": "pt_BR"}
#: The translations of the messages, one file per language.
LOCALE = Path(__file__).parent / "locale"


def languages() -> tuple[str, ...]:
    """English and every language the editions are translated into."""
    return (ENGLISH, *sorted(set(EDITIONS.values())))


def language() -> str:
    """The reader's language, now: ``VAE_COURSE_LANGUAGE`` if it names one of
    ``languages()`` (``pt-BR`` reads as ``pt_BR``), else the edition whose assignment names
    the working directory, else English."""
    chosen = os.environ.get(ENVIRONMENT, "").strip().replace("-", "_")
    if chosen:
        return chosen if chosen in languages() else ENGLISH
    try:
        folder = Path.cwd()
    except OSError:  # the working directory was removed
        return ENGLISH
    return of_assignment(folder.name)


def of_assignment(assignment: str) -> str:
    """The language of the assignment (or of the folder nbgrader names after it): an
    edition's, else English."""
    return EDITIONS.get(assignment, ENGLISH)


def digest(template: str) -> str:
    """SHA-256 (hex) of an English template, as UTF-8: what a translation records."""
    return hashlib.sha256(template.encode()).hexdigest()


@functools.cache
def catalog(language: str) -> dict[str, dict[str, str]]:
    """The translations into ``language``: ``{id: {"en_sha256": ..., "text": ...}}`` (empty
    for English, or a language without a file)."""
    path = LOCALE / f"{language}.json"
    if language == ENGLISH or not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def fields(template: str) -> list[tuple[str, str, str]]:
    """The replacement fields of a template, sorted: ``(name, conversion, format spec)``."""
    return sorted(
        (name, conversion or "", spec or "")
        for _, name, spec, conversion in string.Formatter().parse(template)
        if name is not None
    )


class Message:
    """A message in the reader's language, rendered when it is shown: ``id`` (stable,
    ``module.what``), the English ``template`` (``str.format`` syntax) and its ``values``.

    A value may itself be a ``Message`` (a sentence of a diagnosis, a phrase shared by several
    messages): it is rendered in the same language."""

    __slots__ = ("id", "template", "values")

    def __init__(self, id: str, template: str, values: dict | None = None) -> None:
        self.id, self.template, self.values = id, template, values or {}

    def __str__(self) -> str:
        return self.said()

    def said(self, code: str | None = None) -> str:
        """The message in the language ``code`` (default: the reader's, ``language()``);
        English where its translation is missing, stale or does not format."""
        code = code or language()
        values = {k: v.said(code) if isinstance(v, Message) else v for k, v in self.values.items()}
        entry = catalog(code).get(self.id)
        if entry and entry["en_sha256"] == digest(self.template):
            try:
                return entry["text"].format(**values)
            except (KeyError, IndexError, ValueError):  # a field the English does not have
                pass
        return self.template.format(**values)

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def __repr__(self) -> str:
        return f"Message({self.id!r}, {str(self)!r})"


def msg(id: str, template: str, /, **values) -> Message:
    """The message ``id``, whose English is ``template`` with the named ``values``; shown in
    the reader's language. Both ``id`` and ``template`` are literal strings, where the message
    is said: ``autograder.translation`` reads them from the source."""
    return Message(id, template, values)
