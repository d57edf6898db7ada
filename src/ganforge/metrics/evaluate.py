"""Evaluation: image sources -> features -> metrics -> scores with their protocol cards.

``ganforge eval`` and training with ``eval.every`` both come here. The steps:

1. **Sources.** A data set with a split (``fashion-mnist:test``), a ``.npy`` file of uint8
   images (``[N, H, W]``, ``[N, H, W, C]`` or ``[N, C, H, W]``), a folder of image files, or a
   run folder (its exported generator is sampled). Each becomes uint8 ``[N, C, H, W]``.
2. **Features.** A feature network (``features.py``) turns images into float64 features and,
   for ganforge's evaluator CNNs, class probabilities. Real-data features are cached once per
   (data set, split, data settings, feature network and its weights' hash, n, seed) in
   ``$GANFORGE_CACHE/stats`` (default ``~/.cache/ganforge/stats``), written atomically.
3. **Metrics.** The pure functions of this package (fid, kid, prdc, scores) on those arrays.
4. **Protocol card.** Every score carries what decides it: metric, feature network and its
   weights' sha256, input size and resize method, n_real, n_fake, real split, seed, version.
5. **Context.** The same metrics for real-vs-real (the data set's other split: the best a
   perfect generator can reach at this sample size) and two trivial generators (one training
   image repeated; uniform noise), cached too, printed beside the run's figure.

Metric names carry the feature network: ``fid_fmnist`` is FID on the Fashion-MNIST evaluator's
features, ``fid_inception`` the standard Inception FID.
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import scipy.linalg
import torch
from PIL import Image
from threadpoolctl import threadpool_limits

from ganforge import __version__
from ganforge.checkpoint import generator_paths, load_generator
from ganforge.config import DataConfig, load_config
from ganforge.data import DATASETS, load_dataset
from ganforge.data.batches import from_unit_range
from ganforge.data.folder import list_images, read_images
from ganforge.errors import GanforgeError
from ganforge.files import atomic_write, cache_root
from ganforge.metrics.errors import MetricError
from ganforge.metrics.features import FeatureNetwork, Features, get_feature_network
from ganforge.metrics.fid import fid_from_features
from ganforge.metrics.kid import kid
from ganforge.metrics.prdc import density_coverage, precision_recall
from ganforge.metrics.scores import class_coverage, inception_score
from ganforge.metrics.toy2d import evaluate_points
from ganforge.models import sample_noise

CACHE_FORMAT = 1  # bump when the cached arrays change meaning
KID_SUBSETS, KID_SUBSET_SIZE = 100, 1000  # torch-fidelity's defaults
PR_K, DC_K = 3, 5  # Kynkaanniemi et al. 2019; Naeem et al. 2020
IS_SPLITS = 10
POINT_SAMPLES = 2500  # PacGAN's protocol for the 2-D mixtures
DEFAULT_N = 10_000  # samples drawn from a generator unless told otherwise

# What each base metric is, for the protocol card; the order is the printing order.
DEFINITIONS = {
    "fid": "Frechet distance between Gaussians fitted to real and generated features "
    "(Heusel et al. 2017); lower is better",
    "kid": "unbiased MMD^2, cubic polynomial kernel (x.y/D + 1)^3, mean and std over subsets "
    "(Binkowski et al. 2018); lower is better",
    "precision": f"share of generated samples inside the real k-NN manifold, k={PR_K} "
    "(Kynkaanniemi et al. 2019); higher is better",
    "recall": f"share of real samples inside the generated k-NN manifold, k={PR_K} "
    "(Kynkaanniemi et al. 2019); higher is better",
    "density": f"mean count of real k-NN balls holding a generated sample / k, k={DC_K} "
    "(Naeem et al. 2020); 1 for a perfect generator",
    "coverage": f"share of real samples whose k-NN ball holds a generated sample, k={DC_K} "
    "(Naeem et al. 2020); higher is better",
    "is": f"exp E KL(p(y|x) || p(y)) of the classifier's softmax, {IS_SPLITS} splits "
    "(Salimans et al. 2016 style); higher is better, at most the number of classes",
    "classes": "classes holding >= 2 % of the generated samples by the classifier's argmax; "
    "entropy and KL to the classifier's histogram on the real set alongside",
}
LOWER_IS_BETTER = {"fid", "kid", "reverse_kl"}
GROUPS = {
    "prdc": ["precision", "recall", "density", "coverage"],
    "pr": ["precision", "recall"],
    "dc": ["density", "coverage"],
}
NEEDS_CLASSES = {"is", "classes"}


def parse_metrics(text: str, network: FeatureNetwork | None = None) -> list[str]:
    """``"fid,kid,prdc"`` -> base metric names in printing order; ``auto`` picks all that fit.

    ``is`` and ``classes`` need a classifier network (an evaluator, not Inception).
    """
    if text.strip() == "auto":
        names = ["fid", "kid", "precision", "recall", "density", "coverage"]
        if network is None or network.has_classes:
            names += ["is", "classes"]
        return names
    wanted: list[str] = []
    for part in (p.strip().lower() for p in text.split(",") if p.strip()):
        expanded = GROUPS.get(part, [part])
        for name in expanded:
            if name not in DEFINITIONS:
                raise MetricError(
                    f"unknown metric '{part}'; choose from: "
                    + ", ".join([*DEFINITIONS, *GROUPS])
                    + " (comma-separated; "
                    "conditional too, for a conditional generator's --run)"
                )
            if name not in wanted:
                wanted.append(name)
    if not wanted:
        raise MetricError("no metrics asked for; e.g. --metrics fid,kid")
    if network is not None and not network.has_classes:
        missing = [m for m in wanted if m in NEEDS_CLASSES]
        if missing:
            raise MetricError(
                f"{', '.join(missing)} need a classifier; the {network.name} "
                "network has no classes; use an evaluator network (fmnist, mnist, "
                "cifar10) or leave them out"
            )
    return [name for name in DEFINITIONS if name in wanted]


def metric_direction(column: str) -> int:
    """+1 when a larger value of this column (``fid_fmnist``, ``modes_covered``) is better."""
    base = column if column in LOWER_IS_BETTER else column.split("_")[0]
    return -1 if base in LOWER_IS_BETTER else 1


# --- image sources ------------------------------------------------------------------------------


@dataclass
class Source:
    """Where images come from; ``load`` turns it into uint8 ``[N, C, H, W]``."""

    kind: str  # "dataset" | "npy" | "folder" | "run"
    label: str  # as printed and stored in the card
    data_cfg: DataConfig | None = None  # data sets (and the real data of a run)
    path: Path | None = None  # files, folders, runs
    which: str = "last"  # runs: which exported generator

    @property
    def dataset(self) -> str | None:
        return self.data_cfg.name if self.data_cfg is not None else None


def dataset_source(name: str, split: str = "train", data_cfg: DataConfig | None = None) -> Source:
    cfg = DataConfig(**{**(vars(data_cfg) if data_cfg else {}), "name": name, "split": split})
    return Source("dataset", f"{name}:{split}", data_cfg=cfg)


def parse_source(text: str, which: str = "last") -> Source:
    """``fashion-mnist:test`` | ``x.npy`` | image folder | run folder -> ``Source``."""
    path = Path(text).expanduser()
    if path.is_dir():
        if any((path / name).is_file() for name in ("generator.json", "generator-best.json")):
            return Source("run", f"{path} ({which})", path=path, which=which)
        return Source("folder", str(path), path=path)
    if path.suffix == ".npy":
        if not path.is_file():
            raise MetricError(f"{path} does not exist")
        return Source("npy", str(path), path=path)
    name, _, split = text.partition(":")
    if name in DATASETS:
        if DATASETS[name].kind != "image":
            raise MetricError(f"{name} is a point set; image metrics need images")
        split = split or "train"
        if split not in ("train", "test"):
            raise MetricError(f"{text}: the split must be train or test, got '{split}'")
        return dataset_source(name, split)
    raise MetricError(
        f"'{text}' is neither a data set name[:split] ({', '.join(DATASETS)}), a "
        ".npy file, an image folder nor a run folder"
    )


def subset_indices(total: int, n: int | None, seed: int) -> np.ndarray:
    """All indices when ``n`` covers the set, else a seeded random subset (sorted)."""
    if n is None or n >= total:
        return np.arange(total)
    return np.sort(np.random.RandomState(seed).permutation(total)[:n])


def images_from_array(array: np.ndarray, label: str) -> tuple[np.ndarray, list[str]]:
    """A .npy array -> uint8 ``[N, C, H, W]`` (C in 1, 3) and notes on what was changed.

    Layouts: ``[N, H, W]`` (gray), ``[N, H, W, C]`` or ``[N, C, H, W]`` with C in 1, 3, 4
    (alpha is dropped). Anything else, or a non-uint8 array, is a ``MetricError``.
    """
    notes: list[str] = []
    if array.dtype != np.uint8:
        raise MetricError(
            f"{label} holds {array.dtype}; save images as uint8 0..255 (`ganforge sample --out x.npy` does)"
        )
    if array.ndim == 3:
        array = array[:, None]
    elif array.ndim == 4 and array.shape[-1] in (1, 3, 4) and array.shape[1] not in (1, 3, 4):
        array = array.transpose(0, 3, 1, 2)
    elif not (array.ndim == 4 and array.shape[1] in (1, 3, 4)):
        raise MetricError(
            f"{label} has shape {tuple(array.shape)}; expected uint8 images "
            "[N, H, W], [N, H, W, C] or [N, C, H, W] with C = 1, 3 or 4"
        )
    if array.shape[1] == 4:
        notes.append(f"{label}: alpha channel dropped")
        array = array[:, :3]
    if len(array) == 0:
        raise MetricError(f"{label} holds no images")
    return np.ascontiguousarray(array), notes


def _read_folder(path: Path, n: int | None, seed: int) -> tuple[np.ndarray, list[str]]:
    paths = list_images(path)
    if not paths:
        raise MetricError(f"{path} holds no image files")
    paths = [paths[i] for i in subset_indices(len(paths), n, seed)]
    with Image.open(paths[0]) as first:
        side, channels = min(first.size), 1 if first.mode in ("1", "L", "I", "I;16") else 3
    # Every file is center-cropped to a square and resized to the first file's side.
    images, _ = read_images(paths, side, channels, on_corrupt="skip")
    return images, [
        f"{path}: images read as {side}x{side}, {channels} channel(s) (center crop, "
        "Pillow bicubic where a file differs)"
    ]


@torch.no_grad()
def sample_generator(
    G: torch.nn.Module,
    meta: dict,
    n: int,
    seed: int,
    device: str | torch.device = "cpu",
    batch_size: int = 500,
) -> torch.Tensor:
    """``n`` samples of G (eval mode) from seeded noise: images ``[n, C, H, W]`` in [-1, 1] or
    points ``[n, D]``; float32 on the CPU. The noise has its own generator, so a training run's
    random stream is untouched."""
    model = meta["model"]
    generator = torch.Generator().manual_seed(seed)
    z = sample_noise(n, model["z_dim"], model["noise"], generator=generator)
    # A conditional G gets seeded uniform classes (left to itself it would draw them from the
    # global random stream, which a training run must not see moved).
    num_classes = meta.get("num_classes")
    labels = torch.randint(num_classes, (n,), generator=generator) if num_classes else None
    was_training = G.training
    G.eval()
    parts = []
    for start in range(0, n, batch_size):
        z_part = z[start : start + batch_size].to(device)
        out = G(z_part) if labels is None else G(z_part, labels[start : start + batch_size].to(device))
        parts.append(out.float().cpu())
    G.train(was_training)
    samples = torch.cat(parts)
    if not torch.isfinite(samples).all():  # uint8 conversion would hide them as black pixels
        raise MetricError(
            "the generator produced NaN/inf samples; its weights are broken "
            "(a diverged run?): evaluate an earlier checkpoint or --which best"
        )
    return samples


def to_uint8_images(samples: torch.Tensor) -> np.ndarray:
    """``[N, C, H, W]`` in [-1, 1] -> uint8 ``[N, C, H, W]`` (quantized as a saved image is)."""
    return from_unit_range(samples).numpy()


def run_data_config(run_dir: Path, meta: dict) -> DataConfig:
    """The data settings a run trained on (its config.yaml), for its real reference."""
    saved = run_dir / "config.yaml"
    if saved.is_file():
        return load_config(saved).data
    return DataConfig(name=meta["data"]["name"])


def load_source(
    source: Source, n: int | None, seed: int, device: str | torch.device = "cpu"
) -> tuple[np.ndarray, list[str]]:
    """Images of ``source`` as uint8 ``[N, C, H, W]`` (at most ``n``) and conversion notes."""
    if source.kind == "dataset":
        dataset = load_dataset(source.data_cfg, seed=0)
        if dataset.kind != "image":
            raise MetricError(f"{source.label} is a point set; image metrics need images")
        index = subset_indices(len(dataset), n, seed)
        return dataset.data[torch.from_numpy(index)].numpy(), []
    if source.kind == "npy":
        try:
            array = np.load(source.path, allow_pickle=False, mmap_mode="r")
        except (OSError, ValueError) as error:
            raise MetricError(f"cannot read {source.path} as a .npy array ({error})") from None
        index = subset_indices(len(array), n, seed)
        return images_from_array(np.asarray(array[index]), source.label)
    if source.kind == "folder":
        return _read_folder(source.path, n, seed)
    G, meta = load_generator(source.path, source.which, device=device)
    if meta["data"]["kind"] != "image":
        raise MetricError(f"{source.path} generates points; use `ganforge eval --run` for mode coverage")
    return to_uint8_images(sample_generator(G, meta, n or DEFAULT_N, seed, device)), []


# --- real features and their cache ------------------------------------------------------------


def stats_dir() -> Path:
    return cache_root() / "stats"


@dataclass
class RealFeatures:
    """Features of a real image set and what the context baselines need from it."""

    features: Features
    image_shape: tuple[int, int, int]  # (C, H, W) of the source images
    example: np.ndarray  # one source image, uint8 [C, H, W] (the repeated-image baseline)
    label: str
    notes: list[str] = field(default_factory=list)
    cached: bool = False  # True when read from the cache


def _cache_key(source: Source, network: FeatureNetwork, n: int | None, seed: int) -> dict:
    cfg = source.data_cfg
    return {
        "format": CACHE_FORMAT,
        "dataset": cfg.name,
        "split": cfg.split,
        "root": str(Path(cfg.root).expanduser().resolve()) if cfg.root else None,
        "image_size": cfg.image_size,
        "channels": cfg.channels,
        "limit": cfg.limit,
        "n": n,
        "seed": seed,
        "network": network.name,
        "network_sha256": network.sha256,
        "input_size": network.image_size,
    }


def _cache_path(key: dict, kind: str) -> Path:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    res = f"{key['image_size']}px" if key["image_size"] else "native"
    return stats_dir() / (
        f"{kind}-{key['dataset']}-{key['split']}-{key['network']}-{res}-n{key['n']}-{digest}"
    )


def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "wb") as handle:  # a handle: np.savez would append .npz to a name
            np.savez(handle, **arrays)

    atomic_write(path, write)


def real_features(
    source: Source,
    network: FeatureNetwork,
    n: int | None,
    seed: int,
    device: str | torch.device = "cpu",
    cache: bool = True,
    images: np.ndarray | None = None,
) -> RealFeatures:
    """Features of ``source`` (at most ``n`` images, seeded subset); cached for data sets.

    ``images`` (uint8 ``[N, C, H, W]``, the whole set) skips reading the data set again, e.g.
    during training, where it is already in memory.
    """
    path = None
    if source.kind == "dataset" and cache:
        path = _cache_path(_cache_key(source, network, n, seed), "real").with_suffix(".npz")
        if path.is_file():
            try:
                with np.load(path, allow_pickle=False) as stored:
                    probs = stored["probs"] if stored["probs"].size else None
                    return RealFeatures(
                        Features(
                            stored["features"].astype(np.float64),
                            None if probs is None else probs.astype(np.float64),
                        ),
                        tuple(int(v) for v in stored["image_shape"]),
                        stored["example"],
                        source.label,
                        json.loads(str(stored["notes"])),
                        cached=True,
                    )
            except (OSError, ValueError, KeyError):
                pass  # a damaged cache file is recomputed and replaced
    if images is not None:
        notes: list[str] = []
        images = images[subset_indices(len(images), n, seed)]
    else:
        images, notes = load_source(source, n, seed, device)
    feats, more = network.extract(images, device, label=source.label)
    notes += more
    result = RealFeatures(feats, tuple(images.shape[1:]), images[0].copy(), source.label, notes)
    if path is not None:
        # The network computes in float32, so storing float32 features loses nothing.
        _save_npz(
            path,
            {
                "features": feats.features.astype(np.float32),
                "probs": feats.probs if feats.probs is not None else np.zeros(0),
                "image_shape": np.array(result.image_shape),
                "example": result.example,
                "notes": np.array(json.dumps(notes)),
            },
        )
    return result


# --- scores ---------------------------------------------------------------------------------


def compute_scores(
    real: Features, fake: Features, metrics: list[str], suffix: str, num_classes: int | None = None
) -> dict[str, dict[str, Any]]:
    """Base metric names -> ``{"<metric>_<suffix>": {"value": float, ...}}`` (no cards).

    ``real`` and ``fake`` are float64 features ``[N, D]`` (probabilities for is/classes).
    """
    # One BLAS thread: KID's many small products ran ~10x slower when OpenBLAS's spinning
    # threads competed with torch's on a 2-core machine; one thread is never much slower here.
    with threadpool_limits(limits=1, user_api="blas"):
        return _compute_scores(real, fake, metrics, suffix, num_classes)


def _compute_scores(
    real: Features, fake: Features, metrics: list[str], suffix: str, num_classes: int | None
) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    n_real, n_fake = len(real), len(fake)
    if "fid" in metrics:
        out["fid"] = {"value": fid_from_features(real.features, fake.features)}
    if "kid" in metrics:
        size = min(KID_SUBSET_SIZE, n_real, n_fake)
        result = kid(real.features, fake.features, subsets=KID_SUBSETS, subset_size=size)
        out["kid"] = {
            "value": result["kid_mean"],
            "std": result["kid_std"],
            "parameters": {"subsets": KID_SUBSETS, "subset_size": size},
        }
    if {"precision", "recall"} & set(metrics):
        pr = precision_recall(real.features, fake.features, k=PR_K)
        for name in ("precision", "recall"):
            out[name] = {"value": pr[name], "parameters": {"k": PR_K}}
    if {"density", "coverage"} & set(metrics):
        dc = density_coverage(real.features, fake.features, k=DC_K)
        for name in ("density", "coverage"):
            out[name] = {"value": dc[name], "parameters": {"k": DC_K}}
    if "is" in metrics:
        splits = min(IS_SPLITS, n_fake)
        mean, std = inception_score(fake.probs, splits=splits)
        out["is"] = {"value": mean, "std": std, "parameters": {"splits": splits}}
    if "classes" in metrics:
        real_hist = np.bincount(real.probs.argmax(axis=1), minlength=num_classes)
        result = class_coverage(fake.probs, num_classes, real_label_hist=real_hist)
        out["classes"] = {
            "value": result["classes_covered"],
            "entropy": result["entropy"],
            "kl_to_real": result["kl_to_real"],
            "histogram": result["histogram"],
            "parameters": {"min_share": 0.02},
        }
    return {f"{name}_{suffix}": out[name] for name in metrics if name in out}


def protocol_card(
    metric: str,
    network: FeatureNetwork,
    real_label: str,
    fake_label: str,
    n_real: int,
    n_fake: int,
    seed: int,
    parameters: dict | None = None,
) -> dict:
    """What decides a score, stored beside it and printed with it."""
    return {
        "metric": metric,
        "definition": DEFINITIONS[metric.split("_")[0]],
        **network.card(),
        "real": real_label,
        "fake": fake_label,
        "n_real": n_real,
        "n_fake": n_fake,
        "seed": seed,
        "parameters": parameters or {},
        "ganforge_version": __version__,
    }


def _with_cards(
    scores: dict, network: FeatureNetwork, real: RealFeatures, fake_label: str, n_fake: int, seed: int
) -> dict:
    for name, score in scores.items():
        score["protocol"] = protocol_card(
            name,
            network,
            real.label,
            fake_label,
            len(real.features),
            n_fake,
            seed,
            score.pop("parameters", {}),
        )
    return scores


# --- context numbers --------------------------------------------------------------------------


def _other_split(source: Source) -> Source | None:
    if source.kind != "dataset":
        return None
    other = "test" if source.data_cfg.split == "train" else "train"
    return dataset_source(source.dataset, other, source.data_cfg)


def context_scores(
    real: RealFeatures,
    source: Source,
    network: FeatureNetwork,
    metrics: list[str],
    n: int,
    seed: int,
    device: str | torch.device = "cpu",
    cache: bool = True,
) -> dict[str, dict[str, Any]]:
    """Metric values of reference "generators" next to which a run's figure is read.

    * ``real_<other split>``: ``n`` images of the data set's other split (the floor: a perfect
      generator scores about this at this sample size); only for data-set sources;
    * ``one_repeated_image``: one real image ``n`` times (perfect quality, no diversity);
    * ``uniform_noise``: ``n`` images of uniform random pixels (nothing learned).

    Returns ``{baseline: {metric column: value}}``; cached as JSON for data-set sources.
    """
    path = None
    if source.kind == "dataset" and cache:
        key = {**_cache_key(source, network, len(real.features), seed), "context_n": n, "metrics": metrics}
        path = _cache_path(key, "context").with_suffix(".json")
        if path.is_file():
            try:
                return json.loads(path.read_text())
            except ValueError:
                pass
    num_classes = len(network.class_names) if network.has_classes else None
    baselines: dict[str, Features] = {}
    other = _other_split(source)
    if other is not None:
        try:
            baselines[f"real_{other.data_cfg.split}"] = real_features(
                other, network, n, seed, device, cache
            ).features
        except GanforgeError:
            pass  # e.g. a folder without a test/ split: no floor then (evaluate notes it)
    rng = np.random.RandomState(seed)
    noise = rng.randint(0, 256, size=(n, *real.image_shape), dtype=np.uint8)
    baselines["uniform_noise"] = network.extract(noise, device)[0]
    repeated = np.repeat(real.example[None], n, axis=0)
    baselines["one_repeated_image"] = network.extract(repeated, device)[0]
    out = {}
    for name, feats in baselines.items():
        with warnings.catch_warnings():
            # The repeated image has zero covariance: sqrtm warns it is singular, and the
            # result (0) is exact.
            warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
            scores = compute_scores(real.features, feats, metrics, network.name, num_classes)
        out[name] = {column: score["value"] for column, score in scores.items()}
    if path is not None:
        atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(out, indent=2)))
    return out


# --- the two entry points -----------------------------------------------------------------------


@dataclass
class EvalSettings:
    metrics: str = "auto"  # comma list of base metrics, or auto
    n: int | None = None  # generated (= real) samples; None: 10,000 from a generator (2,500
    # points for a 2-D run), all of a file or folder
    seed: int = 0  # subsets, generator noise, KID subsets, baselines
    feature_net: str = "auto"  # auto | inception | fmnist | mnist | cifar10 | path
    inception_weights: str | None = None
    device: str = "cpu"
    context: bool = True  # compute the real-vs-real and trivial baselines
    cache: bool = True  # read/write cached real statistics


def evaluate(
    real: Source, fake: Source, settings: EvalSettings, log: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Compare two image sources; returns the report (also what metrics.json holds)."""
    dataset = real.dataset
    if dataset is None and fake.kind == "run":
        meta_path = generator_paths(fake.path, fake.which)[1]
        if meta_path.is_file():
            dataset = json.loads(meta_path.read_text())["data"]["name"]
    network = get_feature_network(settings.feature_net, dataset, settings.inception_weights)
    metrics = parse_metrics(settings.metrics, network)
    say = log or (lambda text: None)

    say(f"features of {fake.label} ({network.name}) ...")
    n = settings.n if settings.n is not None else (DEFAULT_N if fake.kind == "run" else None)
    fake_images, notes = load_source(fake, n, settings.seed, settings.device)
    fake_feats, more = network.extract(fake_images, settings.device, label=fake.label)
    notes += more
    n_fake = len(fake_feats)
    say(f"features of {real.label} ({network.name}) ...")
    real_feats = real_features(real, network, n_fake, settings.seed, settings.device, settings.cache)
    notes += real_feats.notes
    num_classes = len(network.class_names) if network.has_classes else None
    scores = compute_scores(real_feats.features, fake_feats, metrics, network.name, num_classes)
    _with_cards(scores, network, real_feats, fake.label, n_fake, settings.seed)
    report: dict[str, Any] = {
        "real": real.label,
        "fake": fake.label,
        "ganforge_version": __version__,
        "feature_network": network.card(),
        "n_real": len(real_feats.features),
        "n_fake": n_fake,
        "seed": settings.seed,
        "real_cached": real_feats.cached,
        "scores": scores,
        "notes": notes,
    }
    if settings.context:
        say("context baselines ...")
        report["context"] = context_scores(
            real_feats, real, network, metrics, n_fake, settings.seed, settings.device, settings.cache
        )
        if not any(name.startswith("real_") for name in report["context"]):
            notes.append(
                f"no real-vs-real floor: {real.label} is not a data set with both a train and a test split"
            )
    return report


def evaluate_run(
    run_dir: str | Path,
    settings: EvalSettings,
    which: str = "last",
    real_split: str = "train",
    log: Callable[[str], None] | None = None,
) -> dict:
    """Evaluate a run's exported generator against its own training data (or ``real_split``).

    Point-set runs get PacGAN's mode coverage (2,500 samples) instead of image metrics.
    """
    run_dir = Path(run_dir)
    G, meta = load_generator(run_dir, which, device=settings.device)
    if meta["data"]["kind"] == "points":
        return evaluate_point_run(G, meta, run_dir, which, settings)
    # "conditional" (class accuracy, intra-class FID) is scored per class, apart from the rest.
    names = [m.strip().lower() for m in settings.metrics.split(",") if m.strip()]
    conditional = meta.get("num_classes") and (names == ["auto"] or "conditional" in names)
    if "conditional" in names and not meta.get("num_classes"):
        raise MetricError(
            "the conditional metrics need a conditional generator (cgan, "
            f"cdcgan); this run's is '{meta['model']['name']}'"
        )
    names = [m for m in names if m != "conditional"]
    data_cfg = run_data_config(run_dir, meta)
    real = dataset_source(data_cfg.name, real_split, data_cfg)
    fake = Source("run", f"{run_dir} ({which}, step {meta.get('step')})", path=run_dir, which=which)
    if names:
        report = evaluate(real, fake, replace(settings, metrics=",".join(names)), log)
    else:
        report = {
            "real": real.label,
            "fake": fake.label,
            "ganforge_version": __version__,
            "n_fake": 0,
            "seed": settings.seed,
            "scores": {},
            "notes": [],
        }
    report.update(run=str(run_dir), which=which, step=meta.get("step"))
    if conditional:
        add_conditional_scores(report, run_dir, meta, which, settings, real_split, log)
    return report


def add_conditional_scores(
    report: dict,
    run_dir: Path,
    meta: dict,
    which: str,
    settings: EvalSettings,
    real_split: str,
    log: Callable[[str], None] | None = None,
) -> None:
    """Class accuracy and intra-class FID (``conditional.evaluate_conditional``) of a
    conditional run, merged into ``report`` with their protocol cards and context."""
    from ganforge.metrics.conditional import DEFAULT_PER_CLASS, evaluate_conditional

    num_classes = meta["num_classes"]
    per_class = DEFAULT_PER_CLASS if settings.n is None else max(1, settings.n // num_classes)
    if log:
        log(f"class accuracy and intra-class FID ({per_class} samples per class) ...")
    try:
        result = evaluate_conditional(
            run_dir,
            which,
            per_class=per_class,
            seed=settings.seed,
            real_split=real_split,
            feature_net=settings.feature_net,
            device=settings.device,
        )
    except MetricError as err:
        if settings.metrics.strip() != "auto":
            raise
        report["notes"].append(f"no class accuracy / intra-class FID: {err}")
        return
    card = {
        **result["protocol"],
        "n_fake": per_class * num_classes,
        "ganforge_version": __version__,
        "parameters": {"per_class": per_class},
    }
    suffix = card["feature_network"]
    report["n_fake"] = report["n_fake"] or card["n_fake"]  # when these are the only scores
    definitions = {
        "class_accuracy": "share of samples asked for class y that the classifier assigns to y "
        "(argmax); higher is better, at most the classifier's test accuracy",
        "intra_fid": "FID between generated and real images of each class, averaged over "
        "classes (Miyato & Koyama 2018); lower is better",
    }
    values = {
        "class_accuracy": {"value": result["class_accuracy"]},
        "intra_fid": {"value": result["intra_fid"]["mean"], "per_class": result["intra_fid"]["per_class"]},
    }
    for name, score in values.items():
        score["protocol"] = {**card, "metric": f"{name}_{suffix}", "definition": definitions[name]}
        report["scores"][f"{name}_{suffix}"] = score
    context = result["context"]
    if context:  # the other split: the classifier's own accuracy and the real-vs-real floor
        row = report.setdefault("context", {}).setdefault(f"real_{context['split'].split(':')[-1]}", {})
        row[f"class_accuracy_{suffix}"] = context["class_accuracy_real"]
        row[f"intra_fid_{suffix}"] = context["intra_fid_real"]


def evaluate_point_run(
    G: torch.nn.Module, meta: dict, run_dir: Path, which: str, settings: EvalSettings
) -> dict:
    """Mode coverage of a 2-D mixture run (PacGAN protocol: 2,500 samples, 3 sigma), by
    ``toy2d.evaluate_points``."""
    data = meta["data"]
    n = settings.n or POINT_SAMPLES
    result = point_scores(evaluate_points(G, meta, n=n, seed=settings.seed))
    card = {
        "metric": "mode_coverage",
        "definition": "PacGAN protocol (Lin et al. 2018): nearest "
        "mode centre; high quality within 3 std; a mode is covered by >= 1 high-quality "
        "sample; reverse KL of the mode histogram to uniform",
        "real": f"{data['name']} mode centres",
        "fake": f"{run_dir} ({which})",
        "n_real": 0,
        "n_fake": n,
        "seed": settings.seed,
        "parameters": {"hq_threshold_std": 3.0},
        "ganforge_version": __version__,
    }
    scores = {name: {"value": value, "protocol": card} for name, value in result.items()}
    scores["modes_covered"]["of"] = len(data["modes"])
    return {
        "real": card["real"],
        "fake": card["fake"],
        "ganforge_version": __version__,
        "run": str(run_dir),
        "which": which,
        "step": meta.get("step"),
        "n_fake": n,
        "seed": settings.seed,
        "scores": scores,
        "notes": [],
    }


def point_scores(result: dict) -> dict[str, float | None]:
    """``evaluate_points``' dict -> the columns modes_covered, high_quality_share, reverse_kl
    (None when no sample is high quality)."""
    return {name: result[name] for name in ("modes_covered", "high_quality_share", "reverse_kl")}


# --- during training ----------------------------------------------------------------------------


class TrainingEvaluator:
    """Scores a generator every ``eval.every`` steps and tracks the best value.

    It takes G (any module mapping z to samples) and never touches the trainer; the real
    features come from the training data already in memory, through the same cache as
    ``ganforge eval``.
    """

    def __init__(
        self,
        eval_cfg,
        data_cfg: DataConfig,
        dataset,
        seed: int,
        device: str | torch.device,
        history: list[dict] | None = None,
    ):
        self.cfg = eval_cfg
        self.dataset = dataset
        self.seed = seed
        self.device = device
        self.points = dataset.kind == "points"
        self.source = dataset_source(data_cfg.name, data_cfg.split, data_cfg)
        if self.points:
            self.network = None
            self.columns = ["modes_covered", "high_quality_share", "reverse_kl"]
            if dataset.modes is None:
                raise MetricError(
                    f"eval.every needs modes to score {dataset.name}; only "
                    "ring8/grid25 have them: set eval.every=0"
                )
        else:
            self.network = get_feature_network(eval_cfg.feature_net, data_cfg.name)
            self.metrics = parse_metrics(eval_cfg.metrics, self.network)
            self.columns = [f"{m}_{self.network.name}" for m in self.metrics]
        best = eval_cfg.best_metric
        self.best_column = self.columns[0] if best == "auto" else best
        if self.best_column not in self.columns:
            raise MetricError(
                f"eval.best_metric={best} is not computed; choose one of: " + ", ".join(self.columns)
            )
        self.direction = metric_direction(self.best_column)
        self.best_value = self._best_in(history or [])
        self._real: RealFeatures | None = None

    def _best_in(self, rows: list[dict]) -> float | None:
        """The best value logged before a resume (rows of metrics.csv, as text)."""
        values = []
        for row in rows:
            try:
                values.append(float(row.get(self.best_column)))
            except (TypeError, ValueError):
                continue
        values = [v for v in values if math.isfinite(v)]
        if not values:
            return None
        return max(values) if self.direction > 0 else min(values)

    def due(self, step: int, total_steps: int) -> bool:
        return self.cfg.every > 0 and (step % self.cfg.every == 0 or step == total_steps)

    def evaluate(self, G: torch.nn.Module, meta: dict) -> dict[str, float]:
        """Metric columns for this step's generator (``meta``: its generator.json contents)."""
        if self.points:
            return point_scores(evaluate_points(G, meta, n=POINT_SAMPLES, seed=self.seed))
        if self._real is None:
            self._real = real_features(
                self.source,
                self.network,
                self.cfg.n,
                self.seed,
                self.device,
                images=self.dataset.data.cpu().numpy(),
            )
        samples = sample_generator(G, meta, self.cfg.n, self.seed, self.device)
        fake, _ = self.network.extract(to_uint8_images(samples), self.device, label="generated")
        num_classes = len(self.network.class_names) if self.network.has_classes else None
        scores = compute_scores(self._real.features, fake, self.metrics, self.network.name, num_classes)
        return {name: float(score["value"]) for name, score in scores.items()}

    def describe(self) -> str:
        """One line for plots: what the scores compare."""
        if self.points:
            return f"{self.dataset.name}: {POINT_SAMPLES} generated points (PacGAN protocol)"
        return (
            f"{self.cfg.n} generated vs {self.cfg.n} {self.source.label} images, "
            f"{self.network.name} features (seed {self.seed})"
        )

    def protocol(self) -> dict[str, Any]:
        """The protocol card of the tracked metric (stored in generator-best.json)."""
        if self.points:
            return {
                "metric": self.best_column,
                "n_fake": POINT_SAMPLES,
                "seed": self.seed,
                "parameters": {"hq_threshold_std": 3.0},
                "ganforge_version": __version__,
            }
        n_real = len(self._real.features) if self._real is not None else self.cfg.n
        return protocol_card(
            self.best_column, self.network, self.source.label, "generator", n_real, self.cfg.n, self.seed
        )

    def improved(self, scores: dict[str, float]) -> bool:
        """True (and remembered) when ``scores`` beat the best value so far."""
        value = scores.get(self.best_column)
        if value is None or not math.isfinite(value):
            return False
        if self.best_value is None or (value - self.best_value) * self.direction > 0:
            self.best_value = value
            return True
        return False


# --- printing -----------------------------------------------------------------------------------


def _fmt(value: Any, std: Any = None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, int):
        return str(value)
    text = f"{value:.4g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.3e}"
    return text + (f" ± {std:.2g}" if std is not None else "")


def format_report(report: dict) -> str:
    """The printed table: each score, its context numbers, then the protocol cards."""
    lines = [f"ganforge eval: {report['fake']}  vs  {report['real']}"]
    net = report.get("feature_network")
    if net:
        lines.append(
            f"feature network: {net['feature_network']} ({net['feature_network_description']}; "
            f"sha256 {net['feature_network_sha256'][:16]}...), input "
            f"{net['input_size']}x{net['input_size']}x{net['input_channels']}, "
            f"resize: {net['resize']}"
        )
    lines.append(
        f"n_real {report.get('n_real', 0)}, n_fake {report['n_fake']}, seed "
        f"{report['seed']}, ganforge {report['ganforge_version']}"
    )
    context = report.get("context") or {}
    baselines = list(context)
    header = ["metric", "value", *baselines]
    rows = []
    for name, score in report["scores"].items():
        value = _fmt(score["value"], score.get("std"))
        if "of" in score:
            value += f" / {score['of']}"
        rows.append([name, value, *(_fmt(context[b].get(name)) for b in baselines)])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines.append("")
    for row in [header, *rows]:
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    if baselines:
        lines.append(
            "context: real_<split> = the data set's other split (the best a perfect "
            "generator reaches at this n); one_repeated_image and uniform_noise = "
            "trivial generators"
        )
    lines.append("")
    lines.append("protocol:")
    for name, score in report["scores"].items():
        card = score["protocol"]
        params = ", ".join(f"{k}={v}" for k, v in card["parameters"].items())
        lines.append(f"  {name}: {card['definition']}" + (f" [{params}]" if params else ""))
    for note in report.get("notes", []):
        lines.append(f"note: {note}")
    return "\n".join(lines)


def write_report(report: dict, path: str | Path) -> Path:
    path = Path(path)
    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(report, indent=2) + "\n"))
    return path
