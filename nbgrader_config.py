"""nbgrader configuration of the VAE course; the course directory is the folder of this file.

nbgrader reads ./nbgrader_config.py, so run nbgrader (and JupyterLab, for its Validate
button and formgrader) from here; `python -m autograder` loads this file itself. Solutions
live in solutions/<assignment>/, the release is generated into notebooks/<assignment>/, and
all that grading produces goes to the git-ignored build/. No exchange: submissions are
collected into build/submitted/ from a folder or zip by `python -m autograder collect`.

Every grading rule of the course is an nbgrader extension point named here (the classes of
autograder/nbgrader_hooks.py), so plain `nbgrader generate_assignment`, `autograde` and
`generate_feedback`, formgrader and `python -m autograder` all grade alike.
"""

import os
import sys
from pathlib import Path

from course_utils import nbgrader_settings

c = get_config()  # noqa: F821 -- defined by traitlets when it executes this file

# What students' Validate shares with autograde (the kernel, the cell time limit, stderr,
# the course id, OpenMP's passive waits): written once, in course_utils/nbgrader_settings.py,
# which a hub's /etc/jupyter/nbgrader_config.py applies too. It sets the environment of every
# process that reads this config (nbgrader's commands, the Lab server, `python -m autograder`,
# its workers, the tests) and of the kernels they start.
nbgrader_settings.apply(c)
# A new gradebook runs the `alembic` executable (nbgrader.api.get_alembic_version), which an
# un-activated venv does not have on PATH: this interpreter's scripts first.
_scripts = str(Path(sys.executable).parent)
if os.environ.get("PATH", "").split(os.pathsep)[0] != _scripts:
    os.environ["PATH"] = os.pathsep.join(filter(None, [_scripts, os.environ.get("PATH")]))

BUILD = Path(__file__).resolve().parent / "build"

# Paths are <step>/<student>/<assignment>; solutions and release use the student ".".
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
# Relative: nbgrader puts step folders into regexes unescaped (a tmp path could break them).
c.CourseDirectory.submitted_directory = "build/submitted"
c.CourseDirectory.autograded_directory = "build/autograded"
c.CourseDirectory.feedback_directory = "build/feedback"
c.CourseDirectory.solution_directory = "build/solution"
# Absolute, so the CLI, the Python API and the Lab extension open the same gradebook.
c.CourseDirectory.db_url = f"sqlite:///{BUILD / 'gradebook.db'}"
c.ExportPlugin.to = str(BUILD / "grades.csv")
# The learning-management systems' imports (autograder/lms_export.py; `nbgrader export
# --exporter=autograder.lms_export.CanvasExportPlugin`, or `python -m autograder export
# --format canvas`): scores, late penalties and the graders' comments.
c.CanvasExportPlugin.to = str(BUILD / "grades-canvas.csv")
c.MoodleExportPlugin.to = str(BUILD / "grades-moodle.csv")
# sqlite does not create the folder of its database file.
BUILD.mkdir(exist_ok=True)

c.ClearSolutions.code_stub = {
    "python": "# YOUR CODE HERE: implement what the docstring describes, then delete the raise.\n"
    "raise NotImplementedError()"
}
# A translated edition's release carries these stubs in its language (TranslatedStubs reads
# them from solutions/<edition>/stubs.json, built from translations/<language>/stubs.json).
# Hidden tests use the default ### BEGIN/END HIDDEN TESTS markers: ClearHiddenTests cuts
# them from the release; autograde restores locked cells (tests) from the gradebook.
# A test cell the student deleted is put back, hidden tests included, before grading, where
# the release had it (RestoreDeletedCells: nbgrader's OverwriteCells fails on a test that
# follows a locked cell).
c.OverwriteCells.add_missing_cells = True
c.Autograde.sanitize_preprocessors = [
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.DeduplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "autograder.nbgrader_hooks.RestoreDeletedCells",
    "nbgrader.preprocessors.CheckCellMetadata",
]

# The release is byte-stable whoever generates it (the CLI, formgrader's Generate button).
c.GenerateAssignment.preprocessors = [
    "nbgrader.preprocessors.IncludeHeaderFooter",
    "nbgrader.preprocessors.InstantiateTests",
    "nbgrader.preprocessors.LockCells",
    "autograder.nbgrader_hooks.TranslatedStubs",
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.CheckCellMetadata",
    "nbgrader.preprocessors.ComputeChecksums",
    "nbgrader.preprocessors.SaveCells",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbgrader.preprocessors.ClearMarkScheme",
    "nbgrader.preprocessors.ComputeChecksums",
    "nbgrader.preprocessors.CheckCellMetadata",
    "autograder.nbgrader_hooks.NormalizeRelease",
]
# A file that is not a notebook is graded as an empty notebook, not the end of the
# submission; a dead kernel costs the cells after it, not the student's other notebooks;
# a notebook whose code tampers with what the tests rely on scores 0, flagged for review, and
# an exercise answered with the course's own code scores 0 on its tests, flagged for review.
c.Autograde.exporter_class = "autograder.nbgrader_hooks.ReadAnyFile"
# Time limits follow the solutions' own times (autograder/time_limits.py), measured at
# release into solutions/<assignment>/reference_times.json (not copied into the release):
# a cell may take 10x its reference time + 15 s, a notebook 4x its own + 30 s, scaled by
# how much slower the grading machine is; `GuardedExecute.deadline` caps a notebook (and is
# its limit if it has no up-to-date reference times). Under autograde the display-only
# cells (plots, widgets, demonstrations: nothing graded reads them) are not run.
c.CourseDirectory.ignore = [
    ".ipynb_checkpoints",
    "*.pyc",
    "__pycache__",
    "feedback",
    "reference_times.json",
    "stubs.json",  # a translated edition's stubs (TranslatedStubs), not released either
]
c.TimeLimits.cell_multiple = 10.0
c.TimeLimits.cell_margin = 15.0
c.TimeLimits.notebook_multiple = 4.0
c.TimeLimits.notebook_margin = 30.0
# Each grading kernel runs in a sandbox (Debian's bubblewrap: autograder/sandbox.py): it
# cannot see the course, the gradebook or other students, has no network, and has these
# limits; a limit hit is that cell's error. `--GuardedExecute.sandbox=False` (or
# `python -m autograder --no-sandbox`) grades without it. Past its notebook's time limit,
# a notebook's remaining cells score 0 with the reason.
c.GuardedExecute.deadline = 600
c.GuardedExecute.max_output_bytes = 4 * 2**20
c.SandboxedKernelManager.memory_limit = 4 * 2**30  # bytes of data per process
c.SandboxedKernelManager.cpu_time_limit = 1200  # seconds
c.SandboxedKernelManager.process_limit = 256
c.SandboxedKernelManager.file_size_limit = 256 * 2**20
c.SandboxedKernelManager.writable_size = 512 * 2**20  # the notebook's folder, and /tmp
c.Autograde.autograde_preprocessors = [
    "autograder.nbgrader_hooks.GuardedExecute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    # Borrowed answers first: a tampering verdict, put first in each cell, then prevails.
    "autograder.nbgrader_hooks.WithholdBorrowed",
    "autograder.nbgrader_hooks.WithholdTampered",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
# Feedback shows each hidden test's result and message, never its code (the reference values).
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "autograder.nbgrader_hooks.HideHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]

# Safety net for stderr the redirect cannot reach (C++ code writing to file descriptor 2,
# jupyter/nbgrader#1904). Off by default in nbgrader 0.9.6, and only autograde runs it.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"(?s)."  # any text
