"""The course's main job, as far as the course exists: check the package end to end.

Loads the data (saying which), shows that the bounds are still the students' to write,
then trains and evaluates a v1 VAE briefly with the instructor's reference bounds.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from autograder import reference_bounds
from course_utils.data import load_data
from course_utils.evaluation import evaluate
from course_utils.models import VAE
from course_utils.training import train

SMOKE_ITERATIONS = 500


def main() -> None:
    start = time.perf_counter()
    data = load_data()
    model = VAE(nn="v1", name="smoke", z_dim=10)
    try:
        model.loss(data.x_test[:2])
    except NotImplementedError as error:
        print(f"Student release: {error}")
    reference_bounds.install()
    history = train(model, data.x_train, iterations=SMOKE_ITERATIONS, progress=True)
    print(
        f"Trained {SMOKE_ITERATIONS} iterations in {history.seconds:.1f} s "
        f"({history.images_per_second:,.0f} images/s on {torch.get_num_threads()} threads)"
    )
    print(evaluate(model, data.x_test, ks=(1, 10, 100)).table())
    print(f"Smoke run done in {time.perf_counter() - start:.0f} s.")


if __name__ == "__main__":
    main()
