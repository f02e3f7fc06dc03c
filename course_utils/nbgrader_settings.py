"""The nbgrader settings that students' Validate shares with autograde, written once.

The course's ``nbgrader_config.py`` (the instructor's, and the student bundle's) and a hub's
``/etc/jupyter/nbgrader_config.py`` (``hub/nbgrader_config.py``, read by every user's
server) both call ``apply(c)``, so the Validate button runs a notebook as grading does: the
same kernel, cell time limits and stderr handling, in the same environment. Students have
this package (the wheel), not the instructor's ``autograder``.
"""

import math
import os

from course_utils import calibration

#: The course's id: its row in the gradebook (PostgreSQL enforces it), its name on a hub.
COURSE_ID = "vae-course"
#: Seconds a cell may run when the release gives it no limit of its own (the display-only
#: cells, a cell the student added) and under autograde when a notebook has no reference
#: times (``autograder.time_limits``); the graded fast path loads checkpoints.
CELL_TIMEOUT_S = 300
#: A released cell's metadata key for its time limit: ``{"seconds": s, "calibration": c}``,
#: the limit autograde gives it on the machine whose ``calibration.calibrate()`` was ``c``.
LIMIT = "time_limit"


def cell_timeout(cell) -> int:
    """Seconds Validate gives ``cell``: autograde's limit for it (its ``LIMIT``), scaled by
    how much slower this machine is, now, than the one that measured; ``CELL_TIMEOUT_S``
    for a cell without one."""
    limit = cell.get("metadata", {}).get(LIMIT)
    if not limit:
        return CELL_TIMEOUT_S
    return math.ceil(limit["seconds"] * calibration.machine_factor(limit["calibration"]))


def apply(c) -> None:
    """Put the shared settings into the config ``c`` (``get_config()`` of a config file),
    and the environment they need into this process, whose kernels inherit it."""
    # torch's OpenMP threads spin-wait for each other by default: next to one busy core, a
    # 2-thread kernel trained 16% as fast as alone (benchmarks/bench_threads.py); passive
    # waits keep it near its share.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    c.CourseDirectory.course_id = COURSE_ID
    c.Execute.timeout = CELL_TIMEOUT_S
    c.Execute.timeout_func = cell_timeout  # autograde's GuardedExecute sets its own
    # A cell over the limit is interrupted and scored as an error; later cells still run.
    c.Execute.interrupt_on_timeout = True
    # The kernelspec of this environment, whatever kernel a submission names.
    c.Execute.kernel_name = "python3"
    # Any stderr in a test cell scores 0 (nbgrader.utils.determine_grade), yet tests fail by
    # raising: warnings, tqdm bars and logging are noise. The kernel sends Python's stderr to
    # stdout, so Validate and autograde agree; the text stays visible in feedback. Written
    # without binding a name in the student namespace. The kernel's own log stays quiet
    # below errors (ipykernel warns on every start that loopback TCP is unencrypted).
    c.Execute.extra_arguments = [
        '--IPKernelApp.exec_lines=__import__("sys").stderr = __import__("sys").stdout',
        "--IPKernelApp.log_level=ERROR",
    ]
