"""The class report on disk: a self-contained HTML page, a score histogram PNG and JSON."""

import base64
import html
import json
from pathlib import Path

from matplotlib.figure import Figure

from autograder.report import ClassReport

#: Where ``python -m autograder report`` writes, relative to the course directory.
REPORT_DIR = Path("build", "report")

_STYLE = """
body { font-family: sans-serif; margin: 2em; max-width: 70em; }
table { border-collapse: collapse; margin-bottom: 2em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.7em; text-align: left; }
td.number { text-align: right; }
td { white-space: pre-line; }
tr.mismatch { background: #fdd; }
.bar { background: #4a7; height: 0.8em; display: inline-block; }
"""


def write(report: ClassReport, folder: Path) -> dict[str, Path]:
    """Write ``report.html``, ``scores.png`` and ``report.json`` into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {name: folder / name for name in ("report.html", "scores.png", "report.json")}
    histogram(report, paths["scores.png"])
    paths["report.html"].write_text(page(report, paths["scores.png"].read_bytes()))
    paths["report.json"].write_text(json.dumps(report.to_json(), indent=2) + "\n")
    return paths


def histogram(report: ClassReport, path: Path) -> None:
    """A bar per score bin: how many students got each score."""
    scores = [s.score for s in report.students if s.score is not None]
    top = max([s.max_score for s in report.students] + [1.0])
    if top <= 40:  # a bar per whole point, centred on it
        bins, span = int(top) + 1, (-0.5, int(top) + 0.5)
    else:
        bins, span = 40, (0.0, top)
    # A bare Figure draws with Agg, whatever pyplot's backend.
    fig = Figure(figsize=(6, 3.2), dpi=100)
    ax = fig.subplots()
    ax.hist(scores, bins=bins, range=span, rwidth=0.9)
    ax.set_xlabel(f"score (out of {top:g})")
    ax.set_ylabel("students")
    ax.set_title(f"{report.assignment}: scores of {len(scores)} submissions")
    ax.yaxis.get_major_locator().set_params(integer=True)
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})


def page(report: ClassReport, png: bytes) -> str:
    """The report as one HTML document, the histogram embedded (no external files)."""
    image = base64.b64encode(png).decode("ascii")
    mismatches = len(report.mismatches)
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>Class report: {html.escape(report.assignment)}</title>",
            f"<style>{_STYLE}</style></head><body>",
            f"<h1>Class report: {html.escape(report.assignment)}</h1>",
            f"<p>{len(report.students)} students, {len(report.tests)} autograded tests."
            + (
                f" <strong>{mismatches} differ from their expected score.</strong>"
                if mismatches
                else ""
            )
            + "</p>",
            f'<img alt="histogram of the scores" src="data:image/png;base64,{image}">',
            "<h2>Students</h2>",
            _students_table(report),
            "<h2>Pass rate per test</h2>",
            _bar_table(
                ["test", "points", "passed", "pass rate", ""],
                [
                    (t.test, (f"{t.points:g}", f"{t.passed}/{t.graded}", f"{t.pass_rate:.0%}"))
                    for t in report.tests
                ],
                [t.pass_rate for t in report.tests],
            ),
            "<h2>Points lost per exercise</h2>",
            _bar_table(
                ["exercise", "points", "lost per student", "students who lost some", ""],
                [
                    (e.title, (f"{e.points:g}", f"{e.mean_lost:.2f}", f"{e.losing}/{e.graded}"))
                    for e in report.exercises
                ],
                [e.mean_lost / e.points if e.points else 0.0 for e in report.exercises],
            ),
            "<h2>Most common mistakes</h2>",
            _table(
                [
                    "failed",
                    "mistake",
                    "what it means (an error: its message, numbers as …)",
                    "tests",
                    "students",
                ],
                [
                    [
                        _td(str(m.count), number=True),
                        _td(m.verdict),
                        _td(m.text),
                        _td(", ".join(m.tests)),
                        _td(", ".join(m.students)),
                    ]
                    for m in report.mistakes
                ],
            )
            if report.mistakes
            else "<p>No failed tests.</p>",
            "</body></html>",
            "",
        ]
    )


def _students_table(report: ClassReport) -> str:
    header = ["student", "score", "max"]
    header += ["expected", ""] if report.has_expected else []
    rows = []
    for s in report.students:
        row = [
            _td(s.student),
            _td("-" if s.score is None else f"{s.score:g}", number=True),
            _td(f"{s.max_score:g}", number=True),
        ]
        if report.has_expected:
            expected = "?" if s.expected is None else f"{s.expected:g}"
            row += [_td(expected, number=True), _td("mismatch" if s.mismatch else "")]
        manual = " (written answers to grade by hand)" if s.needs_manual_grade else ""
        failed = ", ".join(s.failures) or "none"
        rows.append(
            [
                *row,
                _td("no graded submission" if s.score is None else failed + manual),
                _td("\n".join(s.comments)),
            ]
        )
    classes = ["mismatch" if s.mismatch else "" for s in report.students]
    return _table([*header, "failed tests", "graders' comments"], rows, classes)


def _bar_table(
    header: list[str], rows: list[tuple[str, tuple[str, ...]]], fractions: list[float]
) -> str:
    """A table whose rows ``(name, numbers)`` end with a bar at their ``fractions`` of 1."""
    cells = [
        [_td(name), *(_td(number, number=True) for number in numbers), _bar(fraction)]
        for (name, numbers), fraction in zip(rows, fractions, strict=True)
    ]
    return _table(header, cells)


def _table(header: list[str], rows: list[list[str]], classes: list[str] | None = None) -> str:
    """An HTML table of rows of ``<td>`` cells, each row with an optional class."""
    head = "".join(f"<th>{html.escape(title)}</th>" for title in header)
    body = "".join(
        f'<tr class="{cls}">{"".join(row)}</tr>'
        for row, cls in zip(rows, classes or [""] * len(rows), strict=True)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _td(text: str, number: bool = False) -> str:
    """A table cell holding ``text`` (escaped); numbers are right-aligned."""
    opening = '<td class="number">' if number else "<td>"
    return f"{opening}{html.escape(text)}</td>"


def _bar(fraction: float) -> str:
    """A cell with a bar 100 pixels wide at ``fraction`` 1."""
    return f'<td><span class="bar" style="width: {100 * fraction:.0f}px"></span></td>'
