"""Time to quality: seconds until the Fashion-MNIST DCGAN-64 reaches a fixed FID, ganforge
against the pytorch/examples pipeline (``throughput.py``'s mirror of ``dcgan/main.py``).

The quality is ``fid_fmnist``: FID on the features of ganforge's Fashion-MNIST evaluator CNN
(evaluation/during_training.py), ``--eval-n`` generated samples against as many training images, both at
64 px resized to the evaluator's input. Both pipelines train the same networks from scratch on
the same device, in this process, and are scored every ``--eval-every`` steps. The clock
includes reading and preparing the data and building the models; it is paused while scoring.
A pipeline that has not reached the threshold within ``--budget-seconds`` is reported as such.

    .venv/bin/python benchmarks/time_to_quality.py --device cuda            # the H100 target
    .venv/bin/python benchmarks/time_to_quality.py --budget-seconds 900     # CPU: slow
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ganforge.config import DataConfig, EvalConfig, load_config
from ganforge.data import load_dataset
from ganforge.evaluation.during_training import TrainingEvaluator
from ganforge.metrics.classifier import classifier_dirs, find_classifier, weights_name
from ganforge.training import train
from ganforge.training.state import resolve_device

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import (  # noqa: E402  (the sibling benchmark holds the baseline)
    BETA1,
    LR,
    NDF,
    NGF,
    NZ,
    SIZE,
    ReferencePipeline,
    environment,
)

METRIC = "fid_fmnist"


class Clock:
    """Wall seconds that can be paused (while a generator is being scored)."""

    def __init__(self):
        self.total, self.since = 0.0, time.perf_counter()

    def pause(self) -> float:
        self.total += time.perf_counter() - self.since
        return self.total

    def resume(self) -> None:
        self.since = time.perf_counter()


class _Stop(Exception):
    """Ends a ganforge run from its log callback (threshold reached or budget spent)."""


class _VectorNoise(nn.Module):
    """The reference G takes z as [N, nz, 1, 1]; the evaluator hands it [N, nz]."""

    def __init__(self, netG: nn.Module):
        super().__init__()
        self.netG = netG

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.netG(z[:, :, None, None])


def score(evaluator: TrainingEvaluator, G: nn.Module, meta: dict) -> float:
    return float(evaluator.evaluate(G, meta)[METRIC])


def run_ganforge(evaluator, device, args, workdir) -> dict:
    clock, curve, plan = Clock(), [], {}
    cfg = load_config(
        None,
        [
            f"run.dir={tempfile.mkdtemp(dir=workdir)}",
            "run.progress=false",
            f"run.device={device}",
            "data.name=fashion-mnist",
            f"data.image_size={SIZE}",
            "model.name=dcgan",
            f"model.g_width={NGF}",
            f"model.d_width={NDF}",
            f"model.z_dim={NZ}",
            "model.noise=normal",
            f"train.batch_size={args.batch_size}",
            f"train.lr_g={LR}",
            f"train.lr_d={LR}",
            f"train.beta1={BETA1}",
            "train.steps=100000000",
            f"train.log_every={args.eval_every}",
            "train.sample_every=100000000",
            "train.checkpoint_every=100000000",
            *args.set,
        ],
    )

    def on_log(state, row):
        seconds = clock.pause()
        plan["settings"] = state.speed.describe()
        fid = score(evaluator, state.sampling_G, state.generator_meta())
        curve.append((state.step, round(seconds, 2), round(fid, 3)))
        print(
            f"  ganforge step {state.step:6d}  {seconds:7.1f} s  {METRIC} {fid:8.3f}",
            file=sys.stderr,
            flush=True,
        )
        clock.resume()
        if fid <= args.threshold or seconds > args.budget_seconds:
            raise _Stop

    try:
        train(cfg, on_log=on_log)
    except _Stop:
        pass
    return _result(curve, args, plan)


def run_baseline(evaluator, device, args) -> dict:
    clock, curve = Clock(), []
    images = load_dataset(DataConfig(name="fashion-mnist")).data[:, 0].numpy()
    pipeline = ReferencePipeline(images, device, args.batch_size, args.workers)
    G = _VectorNoise(pipeline.netG)
    meta = {"model": {"z_dim": NZ, "noise": "normal"}}
    for step, _ in enumerate(pipeline.steps(), 1):
        if step % args.eval_every:
            continue
        seconds = clock.pause()
        fid = score(evaluator, G, meta)
        curve.append((step, round(seconds, 2), round(fid, 3)))
        print(
            f"  baseline step {step:6d}  {seconds:7.1f} s  {METRIC} {fid:8.3f}", file=sys.stderr, flush=True
        )
        clock.resume()
        if fid <= args.threshold or seconds > args.budget_seconds:
            break
    return _result(curve, args, {"settings": "main.py: DataLoader, 2 workers"})


def _result(curve: list[tuple], args, extra: dict) -> dict:
    reached = next(((step, seconds) for step, seconds, fid in curve if fid <= args.threshold), None)
    return {
        "reached": reached is not None,
        "seconds": reached[1] if reached else None,
        "steps": reached[0] if reached else None,
        "best_fid": min((fid for _, _, fid in curve), default=None),
        "curve": [{"step": s, "seconds": t, METRIC: f} for s, t, f in curve],
        **extra,
    }


def main(argv: list[str] | None = None) -> dict | None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    parser.add_argument("--threshold", type=float, default=20.0, help=f"target {METRIC}")
    parser.add_argument("--batch-size", type=int, default=None, help="default 128 GPU, 64 CPU")
    parser.add_argument("--eval-every", type=int, default=None, help="steps between scores")
    parser.add_argument("--eval-n", type=int, default=5000, help="samples per score")
    parser.add_argument(
        "--budget-seconds",
        type=float,
        default=600.0,
        help="give up on a pipeline after this much (unpaused) time",
    )
    parser.add_argument("--pipelines", default="ganforge,baseline")
    parser.add_argument("--workers", type=int, default=2, help="baseline DataLoader workers")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="extra ganforge settings, e.g. train.precision=fp32",
    )
    parser.add_argument("--json", default=None, help="also write the results to this file")
    args = parser.parse_args(argv)

    if find_classifier("fashion-mnist") is None:
        where = ", ".join(str(d) for d in classifier_dirs())
        print(
            f"time_to_quality: skipped: no {weights_name('fashion-mnist')} in {where}; "
            "build it with `ganforge evaluator train fashion-mnist`"
        )
        return None
    device = resolve_device(args.device)
    cuda = device.type == "cuda"
    args.batch_size = args.batch_size or (128 if cuda else 64)
    args.eval_every = args.eval_every or (200 if cuda else 100)

    # The real reference: the 64 px training set, scored once (outside every clock).
    reference = load_dataset(DataConfig(name="fashion-mnist", image_size=SIZE))
    eval_cfg = EvalConfig(every=args.eval_every, metrics="fid", n=args.eval_n, feature_net="fmnist")
    evaluator = TrainingEvaluator(
        eval_cfg, DataConfig(name="fashion-mnist", image_size=SIZE), reference, seed=0, device=device
    )
    report = {
        "environment": environment(device),
        "settings": {
            "metric": METRIC,
            "threshold": args.threshold,
            "eval_n": args.eval_n,
            "eval_every": args.eval_every,
            "batch_size": args.batch_size,
            "budget_seconds": args.budget_seconds,
            "ganforge_overrides": args.set,
        },
        "results": {},
    }
    workdir = tempfile.mkdtemp(prefix="ganforge-ttq-")
    for name in args.pipelines.split(","):
        print(f"{name}:", file=sys.stderr)
        if name == "ganforge":
            report["results"][name] = run_ganforge(evaluator, device, args, workdir)
        elif name == "baseline":
            report["results"][name] = run_baseline(evaluator, device, args)
        else:
            parser.error(f"unknown pipeline {name!r}; choose ganforge, baseline")
    print(f"\n| pipeline | {METRIC} <= {args.threshold} after | steps | best {METRIC} |")
    print("|---|---:|---:|---:|")
    for name, result in report["results"].items():
        when = (
            f"{result['seconds']:.1f} s" if result["reached"] else (f"not within {args.budget_seconds:.0f} s")
        )
        print(f"| {name} | {when} | {result['steps'] or '-'} | {result['best_fid']} |")
    print(json.dumps(report, indent=2, default=lambda o: o.tolist() if isinstance(o, np.ndarray) else str(o)))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=str) + "\n")
    return report


if __name__ == "__main__":
    main()
