"""Tuning probes for the StarGAN preset on fmnist-styles (issue 11's targets; docs/stargan.md,
"Tuning"). Trains the game's ``iteration()`` directly for ``train.steps`` iterations (the
loop's linear decay to 0 imitated), counts this process's CPU seconds (one thread: CPU time,
not wall time, is what the shared machine lets us compare), and scores G the way
``ganforge eval`` does, on ``--test`` garments x the 11 other styles, without the FID:

- attribute accuracy of translations (the cached judge of ``ganforge eval``),
- garment accuracy (the shipped Fashion-MNIST evaluator, read back to gray),
- MAE against the rendered truth and its ratio to identity's.

``--mode supervised`` is the evaluation's sanity probe: G learns the rendered truth directly
(L1 to ``styles.render`` of the garment in the target style, plus the reconstruction term);
no D, no adversarial or classification term. If this G scored low, the scoring would be at
fault, not the game.

    OMP_NUM_THREADS=1 PYTHONPATH=src .venv/bin/python benchmarks/stargan_tuning.py \
        --set train.steps=600 --set train.d_steps=1 --set train.loss=lsgan [--mode supervised] \
        [--eval-at 300,600] [--test 200] [--out grid.png] [--only phase|affine]

``--rec-warmup N`` ramps ``train.lambda_rec`` up linearly from 0 over the first N steps (not in
the paper; a probe of docs/stargan.md, "Phase 6"). Since phase 7 the game has the same ramp as
``train.rec_warmup`` (``--set train.rec_warmup=N``); the flag stays so phase 6's commands run.

``--save-g PATH`` writes G's weights at the end (safetensors); ``--init-g PATH`` starts G from
such weights (docs/stargan.md, "Phase 12": a G taught the truth by ``--mode supervised``, then
the game, asks whether the truth is an equilibrium of the game or only out of its reach).

``--only`` builds the ``skip`` G with one of ``model.generator: pixel``'s two parts (the phase
planes or the affine head): an ablation the config cannot name. Each RESULT line also holds
``per_change``: the garment accuracy and truth ratio of each kind of change (``eval``'s).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time

import torch
from safetensors.torch import load_file, save_file

from ganforge.config import load_config
from ganforge.data import load_dataset
from ganforge.data.batches import to_unit_range
from ganforge.data.domains import Domains
from ganforge.data.styles import garments, render
from ganforge.evaluation.stargan import (
    accuracy_scores,
    content_scores,
    domain_judge,
    target_combinations,
    translate_all,
    truth_scores,
)
from ganforge.evaluation.stargan_breakdown import change_groups, summarize
from ganforge.files import atomic_write
from ganforge.games import GAMES
from ganforge.models.stargan import SkipStarGenerator
from ganforge.training.distributed import DistContext
from ganforge.training.loop import lr_factor


def supervised_iteration(game, gray: torch.Tensor) -> dict[str, torch.Tensor]:
    """One G update on ``|G(x, c') - render(garment, c')| + lambda_rec * |x - G(G(x, c'), c)|``."""
    index = game.sampler.next()
    labels = game.vectors[index]
    targets = labels[torch.randperm(len(index))]
    real = to_unit_range(game.images[index])
    truth = to_unit_range(render(gray[index], targets))
    fake = game.G(real, targets)
    truth_l1 = (fake - truth).abs().mean()
    rec = (real - game.G(fake, labels)).abs().mean()
    loss = truth_l1 + game.cfg.train.lambda_rec * rec
    game.optimizers["opt_g"].zero_grad(set_to_none=True)
    loss.backward()
    game.optimizers["opt_g"].step()
    return {"truth_l1": truth_l1.detach(), "g_rec": rec.detach()}


@torch.no_grad()
def quick_scores(G, cfg, count: int, seed: int = 0) -> dict[str, float]:
    """``ganforge eval``'s accuracy, garment and truth scores (no FID) for an in-memory G."""
    train = load_dataset(cfg.data, seed=cfg.run.seed)
    test = load_dataset(dataclasses.replace(cfg.data, split="test", limit=None), seed=0)
    domains = Domains.of(train)
    judge, _ = domain_judge(train, cfg.data, domains, cache=True, log=print)
    pick = torch.randperm(len(test), generator=torch.Generator().manual_seed(seed))[:count]
    images, labels = test.data[pick], domains.vectors(test)[pick]
    fake, src, targets, rec = translate_all(
        G, images, labels, target_combinations(domains.vectors(train)), "cpu"
    )
    out = {"scores": {}, "context": {"real_test": {}, "identity": {}}, "notes": []}
    inputs = images[src]
    values = accuracy_scores(judge, domains, inputs, fake, targets, images, labels, out)
    values |= content_scores(fake, test.labels[pick][src], inputs, targets, labels[src], rec, "cpu", out)
    gray, _ = garments(dataclasses.replace(cfg.data, split="test", limit=None))
    values |= truth_scores(fake, inputs, render(gray[pick][src], targets), out)
    scores = {name: round(s["value"], 4) for name, s in out["scores"].items()}
    scores["real_garment_accuracy"] = round(out["context"]["real_test"]["garment_accuracy"], 4)
    changes = summarize(change_groups(domains, labels[src], targets), values)
    scores["per_change"] = {  # garment accuracy, truth ratio of each kind of change
        name: [round(row["garment_accuracy"], 4), round(row["truth_mae_ratio"], 4)]
        for name, row in changes.items()
    }
    return scores


def ablate(part: str) -> None:
    """Build the game's G as the ``skip`` G with only ``part`` of ``model.generator: pixel``
    (``phase`` or ``affine``): an ablation the config cannot name."""
    import ganforge.games.stargan as stargan_game

    def build(meta):
        shape = (
            meta["channels"],
            meta["num_domains"],
            meta["image_size"],
            meta["g_width"],
            meta["res_blocks"],
        )
        return SkipStarGenerator(*shape, phase=part == "phase", affine=part == "affine")

    stargan_game.build_generator = build


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/stargan-fmnist-styles.yaml")
    parser.add_argument("--set", action="append", default=[], dest="overrides")
    parser.add_argument("--mode", choices=("gan", "supervised"), default="gan")
    parser.add_argument("--eval-at", default="", help="comma-separated steps to score at (and the last)")
    parser.add_argument("--test", type=int, default=200, help="test garments (x 11 styles); 0: no scores")
    parser.add_argument("--out", default=None, help="write the progress grid here at the end")
    parser.add_argument("--only", choices=("phase", "affine"), help="the skip G with only this part of pixel")
    parser.add_argument("--rec-warmup", type=int, default=0, help="steps to ramp lambda_rec from 0 (0: off)")
    parser.add_argument("--save-g", default=None, help="write G's weights here at the end (safetensors)")
    parser.add_argument("--init-g", default=None, help="start G from these weights (safetensors)")
    args = parser.parse_args()
    if args.only:
        ablate(args.only)
    torch.set_num_threads(1)
    cfg = load_config(args.config, ["run.progress=false", "run.threads=1", *args.overrides])
    torch.manual_seed(cfg.run.seed)
    game = GAMES["stargan"](cfg, torch.device("cpu"), DistContext())
    if args.init_g:
        game.G.load_state_dict(load_file(args.init_g))
    gray = garments(cfg.data)[0] if args.mode == "supervised" else None
    t, eval_at = cfg.train, {int(s) for s in args.eval_at.split(",") if s}
    cpu, stats = 0.0, {}
    lambda_rec = t.lambda_rec
    for step in range(1, t.steps + 1):
        game.set_lr_factor(lr_factor(step - 1, t.steps, t.lr_decay_start))
        if args.rec_warmup:  # g_update reads the weight from the config at every step
            t.lambda_rec = lambda_rec * min(1.0, (step - 1) / args.rec_warmup)
        started = time.process_time()
        stats = game.iteration() if gray is None else supervised_iteration(game, gray)
        cpu += time.process_time() - started
        if step % 100 == 0:
            shown = " ".join(f"{k}={float(v):.3f}" for k, v in sorted(stats.items()))
            print(f"step {step} cpu {cpu:.0f}s ({cpu / step:.3f} s/step) {shown}", flush=True)
        if step in eval_at or step == t.steps:
            result = {"step": step, "cpu_s": round(cpu, 1), "cpu_s_per_step": round(cpu / step, 4)}
            result |= quick_scores(game.G, cfg, args.test) if args.test else {}
            result |= {"load": [round(x, 1) for x in os.getloadavg()], "mode": args.mode}
            result["only"], result["rec_warmup"] = args.only, args.rec_warmup
            print("RESULT " + json.dumps({**result, "overrides": args.overrides}), flush=True)
    if args.out:
        game.write_grid(args.out)
    if args.save_g:
        tensors = {k: v.detach().cpu().contiguous() for k, v in game.G.state_dict().items()}
        atomic_write(args.save_g, lambda tmp: save_file(tensors, tmp))


if __name__ == "__main__":
    main()
