"""Autograde time with the grading sandbox against without it, on the same submissions.

A temporary course of the named solution notebooks grades the example submissions
(default: the reference solutions and one mistake of each graded exercise) through the
course's command, alternately with and without the sandbox, so that machine noise hits
both alike. Prints seconds per submission for each and the ratio of the medians
(sandbox / none; the target is at most 1.1).

    python benchmarks/bench_sandbox.py [--notebooks 02_negative_elbo] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autograder import release
from autograder.course import REPO_ROOT, Course, new_course
from autograder.examples import corpus

CASES = ["solutions", "negative_elbo_bound-mistake_std_for_variance"]


def make_course(root: Path, notebooks: list[str]) -> Course:
    """A course of the repository's config and the named solution notebooks, released."""
    course = new_course(root, [REPO_ROOT / "solutions" / "vae" / f"{n}.ipynb" for n in notebooks])
    release.generate(course)
    return course


def grade(course: Course, folder: Path, sandbox: bool) -> float:
    """Seconds per submission of ``python -m autograder autograde`` on ``folder``."""
    options = [] if sandbox else ["--no-sandbox"]
    command = [sys.executable, "-m", "autograder", "--root", str(course.root), *options]
    start = time.perf_counter()
    subprocess.run([*command, "autograde", str(folder)], check=True, capture_output=True)
    return (time.perf_counter() - start) / len(list(folder.iterdir()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebooks", nargs="+", default=["02_negative_elbo"])
    parser.add_argument("--cases", nargs="+", default=CASES)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        course = make_course(Path(tmp, "course"), args.notebooks)
        corpus.write_corpus(course, Path(tmp, "corpus"), args.cases)
        grade(course, Path(tmp, "corpus"), sandbox=True)  # warm-up: caches, gradebook
        times = {"sandbox": [], "none": []}
        for _ in range(args.repeats):
            for mode in times:
                times[mode].append(grade(course, Path(tmp, "corpus"), mode == "sandbox"))
    medians = {mode: statistics.median(values) for mode, values in times.items()}
    ratio = medians["sandbox"] / medians["none"]
    for mode, values in times.items():
        print(f"{mode:8} {' '.join(f'{v:6.1f}' for v in values)}  s per submission")
    print(f"ratio of the medians (sandbox / none): {ratio:.3f} (target <= 1.1)")
    print(json.dumps({"seconds": times, "ratio": ratio}))


if __name__ == "__main__":
    main()
