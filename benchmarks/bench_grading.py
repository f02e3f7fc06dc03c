"""Grading at the speed of the work: the floor, one submission, an infinite loop, workers.

In one run, each in a fresh temporary course, with the course's own grading step
(``grading.autograde``):

1. Per notebook, the floor (the solution notebook's graded cells executed by nbclient on one
   thread, without the sandbox: the kernel's own work) against autograding the solutions on
   one thread (sandbox, nbgrader, feedback, gradebook), and their ratio.
2. A 4-notebook submission (the solutions) graded by one worker on one thread, the median of
   ``--rounds`` runs (target at most 20 s), with each stage's share: the worker's set-up,
   nbgrader's autograde (the kernels' work in it), feedback, and the coordinator's writes.
3. A submission with a cell that loops forever (target: graded in under 90 s).
4. The same submissions (default: the 20 example submissions of notebook 2's bound) graded
   one after the other (nbgrader's way; and again with one thread per kernel, for the ceiling
   of the ratio), by 2 local worker processes, and through a Dask scheduler and 2 workers
   started as separate OS processes, the four ways in turn ``--rounds`` times: submissions
   per minute over the run and once every worker is under way (medians), and the ratios
   (targets, under way, as a class is graded: 2 local workers at least 1.8x sequential on
   2 cores; Dask within 10% of them); every gradebook must hold the same grades.
5. The time 800 students would take on 64 one-core workers, from 2. and the parallel
   efficiency measured in 4.

Run it on an idle machine: a second busy process slows torch's kernels many times over.

    python benchmarks/bench_grading.py [--notebooks 02_negative_elbo] [--cases ...]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbgrader.api import Gradebook

from autograder import grading, parallel, release, time_limits
from autograder.cells import grade_id_of
from autograder.course import REPO_ROOT, Course, new_course

# The example corpus (autograder.examples.corpus) is imported where it is used, not here: a
# local worker process imports this script again (multiprocessing's spawn runs the main
# module's imports), and the corpus imports torch: about 4 s of each worker's start with it,
# which the workers of `python -m autograder` (whose main module spawn leaves alone) do not pay.

SOLUTIONS = REPO_ROOT / "solutions" / "vae"
NOTEBOOKS = sorted(path.stem for path in SOLUTIONS.glob("*.ipynb"))
ONE_THREAD = parallel.Workers(threads=1)


def example_cases() -> list[str]:
    """Every example submission of notebook 2's last exercise, the reference answers and the
    untouched release: 20 submissions. Each way's start (worker processes, their template
    course and sandbox pre-flight) is about a sixth of the local pool's run over them, far
    more than in a class: hence the rates under way (``steady_rate``) beside the run's."""
    from autograder.examples import corpus

    entries = corpus.IMPLEMENTATIONS["negative_elbo_bound"]
    return ["solutions", "untouched", *(f"negative_elbo_bound-{entry}" for entry in entries)]


def make_course(root: Path, notebooks: list[str]) -> Course:
    """A course of the repository's config and the named solution notebooks, released."""
    course = new_course(root, [SOLUTIONS / f"{n}.ipynb" for n in notebooks])
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


def floor(notebook: str) -> float:
    """Seconds nbclient takes to run the solution notebook's graded run: its display-only
    cells left out, one thread, ``NBGRADER_EXECUTION=autograde``, no sandbox."""
    nb = nbformat.read(SOLUTIONS / f"{notebook}.ipynb", as_version=4)
    shown = set(time_limits.display_only(nb))
    nb.cells = [cell for cell in nb.cells if grade_id_of(cell) not in shown]
    os.environ.update(NBGRADER_EXECUTION="autograde", OMP_NUM_THREADS="1")
    try:
        start = time.perf_counter()
        NotebookClient(nb, resources={"metadata": {"path": str(SOLUTIONS)}}).execute()
        return time.perf_counter() - start
    finally:
        del os.environ["NBGRADER_EXECUTION"], os.environ["OMP_NUM_THREADS"]


def graded(tmp: Path, name: str, notebooks: list[str], cases: list[str], workers) -> tuple:
    """Grade ``cases`` in a fresh course of ``notebooks``: (seconds, the run, the course)."""
    from autograder.examples import corpus

    course = make_course(tmp / name, notebooks)
    corpus.write_corpus(course, tmp / f"{name}-corpus", cases)
    start = time.perf_counter()
    run = grading.autograde(course, tmp / f"{name}-corpus", workers=workers)
    seconds = time.perf_counter() - start
    assert not run.failed, run.failed
    return seconds, run, course


def per_notebook(tmp: Path) -> None:
    print("1. Floor (nbclient, graded cells) and autograde of the solutions, one thread:")
    # A worker checks its sandbox once (a pre-flight kernel, about 2 s): before, not counted
    # in the first notebook's time.
    graded(tmp, "warm-up", NOTEBOOKS[:1], ["untouched"], ONE_THREAD)
    for notebook in NOTEBOOKS:
        bottom = floor(notebook)
        seconds, _, _ = graded(tmp, f"one-{notebook}", [notebook], ["solutions"], ONE_THREAD)
        print(
            f"   {notebook:24} floor {bottom:5.1f} s  autograde {seconds:5.1f} s  "
            f"ratio {seconds / bottom:4.2f}"
        )


def one_submission(tmp: Path, rounds: int) -> float:
    """Seconds a warm worker (its template course made, its sandbox checked: once per worker
    and course) takes for one 4-notebook submission, the median of ``rounds`` (one run
    varied from 19.9 s to 25.2 s on this machine); the first one's time is printed too."""
    first, _, _ = graded(tmp, "first", NOTEBOOKS, ["solutions"], ONE_THREAD)
    runs = [
        graded(tmp, f"whole{turn}", NOTEBOOKS, ["solutions"], ONE_THREAD) for turn in range(rounds)
    ]
    runs.sort(key=lambda graded_run: graded_run[0])
    seconds, run, _ = runs[len(runs) // 2]
    stages = run.times["solutions"]
    print(
        f"2. A {len(NOTEBOOKS)}-notebook submission, one worker, one thread: median "
        f"{seconds:.1f} s of {rounds} (min {runs[0][0]:.1f}, max {runs[-1][0]:.1f}; "
        f"target <= 20 s; the worker's first: {first:.1f} s); the median run's stages:"
    )
    for stage, spent in stages.items():
        print(f"   {stage:10} {spent:5.1f} s  {100 * spent / seconds:5.1f}%")
    rest = seconds - sum(stages.values())
    print(
        f"   {'the rest':10} {rest:5.1f} s  {100 * rest / seconds:5.1f}%  "
        "(collect, registration, export)"
    )
    return seconds


def infinite_loop(tmp: Path) -> float:
    seconds, run, _ = graded(tmp, "loop", NOTEBOOKS, ["infinite_loop"], ONE_THREAD)
    print(
        f"3. A cell that loops forever, graded in {seconds:.1f} s (target < 90 s), "
        f"score {run.scores[0].score:g}"
    )
    return seconds


def steady_rate(done: list[float], workers: int) -> float:
    """Submissions a minute once each of the ``workers`` has brought back its first
    submission, which carries the worker's start (its process, template course and sandbox
    pre-flight, paid once per worker however large the class): ``(n - workers)`` submissions
    done between the ``workers``-th and the last (``done``: when each was done, in order, as
    ``GradingRun.done_at`` holds them). A class of hundreds is graded at this rate; the last
    one's wait for the other worker to finish counts against it."""
    return 60 * (len(done) - workers) / (done[-1] - done[workers - 1])


def workers(tmp: Path, notebooks: list[str], cases: list[str], rounds: int) -> dict[str, float]:
    """Submissions per minute graded sequentially (with two threads per kernel, and with
    one), by 2 local workers and by 2 Dask workers, the four ways taken in turn ``rounds``
    times (medians; one run of each varied by up to 20% on this machine): over the whole
    run, and once every worker is under way (``steady_rate``: what a class is graded at;
    each way's start is printed too). The Dask scheduler and workers run only during their
    own way (idle, they still poll: on 2 cores they slowed 2 local workers' run of the 20
    submissions to 65.7 s and 79.9 s, against 61.5 s without them)."""
    seconds, steady, started, gradebooks = {}, {}, {}, {}
    ways = {
        "sequential": (1, lambda: contextlib.nullcontext(parallel.SEQUENTIAL)),
        "sequential, 1 thread": (1, lambda: contextlib.nullcontext(ONE_THREAD)),
        "2 local workers": (2, lambda: contextlib.nullcontext(parallel.Workers(2))),
        "Dask, 2 workers": (2, lambda: _dask(tmp)),
    }
    print(f"4. {len(cases)} submissions of {', '.join(notebooks)}, {rounds} rounds:")
    for turn in range(rounds):
        for index, (name, (count, way)) in enumerate(ways.items()):
            with way() as where:
                spent, run, course = graded(tmp, f"ways{turn}-{index}", notebooks, cases, where)
            done = list(run.done_at.values())
            seconds.setdefault(name, []).append(spent)
            steady.setdefault(name, []).append(steady_rate(done, count))
            started.setdefault(name, []).append(done[count - 1])
            gradebooks[name, turn] = grades(course)
    whole, rate = {}, {}
    for name, runs in seconds.items():
        whole[name] = 60 * len(cases) / statistics.median(runs)
        rate[name] = statistics.median(steady[name])
        print(
            f"   {name:20} {statistics.median(runs):5.1f} s (min {min(runs):.1f}, max "
            f"{max(runs):.1f}): {whole[name]:5.2f} submissions/min over the run; under way "
            f"{rate[name]:5.2f}/min (min {min(steady[name]):.2f}, max {max(steady[name]):.2f}); "
            f"each worker's first done by {statistics.median(started[name]):.1f} s"
        )
    local = rate["2 local workers"] / rate["sequential"]
    dask = rate["Dask, 2 workers"] / rate["2 local workers"]
    same = all(g == gradebooks["sequential", 0] for g in gradebooks.values())
    print(
        f"   2 local workers / sequential: {local:.2f}x under way (target >= 1.8); "
        f"{whole['2 local workers'] / whole['sequential']:.2f}x over the run, its start included"
    )
    # The sequential run's kernels have both cores' threads; two one-thread workers can at
    # most do two one-thread submissions at once: the ceiling of the ratio above.
    ceiling = 2 * rate["sequential, 1 thread"] / rate["sequential"]
    print(
        f"   2 local workers / sequential with one thread: "
        f"{rate['2 local workers'] / rate['sequential, 1 thread']:.2f}x under way; the ratio "
        f"above can reach at most 2 x one-thread / two-thread sequential = {ceiling:.2f}x"
    )
    print(
        f"   Dask / 2 local workers: {dask:.2f}x under way (target >= 0.9); "
        f"{whole['Dask, 2 workers'] / whole['2 local workers']:.2f}x over the run"
    )
    print(f"   the same grades every way and round: {same}")
    if not same:
        raise SystemExit("the grades differ")
    return {"local_speedup": local, "dask_vs_local": dask, **rate}


@contextlib.contextmanager
def _dask(tmp: Path) -> Iterator[parallel.Workers]:
    """Two single-threaded Dask workers and their scheduler, separate processes."""
    with parallel.local_cluster(2, tmp) as address:
        yield parallel.Workers(2, scheduler=address, threads=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebooks", nargs="+", default=["02_negative_elbo"])
    parser.add_argument("--cases", nargs="+", default=None, help="default: example_cases()")
    parser.add_argument("--rounds", type=int, default=3, help="runs of parts 2 and 4")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        per_notebook(tmp)
        submission = one_submission(tmp, args.rounds)
        loop = infinite_loop(tmp)
        ways = workers(tmp, args.notebooks, args.cases or example_cases(), args.rounds)
    efficiency = ways["local_speedup"] / 2
    hours = 800 / 64 * submission / efficiency / 3600
    print(
        f"5. 800 students on 64 one-core workers: 800/64 x {submission:.1f} s / "
        f"{efficiency:.2f} (efficiency) = {hours * 60:.0f} min"
    )
    print(
        json.dumps(
            {
                "submission_s": submission,
                "infinite_loop_s": loop,
                "800_on_64_min": hours * 60,
                **ways,
            }
        )
    )


if __name__ == "__main__":
    main()
