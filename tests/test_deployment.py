"""The JupyterHub kit (``hub/``, the README's deployment section): its nbgrader config
gives Validate autograde's settings and names nothing of the instructor's side, and the
README names what an administrator needs.

The class on a real hub, Validate against autograde for a correct answer that prints to
stderr and for a known mistake, is ``tests/test_hub.py`` (``make test-hub``: root, minutes).
"""

from __future__ import annotations

from pathlib import Path

from traitlets.config import PyFileConfigLoader

ROOT = Path(__file__).resolve().parents[1]
HUB_CONFIG = ROOT / "hub" / "nbgrader_config.py"


def test_hub_config_has_the_courses_execution_settings_and_no_instructor_code():
    hub = PyFileConfigLoader(HUB_CONFIG.name, path=str(HUB_CONFIG.parent)).load_config()
    course = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    assert hub.Execute == course.Execute
    assert set(hub) == {"CourseDirectory", "Exchange", "Execute"}
    assert hub.CourseDirectory.course_id and hub.Exchange.root
    assert "autograder" not in repr(hub), "students do not have the instructor's package"


def test_readme_deployment_section_names_the_kit():
    hub = PyFileConfigLoader(HUB_CONFIG.name, path=str(HUB_CONFIG.parent)).load_config()
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Deployment on a JupyterHub") :]
    for text in (
        "hub/nbgrader_config.py",
        "/etc/jupyter/nbgrader_config.py",
        hub.CourseDirectory.course_id,
        hub.Exchange.root,
        "python -m pip wheel --no-deps -w dist .",
        "make hub",
        "load_subconfig",
        "frame-ancestors",
    ):
        assert text in section, text
