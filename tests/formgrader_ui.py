"""Formgrader's Manual Grading, as the browser tests drive it (in JupyterLab's Formgrader
tab: ``frame`` is the frame locator of its page, ``page`` the Lab's page)."""

from __future__ import annotations


def submission_links(frame, assignment: str, notebook: str):
    """Manual Grading > ``assignment`` > ``notebook``: the locator of the submissions' links
    (one per submission, "Submission #n": the students' names are hidden until asked for)."""
    frame.get_by_role("link", name="Manual Grading").click()
    frame.get_by_role("link", name=assignment, exact=True).click()
    frame.get_by_role("link", name=notebook, exact=True).click()
    links = frame.locator("#main-table a.name-hidden")
    links.first.wait_for()
    return links


def grade_answer(page, frame, cell: str, score: float, comment: str) -> None:
    """On a submission's grading page, give the answer ``cell`` a score and a comment
    (each saved when its field loses focus)."""
    field = frame.locator(f"input.score#{cell}")
    field.wait_for()
    # The grading page binds its inputs to the gradebook once it has fetched the grades
    # and comments; a value typed before that is overwritten.
    grading_page = next(f for f in page.frames if "/formgrader/submissions/" in f.url)
    grading_page.wait_for_function(
        "() => window.formgrader && formgrader.grades && formgrader.grades.loaded"
        " && formgrader.comments && formgrader.comments.loaded"
    )
    field.fill(str(score))
    field.press("Tab")
    text = frame.locator(f"textarea#{cell}-comment")
    text.fill(comment)
    text.press("Tab")
    field.scroll_into_view_if_needed()
