"""Does the thread count change a DCGAN's bits? (docs/threads.md, "Thread counts and bit-exactness")

Trains the demo's DCGAN (configs/dcgan-fashion-mnist.yaml, first ``--limit`` images) for
``--steps`` steps from the same seed, at 1 thread twice, 2 threads twice and alternating
1, 2, 1, ..., and prints a SHA-256 prefix of all of G's and D's weights for each.

    .venv/bin/python benchmarks/thread_determinism.py --precision fp32 bf16
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile

import torch

from ganforge.config import load_config
from ganforge.training.loop import train_iteration
from ganforge.training.state import build_state


def digest(threads_at, precision: str, steps: int, limit: int) -> str:
    """Weights' SHA-256 prefix after ``steps`` iterations, step i run at ``threads_at(i)`` threads."""
    with tempfile.TemporaryDirectory() as run_dir:
        overrides = [f"run.dir={run_dir}", f"train.precision={precision}", f"data.limit={limit}"]
        state = build_state(load_config("configs/dcgan-fashion-mnist.yaml", overrides))
        for i in range(steps):
            torch.set_num_threads(threads_at(i))
            train_iteration(state)
    h = hashlib.sha256()
    for p in (*state.G.parameters(), *state.D.parameters()):
        h.update(p.detach().float().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--precision", nargs="+", default=["fp32", "bf16"])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--limit", type=int, default=2000, help="training images")
    args = parser.parse_args()
    schedules = {
        "1 thread": lambda i: 1,
        "1 thread again": lambda i: 1,
        "2 threads": lambda i: 2,
        "2 threads again": lambda i: 2,
        "alternating": lambda i: 1 + i % 2,
    }
    for precision in args.precision:
        hashes = {name: digest(at, precision, args.steps, args.limit) for name, at in schedules.items()}
        print(precision, "  ".join(f"{name}: {h}" for name, h in hashes.items()), flush=True)
        same = hashes["1 thread"] == hashes["2 threads"]
        print(f"{precision}: 1 vs 2 threads {'identical' if same else 'DIFFERENT'}")


if __name__ == "__main__":
    main()
