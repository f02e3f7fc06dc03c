"""Throughput of ``course_utils.training.train`` against a plain PyTorch loop of the same model.

Both loops train a fresh v1 VAE (z_dim=10) with the reference negative ELBO on the
same data, batch size and iteration count; runs alternate so that machine noise
hits both alike. The ratio (course / plain images per second) should be >= 0.95.

    python benchmarks/bench_training.py [--iterations 1000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from autograder.reference import bounds as reference_bounds
from course_utils.data import load_data
from course_utils.models import VAE
from course_utils.training import set_seed, train


def plain_loop(x_train: torch.Tensor, iterations: int, batch_size: int) -> float:
    """The baseline: the textbook loop, no logging, no progress bar. Returns images/s."""
    set_seed(0)
    model = VAE(z_dim=10)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    start = time.perf_counter()
    for _ in range(iterations):
        index = torch.randint(len(x_train), (batch_size,))
        x = torch.bernoulli(x_train[index])
        optimizer.zero_grad()
        loss, _ = model.loss(x)
        loss.backward()
        optimizer.step()
    return iterations * batch_size / (time.perf_counter() - start)


def course_loop(x_train: torch.Tensor, iterations: int, batch_size: int) -> float:
    history = train(
        VAE(z_dim=10), x_train, iterations=iterations, batch_size=batch_size, progress=True
    )
    return history.images_per_second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    reference_bounds.install()
    x_train = load_data("mnist-subset").x_train
    plain_loop(x_train, 50, args.batch_size)  # warm-up
    plain, course = [], []
    for _ in range(args.repeats):
        plain.append(plain_loop(x_train, args.iterations, args.batch_size))
        course.append(course_loop(x_train, args.iterations, args.batch_size))
    result = {
        "threads": torch.get_num_threads(),
        "iterations": args.iterations,
        "batch_size": args.batch_size,
        "plain_images_per_s": [round(v) for v in plain],
        "course_images_per_s": [round(v) for v in course],
        "ratio_of_medians": round(statistics.median(course) / statistics.median(plain), 3),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
