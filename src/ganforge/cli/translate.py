"""``ganforge translate``: run a translation run's generator (CycleGAN, pix2pix, StarGAN) on images.

Every input is processed, ``--batch-size`` at a time, so memory does not grow with the input:
a folder is read a chunk at a time and a ``.npy`` input is memory-mapped. What it writes:

- ``out.npy``: uint8 ``[N, H, W, C]``, the translations in sorted file-name order;
- ``OUTDIR`` (no suffix): one ``<input stem>.png`` per input (``000123.png`` for an ``.npy``);
- ``grid.png``: a row per input: input | translation (| reconstruction, CycleGAN); StarGAN's
  ``--to all``: input | one column per target domain.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from ganforge.checkpoint import exported_networks, inference_kind, load_inference
from ganforge.data.folder import list_images
from ganforge.data.image_ops import square_resize
from ganforge.errors import GanforgeError
from ganforge.files import atomic_write
from ganforge.sampling import generate
from ganforge.training.threads import apply_one_shot
from ganforge.viz import to_uint8
from ganforge.viz.grid import image_grid

UNREADABLE = (OSError, ValueError, SyntaxError, Image.DecompressionBombError)
PROGRESS_BATCHES = 4  # a progress bar once the input spans more batches than this


class TranslateError(GanforgeError, ValueError):
    """An input, output or option that ``ganforge translate`` cannot use."""


def add_parser(subparsers):
    p = subparsers.add_parser(
        "translate", help="translate images with a CycleGAN, pix2pix or StarGAN run's generator"
    )
    p.add_argument("--run", required=True, help="run folder of a cyclegan, pix2pix or stargan run")
    p.add_argument("--input", required=True, help="a folder of images, an images.npy (uint8) or one image")
    p.add_argument(
        "--out", required=True, help="out.npy (uint8 [N, H, W, C]), grid.png, or a folder (one PNG per input)"
    )
    p.add_argument("--direction", choices=["AtoB", "BtoA"], help="CycleGAN / pix2pix (default AtoB)")
    p.add_argument("--which", default="last", choices=["last", "best"], help="best needs eval.every")
    p.add_argument(
        "--to",
        metavar="DOMAIN[,DOMAIN...]|all",
        help="StarGAN: the target domain, the attributes to turn on, or 'all' (a grid, .png only)",
    )
    p.add_argument("--batch-size", type=int, default=64, help="images per forward pass")
    p.add_argument("--device", default="cpu", help="cpu, cuda, ...")
    return p


# --- inputs ----------------------------------------------------------------------------


@dataclass
class Inputs:
    """The inputs, read lazily: ``names`` (output stems, sorted) and ``chunks`` of uint8 images."""

    names: list[str]
    source: object  # list of paths, or a (memory-mapped) uint8 array
    size: int
    channels: int
    resized: bool = False
    skipped: int = 0

    def fit(self, image: Image.Image) -> np.ndarray:
        """One picture -> uint8 ``[C, S, S]`` in the run's channels and size."""
        image = image.convert("RGB" if self.channels == 3 else "L")
        if image.size != (self.size, self.size):
            if not self.resized:
                print(f"ganforge: resizing inputs to the run's {self.size}x{self.size} px", file=sys.stderr)
            self.resized = True
            image = square_resize(image, self.size)
        pixels = np.asarray(image)
        return pixels[None] if self.channels == 1 else pixels.transpose(2, 0, 1)

    def chunks(self, batch: int) -> Iterator[tuple[list[str], torch.Tensor]]:
        """``(names, images float [n, C, S, S] in [-1, 1])``; unreadable files are skipped."""
        for start in range(0, len(self.names), batch):
            names, images = [], []
            for index in range(start, min(start + batch, len(self.names))):
                try:
                    images.append(self.fit(self._picture(index)))
                except UNREADABLE as err:
                    print(f"ganforge: skipped unreadable {self.source[index]} ({err})", file=sys.stderr)
                    self.skipped += 1
                    continue
                names.append(self.names[index])
            if images:
                yield names, torch.from_numpy(np.stack(images)).float() / 127.5 - 1

    def _picture(self, index: int) -> Image.Image:
        if isinstance(self.source, np.ndarray):
            pixels = np.asarray(self.source[index])
            return Image.fromarray(pixels[..., 0] if pixels.ndim == 3 and pixels.shape[-1] == 1 else pixels)
        with Image.open(self.source[index]) as image:
            image.load()
            return image


def output_stems(relative: list[Path]) -> list[str]:
    """Each input's output name: its path without the suffix (``sub/a.jpg`` -> ``sub/a``), or
    with it where two inputs would share one (``a.png`` and ``a.jpg``: ``a.png``, ``a.jpg``)."""
    stems = [str(p.with_suffix("")) for p in relative]
    counts = Counter(stems)
    return [str(p) if counts[stem] > 1 else stem for p, stem in zip(relative, stems, strict=True)]


def open_inputs(text: str, size: int, channels: int) -> Inputs:
    """``--input`` (folder, ``.npy`` or one image) -> ``Inputs``; nothing is decoded yet."""
    path = Path(text)
    if path.is_dir():
        paths = list_images(path)
        if not paths:
            raise TranslateError(f"--input {path}: the folder holds no image files (.png, .jpg, ...)")
        return Inputs(output_stems([p.relative_to(path) for p in paths]), paths, size, channels)
    if not path.is_file():
        raise TranslateError(f"--input {path}: no such file or folder")
    if path.suffix.lower() == ".npy":
        try:
            array = np.load(path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError) as err:
            raise TranslateError(f"--input {path}: not a readable .npy file ({err})") from None
        if (
            array.dtype != np.uint8
            or array.ndim not in (3, 4)
            or (array.ndim == 4 and array.shape[-1] not in (1, 3, 4))
        ):
            raise TranslateError(
                f"--input {path}: expected uint8 images [N, H, W] or [N, H, W, C] with C 1, 3 or 4 "
                f"(alpha is dropped, as eval does), got {array.dtype} {list(array.shape)}"
            )
        if len(array) == 0:
            raise TranslateError(f"--input {path}: the array holds no images")
        return Inputs([f"{i:06d}" for i in range(len(array))], array, size, channels)
    return Inputs([path.stem], [path], size, channels)


# --- the networks ----------------------------------------------------------------------


@dataclass
class Translator:
    """The loaded generator(s) and what each input chunk becomes: a list of columns."""

    G: torch.nn.Module
    meta: dict
    targets: list[torch.Tensor] | None = None  # StarGAN: one label vector [K] per column
    back: torch.nn.Module | None = None  # CycleGAN: the other direction, for reconstructions
    device: str = "cpu"

    def columns(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Each translation of ``images`` ``[n, C, S, S]`` in [-1, 1] (float, on the CPU)."""
        run = dict(batch_size=len(images), device=self.device)
        if self.targets is not None:
            return [generate(self.G, images, t.expand(len(images), -1), **run) for t in self.targets]
        out = generate(self.G, images, **run)
        return [out] if self.back is None else [out, generate(self.back, out, **run)]


def target_vectors(meta: dict, text: str | None) -> list[torch.Tensor]:
    """``--to`` -> StarGAN label vectors ``[K]``: one, or one per domain for ``all``."""
    names, multi = list(meta["domain_names"]), bool(meta.get("multi_label"))
    if not text:
        raise TranslateError(f"a StarGAN run needs --to: one of {', '.join(names)}, or all")
    eye = torch.eye(len(names))
    if text == "all":
        return list(eye)
    chosen = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in names]
    if unknown or not chosen:
        raise TranslateError(
            f"--to: unknown domain(s) {', '.join(unknown) or text!r}; valid: {', '.join(names)}"
        )
    if not multi and len(chosen) != 1:
        raise TranslateError(f"--to: this run's domains are exclusive; name one of {', '.join(names)}")
    for group in meta.get("exclusive_groups") or []:
        clash = [name for name in chosen if name in group]
        if len(clash) > 1:
            raise TranslateError(f"--to: {', '.join(clash)} exclude each other; turn on one of them")
    # The attributes named are on, every other one off: an arbitrary input's own are unknown.
    return [eye[[names.index(name) for name in chosen]].sum(0)]


def direction_network(run, have: list[str], direction: str | None, which: str, error=TranslateError) -> str:
    """CycleGAN / pix2pix: ``--direction`` (default AtoB) and ``--which`` -> the exported network's
    name (``AtoB``, ``BtoA-best`` ...); ``have`` is ``exported_networks(run)``."""
    direction = direction or "AtoB"
    if direction not in have:
        raise error(
            f"{run} has no {direction} generator (it exports: {', '.join(have) or 'nothing'}); "
            "pix2pix translates AtoB only"
        )
    return direction + ("-best" if which == "best" else "")


def load_translator(args) -> Translator:
    """The run's generator for ``--direction`` / ``--to`` (a GAN run: one line to ``sample``)."""
    if not Path(args.run).is_dir():
        raise TranslateError(f"--run {args.run}: no such run folder")
    have = exported_networks(args.run)
    best = "-best" if args.which == "best" else ""
    if "last" in have:  # a GAN's or StarGAN's generator.*
        G, meta = load_inference(args.run, args.which, args.device)
        if inference_kind(meta) == "gan":
            raise TranslateError(f"{args.run} is a GAN run: this run generates, use `ganforge sample`")
        if args.direction:
            raise TranslateError("--direction is for CycleGAN / pix2pix runs; a StarGAN run takes --to")
        return Translator(G, meta, target_vectors(meta, args.to), device=args.device)
    if args.to:
        raise TranslateError("--to is for StarGAN runs; a CycleGAN / pix2pix run takes --direction")
    name = direction_network(args.run, have, args.direction, args.which)
    G, meta = load_inference(args.run, name, args.device)
    other = ("BtoA" if name.startswith("AtoB") else "AtoB") + best
    back = load_inference(args.run, other, args.device)[0] if other in have else None
    return Translator(G, meta, back=back, device=args.device)


# --- outputs ---------------------------------------------------------------------------


def _rgb_like(images: np.ndarray, channels: int) -> np.ndarray:
    return np.repeat(images, channels, axis=-1) if images.shape[-1] < channels else images


def write_all(inputs: Inputs, translator: Translator, out: Path, batch: int) -> int:
    """Translate every input into ``out``; returns how many were written."""
    kind = "npy" if out.suffix.lower() == ".npy" else "png" if out.suffix.lower() == ".png" else "dir"
    if len(translator.targets or []) > 1 and kind != "png":
        raise TranslateError("--to all draws a grid: give --out grid.png")
    total = len(inputs.names)
    progress = total > PROGRESS_BATCHES * batch
    bar = tqdm(total=total, disable=not progress, unit="image", file=sys.stderr)
    rows, written, array, partial = [], 0, None, out.with_name(f".{out.stem}.partial{out.suffix}")
    try:
        for names, images in inputs.chunks(batch):
            columns = [to_uint8(c) for c in translator.columns(images)]
            if kind == "npy":
                if array is None:
                    out.parent.mkdir(parents=True, exist_ok=True)
                    shape = (total, *columns[0].shape[1:])
                    array = np.lib.format.open_memmap(partial, "w+", np.uint8, shape)
                array[written : written + len(names)] = columns[0]
            elif kind == "dir":
                for name, image in zip(names, columns[0], strict=True):
                    target = out / f"{name}.png"
                    target.parent.mkdir(parents=True, exist_ok=True)
                    Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(target)
            else:
                rows.append([to_uint8(images)] + columns)
            written += len(names)
            bar.update(len(names))
        bar.close()
        if not written:
            raise TranslateError(f"none of the {total} input image files could be read")
        if kind == "npy":
            array.flush()
            if written == total:
                partial.replace(out)  # complete: the memory-mapped file is the answer
            else:  # skipped files: keep the rows written
                atomic_write(out, lambda tmp, kept=array[:written]: _save_npy(tmp, kept))
        elif kind == "png":
            _write_grid(rows, out)
    finally:
        array = None  # unmapped before the partial file goes
        partial.unlink(missing_ok=True)
    return written


def _save_npy(path: str, array: np.ndarray) -> None:
    with open(path, "wb") as handle:  # a handle: np.save would append .npy to a temporary name
        np.save(handle, array)


def _write_grid(rows: list[list[np.ndarray]], out: Path) -> None:
    """A row per input: its columns side by side (gray tiles shown as RGB beside colour ones)."""
    channels = max(c.shape[-1] for row in rows for c in row)
    tiles = np.concatenate([np.stack([_rgb_like(c, channels) for c in row], 1) for row in rows])
    out.parent.mkdir(parents=True, exist_ok=True)
    grid = image_grid(tiles.reshape(-1, *tiles.shape[2:]), columns=tiles.shape[1])
    atomic_write(out, lambda tmp: grid.save(tmp, format="PNG"))


def run(args) -> int:
    if args.batch_size < 1:
        raise TranslateError(f"--batch-size must be at least 1, got {args.batch_size}")
    apply_one_shot(args.device)  # CPU: the cores other work leaves free (docs/threads.md)
    translator = load_translator(args)
    meta = translator.meta
    channels = meta.get("in_channels") or meta["channels"]
    inputs = open_inputs(args.input, meta["image_size"], channels)
    out = Path(args.out)
    written = write_all(inputs, translator, out, args.batch_size)
    skipped = f"; skipped {inputs.skipped} unreadable file(s)" if inputs.skipped else ""
    print(f"ganforge: translated {written} image(s) into {out}{skipped}")
    return 0
