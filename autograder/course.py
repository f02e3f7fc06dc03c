"""A course directory as nbgrader sees it: its config, its paths, its API."""

import os
import shutil
from pathlib import Path

from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from traitlets.config import Config, PyFileConfigLoader

from autograder import time_limits

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIG_FILE = "nbgrader_config.py"
ASSIGNMENT = "vae"
#: A translated edition's stubs (``autograder.translation``): the file of their translations
#: in ``translations/<language>/``, and of the built ones beside the edition's source
#: notebooks (``nbgrader_config.py`` keeps it out of the release).
STUBS = "stubs.json"


class NbgraderError(RuntimeError):
    """An nbgrader step failed; the message carries nbgrader's log."""


class Course:
    """The course rooted at ``root`` (which holds ``nbgrader_config.py``), one assignment.

    Paths come from the config through nbgrader's own ``CourseDirectory``, so this class
    and the ``nbgrader`` command line always agree on where things are.
    """

    def __init__(
        self, root: Path = REPO_ROOT, assignment: str = ASSIGNMENT, overrides: Config | None = None
    ) -> None:
        self.root = Path(root).resolve()
        self.assignment = assignment
        self.config = PyFileConfigLoader(CONFIG_FILE, path=str(self.root)).load_config()
        # In the config too: what nbgrader builds from it (the grading sandbox's view of the
        # course) then finds the course wherever the process runs.
        self.config.CourseDirectory.root = str(self.root)
        #: What the caller set on top of the config file (``python -m autograder`` options).
        self.overrides = overrides or Config()
        self.config.merge(self.overrides)
        self.coursedir = CourseDirectory(config=self.config, root=str(self.root))

    def setting(self, cls: type, name: str):
        """The config's value of ``cls.name`` (a configurable trait), or the trait's default."""
        return self.config[cls.__name__].get(name, getattr(cls, name).default_value)

    def step_dir(self, step: str, student: str = ".") -> Path:
        """Folder of this assignment in an nbgrader step (``coursedir.<step>_directory``)."""
        path = self.coursedir.format_path(step, student, self.assignment)
        return Path(os.path.normpath(path))

    @property
    def source(self) -> Path:
        """The solutions: ``solutions/<assignment>``."""
        return self.step_dir(self.coursedir.source_directory)

    @property
    def release(self) -> Path:
        """The student release: ``notebooks/<assignment>``."""
        return self.step_dir(self.coursedir.release_directory)

    def submitted(self, student: str) -> Path:
        """Where a student's collected submission goes."""
        return self.step_dir(self.coursedir.submitted_directory, student)

    def feedback(self, student: str) -> Path:
        """Where a student's HTML feedback goes."""
        return self.step_dir(self.coursedir.feedback_directory, student)

    @property
    def db_url(self) -> str:
        """SQLAlchemy URL of the gradebook."""
        return self.coursedir.db_url

    @property
    def ignored(self) -> list[str]:
        """File globs nbgrader skips when copying folders (checkpoints, caches)."""
        return list(self.coursedir.ignore)

    def api(self) -> NbGraderAPI:
        """nbgrader's Python API on this course (what formgrader uses)."""
        return NbGraderAPI(coursedir=self.coursedir, config=self.config)


def new_course(
    root: Path, notebooks: list[Path], *settings: str, assignment: str = ASSIGNMENT
) -> Course:
    """A course in ``root`` (created) made of this repository's config, with ``settings``
    (config lines) added, and copies of the solution ``notebooks``; not released yet."""
    root.mkdir(parents=True, exist_ok=True)
    config = (REPO_ROOT / CONFIG_FILE).read_text()
    (root / CONFIG_FILE).write_text("\n".join([config, *settings, ""]))
    source = root / "solutions" / assignment
    source.mkdir(parents=True)
    for notebook in notebooks:
        shutil.copy(notebook, source)
    # Their reference times (autograder.time_limits), if they have them: an entry applies
    # only to the notebook it was measured on; a translated edition's stubs.
    for folder in {notebook.parent for notebook in notebooks}:
        for name in (time_limits.FILE, STUBS):
            if (folder / name).is_file():
                shutil.copy(folder / name, source)
    return Course(root, assignment)


def nbgrader_log(result: dict) -> str:
    """What an ``NbGraderAPI`` call (its result dict) logged, and the error it raised."""
    return f"{result.get('log', '')}\n{result.get('error', '')}".strip()


def check(result: dict, what: str) -> None:
    """Raise with nbgrader's log if an ``NbGraderAPI`` call (its result dict) failed."""
    if not result["success"]:
        raise NbgraderError(f"{what} failed:\n{nbgrader_log(result)}")
