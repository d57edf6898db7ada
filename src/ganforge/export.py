"""Ship a trained generator to other runtimes: ONNX (onnxruntime, ...) or TorchScript (C++/libtorch).

The exported graph is G in eval mode (batch norm uses its running statistics), with inputs
``z`` float32 ``[N, z_dim]`` and, for conditional models, ``labels`` int64 ``[N]`` in 0..K-1;
its output ``samples`` is float32 ``[N, C, H, W]`` in [-1, 1] (or ``[N, D]`` points). ``N`` is
dynamic. Noise is not part of the graph: draw ``z`` from the run's noise distribution
(``model.noise``: U[-1, 1] or N(0, 1)), which the export records with the rest of
``generator.json`` (ONNX: metadata property ``ganforge``; TorchScript: extra file
``generator.json``).

Which weights: the run's exported generator, i.e. the EMA weights when the run trained with
``train.ema_decay > 0`` (``generator.safetensors`` always holds the sampling G), ``--which
best`` for the best one kept by ``eval.every``.

``check_parity`` runs the exported file in its own runtime and in PyTorch on the same inputs
and returns the largest absolute difference (fp32: expect ~1e-6; the CLI demands <= 1e-4).

Translation generators (``load_inference``: CycleGAN / pix2pix ``AtoB``/``BtoA``, StarGAN)
take ``image`` float32 ``[N, C, H, W]`` in [-1, 1] (StarGAN also ``labels`` float32 ``[N, K]``,
the target domains as 0/1) and return ``translated`` ``[N, C', H, W]`` in [-1, 1]. They are
fully convolutional, so H and W are dynamic too, as multiples of the network's down-sampling
factor (``size_factor``: 4 for the ResNet and StarGAN generators, ``2 ** depth`` for a
U-Net); the parity check runs at the training size and at twice it. A U-Net is exported at its
fixed training size when that size is not such a multiple (28 px, padded to 32 inside) or when
its bottleneck there is 1x1 (every U-Net up to 256 px): tracing a 1x1 map makes torch.export
specialise the size (a size-1 dimension changes its contiguity checks), so one graph cannot
serve both the training size and larger ones.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ganforge.checkpoint import inference_kind
from ganforge.errors import GanforgeError
from ganforge.models.unet import unet_depth
from ganforge.sampling import generate, seeded_inputs

FORMATS = ("onnx", "torchscript")
SUFFIXES = {".onnx": "onnx", ".pt": "torchscript", ".ts": "torchscript"}
PARITY_LIMIT = 1e-4  # max |exported - PyTorch| in float32 that the CLI accepts
EXAMPLE_BATCH = 2  # torch.export would fix a batch of 1 as a constant; 2 stays symbolic


class ExportError(GanforgeError, ValueError):
    """A generator that cannot be exported as asked (format, missing package, failed check)."""


def format_for(path: str | Path, fmt: str | None = None) -> str:
    """The export format: ``fmt`` if given, else from the file suffix (.onnx, .pt, .ts)."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise ExportError(f"unknown export format {fmt!r}; choose one of: {', '.join(FORMATS)}")
        return fmt
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise ExportError(
            f"cannot tell the format from {Path(path).name!r}: pass --format "
            f"onnx|torchscript or name the file *.onnx or *.pt"
        )
    return SUFFIXES[suffix]


def example_inputs(
    meta: dict[str, Any], n: int, seed: int = 0, size: int | None = None
) -> tuple[torch.Tensor, ...]:
    """The exported graph's inputs for ``n`` samples, seeded: a GAN's ``(z,)`` or ``(z, labels)``;
    a translation G's ``(image,)`` (StarGAN: ``(image, labels)``) at ``size`` px (default: the
    training size), images uniform in [-1, 1] and one target domain on per row."""
    kind = inference_kind(meta)
    if kind == "gan":
        z, labels = seeded_inputs(meta, n, seed)
        return (z,) if labels is None else (z, labels)
    generator = torch.Generator().manual_seed(seed)
    size = size or meta["image_size"]
    channels = meta["in_channels"] if kind == "translation" else meta["channels"]
    image = torch.rand(n, channels, size, size, generator=generator) * 2 - 1
    if kind == "translation":
        return (image,)
    domains = torch.randint(meta["num_domains"], (n,), generator=generator)
    return image, torch.nn.functional.one_hot(domains, meta["num_domains"]).float()


def input_names(meta: dict[str, Any]) -> list[str]:
    kind = inference_kind(meta)
    if kind != "gan":
        return ["image", "labels"] if kind == "stargan" else ["image"]
    return ["z", "labels"] if meta.get("num_classes") else ["z"]


def output_name(meta: dict[str, Any]) -> str:
    return "samples" if inference_kind(meta) == "gan" else "translated"


def size_factor(meta: dict[str, Any]) -> int | None:
    """What H and W of a translation G's input must be multiples of for a dynamic size, or
    None: a GAN (no image input), or a U-Net whose training size is not such a multiple or
    leaves it a 1x1 bottleneck."""
    kind = inference_kind(meta)
    if kind == "gan":
        return None
    size = meta["image_size"]
    if meta.get("generator") != "unet":
        return 4 if size % 4 == 0 else None
    factor = 2 ** unet_depth(size)
    return factor if size % factor == 0 and size // factor >= 2 else None  # see the module docstring


def parity_sizes(meta: dict[str, Any]) -> list[int | None]:
    """Image sides the parity check runs at: the training size and twice it when H and W are
    dynamic, the training size alone when fixed; ``[None]`` for a GAN."""
    if inference_kind(meta) == "gan":
        return [None]
    size = meta["image_size"]
    return [size, 2 * size] if size_factor(meta) else [size]


def dynamic_shapes(meta: dict[str, Any]) -> tuple[dict[int, Any], ...]:
    """Per input, the dimensions left symbolic: the batch, and H and W of an image input."""
    batch = torch.export.Dim("batch", min=1)
    names = input_names(meta)
    factor = size_factor(meta)
    if factor is None or names[0] != "image":
        return tuple({0: batch} for _ in names)
    # ResNet G: reflection padding needs a bottleneck of >= 2 px, so at least 8 px in; a U-Net's
    # bottleneck (size / factor) must stay >= 2 px (see the module docstring)
    low = 2 if meta.get("generator") == "unet" else max(1, 8 // factor)
    image = {0: batch, 2: factor * torch.export.Dim("h", min=low), 3: factor * torch.export.Dim("w", min=low)}
    return (image, {0: batch})[: len(names)]


@contextlib.contextmanager
def _quiet():
    """The exporters narrate (progress lines, deprecation and tracer warnings): keep the
    terminal to ganforge's own one-line summary."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _import_onnx():
    try:
        import onnx
        import onnxscript  # noqa: F401  (torch.onnx's exporter needs it)
    except ImportError:
        raise ExportError(
            "ONNX export needs the onnx and onnxscript packages: pip install 'ganforge[export]'"
        ) from None
    return onnx


def export_onnx(G: nn.Module, meta: dict[str, Any], path: str | Path) -> Path:
    """Write G (eval mode) as a single ONNX file with a dynamic batch dimension (and dynamic
    H and W for a translation G, see ``size_factor``)."""
    onnx = _import_onnx()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = input_names(meta)
    inputs = example_inputs(meta, EXAMPLE_BATCH)
    try:
        with _quiet():
            torch.onnx.export(
                G.eval(),
                inputs,
                str(path),
                input_names=names,
                output_names=[output_name(meta)],
                dynamo=True,
                external_data=False,
                dynamic_shapes=dynamic_shapes(meta),
            )
    except Exception as err:  # the exporter's errors are pages long; the first line says it
        raise ExportError(f"ONNX export failed: {str(err).splitlines()[0][:300]}") from None
    # Record what it takes to use the graph (noise, classes, image shape) inside the file.
    graph = onnx.load(str(path))
    graph.metadata_props.add(key="ganforge", value=json.dumps(meta))
    onnx.save(graph, str(path))
    return path


def export_torchscript(G: nn.Module, meta: dict[str, Any], path: str | Path) -> Path:
    """Write G (eval mode) as a traced TorchScript module; ``torch.jit.load`` reads it back."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with _quiet(), torch.no_grad():
            traced = torch.jit.trace(G.eval(), example_inputs(meta, EXAMPLE_BATCH), check_trace=False)
            torch.jit.save(traced, str(path), _extra_files={"generator.json": json.dumps(meta)})
    except Exception as err:
        raise ExportError(f"TorchScript export failed: {str(err).splitlines()[0][:300]}") from None
    return path


def export_generator(G: nn.Module, meta: dict[str, Any], path: str | Path, fmt: str | None = None) -> Path:
    """Export G (from ``load_generator``) as ``fmt`` (or the format its suffix names)."""
    fmt = format_for(path, fmt)
    G = G.cpu().float().eval()
    if fmt == "onnx":
        return export_onnx(G, meta, path)
    return export_torchscript(G, meta, path)


def run_exported(path: str | Path, fmt: str, inputs: tuple[torch.Tensor, ...]) -> np.ndarray:
    """Run an exported generator in its own runtime; returns float32 samples."""
    fmt = format_for(path, fmt)
    if fmt == "onnx":
        try:
            import onnxruntime
        except ImportError:
            raise ExportError(
                "the ONNX parity check needs onnxruntime: pip install 'ganforge[export]'"
            ) from None
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        feeds = {inp.name: value.numpy() for inp, value in zip(session.get_inputs(), inputs, strict=True)}
        return session.run(None, feeds)[0]
    with _quiet():  # torch.jit is deprecated in favour of torch.export, yet libtorch reads it
        module = torch.jit.load(str(path), map_location="cpu")
    with torch.no_grad():
        return module(*inputs).numpy()


def check_parity(
    G: nn.Module, meta: dict[str, Any], path: str | Path, fmt: str | None = None, n: int = 64, seed: int = 0
) -> float:
    """Largest ``|exported(x) - G(x)|`` over ``n`` seeded inputs (noise and classes for a GAN,
    images and target labels for a translation G, at every ``parity_sizes`` size).

    ``n`` differs from the batch the graph was traced with, so the check also proves the batch
    dimension dynamic (and, at twice the training size, H and W). Non-finite output of G raises
    ``NonFiniteSamples``; a non-finite difference is returned as ``inf`` (never NaN, which
    compares as "within the limit").
    """
    worst = 0.0
    for size in parity_sizes(meta):
        inputs = example_inputs(meta, n, seed, size)
        expected = generate(G.cpu().float(), *inputs, batch_size=max(n, 1)).numpy()
        got = run_exported(path, format_for(path, fmt), inputs)
        if got.shape != expected.shape:
            raise ExportError(f"the exported generator returned shape {got.shape}, PyTorch {expected.shape}")
        delta = float(np.abs(got - expected).max()) if got.size else 0.0
        if not np.isfinite(delta):
            return float("inf")
        worst = max(worst, delta)
    return worst


def parity_ok(delta: float, limit: float = PARITY_LIMIT) -> bool:
    """True only for a finite ``delta`` within ``limit`` (NaN fails)."""
    return bool(np.isfinite(delta) and delta <= limit)
