"""torch next to a busy core: the training loop's rate idle and beside a busy process.

torch's OpenMP threads spin-wait for each other by default; when another process holds one
of the cores, a spinning thread waits for a thread that is not running, and a 2-core
machine trains dozens of times slower. The course's processes and kernels run with
``OMP_WAIT_POLICY=PASSIVE`` (``nbgrader_config.py``, ``autograder/__init__.py``, the venv's
kernelspec written by ``scripts/setup.sh``). Each configuration trains in a fresh
process (OpenMP reads its settings when torch loads), idle and then next to a process that
keeps one core busy; the target is at least 45% of the idle rate under load.

    python benchmarks/bench_threads.py [--iterations 200]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

#: The loop timed in each process: a v1 VAE (z_dim=10) trained with the reference bound.
LOOP = """\
import json, sys, time
import torch
from autograder.reference import bounds
from course_utils.models import VAE
bounds.install()
torch.manual_seed(0)
model = VAE(z_dim=10)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
x = torch.bernoulli(torch.rand(100, 784))
def step():
    optimizer.zero_grad()
    loss, _ = model.loss(x)
    loss.backward()
    optimizer.step()
for _ in range(20):
    step()
start = time.perf_counter()
for _ in range(int(sys.argv[1])):
    step()
print(json.dumps({"rate": int(sys.argv[1]) / (time.perf_counter() - start),
                  "threads": torch.get_num_threads()}))
"""
#: One core kept busy by another process.
BUSY = "while True:\n    pass"
CONFIGURATIONS = {
    "torch's default (spin-wait)": {"OMP_WAIT_POLICY": None},
    "the course's (OMP_WAIT_POLICY=PASSIVE)": {"OMP_WAIT_POLICY": "PASSIVE"},
}


def rate(settings: dict[str, str | None], iterations: int) -> dict:
    """Iterations per second of ``LOOP`` in a fresh process with ``settings`` in its env."""
    env = {k: v for k, v in os.environ.items() if k not in settings and k != "OMP_NUM_THREADS"}
    env |= {k: v for k, v in settings.items() if v is not None}
    command = [sys.executable, "-c", LOOP, str(iterations)]
    return json.loads(subprocess.run(command, env=env, capture_output=True, check=True).stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=200)
    args = parser.parse_args()
    results = {}
    for name, settings in CONFIGURATIONS.items():
        idle = rate(settings, args.iterations)
        busy = subprocess.Popen([sys.executable, "-c", BUSY])
        try:
            loaded = rate(settings, max(10, args.iterations // 10))
        finally:
            busy.kill()
        share = loaded["rate"] / idle["rate"]
        results[name] = {"idle": idle["rate"], "loaded": loaded["rate"], "share": share}
        print(
            f"{name:40} idle {idle['rate']:6.1f} it/s, next to a busy core "
            f"{loaded['rate']:6.1f} it/s: {share:5.1%} ({idle['threads']} threads)"
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
