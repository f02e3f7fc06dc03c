"""Canvas's gradebook import, its rules in Python, for the tests that read the course's
Canvas file (``autograder/lms_export.py``) as Canvas would.

The rules are those of ``GradebookImporter`` (``app/models/gradebook_importer.rb`` in
instructure/canvas-lms): a header row whose first columns name the student (``Student``,
``ID``, optionally ``SIS User ID``, ``SIS Login ID``, ``Integration ID``) and end with
``Section``; the course's custom columns (such as Notes) counted among those leading
columns, so they must come before the assignments; every remaining column, except the
computed scores, an assignment (matched by title, or new with the points of the ``Points
Possible`` row); students matched by ``SIS Login ID``; a decimal comma read as a point.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

#: Canvas's importer: header names that are never assignments or custom columns, and the
#: computed columns it drops (``GRADEBOOK_IMPORTER_RESERVED_NAMES``,
#: ``NON_ASSIGNMENT_COLUMN_HEADERS``).
CANVAS_RESERVED = {"Student", "LastName", "FirstName", "ID", "SIS User ID", "SIS Login ID"}
CANVAS_RESERVED |= {"Section", "Integration ID", "Root Account"}
CANVAS_COMPUTED = re.compile(
    "Current Score|Current Points|Current Grade|Final Score|Final Points|Final Grade"
    "|Override Score|Override Grade|Override Status"
)


def canvas_import(path: Path, custom_columns: set[str]) -> dict:
    """What Canvas's gradebook import makes of the file at ``path`` in a course whose
    gradebook has the custom columns ``custom_columns`` (such as ``Notes``): ``{"assignments":
    {title: points possible}, "students": {SIS login: {"grades": {title: grade},
    "custom": {column: text}}}}``. Raises ``ValueError`` where Canvas reports an invalid
    header. Reads the bytes as Canvas does (UTF-8, a byte-order mark kept in the first
    field, a decimal comma read as a point)."""
    with path.open(newline="", encoding="utf-8") as file:
        header, *rows = list(csv.reader(file))
    if not (len(header) > 3 and "Student" in header[0] and "ID" in header[1]):
        raise ValueError("Invalid header row: no Student and ID columns")
    custom = {
        i: h for i, h in enumerate(header) if h not in CANVAS_RESERVED and h in custom_columns
    }
    count = 3
    if re.search(r"SIS\s+Login\s+ID", header[2]):
        count += 1
    elif re.search(r"SIS\s+User\s+ID", header[2]) and re.search(r"SIS\s+Login\s+ID", header[3]):
        count += 2 + bool(re.search(r"Integration\s+ID", header[4]))
    login = header.index("SIS Login ID")
    if "Section" not in header[count - 1]:
        raise ValueError("Invalid header row: the student columns do not end with Section")
    # The importer drops as many leading columns as there are student and custom columns.
    rest = header[count + len(custom) :]
    titles = [h for h in rest if not CANVAS_COMPUTED.search(h) and h not in custom.values()]
    index = {title: header.index(title) for title in titles}
    found = {"assignments": dict.fromkeys(titles), "students": {}}
    for row in rows:
        if "Points Possible" in row[0]:
            found["assignments"] = {t: row[i] or None for t, i in index.items()}
            continue
        if all(re.fullmatch(r"\s*(Muted|Manual Posting.*)?\s*", c, re.I) for c in row):
            continue
        grades = {t: re.sub(r"^(-?\d+),(\d+)$", r"\1.\2", row[i].strip()) for t, i in index.items()}
        texts = {name: row[i] for i, name in custom.items()}
        found["students"][row[login]] = {"grades": grades, "custom": texts}
    return found
