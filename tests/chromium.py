"""Headless Debian Chromium driven by playwright, for the browser tests.

playwright's own browser download does not work offline: the tests run Debian's
``chromium`` (``scripts/setup_system.sh`` installs it) with the flags a headless run in a
container needs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def missing() -> str | None:
    """What is missing to run the browser, said with how to install it; None if nothing."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing: run scripts/setup_system.sh (apt-get chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is missing: run make setup"
    return None


@contextmanager
def chromium() -> Iterator[object]:
    """A running headless Chromium (playwright's ``Browser``), closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def screenshots_folder(folder: Path) -> Path:
    """``folder`` (made), emptied of the screenshots of a previous run."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    return folder
