"""Why a StarGAN run on fmnist-styles does not flip the inversion (docs/stargan.md, "Phase 6").

A translation that flips ``inverted`` can fail in a way both the reconstruction and a domain
classifier that reads the background accept: repaint the background and keep the garment's
own gray levels. Only the realism term can reject it, if a discriminator can see it. This
script measures that, on the run's own translations of test garments:

1. **Detectability**: a fresh small CNN (the game's D architecture, its class head as one
   real/fake logit) learns to tell real test images in a style from the run's translations
   into the same styles (the same target for each pair; the reals are other garments,
   rendered as the data set draws them), scored on held-out images. Four sets: the
   translations that flip the inversion, those that keep it, a **caricature** of the failure
   (the truth's background, the garment left in the source's inversion: what G is seen to do,
   drawn exactly), and a control (the rendered truth, which is real: chance by construction).
   High accuracy: a D *could* see the error; near chance: only an inductive bias can fix it.
2. **The run's own D** (its last checkpoint): its realism score (the mean of its PatchGAN
   scores) on reals, on each set of fakes and on the caricature, and the AUC of that score
   between reals and each set; its ``inverted`` probability on real images whose background
   is left in the other inversion (the garment true) and on the caricature (the background
   true), to show what its classifier reads.
3. **A game-like fresh D** (``--game-d SEEDS``; docs/stargan.md, "Phase 8"): does the class
   loss on D's shared trunk blind its realism head? The game's D trained as ``d_update`` trains
   it (PatchGAN head, lsgan, the preset's Adam and batch, 1,500 steps), with and without the
   class loss, on the caricature or on G's translations (``--over-run``: also those of every
   stored G); the AUC of its realism score on held-out caricatures and G's flips. (Part 1's D
   differs: its class head as one logit, BCE, trained on the caricature itself.)

    OMP_NUM_THREADS=1 PYTHONPATH=src .venv/bin/python benchmarks/stargan_flip_probe.py \
        --run RUN [--n 1500] [--epochs 4] [--json out.json] [--game-d 2 [--only-game-d] [--over-run]]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time

import torch
import torch.nn.functional as F

from ganforge.checkpoint import latest_checkpoint, list_checkpoints, load_checkpoint, saved_config
from ganforge.data import load_dataset
from ganforge.data.domains import Domains
from ganforge.data.styles import garments, render
from ganforge.evaluation.stargan import load_star_generator, target_combinations, to_uint8
from ganforge.games.stargan import classification_loss
from ganforge.losses import d_lsgan
from ganforge.metrics.separation import auc
from ganforge.models.stargan import StarDiscriminator, build_generator

INVERTED = 3  # the attribute's column in fmnist-styles' label vector
GARMENT_LEVEL = 10  # gray levels (of 255) above which a pixel belongs to the garment
BATCH = 250


def draw_targets(sources: torch.Tensor, combos: torch.Tensor, flip: bool, seed: int) -> torch.Tensor:
    """For each source label ``[N, 5]``, a random combination from ``combos [T, 5]`` whose
    inversion differs from the source's (``flip``) or equals it (and is not the source's own)."""
    generator = torch.Generator().manual_seed(seed)
    targets = []
    for source in sources:
        same = combos[:, INVERTED] == source[INVERTED]
        ok = ~same if flip else same & ~(combos == source).all(1)
        choices = combos[ok]
        targets.append(choices[torch.randint(len(choices), (1,), generator=generator)][0])
    return torch.stack(targets)


def swap_inversion(gray: torch.Tensor, targets: torch.Tensor, part: str) -> torch.Tensor:
    """``render(gray, targets)`` uint8 ``[N, 3, S, S]`` with one part drawn in the other
    inversion: ``part="garment"`` keeps the background true and the garment in the other
    inversion (the caricature of G's failure: background repainted, garment levels kept);
    ``part="background"`` keeps the garment true and the background in the other inversion."""
    flipped = targets.clone()
    flipped[:, INVERTED] = 1 - flipped[:, INVERTED]
    true, other = render(gray, targets), render(gray, flipped)
    garment = gray > GARMENT_LEVEL  # [N, 1, S, S]
    if part == "garment":
        return torch.where(garment, other, true)
    return torch.where(garment, true, other)


def detector_accuracy(real: torch.Tensor, fake: torch.Tensor, train: int, epochs: int, seed: int) -> dict:
    """A fresh ``StarDiscriminator`` (width 16, its class head as one logit) learns real vs
    fake uint8 ``[N, 3, S, S]`` on the first ``train`` of each and is scored on the rest:
    ``{"accuracy", "auc"}`` on the held-out images (chance: 0.5)."""
    torch.manual_seed(seed)
    size = real.shape[-1]
    net = StarDiscriminator(real.shape[1], 1, size, 16)
    opt = torch.optim.Adam(net.parameters(), 1e-3, betas=(0.5, 0.999))
    images = torch.cat([real[:train], fake[:train]]).float() / 127.5 - 1
    labels = torch.cat([torch.ones(train), torch.zeros(train)])
    for _ in range(epochs):
        for index in torch.randperm(len(images)).split(64):
            logit = net(images[index])[1][:, 0]
            loss = F.binary_cross_entropy_with_logits(logit, labels[index])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    with torch.no_grad():
        real_logit = net(real[train:].float() / 127.5 - 1)[1][:, 0]
        fake_logit = net(fake[train:].float() / 127.5 - 1)[1][:, 0]
    accuracy = ((real_logit > 0).float().mean() + (fake_logit <= 0).float().mean()) / 2
    return {"accuracy": round(float(accuracy), 4), "auc": round(auc(real_logit, fake_logit), 4)}


HEADS = ("adv", "adv+cls")  # the game-like fresh D's variants (Phase 8; a split D's realism head is "adv")


def game_detector(
    train_sets: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    held_real: torch.Tensor,
    held: dict[str, torch.Tensor],
    heads: str,
    steps: int,
    seed: int,
    lambda_cls: float = 1.0,
) -> dict:
    """A fresh D trained as the game's ``d_update`` trains it (docs/stargan.md, "Phase 8"): a
    ``StarDiscriminator`` 16 wide, its PatchGAN head on lsgan's D loss (reals towards 1, fakes
    towards 0), Adam 4e-4 (0.5, 0.999), 16 reals and 16 fakes a step, for ``steps`` steps.
    ``heads``: ``adv`` (the adversarial loss alone), ``adv+cls`` (plus ``lambda_cls`` times the
    game's multi-label L_cls on the reals' labels, one shared trunk), ``adv+cls split`` (the same
    with ``model.d_split``'s own trunk for the class head). ``train_sets`` is
    ``(real uint8 [N, 3, S, S], their labels [N, K], fake uint8 [M, 3, S, S])``.

    Returns, per held-out set, the AUC of the mean patch score between ``held_real`` and the set
    (0.5: blind), and the held-out reals' ``inverted`` accuracy by the class head."""
    real, labels, fake = train_sets
    torch.manual_seed(seed)
    net = StarDiscriminator(real.shape[1], labels.shape[1], real.shape[-1], 16, split=heads.endswith("split"))
    opt = torch.optim.Adam(net.parameters(), 4e-4, betas=(0.5, 0.999))
    draw = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        r, f = (
            torch.randint(len(real), (16,), generator=draw),
            torch.randint(len(fake), (16,), generator=draw),
        )
        real_scores, real_classes = net(real[r].float() / 127.5 - 1)
        loss = d_lsgan(real_scores, net(fake[f].float() / 127.5 - 1)[0])
        if heads != "adv":  # the game's L_cls; fmnist-styles' domains are multi-label
            loss = loss + lambda_cls * classification_loss(real_classes, labels[r], multi_label=True)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    with torch.no_grad():
        real_scores, real_classes = net(held_real[0].float() / 127.5 - 1)
        out = {
            name: round(auc(real_scores.mean(1), net(images.float() / 127.5 - 1)[0].mean(1)), 4)
            for name, images in held.items()
        }
        inverted_right = (real_classes[:, INVERTED] > 0) == (held_real[1][:, INVERTED] == 1)
    out["real_inverted_accuracy"] = round(float(inverted_right.float().mean()), 4)
    return out


@torch.no_grad()
def translations_over_run(run: str, G, x: torch.Tensor, wanted: torch.Tensor) -> torch.Tensor:
    """uint8 translations of ``x [N, 3, S, S]`` (in [-1, 1]) into ``wanted [N, K]``, image ``i``
    by the G of the run's ``i % k``-th of its ``k`` stored checkpoints (oldest first): the fakes
    of a D that followed G through the run, not only its last state."""
    stored = list_checkpoints(run)
    out = torch.empty(x.shape, dtype=torch.uint8)
    for k, path in enumerate(stored):
        G.load_state_dict(load_checkpoint(path)["G"])
        index = torch.arange(k, len(x), len(stored))
        fake = torch.cat([G(a, c) for a, c in zip(x[index].split(BATCH), wanted[index].split(BATCH))])
        out[index] = to_uint8(fake)
    return out


def game_detectors(sets: dict, targets: dict, train: int, steps: int, seeds: int) -> dict:
    """``game_detector`` for each of ``HEADS``, trained on two kinds of fakes (the caricature;
    G's own translations, flips and keeps, as the game's D sees them; with ``over_run_flip``
    in ``sets``, a third: the same by the run's stored G, ``translations_over_run``) against
    reals of the same targets with their labels, ``seeds`` fresh D each; scored on the
    held-out flip targets."""
    held_real = (sets["real_flip"][train:], targets["real_flip"][train:])
    held = {name: sets[name][train:] for name in ("caricature_flip", "fake_flip", "truth_flip")}
    real_flip = (sets["real_flip"][:train], targets["real_flip"][:train])
    both = [(sets[f"real_{k}"][:train], targets[f"real_{k}"][:train]) for k in ("flip", "keep")]
    trainings = {
        "caricature": (*real_flip, sets["caricature_flip"][:train]),
        "G's translations": (
            torch.cat([b[0] for b in both]),
            torch.cat([b[1] for b in both]),
            torch.cat([sets["fake_flip"][:train], sets["fake_keep"][:train]]),
        ),
    }
    if "over_run_flip" in sets:
        fakes = torch.cat([sets["over_run_flip"][:train], sets["over_run_keep"][:train]])
        trainings["G's translations over the run"] = (*trainings["G's translations"][:2], fakes)
    result = {}
    for trained_on, train_sets in trainings.items():
        for heads in HEADS:
            runs = [game_detector(train_sets, held_real, held, heads, steps, seed) for seed in range(seeds)]
            summary = {
                key: [round(sum(r[key] for r in runs) / seeds, 4), [r[key] for r in runs]] for key in runs[0]
            }
            result[f"{trained_on} / {heads}"] = summary
            print(f"game-like D, trained on {trained_on}, {heads}: {summary}", flush=True)
    return result


@torch.no_grad()
def run_d_view(D, sets: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> dict:
    """The run's D (``judge``'s) on each set of uint8 images: its mean PatchGAN score (mean, sd),
    the AUC of that score against the reals of the same targets, and P(inverted) by its class head split
    by whether the image's target is inverted."""
    scores, out = {}, {}
    for name, images in sets.items():
        pairs = zip(images.split(BATCH), targets[name].split(BATCH))
        parts = [D(b.float() / 127.5 - 1, c) for b, c in pairs]
        scores[name] = torch.cat([p[0].mean(1) for p in parts])
        p_inv = torch.sigmoid(torch.cat([p[1][:, INVERTED] for p in parts]))
        inverted = targets[name][:, INVERTED] == 1
        out[name] = {
            "realism_mean": round(float(scores[name].mean()), 4),
            "realism_sd": round(float(scores[name].std()), 4),
            "p_inverted_if_target_inverted": round(float(p_inv[inverted].mean()), 4),
            "p_inverted_if_target_plain": round(float(p_inv[~inverted].mean()), 4),
        }
    for name in sets:
        reals = "real_flip" if "flip" in name else "real_keep"
        if not name.startswith("real"):
            out[name]["auc_vs_reals"] = round(auc(scores[reals], scores[name]), 4)
    return out


@torch.no_grad()
def cycle_path(G, D, x, sources, wanted, truth, caricature, garment, steps: int = 5) -> list[dict]:
    """The cycle's view of the road from the failure to the truth: the flip translation drawn
    with its garment mixed ``(1 - t) * caricature + t * truth`` (the background true), for
    ``t`` from 0 to 1, translated back by the run's G to the sources' labels. Per ``t``: the
    reconstruction MAE ``|x - G(mix, sources)|`` on the [0, 1] scale (what ``L_rec`` would
    charge G for drawing that translation, the back-translation as trained) and the run's D's
    mean realism score. ``x`` is the source images ``[N, 3, S, S]`` in [-1, 1]."""
    rows = []
    for t in torch.linspace(0, 1, steps).tolist():
        mix = torch.where(garment, (1 - t) * caricature.float() + t * truth.float(), truth.float())
        mix = mix / 127.5 - 1
        back = torch.cat([G(m, c) for m, c in zip(mix.split(BATCH), sources.split(BATCH))])
        realism = torch.cat([D(m, c)[0].mean(1) for m, c in zip(mix.split(BATCH), wanted.split(BATCH))])
        rec = ((back - x).abs() / 2).mean()
        rows.append(
            {"t": round(t, 2), "rec_mae": round(float(rec), 4), "realism": round(float(realism.mean()), 4)}
        )
    return rows


@torch.no_grad()
def fake_rec(G, x: torch.Tensor, fake: torch.Tensor, sources: torch.Tensor) -> float:
    """The reconstruction MAE ([0, 1] scale) of G's own translations ``fake`` uint8."""
    fake = fake.float() / 127.5 - 1
    back = torch.cat([G(m, c) for m, c in zip(fake.split(BATCH), sources.split(BATCH))])
    return round(float(((back - x).abs() / 2).mean()), 4)


def judge(D: StarDiscriminator, weights: dict):
    """The run's D as ``f(images, target labels) -> (patch scores, logits)``: a conditional D
    (``model.d_conditional``) judges realism for the targets, a plain one ignores them."""
    D.load_state_dict(weights)
    D.eval()
    return (lambda x, labels: D(x, labels)) if D.embed is not None else (lambda x, labels: D(x))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True)
    parser.add_argument("--n", type=int, default=1500, help="garments per set (2/3 to train the detector)")
    parser.add_argument("--epochs", type=int, default=4, help="detector epochs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None)
    parser.add_argument(
        "--game-d",
        type=int,
        default=0,
        metavar="SEEDS",
        help="also train SEEDS game-like fresh D per variant",
    )
    parser.add_argument("--game-d-steps", type=int, default=1500, help="their D updates (the preset's)")
    parser.add_argument("--only-game-d", action="store_true", help="skip the phase-6 measurements")
    parser.add_argument(
        "--over-run", action="store_true", help="game-like D also on the translations of every stored G"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    started = time.process_time()
    cfg = saved_config(args.run)
    test_cfg = dataclasses.replace(cfg.data, split="test", limit=None)
    test = load_dataset(test_cfg, seed=0)
    domains = Domains.of(test)
    combos = target_combinations(domains.vectors(load_dataset(cfg.data, seed=cfg.run.seed)))
    gray = garments(test_cfg)[0]
    G, meta = load_star_generator(args.run)
    last = latest_checkpoint(args.run)
    if last is None:
        raise SystemExit(f"no checkpoint in {args.run}/checkpoints: the probe needs the run's D")
    payload = load_checkpoint(last)
    m = cfg.model
    D = judge(
        StarDiscriminator(3, len(domains.names), test.shape[1], m.d_width, m.d_split, m.d_conditional),
        payload["D"],
    )
    n = args.n
    order = torch.randperm(len(test), generator=torch.Generator().manual_seed(args.seed))
    fake_idx, real_idx = order[:n], order[n : 2 * n]  # disjoint garments: fakes vs reals
    sources = domains.vectors(test)[fake_idx]
    sets, targets = {}, {}
    for kind, flip in (("flip", True), ("keep", False)):
        wanted = draw_targets(sources, combos, flip, args.seed + flip)
        with torch.no_grad():
            x = test.data[fake_idx].float() / 127.5 - 1
            fake = torch.cat([G(a, c) for a, c in zip(x.split(BATCH), wanted.split(BATCH))])
        sets[f"fake_{kind}"], sets[f"real_{kind}"] = to_uint8(fake), render(gray[real_idx], wanted)
        sets[f"truth_{kind}"] = render(gray[fake_idx], wanted)
        targets.update({f"{s}_{kind}": wanted for s in ("fake", "real", "truth")})
        if args.over_run:
            sets[f"over_run_{kind}"] = translations_over_run(args.run, build_generator(meta), x, wanted)
        if flip and not args.only_game_d:
            sets["caricature_flip"] = swap_inversion(gray[fake_idx], wanted, "garment")
            sets["background_flip"] = swap_inversion(gray[fake_idx], wanted, "background")
            targets["caricature_flip"] = targets["background_flip"] = wanted
            garment = (gray[fake_idx] > GARMENT_LEVEL).expand(-1, 3, -1, -1)
            path = cycle_path(G, D, x, sources, wanted, sets["truth_flip"], sets["caricature_flip"], garment)
            path.append({"t": "G's own", "rec_mae": fake_rec(G, x, sets["fake_flip"], sources)})
            print(f"cycle path (caricature t=0 -> truth t=1): {path}", flush=True)
    train = n * 2 // 3
    result = {"run": args.run, "n": n}
    if args.only_game_d:
        sets["caricature_flip"] = swap_inversion(gray[fake_idx], targets["fake_flip"], "garment")
    else:
        detect = {}
        for name in ("fake_flip", "fake_keep", "caricature_flip", "truth_flip"):
            reals = sets["real_flip" if "flip" in name else "real_keep"]
            detect[name] = detector_accuracy(reals, sets[name], train, args.epochs, args.seed)
            print(f"detector real vs {name}: {detect[name]}", flush=True)
        result.update(detector=detect, cycle_path=path, run_D=run_d_view(D, sets, targets))
    if args.game_d:
        result["game_d"] = game_detectors(sets, targets, train, args.game_d_steps, args.game_d)
    result |= {
        "cpu_s": round(time.process_time() - started, 1),
        "load": [round(x, 1) for x in os.getloadavg()],
    }
    print("RESULT " + json.dumps(result), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
