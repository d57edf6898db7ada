"""How much do small style errors cost fmnist-styles' content scores? (docs/stargan.md, "Phase 5")

``ganforge eval`` reads each translation back to gray in its target style (``styles.unrender``:
the tint's channel, inversion undone, dark stripe rows brightened x2.5) before the shipped
Fashion-MNIST evaluator names the garment. A translation with the right garment but the
style slightly off is read back wrongly. This probe takes the perfect translator's output, the
rendered truth, spoils it in one small way at a time, and scores it as ``ganforge eval`` does
(the same seeded test garments, each into the 11 other styles):

- plain targets keep faint stripes (their dark rows dimmed to 0.9 or 0.8 of the garment);
- striped targets' stripes 10 or 20 % too shallow or too deep (dimming depth 0.6 -> 0.54 / 0.48
  or 0.66 / 0.72);
- brightness x0.9 or x0.8 (the whole image), on the targets that are not inverted (the
  symptom: an inverted garment turned back comes out dim) and on the inverted ones.

Each row: garment accuracy and truth-MAE ratio (to identity's) over the translations it
touches and over all of them. No G, no training: about a minute of one CPU.

    OMP_NUM_THREADS=1 PYTHONPATH=src .venv/bin/python benchmarks/stargan_sensitivity.py [--n 500]
"""

from __future__ import annotations

import argparse
import dataclasses
import json

import torch

from ganforge.config import DataConfig
from ganforge.data import load_dataset
from ganforge.data.domains import Domains
from ganforge.data.styles import STRIPE_LEVEL, garments, render
from ganforge.evaluation.stargan import DEFAULT_SOURCES, garment_right, target_combinations
from ganforge.metrics.features import classifier_network


def translations(n: int, seed: int):
    """``ganforge eval``'s sources (``n`` seeded test garments) x every other training target:
    ``(gray uint8 [M, 1, S, S], garment classes [M], inputs uint8 [M, 3, S, S], their styles
    [M, 5], targets [M, 5])``."""
    cfg = DataConfig(name="fmnist-styles")
    train = load_dataset(cfg, seed=0)
    test = load_dataset(dataclasses.replace(cfg, split="test"), seed=0)
    domains = Domains.of(train)
    pick = torch.randperm(len(test), generator=torch.Generator().manual_seed(seed))[:n]
    labels = domains.vectors(test)[pick]
    gray, classes = garments(dataclasses.replace(cfg, split="test"))
    sources, targets = [], []
    for target in target_combinations(domains.vectors(train)):
        keep = (~(labels == target).all(1)).nonzero().flatten()
        sources.append(keep)
        targets.append(target.expand(len(keep), -1))
    src = torch.cat(sources)
    return gray[pick][src], classes[pick][src], test.data[pick][src], labels[src], torch.cat(targets)


def scaled(images: torch.Tensor, factor: float) -> torch.Tensor:
    return (images.float() * factor).round().clamp(0, 255).to(torch.uint8)


def variants(gray, targets, truth) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """``{name: (spoilt truth uint8 [M, 3, S, S], bool mask [M] of the translations it touches)}``."""
    plain, striped, inverted = targets[:, 4] < 0.5, targets[:, 4] > 0.5, targets[:, 3] > 0.5
    with_stripes = targets.clone()
    with_stripes[:, 4] = 1
    out = {"the truth itself": (truth, torch.ones_like(plain))}
    for level in (0.9, 0.8):
        faint = render(gray, with_stripes, stripe_level=level)
        out[f"plain targets keep faint stripes (dark rows x{level})"] = (_mix(plain, faint, truth), plain)
    depth = 1 - STRIPE_LEVEL
    for off in (-0.2, -0.1, 0.1, 0.2):
        level = 1 - depth * (1 + off)
        spoilt = render(gray, targets, stripe_level=level)
        what = "shallower" if off < 0 else "deeper"
        out[f"striped targets: stripes {abs(off):.0%} {what} (level {level:.2f})"] = (
            _mix(striped, spoilt, truth),
            striped,
        )
    for factor in (0.9, 0.8):
        for name, mask in (("not inverted", ~inverted), ("inverted", inverted)):
            spoilt = _mix(mask, scaled(truth, factor), truth)
            out[f"brightness x{factor}, targets {name}"] = (spoilt, mask)
    return out


def _mix(mask: torch.Tensor, spoilt: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    return torch.where(mask[:, None, None, None], spoilt, truth)


def mae(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-image mean absolute difference ``[M]`` of uint8 images, on the [0, 1] scale."""
    return ((a.float() - b.float()).abs() / 255).mean((1, 2, 3))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=DEFAULT_SOURCES, help="test garments (x 11 styles)")
    parser.add_argument("--seed", type=int, default=0, help="the garments' pick (ganforge eval's --seed)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    gray, classes, inputs, styles, targets = translations(args.n, args.seed)
    truth = render(gray, targets)
    identity = mae(inputs, truth)
    net = classifier_network("fashion-mnist")
    real = garment_right(net, inputs, styles, classes, label="real inputs").mean().item()
    print(f"{len(targets)} translations; the real styled inputs' garment accuracy {real:.1%}")
    columns = ("touched", "garment (touched; truth's)", "ratio (touched)", "garment (all)", "ratio (all)")
    print("| spoilt truth | " + " | ".join(columns) + " |")
    print("|---|---|---|---|---|---|")
    exact = garment_right(net, truth, targets, classes)
    for name, (images, mask) in variants(gray, targets, truth).items():
        right, error = garment_right(net, images, targets, classes), mae(images, truth)
        row = {
            "variant": name,
            "touched": int(mask.sum()),
            "garment_touched": round(right[mask].mean().item(), 4),
            "truth_touched": round(exact[mask].mean().item(), 4),
            "ratio_touched": round((error[mask].mean() / identity[mask].mean()).item(), 4),
            "garment_all": round(right.mean().item(), 4),
            "ratio_all": round((error.mean() / identity.mean()).item(), 4),
        }
        print(
            f"| {name} | {row['touched']} | {row['garment_touched']:.1%} ({row['truth_touched']:.1%}) | "
            f"{row['ratio_touched']:.3f} | "
            f"{row['garment_all']:.1%} | {row['ratio_all']:.3f} |"
        )
        print("RESULT " + json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
