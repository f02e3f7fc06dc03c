"""Grading throughput: sequential, 2 local workers, and a Dask scheduler with 2 workers.

The same submissions (default: 8 example submissions of notebook 2) are graded three ways
in one run, each in a fresh temporary course: one after the other (nbgrader's way), by 2
local worker processes (``--workers 2``), and through a Dask scheduler and 2 workers
started as separate OS processes (``--scheduler``). Prints the submissions per minute of
each, the ratios (targets: local workers at least 1.6x sequential on 2 cores; Dask within
10% of the local pool), and checks that the three gradebooks hold the same grades.

    python benchmarks/bench_grading.py [--notebooks 02_negative_elbo] [--cases ...]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from nbgrader.api import Gradebook

from autograder import grading, parallel, release
from autograder.course import REPO_ROOT, Course, new_course
from autograder.examples import corpus

CASES = [
    "solutions",
    "untouched",
    "negative_elbo_bound-correct_randn_like",
    "negative_elbo_bound-correct_torch_distributions",
    "negative_elbo_bound-mistake_std_for_variance",
    "negative_elbo_bound-mistake_mean_over_pixels",
    "negative_elbo_bound-mistake_no_noise",
    "negative_elbo_bound-mistake_per_image_values",
]


def make_course(root: Path, notebooks: list[str]) -> Course:
    """A course of the repository's config and the named solution notebooks, released."""
    course = new_course(root, [REPO_ROOT / "solutions" / "vae" / f"{n}.ipynb" for n in notebooks])
    release.generate(course)
    return course


def grades(course: Course) -> dict:
    with Gradebook(course.db_url) as gradebook:
        return {
            (s.student_id, n.name, g.name): g.auto_score
            for s in gradebook.find_assignment(course.assignment).submissions
            for n in s.notebooks
            for g in n.grades
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebooks", nargs="+", default=["02_negative_elbo"])
    parser.add_argument("--cases", nargs="+", default=CASES)
    args = parser.parse_args()
    results, graded = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        template = make_course(tmp / "template", args.notebooks)
        corpus.write_corpus(template, tmp / "corpus", args.cases)
        with parallel.local_cluster(2, tmp) as address:
            ways = {
                "sequential": parallel.SEQUENTIAL,
                "2 local workers": parallel.Workers(2),
                "Dask, 2 workers": parallel.Workers(2, scheduler=address, threads=1),
            }
            for index, (name, workers) in enumerate(ways.items()):
                course = make_course(tmp / f"course{index}", args.notebooks)
                start = time.perf_counter()
                run = grading.autograde(course, tmp / "corpus", workers=workers)
                seconds = time.perf_counter() - start
                assert not run.failed, run.failed
                results[name] = 60 * len(args.cases) / seconds
                graded[name] = grades(course)
                print(f"{name:18} {seconds:7.1f} s, {results[name]:6.2f} submissions/min")
    same = all(g == graded["sequential"] for g in graded.values())
    local = results["2 local workers"] / results["sequential"]
    dask = results["Dask, 2 workers"] / results["2 local workers"]
    print(f"2 local workers / sequential: {local:.2f}x (target >= 1.6)")
    print(f"Dask / 2 local workers: {dask:.2f}x (target >= 0.9)")
    print(f"the same grades all three ways: {same}")
    print(json.dumps({"per_minute": results, "local_speedup": local, "dask_vs_local": dask}))
    if not same:
        raise SystemExit("the grades differ")


if __name__ == "__main__":
    main()
