"""Cost of one training iteration of a translation preset, and of variants of it, against the
preset as it ships (measured in the same process, alternately, so load drifts hit all alike).

Each variant is the preset plus ``KEY=VALUE`` settings; the game is built as the loop builds it
and ``iteration()`` is timed in process CPU seconds (one thread unless ``--threads``) after a
few warm-up iterations, or with ``--clock wall`` in seconds on the clock (what two threads or
``train.lanes`` buy; measure on an idle machine). Prints seconds per iteration and the ratio
to the preset's.

    PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/translation_step_cost.py \\
        --variant train.identity_weight=0 --variant train.identity_batch=2
    PYTHONPATH=src python benchmarks/translation_step_cost.py --threads 2 --clock wall \\
        --variant train.lanes=off
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from ganforge.config import load_config
from ganforge.games import GAMES
from ganforge.training.distributed import DistContext


def build(config: str, sets: list[str], threads: int):
    cfg = load_config(config, [f"run.threads={threads}", *sets])
    torch.manual_seed(cfg.run.seed)
    return GAMES[cfg.model.name](cfg, torch.device("cpu"), DistContext())


def seconds_per_iteration(game, iterations: int, clock=time.process_time) -> float:
    start = clock()
    for _ in range(iterations):
        game.iteration()
    return (clock() - start) / iterations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="configs/cyclegan-fmnist-tint.yaml")
    parser.add_argument("--variant", action="append", default=[], help="comma list of KEY=VALUE (repeatable)")
    parser.add_argument(
        "--set", action="append", default=[], help="KEY=VALUE for every variant, the preset too"
    )
    parser.add_argument("--iterations", type=int, default=40, help="timed per variant and round")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument(
        "--rounds", type=int, default=2, help="each variant timed this many times, alternately"
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    variants = {"preset": []} | {v: v.split(",") for v in args.variant}
    games = {name: build(args.config, [*args.set, *sets], args.threads) for name, sets in variants.items()}
    clock = time.perf_counter if args.clock == "wall" else time.process_time
    for game in games.values():
        seconds_per_iteration(game, args.warmup, clock)
    times: dict[str, list[float]] = {name: [] for name in games}
    for _ in range(args.rounds):
        for name, game in games.items():
            times[name].append(seconds_per_iteration(game, args.iterations, clock))
    base = min(times["preset"])
    for name, seconds in times.items():  # the fastest round: the least disturbed by other load
        print(
            json.dumps(
                {
                    "variant": name,
                    f"{args.clock}_s_per_iteration": round(min(seconds), 4),
                    "x_preset": round(min(seconds) / base, 3),
                }
            )
        )


if __name__ == "__main__":
    main()
