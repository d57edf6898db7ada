"""Training throughput of ganforge's DCGAN-64 against the pytorch/examples DCGAN pipeline.

Both train the same networks (DCGAN, 64x64x1, ngf = ndf = 64, nz = 100, Adam 2e-4 / 0.5) on
Fashion-MNIST in the same process, measured the same way (images per second over a window
after a warm-up). The pipelines:

- baseline: pytorch/examples ``dcgan/main.py`` as written: a DataLoader (2 workers, shuffle)
  over decoded 28 px images that resizes each sample to 64 px and applies ToTensor +
  Normalize per sample (numpy versions; torchvision is not a dependency), networks ending in
  a sigmoid with ``BCELoss``, three ``.item()`` host syncs and a print per step.
- ganforge fp32: ``ganforge.training.train`` with every speed switch off (the plain path).
- ganforge: ``train`` with the defaults (``auto``) for the device, i.e. the fast paths.
- ganforge eager (GPU): the defaults without CUDA graphs, to show what the graph adds.

Variants are measured in rotation, ``--repeats`` times, so a machine shared with other jobs
slows all of them alike; the ratio of each repeat's adjacent measurements is reported with
its spread. Defaults: batch 64 on CPU (about 2-3 minutes on 2 idle cores), batches 128 and
1024 on a GPU. Prints a table and JSON (``--json PATH`` also writes it).

    .venv/bin/python benchmarks/throughput.py                      # CPU, batch 64
    .venv/bin/python benchmarks/throughput.py --device cuda        # GPU, batches 128 and 1024
    .venv/bin/python benchmarks/throughput.py --batch-sizes 64 --steps 16 --repeats 5
    .venv/bin/python benchmarks/throughput.py --model cyclegan --threads 1   # CycleGAN vs the reference step
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader
from torch.utils.data import Dataset as TorchDataset

import ganforge
from ganforge.config import DataConfig, load_config
from ganforge.data import DATASETS, load_dataset, register
from ganforge.training import speed, train
from ganforge.training.state import resolve_device

NZ, NGF, NDF, NC, SIZE = 100, 64, 64, 1, 64
LR, BETA1 = 2e-4, 0.5
BENCH_DATA = "bench-fashion-mnist-64"  # registered below: the 64 px set, loaded once

# Speed settings of each ganforge variant (``train.*`` overrides).
PLAIN = [
    "train.precision=fp32",
    "train.memory_format=contiguous",
    "train.adam_impl=loop",
    "train.compile=eager",
]
VARIANTS = {
    "baseline": None,
    "ganforge-fp32": PLAIN,
    "ganforge": [],
    "ganforge-eager": ["train.compile=eager"],
    "ganforge-compile": ["train.compile=reduce-overhead"],
}


# --- the baseline: pytorch/examples dcgan/main.py ----------------------------------------


class ReferenceGenerator(nn.Module):
    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(NZ, NGF * 8, 4, 1, 0, bias=False),
            nn.BatchNorm2d(NGF * 8),
            nn.ReLU(True),
            nn.ConvTranspose2d(NGF * 8, NGF * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(NGF * 4),
            nn.ReLU(True),
            nn.ConvTranspose2d(NGF * 4, NGF * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(NGF * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(NGF * 2, NGF, 4, 2, 1, bias=False),
            nn.BatchNorm2d(NGF),
            nn.ReLU(True),
            nn.ConvTranspose2d(NGF, NC, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, z):
        return self.main(z)


class ReferenceDiscriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(NC, NDF, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(NDF, NDF * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(NDF * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(NDF * 2, NDF * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(NDF * 4),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(NDF * 4, NDF * 8, 4, 2, 1, bias=False),
            nn.BatchNorm2d(NDF * 8),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(NDF * 8, 1, 4, 1, 0, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, x):
        return self.main(x).view(-1, 1).squeeze(1)


def weights_init(m):
    name = m.__class__.__name__
    if name.find("Conv") != -1:
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif name.find("BatchNorm") != -1:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def reference_transform(image: Image.Image) -> torch.Tensor:
    """``Resize(64)``, ``ToTensor()``, ``Normalize((0.5,), (0.5,))``, one image at a time."""
    image = image.resize((SIZE, SIZE), Image.Resampling.BILINEAR)
    array = np.asarray(image, dtype=np.float32) / 255.0
    return torch.from_numpy((array - 0.5) / 0.5)[None]


class DecodedImages(TorchDataset):
    """Like torchvision's MNIST: uint8 arrays, a PIL image and the transform per sample."""

    def __init__(self, images: np.ndarray):
        self.images = images  # uint8 [N, 28, 28]

    def __len__(self):
        return len(self.images)

    def __getitem__(self, index):
        return reference_transform(Image.fromarray(self.images[index], mode="L")), 0


def cpu_seconds(pids: list[int] = ()) -> float:
    """CPU time of this process (all threads) plus that of the processes ``pids`` (Linux)."""
    total = time.process_time()
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return float("nan")
    return total


class ReferencePipeline:
    """pytorch/examples ``dcgan/main.py``'s training loop; ``steps()`` yields after each step."""

    def __init__(
        self, images: np.ndarray, device: torch.device, batch_size: int, workers: int = 2, seed: int = 0
    ):
        torch.manual_seed(seed)
        self.device = device
        self.netG = ReferenceGenerator().to(device)
        self.netD = ReferenceDiscriminator().to(device)
        self.netG.apply(weights_init)
        self.netD.apply(weights_init)
        self.criterion = nn.BCELoss()
        self.optimizerD = torch.optim.Adam(self.netD.parameters(), lr=LR, betas=(BETA1, 0.999))
        self.optimizerG = torch.optim.Adam(self.netG.parameters(), lr=LR, betas=(BETA1, 0.999))
        self.loader = DataLoader(
            DecodedImages(images), batch_size=batch_size, shuffle=True, num_workers=workers
        )
        self.epoch = 0
        self.worker_pids: list[int] = []

    def steps(self):
        netD, netG, criterion, device = self.netD, self.netG, self.criterion, self.device
        real_label, fake_label = 1.0, 0.0
        with open(os.devnull, "w") as sink:
            while True:
                batches = iter(self.loader)  # each epoch starts new workers, as in main.py
                self.worker_pids = [w.pid for w in getattr(batches, "_workers", [])]
                for i, data in enumerate(batches, 0):
                    # (1) Update D network: maximize log(D(x)) + log(1 - D(G(z)))
                    netD.zero_grad()
                    real_cpu = data[0].to(device)
                    b_size = real_cpu.size(0)
                    label = torch.full((b_size,), real_label, dtype=real_cpu.dtype, device=device)
                    output = netD(real_cpu)
                    errD_real = criterion(output, label)
                    errD_real.backward()
                    D_x = output.mean().item()
                    noise = torch.randn(b_size, NZ, 1, 1, device=device)
                    fake = netG(noise)
                    label.fill_(fake_label)
                    output = netD(fake.detach())
                    errD_fake = criterion(output, label)
                    errD_fake.backward()
                    D_G_z1 = output.mean().item()
                    errD = errD_real + errD_fake
                    self.optimizerD.step()
                    # (2) Update G network: maximize log(D(G(z)))
                    netG.zero_grad()
                    label.fill_(real_label)
                    output = netD(fake)
                    errG = criterion(output, label)
                    errG.backward()
                    D_G_z2 = output.mean().item()
                    self.optimizerG.step()
                    print(
                        f"[{self.epoch}][{i}/{len(self.loader)}] Loss_D: {errD.item():.4f} "
                        f"Loss_G: {errG.item():.4f} D(x): {D_x:.4f} "
                        f"D(G(z)): {D_G_z1:.4f} / {D_G_z2:.4f}",
                        file=sink,
                    )
                    yield
                del batches
                self.epoch += 1


def run_baseline(
    images: np.ndarray, device: torch.device, batch_size: int, warmup: int, steps: int, workers: int = 2
) -> dict:
    """Images/s of main.py's loop over ``steps`` iterations after ``warmup`` ones."""
    pipeline = ReferencePipeline(images, device, batch_size, workers)
    training = pipeline.steps()
    for _ in range(warmup):
        next(training)
    pids, epoch = pipeline.worker_pids, pipeline.epoch
    wall, cpu = time.perf_counter(), cpu_seconds(pids)
    for _ in range(steps):
        next(training)
    wall = time.perf_counter() - wall
    # CPU time counts the workers too, when the window stayed inside one epoch's workers.
    cpu = cpu_seconds(pids) - cpu if pipeline.epoch == epoch else float("nan")
    training.close()
    return _rates(batch_size * steps, wall, cpu)


def _rates(images: int, wall_seconds: float, cpu_seconds_: float) -> dict:
    return {
        "images_per_s": images / wall_seconds,
        "seconds": wall_seconds,
        "images_per_cpu_s": images / cpu_seconds_ if cpu_seconds_ > 0 else float("nan"),
    }


# --- ganforge ----------------------------------------------------------------------------


def register_bench_data(root: str | None) -> None:
    """Register Fashion-MNIST at 64 px under one name, loaded and resized once per process."""
    if BENCH_DATA in DATASETS:
        return
    loaded = load_dataset(DataConfig(name="fashion-mnist", root=root, image_size=SIZE))

    @register(BENCH_DATA, "Fashion-MNIST at 64 px, held by the benchmark", "image")
    def _load(cfg, seed):
        return dataclasses.replace(loaded)


def run_ganforge(
    overrides: list[str], device: torch.device, batch_size: int, warmup: int, steps: int, workdir: str
) -> dict:
    """Images/s of ``ganforge.training.train`` between its log rows at ``warmup`` and
    ``warmup + steps`` (each log row syncs with the device)."""
    run_dir = tempfile.mkdtemp(dir=workdir)
    cfg = load_config(
        None,
        [
            f"run.dir={run_dir}",
            "run.progress=false",
            f"run.device={device}",
            f"data.name={BENCH_DATA}",
            "model.name=dcgan",
            f"model.g_width={NGF}",
            f"model.d_width={NDF}",
            f"model.z_dim={NZ}",
            "model.noise=normal",
            f"train.batch_size={batch_size}",
            f"train.lr_g={LR}",
            f"train.lr_d={LR}",
            f"train.beta1={BETA1}",
            f"train.steps={warmup + steps}",
            f"train.log_every={warmup}",
            "train.sample_every=1000000",
            "train.checkpoint_every=1000000",
            *overrides,
        ],
    )
    times: dict[int, tuple[float, float]] = {}
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    state = train(cfg, on_log=lambda s, row: times.setdefault(s.step, (time.perf_counter(), cpu_seconds())))
    (wall0, cpu0), (wall1, cpu1) = times[warmup], times[warmup + steps]
    result = {**_rates(batch_size * steps, wall1 - wall0, cpu1 - cpu0), "plan": state.speed.describe()}
    if device.type == "cuda":
        result["peak_memory_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
    return result


# --- the report --------------------------------------------------------------------------


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(device: torch.device) -> dict:
    info = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "device": str(device),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "ganforge": ganforge.__version__,
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "cpu": cpu_name(),
        "cpu_bf16": speed.cpu_has_bf16(),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        info["cuda"] = torch.version.cuda
    else:
        info["load_average"] = os.getloadavg()
    return info


def summarise(values: list[float]) -> dict:
    finite = [v for v in values if v == v]  # CPU time may be unavailable (NaN)
    if not finite:
        return {"median": float("nan"), "min": float("nan"), "max": float("nan"), "all": []}
    return {
        "median": statistics.median(finite),
        "min": min(finite),
        "max": max(finite),
        "all": [round(v, 3) for v in values],
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    parser.add_argument("--batch-sizes", default=None, help="comma list; default 64 on CPU, 128,1024 on CUDA")
    parser.add_argument("--warmup", type=int, default=None, help="steps before the window")
    parser.add_argument(
        "--steps", type=int, default=None, help="steps in the timed window (a multiple of --warmup)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="rotations of all variants")
    parser.add_argument("--variants", default=None, help=f"comma list of {', '.join(VARIANTS)}")
    parser.add_argument("--workers", type=int, default=2, help="baseline DataLoader workers")
    parser.add_argument("--data-root", default=None, help="folder with the Fashion-MNIST files")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's choice, one per core)"
    )
    parser.add_argument("--json", default=None, help="also write the results to this file")
    parser.add_argument("--model", default="dcgan", choices=("dcgan", "cyclegan"), help="cyclegan: see below")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.model == "cyclegan":
        return cyclegan_main(args)

    device = resolve_device(args.device)
    cuda = device.type == "cuda"
    batch_sizes = [int(b) for b in (args.batch_sizes or ("128,1024" if cuda else "64")).split(",")]
    variants = (
        args.variants
        or ("baseline,ganforge-fp32,ganforge,ganforge-eager" if cuda else "baseline,ganforge-fp32,ganforge")
    ).split(",")
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variants {unknown}; choose from {', '.join(VARIANTS)}")

    register_bench_data(args.data_root)
    images = load_dataset(DataConfig(name="fashion-mnist", root=args.data_root)).data[:, 0].numpy()
    settings = {
        "model": f"DCGAN {SIZE}x{SIZE}x{NC}, ngf=ndf={NGF}, nz={NZ}",
        "optimizer": f"Adam {LR}, betas ({BETA1}, 0.999)",
        "repeats": args.repeats,
        "baseline_workers": args.workers,
        "variants": variants,
    }
    report = {"environment": environment(device), "settings": settings, "results": []}
    workdir = tempfile.mkdtemp(prefix="ganforge-throughput-")
    for batch_size in batch_sizes:
        warmup = args.warmup or (2 if not cuda else 25 if batch_size <= 256 else 10)
        steps = args.steps or (8 if not cuda else 16 * warmup)
        measured: dict[str, list[dict]] = {v: [] for v in variants}
        for repeat in range(args.repeats):
            for variant in variants:
                if variant == "baseline":
                    result = run_baseline(images, device, batch_size, warmup, steps, args.workers)
                else:
                    result = run_ganforge(VARIANTS[variant], device, batch_size, warmup, steps, workdir)
                measured[variant].append(result)
                print(
                    f"batch {batch_size} repeat {repeat + 1}/{args.repeats} {variant:>16}: "
                    f"{result['images_per_s']:9.1f} img/s",
                    file=sys.stderr,
                    flush=True,
                )
        for variant in variants:
            runs = measured[variant]
            row = {
                "batch_size": batch_size,
                "variant": variant,
                "warmup": warmup,
                "steps": steps,
                "images_per_s": summarise([r["images_per_s"] for r in runs]),
            }
            if not cuda:
                row["images_per_cpu_s"] = summarise([r["images_per_cpu_s"] for r in runs])
            if "plan" in runs[0]:
                row["plan"] = runs[0]["plan"]
            if "peak_memory_gib" in runs[0]:
                row["peak_memory_gib"] = max(r["peak_memory_gib"] for r in runs)
            if "baseline" in measured and variant != "baseline":
                ratios = [r["images_per_s"] / b["images_per_s"] for r, b in zip(runs, measured["baseline"])]
                row["ratio_to_baseline"] = summarise(ratios)
                if not cuda:
                    row["cpu_ratio_to_baseline"] = summarise(
                        [
                            r["images_per_cpu_s"] / b["images_per_cpu_s"]
                            for r, b in zip(runs, measured["baseline"])
                        ]
                    )
            report["results"].append(row)
    if not cuda:
        report["environment"]["load_average_end"] = os.getloadavg()
    print_table(report)
    print(json.dumps(report, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return report


def cyclegan_main(args: argparse.Namespace) -> dict:
    """``--model cyclegan``: ganforge's CycleGAN iteration against the reference step
    (``throughput_cyclegan.py``)."""
    import throughput_cyclegan as cg  # benchmarks/ is on sys.path when run as a script

    device = torch.device(
        args.device if args.device != "auto" else "cuda" if torch.cuda.is_available() else "cpu"
    )
    cuda = device.type == "cuda"
    variants = (args.variants or ",".join(cg.VARIANTS)).split(",")
    warmup = args.warmup or (5 if cuda else 1)
    steps = args.steps or (20 if cuda else 2)
    measured = cg.measure(device, warmup, steps, args.repeats, variants)
    report = {
        "environment": {**environment(device), "load_average_end": os.getloadavg()},
        "settings": {
            "model": f"CycleGAN resnet_{cg.BLOCKS}blocks + 70x70 PatchGAN, ngf=ndf={cg.WIDTH}, "
            f"{cg.SIZE} px, batch {cg.BATCH}",
            "warmup": warmup,
            "steps": steps,
            "repeats": args.repeats,
        },
        "measured": measured,
        "results": cg.report_rows(measured, summarise),
    }
    cg.print_rows(report["results"], _spread)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return report


def _spread(stats: dict | None, digits: int = 1) -> str:
    if not stats or stats["median"] != stats["median"]:  # missing or NaN
        return "-"
    return f"{stats['median']:.{digits}f} ({stats['min']:.{digits}f}-{stats['max']:.{digits}f})"


def print_table(report: dict) -> None:
    env = report["environment"]
    print(
        f"\n{env['date']}  device {env['device']} {env.get('gpu', env['cpu'])}  torch "
        f"{env['torch']}  threads {env['threads']}"
        + (f"  load average {env['load_average'][0]:.1f}" if "load_average" in env else "")
    )
    cpu = any("images_per_cpu_s" in row for row in report["results"])
    extra = " | images/CPU-s | x baseline (CPU)" if cpu else ""
    print(f"| batch | pipeline | images/s | x baseline{extra} | settings |")
    print("|---:|---|---:|---:|" + ("---:|---:|" if cpu else "") + "---|")
    for row in report["results"]:
        baseline = row["variant"] == "baseline"
        ratio = "1" if baseline else _spread(row.get("ratio_to_baseline"), 2)
        cells = [str(row["batch_size"]), row["variant"], _spread(row["images_per_s"]), ratio]
        if cpu:
            cells += [
                _spread(row.get("images_per_cpu_s")),
                "1" if baseline else _spread(row.get("cpu_ratio_to_baseline"), 2),
            ]
        memory = f", peak {row['peak_memory_gib']:.2f} GiB" if "peak_memory_gib" in row else ""
        cells.append(row.get("plan", "main.py: DataLoader, 2 workers, per-sample transforms") + memory)
        print("| " + " | ".join(cells) + " |")
    print("(median, min-max over the repeats; a ratio compares each repeat's adjacent runs)")


if __name__ == "__main__":
    main()
