"""One source for every number (issue 21): each number the notebooks' markdown quotes is the
number its source gives (``autograder.reference.quotes``), each comparison the text states
holds over the recorded seeds, and the README's point totals are the notebooks'."""

import nbformat
import pytest

from autograder.course import Course
from autograder.reference import quotes

COURSE = Course()


def _texts(match_list):
    return [match.group(0) for match in match_list]


def test_every_quoted_number_is_its_sources():
    found = quotes.differences(COURSE)
    assert found == [], "\n".join(found) + "\nrun `python -m autograder.reference.quotes --write`"


def test_the_readme_states_the_notebooks_points():
    written, total = quotes.points(COURSE)
    stated = quotes.README_POINTS.findall(quotes.README.read_text())
    assert stated == [(str(written), str(total))]
    graded = [
        cell.metadata.nbgrader
        for path in sorted(COURSE.release.glob("*.ipynb"))
        for cell in nbformat.read(path, as_version=4).cells
        if cell.metadata.get("nbgrader", {}).get("grade")
    ]
    assert sum(meta["points"] for meta in graded) == total


@pytest.mark.parametrize(
    "text, numbers",
    [
        ("the GMVAE's 102.9 ± 0.3 nats against 104.0 ± 0.4", ["102.9 ± 0.3", "104.0 ± 0.4"]),
        (r"$\mathcal L_{1000}$ is $-103.97$, and 24 active units, 17 units, 19 nats", None),
        ("near iteration 7,500 of 20,000 iterations on 4,000 images", ["7,500"]),
        ("Section 3.4, Questions 4.3 and 4.4, Exercise 2.5, (Bishop 2006, sec. 2.3.3)", []),
        (r"$\beta = 0.2$, k = 1000, `vae_z10_beta0.2`, s^2 = 0.5, arXiv:1611.02648", []),
        ("## 3.4 Ground truth\nwith 10 latent units (2 points)", ["10"]),
    ],
)
def test_quoted_numbers_are_measurements_not_names(text, numbers):
    if numbers is None:  # the second case, spelled out
        numbers = ["-103.97", "24", "17", "19"]
    assert _texts(quotes.quoted(text)) == numbers


def test_the_writer_writes_the_sources_in_order():
    text = "a gap of 1.0 ± 0.0 nats at iteration 100, 3 units and 2.50 nats"
    rewritten = quotes.rewrite(text, ["5.2 ± 0.4", "7,500", "12", "0.25"])
    assert rewritten == "a gap of 5.2 ± 0.4 nats at iteration 7,500, 12 units and 0.25 nats"
    with pytest.raises(ValueError, match="4 quoted numbers, 1 sources"):
        quotes.rewrite(text, ["1.0"])


def test_each_quote_and_claim_names_a_cell_of_the_notebooks():
    cells = {
        (path.stem, cell.metadata.nbgrader["grade_id"])
        for path in sorted(COURSE.source.glob("*.ipynb"))
        for cell in nbformat.read(path, as_version=4).cells
        if cell.cell_type == "markdown"
    }
    assert set(quotes.QUOTES) | set(quotes.CLAIMS) <= cells
