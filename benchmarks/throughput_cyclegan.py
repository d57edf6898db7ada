"""CycleGAN training throughput: ganforge's ``cyclegan`` game through ``train`` against the reference step.

The reference is ``benchmarks/cyclegan_reference.py`` (a copy of junyanz/pytorch-CycleGAN-and-pix2pix's
``optimize_parameters``: resnet_9blocks, 70x70 PatchGAN, ngf = ndf = 64, instance norm, LSGAN,
pools, batch 1). ganforge trains the same networks (``model.res_blocks=9``, ``model.d_layers=3``,
widths 64) on a small unpaired folder of random 128 px images written to a temporary folder,
through ``ganforge.training.train``; its iterations are timed between two log rows. Variants run
alternately in one process, ``--repeats`` times; each repeat's ratio is of adjacent runs.

    PYTHONPATH=src python benchmarks/throughput.py --model cyclegan --threads 1 --warmup 1 --steps 2
    PYTHONPATH=src python benchmarks/throughput.py --model cyclegan --device cuda
"""

from __future__ import annotations

import os
import random
import tempfile
import time
from pathlib import Path

import cyclegan_reference  # benchmarks/ is the script's folder, on sys.path
import numpy as np
import torch
from PIL import Image

from ganforge.config import load_config
from ganforge.training import train

SIZE, BATCH, WIDTH, BLOCKS = 128, 1, 64, 9
PLAIN = [
    "train.precision=fp32",
    "train.memory_format=contiguous",
    "train.adam_impl=loop",
    "train.compile=eager",
    "train.lanes=off",
]
VARIANTS = {"reference": None, "ganforge-fp32": PLAIN, "ganforge": []}


def write_folder(root: Path, count: int = 8, size: int = SIZE) -> Path:
    """An unpaired layout of random RGB images (content does not matter to speed)."""
    rng = np.random.default_rng(0)
    for part in ("trainA", "trainB", "testA", "testB"):
        (root / part).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(
                root / part / f"{i}.png"
            )
    return root


def run_reference(device: torch.device, warmup: int, steps: int) -> float:
    """Seconds per ``optimize_parameters`` of the reference copy."""
    return cyclegan_reference.seconds_per_step(device, steps, warmup, SIZE, BATCH, BLOCKS)


def run_ganforge(overrides: list[str], device: torch.device, warmup: int, steps: int, data: Path) -> dict:
    """Seconds per iteration of ganforge's cyclegan game between the log rows at ``warmup`` and
    ``warmup + steps`` (each log row syncs with the device), and its speed plan."""
    cfg = load_config(
        "configs/cyclegan-fmnist-tint.yaml",
        [
            f"run.dir={tempfile.mkdtemp(prefix='ganforge-cyclegan-speed-')}",
            "run.progress=false",
            f"run.device={device}",
            f"run.threads={torch.get_num_threads()}",  # --threads, for both sides (no tuner probes)
            "data.name=unpaired",
            f"data.root={data}",
            f"data.image_size={SIZE}",
            "data.channels=3",
            "model.generator=resnet",  # the reference's G (the fmnist presets use a U-Net)
            "model.full_res=false",
            f"model.g_width={WIDTH}",
            f"model.d_width={WIDTH}",
            f"model.res_blocks={BLOCKS}",
            "model.d_layers=3",
            "train.loss=lsgan",  # the reference's loss, weights and pools, whatever the preset says
            "train.cycle_weight=10",
            "train.identity_weight=0.5",
            "train.identity_batch=none",
            "train.marginal_weight=0",
            "train.pool_size=50",
            "train.lr_g=0.0002",
            "train.lr_d=0.0002",
            f"train.batch_size={BATCH}",
            "train.lr_decay_start=1",
            f"train.steps={warmup + steps}",
            f"train.log_every={warmup}",
            "train.sample_every=1000000",
            "train.checkpoint_every=1000000",
            "eval.every=0",  # a speed figure: no scoring inside the timed run
            "train.memory_format=auto",  # ganforge's default (the tint preset pins contiguous)
            *overrides,
        ],
    )
    times: dict[int, float] = {}
    state = train(cfg, on_log=lambda s, row: times.setdefault(s.step, time.perf_counter()))
    return {"seconds": (times[warmup + steps] - times[warmup]) / steps, "plan": state.speed.describe()}


def measure(device: torch.device, warmup: int, steps: int, repeats: int, variants: list[str]) -> dict:
    """{variant: [seconds per step, one per repeat]} measured in rotation, and the plans."""
    torch.manual_seed(0)
    random.seed(0)
    seconds: dict[str, list[float]] = {v: [] for v in variants}
    plans: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="ganforge-cyclegan-data-") as folder:
        data = write_folder(Path(folder))
        for repeat in range(repeats):
            for variant in variants:
                if variant == "reference":
                    seconds[variant].append(run_reference(device, warmup, steps))
                else:
                    found = run_ganforge(VARIANTS[variant], device, warmup, steps, data)
                    seconds[variant].append(found["seconds"])
                    plans[variant] = found["plan"]
                print(
                    f"cyclegan repeat {repeat + 1}/{repeats} {variant:>14}: "
                    f"{seconds[variant][-1]:.3f} s/step (load {os.getloadavg()[0]:.1f})",
                    flush=True,
                )
    return {"seconds_per_step": seconds, "plans": plans}


def report_rows(measured: dict, summarise) -> list[dict]:
    """One row per variant: seconds per step and the speed-up over the reference (adjacent runs)."""
    seconds = measured["seconds_per_step"]
    rows = []
    for variant, values in seconds.items():
        row = {"variant": variant, "seconds_per_step": summarise(values)}
        if "reference" in seconds and variant != "reference":
            row["speedup_vs_reference"] = summarise([r / v for r, v in zip(seconds["reference"], values)])
            row["plan"] = measured["plans"].get(variant, "")
        rows.append(row)
    return rows


def print_rows(rows: list[dict], spread) -> None:
    print(
        f"| pipeline | s/step (median, min-max) | x reference (speed-up) | settings |  load {os.getloadavg()}"
    )
    print("|---|---:|---:|---|")
    for row in rows:
        ratio = "1" if row["variant"] == "reference" else spread(row.get("speedup_vs_reference"), 2)
        print(
            f"| {row['variant']} | {spread(row['seconds_per_step'], 3)} | {ratio} | {row.get('plan', '')} |"
        )
