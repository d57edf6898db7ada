"""Two-domain image sets for translation (CycleGAN, pix2pix): user folders and built-in pairs.

Every reader returns a ``TranslationData``: uint8 ``[N, C, S, S]`` images of domain A and of
domain B for training and for testing. ``paired`` says whether ``train_a[i]`` and
``train_b[i]`` show the same scene (pix2pix needs that; CycleGAN ignores it), ``test_paired``
the same for the test images (then ``test_b`` is the true translation of ``test_a``, the
ground truth the translation metrics score against).

Folder layouts (``data.root``):

- ``unpaired``: the reference's ``trainA/ trainB/ testA/ testB/``, any number of files each.
- ``paired``: ``train/`` and ``test/``, each holding either ``A/`` and ``B/`` folders whose
  files are matched by name (relative path), or side-by-side images (A left, B right) as in
  pix2pix's data sets (facades, maps, ...).

Built-in, offline and deterministic, from Fashion-MNIST (ground truth never used in training):

- ``fmnist-tint``: A = gray garments (as RGB), B = a fixed colour map of garments.
- ``fmnist-edges``: A = gray garments, B = their binarised Sobel edge maps.

Unpaired, A comes from training images 0-29,999 and B from 30,000-59,999 (translated), so no
B image shows a garment A holds. Paired (for pix2pix), B is the translation of A's own
garments. Test pairs are the test split's garments and their translations.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ganforge.data.folder import DEFAULT_CHANNELS, DEFAULT_SIZE, EXTENSIONS, list_images, read_images
from ganforge.data.image_ops import check_channels, convert_channels, square_resize
from ganforge.data.registry import DataError, Dataset, register

HALF = 30_000  # Fashion-MNIST training images per domain in the built-in pairs


@dataclass
class TranslationData:
    """Images of two domains, uint8 ``[N, C, S, S]`` each (N may differ between A and B)."""

    name: str
    train_a: torch.Tensor
    train_b: torch.Tensor
    test_a: torch.Tensor
    test_b: torch.Tensor
    paired: bool  # train_b[i] is train_a[i]'s counterpart
    test_paired: bool  # test_b[i] is test_a[i]'s true translation
    domain_names: tuple[str, str] = ("A", "B")
    test_labels: torch.Tensor | None = None  # int64 [N] classes of test_a (built-in sets)
    kind: str = "pair"  # tells load_dataset's callers this is not a GAN ``Dataset``

    @property
    def channels(self) -> tuple[int, int]:
        """Channels of domain A and of domain B."""
        return self.train_a.shape[1], self.train_b.shape[1]

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of one domain-A image, ``(C, H, W)`` (a checkpoint records it)."""
        return tuple(self.train_a.shape[1:])

    @property
    def image_size(self) -> int:
        return self.train_a.shape[-1]


# --- built-in pairs from Fashion-MNIST ----------------------------------------------------

# The tint: a fixed piecewise-linear colour map of gray level (0 stays black, so the background
# is the same in both domains); luminance rises with the gray level, so the map is invertible.
_TINT_LEVELS = np.array([0, 96, 192, 255], dtype=np.float64)
_TINT_RGB = np.array([[0, 0, 0], [150, 40, 100], [250, 150, 60], [255, 245, 200]], dtype=np.float64)
EDGE_THRESHOLD = 1.0  # Sobel magnitude (on [0, 1] gray) above which a pixel is an edge


def tint(gray: np.ndarray) -> np.ndarray:
    """uint8 ``[N, 1, H, W]`` gray -> uint8 ``[N, 3, H, W]`` through the fixed colour map."""
    table = np.stack([np.interp(np.arange(256), _TINT_LEVELS, _TINT_RGB[:, c]) for c in range(3)])
    return table.round().astype(np.uint8)[:, gray[:, 0]].transpose(1, 0, 2, 3)


def edges(gray: np.ndarray) -> np.ndarray:
    """uint8 ``[N, 1, H, W]`` -> uint8 ``[N, 1, H, W]`` edge map: 255 where the Sobel gradient
    magnitude of the [0, 1] image exceeds ``EDGE_THRESHOLD``, else 0."""
    image = np.pad(gray[:, 0].astype(np.float32) / 255, ((0, 0), (1, 1), (1, 1)), mode="edge")
    a = lambda dy, dx: image[:, 1 + dy : image.shape[1] - 1 + dy, 1 + dx : image.shape[2] - 1 + dx]  # noqa: E731
    gx = (a(-1, 1) + 2 * a(0, 1) + a(1, 1)) - (a(-1, -1) + 2 * a(0, -1) + a(1, -1))
    gy = (a(1, -1) + 2 * a(1, 0) + a(1, 1)) - (a(-1, -1) + 2 * a(-1, 0) + a(-1, 1))
    return np.where(np.hypot(gx, gy) > EDGE_THRESHOLD, 255, 0).astype(np.uint8)[:, None]


def _fmnist(cfg, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST gray garments at ``data.image_size`` (default 28): uint8 [N, 1, S, S], labels."""
    from ganforge.data.idx import FASHION_MNIST, load_idx_set

    source_cfg = replace(cfg, name="fashion-mnist", split=split, channels=1, limit=None)
    dataset = load_idx_set(FASHION_MNIST, source_cfg, seed=0)
    return dataset.data.numpy(), dataset.labels.numpy()


def _builtin(name: str, translate: Callable[[np.ndarray], np.ndarray], a_as_rgb: bool):
    def load(cfg, paired: bool) -> TranslationData:
        train, _ = _fmnist(cfg, "train")
        test, test_labels = _fmnist(cfg, "test")
        limit = cfg.limit or HALF
        a = train[: min(limit, HALF)]
        b_source = a if paired else train[HALF : HALF + min(limit, HALF)]
        as_a = (lambda x: np.repeat(x, 3, 1)) if a_as_rgb else (lambda x: x)
        data = TranslationData(
            name=name,
            train_a=torch.from_numpy(as_a(a)),
            train_b=torch.from_numpy(translate(b_source)),
            test_a=torch.from_numpy(as_a(test)),
            test_b=torch.from_numpy(translate(test)),
            paired=paired,
            test_paired=True,
            domain_names=("gray", name.split("-")[1]),
            test_labels=torch.from_numpy(test_labels.astype(np.int64)),
        )
        return _convert(data, cfg.channels)

    return load


def _convert(data: TranslationData, channels: int | None) -> TranslationData:
    """Apply ``data.channels`` (None: keep) to all four image sets."""
    if channels is None:
        return data
    check_channels(channels)
    convert = lambda t: torch.from_numpy(convert_channels(t.numpy(), channels))  # noqa: E731
    return replace(
        data,
        train_a=convert(data.train_a),
        train_b=convert(data.train_b),
        test_a=convert(data.test_a),
        test_b=convert(data.test_b),
    )


# --- user folders -------------------------------------------------------------------------


def _domain(folder: Path, cfg) -> torch.Tensor:
    """All images under ``folder`` as uint8 [N, C, S, S]; a missing or empty folder is an error."""
    if not folder.is_dir():
        raise DataError(f"{folder} is missing; the unpaired layout is DIR/trainA, trainB, testA, testB")
    paths = list_images(folder)
    if not paths:
        raise DataError(f"{folder} holds no image files ({', '.join(sorted(EXTENSIONS))})")
    images, _ = read_images(paths, _size(cfg), _channels(cfg), cfg.on_corrupt)
    return torch.from_numpy(images)


def _size(cfg) -> int:
    return cfg.image_size or DEFAULT_SIZE


def _channels(cfg) -> int:
    check_channels(cfg.channels)
    return cfg.channels or DEFAULT_CHANNELS


def _root(cfg, layout: str) -> Path:
    if not cfg.root:
        raise DataError(f"the {cfg.name} data set needs a folder: pass --set data.root=DIR ({layout})")
    root = Path(cfg.root).expanduser()
    if not root.is_dir():
        raise DataError(f"data.root {root} is not a folder")
    return root


def load_unpaired_folders(cfg, paired: bool = False) -> TranslationData:
    """``DIR/trainA, trainB, testA, testB`` (the CycleGAN reference's layout)."""
    if paired:
        raise DataError(
            "data.name=unpaired holds no pairs; pix2pix needs data.name=paired "
            "(DIR/train/A + B, or AB images)"
        )
    root = _root(cfg, "with trainA/ trainB/ testA/ testB/")
    a, b, test_a, test_b = (_domain(root / sub, cfg) for sub in ("trainA", "trainB", "testA", "testB"))
    if cfg.limit is not None:
        a, b = a[: cfg.limit], b[: cfg.limit]
    return TranslationData("unpaired", a, b, test_a, test_b, paired=False, test_paired=False)


def _read_side_by_side(paths: list[Path], cfg) -> tuple[np.ndarray, np.ndarray]:
    """AB images (A the left half, B the right) -> two uint8 [N, C, S, S] arrays."""
    mode = "RGB" if _channels(cfg) == 3 else "L"
    a, b, skipped = [], [], []
    for path in paths:
        try:
            with Image.open(path) as image:
                image = image.convert(mode)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
            if cfg.on_corrupt == "error":
                raise DataError(
                    f"cannot read image {path} ({error}); remove it, or set data.on_corrupt=skip"
                ) from None
            skipped.append(path)
            continue
        half = image.width // 2
        for side, box in ((a, (0, 0, half, image.height)), (b, (half, 0, 2 * half, image.height))):
            pixels = np.asarray(square_resize(image.crop(box), _size(cfg)))
            side.append(pixels[None] if mode == "L" else pixels.transpose(2, 0, 1))
    if skipped:
        warnings.warn(f"skipped {len(skipped)} unreadable image file(s): {skipped[0]} ...", stacklevel=2)
    if not a:
        raise DataError(f"none of the {len(paths)} side-by-side AB images could be read")
    return np.stack(a), np.stack(b)


def _paired_split(folder: Path, cfg) -> tuple[torch.Tensor, torch.Tensor]:
    """One split of the paired layout: A/ + B/ matched by name, or side-by-side AB images."""
    if not folder.is_dir():
        raise DataError(f"{folder} is missing; the paired layout is DIR/train and DIR/test")
    if (folder / "A").is_dir() or (folder / "B").is_dir():
        dirs = (folder / "A", folder / "B")
        missing = [str(d) for d in dirs if not d.is_dir()]
        if missing:
            raise DataError(f"{missing[0]} is missing; paired folders come as A/ and B/ side by side")
        names = [{p.relative_to(d): p for p in list_images(d)} for d in dirs]
        unmatched = sorted(set(names[0]) ^ set(names[1]))
        if unmatched:
            raise DataError(
                f"{len(unmatched)} file(s) in {folder}/A and {folder}/B have no partner of the same name "
                f"(e.g. {unmatched[0]}); pair them or remove them"
            )
        if not names[0]:
            raise DataError(f"{folder}/A and {folder}/B hold no image files")
        keys = sorted(names[0])
        a, kept_a = read_images([names[0][k] for k in keys], _size(cfg), _channels(cfg), cfg.on_corrupt)
        b, kept_b = read_images([names[1][k] for k in keys], _size(cfg), _channels(cfg), cfg.on_corrupt)
        both = sorted(set(kept_a) & set(kept_b))  # a pair with an unreadable half is dropped
        a = a[[kept_a.index(i) for i in both]]
        b = b[[kept_b.index(i) for i in both]]
    else:
        paths = list_images(folder)
        if not paths:
            raise DataError(f"{folder} holds neither A/ + B/ folders nor side-by-side AB image files")
        a, b = _read_side_by_side(paths, cfg)
    return torch.from_numpy(a), torch.from_numpy(b)


def load_paired_folders(cfg, paired: bool = True) -> TranslationData:
    """``DIR/train`` and ``DIR/test``, each A/ + B/ (matched by name) or side-by-side AB images."""
    del paired  # paired folders serve CycleGAN too (it ignores the pairing)
    root = _root(cfg, "with train/ and test/, each A/ + B/ or AB images")
    a, b = _paired_split(root / "train", cfg)
    test_a, test_b = _paired_split(root / "test", cfg)
    if cfg.limit is not None:
        a, b = a[: cfg.limit], b[: cfg.limit]
    return TranslationData("paired", a, b, test_a, test_b, paired=True, test_paired=True)


# --- the registry -------------------------------------------------------------------------

TRANSLATION_SETS: dict[str, Callable[..., TranslationData]] = {
    "unpaired": load_unpaired_folders,
    "paired": load_paired_folders,
    "fmnist-tint": _builtin("fmnist-tint", tint, a_as_rgb=True),
    "fmnist-edges": _builtin("fmnist-edges", edges, a_as_rgb=False),
}


def load_translation(cfg, paired: bool) -> TranslationData:
    """The two-domain set named by ``cfg.name`` (a ``DataConfig``); ``paired``: pix2pix wants
    train_b[i] to be train_a[i]'s counterpart (the built-in sets then pair each garment with
    its own translation)."""
    if cfg.name not in TRANSLATION_SETS:
        raise DataError(
            f"data.name={cfg.name} is not a two-domain data set; a translation game needs one of: "
            + ", ".join(TRANSLATION_SETS)
        )
    return TRANSLATION_SETS[cfg.name](cfg, paired)


def _listed(name: str, summary: str) -> None:
    """List a translation set in the data registry (``ganforge info``) as kind "pair"."""

    @register(name, summary, "pair")
    def load(cfg, seed: int) -> Dataset:  # type: ignore[return-value]
        del seed
        return load_translation(cfg, paired=False)  # a TranslationData, not a GAN Dataset


_listed("unpaired", "two image folders for CycleGAN: DIR/trainA, trainB, testA, testB (data.root)")
_listed("paired", "image pairs for pix2pix: DIR/train, DIR/test with A/ + B/ or side-by-side AB images")
_listed("fmnist-tint", "built-in pair: gray garments -> a fixed colour map of other garments (28 px)")
_listed("fmnist-edges", "built-in pair: garments -> binarised Sobel edge maps of other garments (28 px)")
