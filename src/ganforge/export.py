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

from ganforge.errors import GanforgeError
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


def example_inputs(meta: dict[str, Any], n: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """``(z,)`` or ``(z, labels)`` for ``n`` samples, seeded, as the exported graph takes them."""
    z, labels = seeded_inputs(meta, n, seed)
    return (z,) if labels is None else (z, labels)


def input_names(meta: dict[str, Any]) -> list[str]:
    return ["z", "labels"] if meta.get("num_classes") else ["z"]


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
    """Write G (eval mode) as a single ONNX file with a dynamic batch dimension."""
    onnx = _import_onnx()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = input_names(meta)
    batch = torch.export.Dim("batch", min=1)
    inputs = example_inputs(meta, EXAMPLE_BATCH)
    try:
        with _quiet():
            torch.onnx.export(
                G.eval(),
                inputs,
                str(path),
                input_names=names,
                output_names=["samples"],
                dynamo=True,
                external_data=False,
                dynamic_shapes={name: {0: batch} for name in names},
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
    """Largest ``|exported(z) - G(z)|`` over ``n`` samples from seeded noise (and classes).

    ``n`` differs from the batch the graph was traced with, so the check also proves the batch
    dimension dynamic. Non-finite output of G raises ``NonFiniteSamples``; a non-finite
    difference is returned as ``inf`` (never NaN, which compares as "within the limit").
    """
    inputs = example_inputs(meta, n, seed)
    expected = generate(G.cpu().float(), *inputs, batch_size=max(n, 1)).numpy()
    got = run_exported(path, format_for(path, fmt), inputs)
    if got.shape != expected.shape:
        raise ExportError(f"the exported generator returned shape {got.shape}, PyTorch {expected.shape}")
    delta = float(np.abs(got - expected).max())
    return delta if np.isfinite(delta) else float("inf")


def parity_ok(delta: float, limit: float = PARITY_LIMIT) -> bool:
    """True only for a finite ``delta`` within ``limit`` (NaN fails)."""
    return bool(np.isfinite(delta) and delta <= limit)
