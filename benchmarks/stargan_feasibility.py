"""Can the StarGAN preset learn fmnist-styles on a CPU? Runs the game's ``iteration()`` directly
(no loop yet: issue 11 phase 1) for a wall-clock budget, then scores the translations of test
garments into every other style:

- attribute accuracy: a classifier trained here on real fmnist-styles images
  (``metrics/attributes.py``) names the styles of each translation; beside it, its accuracy on
  real test images (target: translations within 5 points);
- error vs the rendered truth (``data/styles.render``): mean absolute error in [0, 1] pixel
  units, beside identity's (output = input) (target: <= 0.20x identity's).

    OMP_NUM_THREADS=1 PYTHONPATH=src .venv/bin/python benchmarks/stargan_feasibility.py \
        --minutes 10 [--set model.g_width=16 ...] [--out /tmp/stargan-grid.png]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import torch

from ganforge.config import DataConfig, load_config
from ganforge.data import load_dataset
from ganforge.data.styles import combinations, garments, render
from ganforge.games import GAMES
from ganforge.metrics.attributes import AttributeRecipe, attribute_accuracy, fit_attribute_classifier, predict
from ganforge.training.distributed import DistContext

ALL_STYLES = torch.tensor(
    [[t == k for k in range(3)] + [i, s] for t in range(3) for i in (0, 1) for s in (0, 1)]
).float()


def train_game(cfg, minutes: float) -> tuple[object, int, float]:
    torch.manual_seed(cfg.run.seed)
    game = GAMES["stargan"](cfg, torch.device("cpu"), DistContext())
    started, step = time.perf_counter(), 0
    budget = minutes * 60
    while time.perf_counter() - started < budget and step < cfg.train.steps:
        # the loop's linear decay to 0 after lr_decay_start (by steps, as the loop does it)
        start = cfg.train.lr_decay_start * cfg.train.steps
        game.set_lr_factor(min(1.0, max(0.0, (cfg.train.steps - step) / max(1.0, cfg.train.steps - start))))
        stats = game.iteration()
        step += 1
        if step % 50 == 0:
            shown = " ".join(f"{k}={float(v):.3f}" for k, v in sorted(stats.items()))
            print(f"step {step} {time.perf_counter() - started:.0f}s {shown}", flush=True)
    return game, step, time.perf_counter() - started


@torch.no_grad()
def score(game, classifier, count: int) -> dict[str, float]:
    test_cfg = DataConfig(name="fmnist-styles", split="test")
    gray, _ = garments(test_cfg)
    gray = gray[:count]
    source = combinations(len(gray), "test")
    real = render(gray, source)
    results: dict[str, list] = {"pred": [], "target": [], "mae": [], "identity": []}
    for style in ALL_STYLES:
        keep = ~(source == style).all(1)  # translations to another style only
        targets = style.expand(int(keep.sum()), -1)
        fake = game.G(real[keep].float() / 127.5 - 1, targets)
        truth = render(gray[keep], targets).float() / 255
        results["pred"].append(predict(classifier, fake, multi_label=True))
        results["target"].append(targets)
        results["mae"].append(((fake + 1) / 2 - truth).abs().mean((1, 2, 3)))
        results["identity"].append((real[keep].float() / 255 - truth).abs().mean((1, 2, 3)))
    acc = attribute_accuracy(torch.cat(results["pred"]), torch.cat(results["target"]), multi_label=True)
    mae, identity = torch.cat(results["mae"]).mean().item(), torch.cat(results["identity"]).mean().item()
    real_acc = attribute_accuracy(predict(classifier, real, True), source, multi_label=True)
    return {
        "attribute_acc_translations": acc["attribute"],
        "all_attributes_acc_translations": acc["all"],
        "attribute_acc_real": real_acc["attribute"],
        "all_attributes_acc_real": real_acc["all"],
        "mae": mae,
        "mae_identity": identity,
        "mae_ratio": mae / identity,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/stargan-fmnist-styles.yaml")
    parser.add_argument("--set", action="append", default=[], dest="overrides")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--test", type=int, default=500, help="test garments (x 11 target styles)")
    parser.add_argument("--classifier-images", type=int, default=20000)
    parser.add_argument("--out", default=None, help="write the progress grid here")
    args = parser.parse_args()
    cfg = load_config(args.config, ["run.progress=false", *args.overrides])
    game, steps, seconds = train_game(cfg, args.minutes)
    load_before = os.getloadavg()
    started = time.perf_counter()
    train = load_dataset(DataConfig(name="fmnist-styles", limit=args.classifier_images))
    classifier = fit_attribute_classifier(train.data, train.attributes, True, AttributeRecipe())
    classifier_seconds = time.perf_counter() - started
    if args.out:
        game.write_grid(args.out)
    result = {
        "steps": steps,
        "train_seconds": round(seconds, 1),
        "classifier_seconds": round(classifier_seconds, 1),
        "load_average": [round(x, 1) for x in load_before],
        "threads": torch.get_num_threads(),
        **{k: round(v, 4) for k, v in score(game, classifier, args.test).items()},
        "overrides": args.overrides,
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
