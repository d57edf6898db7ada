"""The generator zoo: one short, seeded run of every generator family ganforge has, sampled.

A **family** is a generator architecture; its **members** differ in loss, width or seed. A
detector tested on a family it never saw (``lofo_folds``) must have seen no member of it.
Families, by the generator network (what leaves the traces a detector reads):

- ``mlp``: the fully-connected GAN (``models/mlp.py``);
- ``dcgan``: transposed-convolution G (``models/dcgan.py``) at two widths and three losses, and
  WGAN-GP. WGAN-GP is a loss and a training scheme, not an architecture: ganforge runs it on
  the DCGAN networks, so it is a member of ``dcgan``, not a family of its own;
- ``cgan``: the conditional MLP (``models/cgan.py``);
- ``cdcgan``: the conditional DCGAN, projection and ACGAN discriminators. G is the same network
  (conditional batch norm) in both; only D differs, so they are two members of one family;
- ``cyclegan``: the ResNet translator, fmnist-tint, B -> A (tinted test garments back to gray);
- ``pix2pix``: the U-Net translator, fmnist-edges, A -> B (test garments to edge maps);
- ``stargan``: the multi-domain translator, fmnist-styles (test garments into another style).

Every sample is uint8 ``[N, 1, 28, 28]``. Translations in colour (CycleGAN's 3-channel gray,
StarGAN's tinted styles) become gray by ITU-R 601-2 luma (``data.image_ops.to_gray``), exactly
as the detectors' input code converts any colour image. A family is compared with real images
of **its output domain**, rendered by the same data code (``DOMAINS``): Fashion-MNIST garments,
their edge maps (``data.translation.edges``) or their styles (``data.styles.render``), gray.

Runs go through ``training.train`` with the presets in ``configs/``, ``run.threads=1`` and a
fixed seed; samples are cached as ``.npy`` under ``<cache>/detect-zoo/``, keyed by a hash of
everything that decides them (``member_key``), so a rerun trains nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ganforge.data.image_ops import convert_channels
from ganforge.detect.inputs import DetectError
from ganforge.files import atomic_write, cache_root

ZOO_VERSION = 1  # bump when the sampling code changes what a cached .npy holds
CONFIGS = Path(__file__).resolve().parents[3] / "configs"  # the repository's presets
QUIET = ["run.progress=false", "run.threads=1", "run.device=cpu", "eval.every=0"]
QUIET += ["train.sample_every=1000000", "train.checkpoint_every=1000000", "train.log_every=50"]


@dataclass(frozen=True)
class Member:
    """One zoo run: a preset, its overrides, and how its generator is sampled (``sampler``)."""

    name: str  # unique, e.g. dcgan-w32-lsgan
    family: str  # the generator architecture (see the module docstring)
    preset: str  # file name in configs/
    sets: tuple[str, ...]  # --set overrides (steps, loss, width, data)
    sampler: str = "gan"  # gan | cyclegan-BtoA | pix2pix | stargan

    @property
    def domain(self) -> str:
        """The data set whose real images this member's samples imitate."""
        return {"pix2pix": "fmnist-edges", "stargan": "fmnist-styles"}.get(self.sampler, "fashion-mnist")


FMNIST = ("data.name=fashion-mnist",)
ZOO: tuple[Member, ...] = (
    Member("mlp", "mlp", "gan-mlp-digits.yaml", (*FMNIST, "train.steps=1500", "model.dropout=0.3")),
    Member("dcgan-w32-ns", "dcgan", "dcgan-fashion-mnist.yaml", ("train.steps=600",)),
    Member("dcgan-w32-lsgan", "dcgan", "dcgan-fashion-mnist.yaml", ("train.steps=300", "train.loss=lsgan")),
    Member("dcgan-w32-hinge", "dcgan", "dcgan-fashion-mnist.yaml", ("train.steps=300", "train.loss=hinge")),
    Member(
        "dcgan-w16-ns",
        "dcgan",
        "dcgan-fashion-mnist.yaml",
        ("train.steps=500", "model.g_width=16", "model.d_width=16", "run.seed=1"),
    ),
    Member(
        "wgan-gp",
        "dcgan",
        "dcgan-fashion-mnist.yaml",
        ("train.steps=150", "train.loss=wgan-gp", "train.d_steps=3", "train.beta1=0.0", "train.beta2=0.9"),
    ),
    Member("cgan", "cgan", "cgan-digits.yaml", (*FMNIST, "train.steps=1000")),
    Member("cdcgan-projection", "cdcgan", "cdcgan-fashion-mnist.yaml", ("train.steps=300",)),
    Member(
        "cdcgan-acgan",
        "cdcgan",
        "cdcgan-fashion-mnist.yaml",
        ("train.steps=300", "model.conditioning=acgan"),
    ),
    # The two translation members pin what their presets have since changed (issues 10/11 tuned
    # them), so the shipped detector and the tables in docs/detect.md stay reproducible.
    Member(
        "cyclegan",
        "cyclegan",
        "cyclegan-fmnist-tint.yaml",
        ("train.steps=150", "model.generator=resnet", "model.res_blocks=3", "model.full_res=false")
        + ("train.lr_g=0.0002", "train.lr_d=0.0002", "train.identity_weight=0.5", "train.marginal_weight=0")
        + ("train.identity_batch=none", "train.memory_format=auto", "train.lanes=off"),
        "cyclegan-BtoA",
    ),
    Member("pix2pix", "pix2pix", "pix2pix-fmnist-edges.yaml", ("train.steps=400",), "pix2pix"),
    Member(
        "stargan",
        "stargan",
        "stargan-fmnist-styles.yaml",
        ("train.steps=100", "train.loss=wgan-gp", "train.gp_weight=10", "train.d_steps=5")
        + ("train.lr_g=0.0001", "train.lr_d=0.0001", "model.generator=resnet"),
        "stargan",
    ),
)
FAMILIES = tuple(dict.fromkeys(m.family for m in ZOO))


def zoo_dir() -> Path:
    return cache_root() / "detect-zoo"


def member_key(member: Member, n: int, seed: int) -> str:
    """A hash of everything that decides ``member``'s samples: its spec, the preset's text,
    the sample count and seed, and ``ZOO_VERSION``."""
    preset_path = CONFIGS / member.preset
    if not preset_path.is_file():
        raise DetectError(f"the zoo trains from the repository's presets: {preset_path} is missing")
    preset = preset_path.read_text()
    spec = {**dataclasses.asdict(member), "preset_text": preset, "quiet": QUIET, "n": n, "seed": seed}
    spec["zoo_version"] = ZOO_VERSION
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def member_samples(member: Member, n: int, seed: int = 0, folder: Path | None = None) -> np.ndarray:
    """``n`` samples of ``member``, uint8 ``[n, 1, 28, 28]``: from the cache, or trained and
    sampled now (then cached). ``folder`` defaults to ``zoo_dir()``."""
    folder = Path(folder) if folder else zoo_dir()
    path = folder / f"{member.name}-{member_key(member, n, seed)}.npy"
    if path.is_file():
        return np.load(path, allow_pickle=False)
    started = time.process_time()
    nets = train_member(member, folder / "runs" / path.stem)
    images = sample_member(member, nets, n, seed)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: _save_npy(tmp, images))
    facts = {"member": member.name, "cpu_seconds": round(time.process_time() - started, 1), "n": n}
    atomic_write(path.with_suffix(".json"), lambda tmp: Path(tmp).write_text(json.dumps(facts)))
    return images


def _save_npy(path: str, images: np.ndarray) -> None:
    with open(path, "wb") as handle:  # np.save(str) would append ".npy" to the temporary name
        np.save(handle, images)


def train_member(member: Member, run_dir: Path) -> dict:
    """Train ``member`` through the ordinary loop; returns ``{key: (net, meta)}``, the game's
    ``inference()`` (``generator``, or the translators ``AtoB`` / ``BtoA``)."""
    from ganforge.config import load_config
    from ganforge.training import train

    shutil.rmtree(run_dir, ignore_errors=True)  # a half-written run of a killed build
    cfg = load_config(CONFIGS / member.preset, [*member.sets, *QUIET, f"run.dir={run_dir}"])
    state = train(cfg)
    if state.step < cfg.train.steps:  # stopped by a signal: never cache a half-trained member
        raise DetectError(f"zoo member {member.name} stopped at step {state.step} of {cfg.train.steps}")
    return state.inference()


def sample_member(member: Member, nets: dict, n: int, seed: int) -> np.ndarray:
    """``n`` gray uint8 samples ``[n, 1, 28, 28]`` of a trained member (see the module docstring)."""
    from ganforge.evaluation.stargan import translate_all
    from ganforge.evaluation.translation import translate_images
    from ganforge.sampling import generate, seeded_inputs

    if member.sampler == "gan":
        G, meta = nets["generator"]
        z, labels = seeded_inputs(meta, n, seed)
        images = ((generate(G, z, labels) + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()
    elif member.sampler == "cyclegan-BtoA":
        from ganforge.data.translation import tint

        images = translate_images(nets["BtoA"][0], tint(garment_inputs(n, seed)))
    elif member.sampler == "pix2pix":
        images = translate_images(nets["AtoB"][0], garment_inputs(n, seed))
    else:
        images = _stargan_samples(nets["generator"][0], n, seed, translate_all)
    return np.ascontiguousarray(convert_channels(images, 1))


def _stargan_samples(G, n: int, seed: int, translate_all) -> np.ndarray:
    """Styled test garments, each into one other style drawn with ``seed``."""
    from ganforge.data.styles import combinations, render

    G.eval()
    garments, attributes = garment_inputs(n, seed), _input_styles(n, seed)
    sources = render(torch.from_numpy(garments), attributes)
    generator = torch.Generator().manual_seed(seed)
    targets = combinations(n, "test")[torch.randperm(n, generator=generator)]
    same = (targets == attributes).all(1)
    targets[same, 3] = 1 - targets[same, 3]  # flip "inverted" where the draw repeats the source
    images = torch.empty((n, 3, *sources.shape[2:]), dtype=torch.uint8)
    for target in torch.unique(targets, dim=0):  # translate_all takes one target per call here
        rows = (targets == target).all(1).nonzero().flatten()
        images[rows] = translate_all(G, sources[rows], attributes[rows], target[None], "cpu")[0]
    return images.numpy()


# --- real images of each domain -----------------------------------------------------------


def _garments(split: str) -> np.ndarray:
    from ganforge.config import DataConfig
    from ganforge.data.idx import FASHION_MNIST, load_idx_set

    cfg = DataConfig(name="fashion-mnist", split=split)
    return load_idx_set(FASHION_MNIST, cfg, seed=0).data.numpy()


def _pick(count: int, n: int, seed: int) -> np.ndarray:
    if n > count:
        raise ValueError(f"asked for {n} images of a split of {count}")
    return np.sort(np.random.RandomState(seed).permutation(count)[:n])


def garment_inputs(n: int, seed: int) -> np.ndarray:
    """``n`` Fashion-MNIST test garments, uint8 ``[n, 1, 28, 28]`` (the translators' inputs)."""
    garments = _garments("test")
    return garments[_pick(len(garments), n, 1000 + seed)]


def _input_styles(n: int, seed: int) -> torch.Tensor:
    from ganforge.data.styles import combinations

    return combinations(10_000, "test")[torch.from_numpy(_pick(10_000, n, 1000 + seed))]


def real_images(domain: str, split: str, n: int, seed: int) -> np.ndarray:
    """``n`` real images of ``domain`` (a ``Member.domain``), gray uint8 ``[n, 1, 28, 28]``,
    drawn without replacement from ``split`` with ``seed``."""
    from ganforge.data.styles import combinations, render
    from ganforge.data.translation import edges

    garments = _garments(split)
    rows = _pick(len(garments), n, seed)
    if domain == "fashion-mnist":
        return garments[rows]
    if domain == "fmnist-edges":
        return edges(garments[rows])
    if domain == "fmnist-styles":
        styled = render(torch.from_numpy(garments[rows]), combinations(len(garments), split)[rows])
        return np.ascontiguousarray(convert_channels(styled.numpy(), 1))
    raise ValueError(f"unknown zoo domain {domain!r}")


# --- leave one family out -------------------------------------------------------------------


def lofo_folds(members: tuple[Member, ...] = ZOO) -> Iterator[tuple[str, list[Member], list[Member]]]:
    """``(held-out family, training members, test members)`` for every family: no member of
    the held-out family is ever among the training members."""
    for family in dict.fromkeys(m.family for m in members):
        train = [m for m in members if m.family != family]
        test = [m for m in members if m.family == family]
        assert not {m.family for m in train} & {family}
        yield family, train, test
