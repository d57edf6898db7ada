"""Checkpoints: the whole training state, written atomically, read without unpickling objects.

A checkpoint (``checkpoints/step_000500.pt``) is a ``torch.save`` of plain containers of
tensors and numbers: the game's name, every network's state dict under its key (a GAN's
``G``, ``D``, ``G_ema``), every optimizer under its key (``opt_g``, ``opt_d``), the game's own
state (a GAN's batch sampler position and the fixed noise of its sample grids), the step,
every RNG state and the resolved config (``training/state.py: TrainState.payload``).
It is read back with ``weights_only=True``, so a file can never run code.

The exported generator (``generator.safetensors`` + ``generator.json``) is what ``sample``,
``eval`` and other tools need: weights and the metadata to rebuild G, nothing else.
"""

from __future__ import annotations

import errno
import json
import re
import sys
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ganforge.config import Config, ConfigError, from_dict
from ganforge.errors import GanforgeError
from ganforge.files import atomic_write
from ganforge.models import build_generator
from ganforge.models import stargan as stargan_models
from ganforge.models import translation as translation_models

FORMAT_VERSION = 1
_NAME = re.compile(r"^step_(\d+)\.pt$")


class CheckpointError(GanforgeError, ValueError):
    """A checkpoint or exported generator that is missing, corrupt or incompatible."""


def checkpoint_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / "checkpoints"


def list_checkpoints(run_dir: str | Path) -> list[Path]:
    """Checkpoint files of a run, oldest first (ordered by the step in their names)."""
    folder = checkpoint_dir(run_dir)
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found)]


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    found = list_checkpoints(run_dir)
    return found[-1] if found else None


def save_checkpoint(run_dir: str | Path, payload: dict[str, Any], keep: int = 1, which: str = "step") -> Path:
    """Write ``payload`` atomically and return its path.

    ``which="step"``: ``checkpoints/step_<step>.pt``, keeping only the ``keep`` newest of them.
    ``which="best"`` (or any other name): ``checkpoints/<which>.pt``, outside the rotation.
    A failed write (disk full, quota, read-only) is a CheckpointError; earlier checkpoints stay.
    """
    folder = checkpoint_dir(run_dir)
    path = folder / (f"step_{payload['step']:07d}.pt" if which == "step" else f"{which}.pt")
    try:
        atomic_write(path, lambda tmp: torch.save({"format": FORMAT_VERSION, **payload}, tmp))
    except OSError as err:
        raise CheckpointError(_write_failure(run_dir, path, err)) from None
    if which == "step":
        for old in list_checkpoints(run_dir)[:-keep]:
            old.unlink(missing_ok=True)
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True``; a damaged file is a CheckpointError."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # empty or truncated file, foreign pickle, random bytes ...
        raise CheckpointError(
            f"checkpoint {path} is unreadable ({_first_line(err)}); delete it to resume from an earlier one"
        ) from None
    _check_format(payload, path)
    return payload


def _check_format(payload: Any, path: Path) -> None:
    if not isinstance(payload, dict) or not isinstance(payload.get("format"), int):
        raise CheckpointError(f"{path} is not a ganforge checkpoint of format {FORMAT_VERSION}")
    made = payload["format"]
    if made != FORMAT_VERSION:
        by = "a newer" if made > FORMAT_VERSION else "an older"
        raise CheckpointError(
            f"{path} was made by {by} ganforge (checkpoint format {made}; this version reads "
            f"format {FORMAT_VERSION}): resume it with the ganforge that wrote it"
        )


def _first_line(err: BaseException) -> str:
    """``Type: first line of the message`` even when the message is empty."""
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0][:120]}" if lines else type(err).__name__


def _write_failure(run_dir: str | Path, path: Path, err: OSError) -> str:
    previous = [p for p in list_checkpoints(run_dir) if p != path]
    kept = f"the previous checkpoint {previous[-1]} is intact" if previous else "no earlier checkpoint exists"
    cause = "the disk is full" if err.errno in (errno.ENOSPC, errno.EDQUOT) else _first_line(err)
    return f"cannot write checkpoint {path}: {cause}; {kept}. Free space, then resume the run"


def load_latest_checkpoint(
    run_dir: str | Path, map_location: str | torch.device = "cpu", quiet: bool = False
) -> tuple[Path, dict[str, Any]]:
    """The newest checkpoint of a run that loads, as ``(path, payload)``.

    A damaged newest file (empty, truncated by a full disk, overwritten) is skipped for the
    previous good one, with a line on stderr saying so (unless ``quiet``); when none loads,
    the newest one's error is raised.
    """
    found = list_checkpoints(run_dir)
    if not found:
        raise CheckpointError(f"nothing to resume in {run_dir}: it has no checkpoints/")
    first_error = None
    for path in reversed(found):
        try:
            payload = load_checkpoint(path, map_location)
        except CheckpointError as err:
            first_error = first_error or err
            continue
        if first_error is not None and not quiet:
            print(f"ganforge: {first_error}; resuming from {path.name} instead", file=sys.stderr)
        return path, payload
    if len(found) == 1:
        raise first_error
    raise CheckpointError(
        f"none of the {len(found)} checkpoints of {run_dir} is readable; newest: {first_error}"
    )


def saved_config(run_dir: str | Path) -> Config:
    """The resolved config held by the run's newest good checkpoint (not ``config.yaml``, which
    is only a copy for people to read). Tensors are memory-mapped, not read."""
    found = list_checkpoints(run_dir)
    if not found:
        raise CheckpointError(f"nothing to resume in {run_dir}: it has no checkpoints/")
    for path in reversed(found):
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except Exception:  # damaged: load_latest_checkpoint will say so and skip it too
            continue
        if isinstance(payload, dict) and payload.get("format") == FORMAT_VERSION:
            return checkpoint_config(payload, path)
    return checkpoint_config(load_latest_checkpoint(run_dir, quiet=True)[1])  # raises the clear error


def checkpoint_config(payload: dict[str, Any], path: Path | str = "checkpoint") -> Config:
    try:
        return from_dict(payload["config"])
    except (ConfigError, KeyError) as err:
        raise CheckpointError(f"{path} holds a config this version cannot read: {err}") from None


# --- the exported generator -------------------------------------------------------------


def generator_paths(run_dir: str | Path, which: str = "last") -> tuple[Path, Path]:
    """``(weights, metadata)`` paths of an exported generator; ``which`` is ``last`` or ``best``."""
    stem = "generator" if which == "last" else f"generator-{which}"
    return Path(run_dir) / f"{stem}.safetensors", Path(run_dir) / f"{stem}.json"


def save_generator(run_dir: str | Path, G: nn.Module, meta: dict[str, Any], which: str = "last") -> None:
    """Write G's weights (safetensors) and the metadata to rebuild it (JSON), atomically."""
    weights, info = generator_paths(run_dir, which)
    tensors = {k: v.detach().cpu().contiguous() for k, v in G.state_dict().items()}
    atomic_write(weights, lambda tmp: save_file(tensors, tmp))
    atomic_write(info, lambda tmp: Path(tmp).write_text(json.dumps(meta, indent=2)))


def load_generator(
    run_dir: str | Path, which: str = "last", device: str | torch.device = "cpu"
) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild an exported GAN G in eval mode; returns ``(G, metadata)``.

    The metadata holds ``model`` (the ModelConfig fields), ``data_shape``, ``data`` (name,
    kind, class names) and ``step``. A translation run's networks (CycleGAN, pix2pix,
    StarGAN) are a CheckpointError pointing to ``ganforge translate``; ``load_inference``
    rebuilds those.
    """
    if which in ("last", "best") and not generator_paths(run_dir, which)[1].is_file():
        translators = [k for k in exported_networks(run_dir) if k not in ("last", "best")]
        if translators:
            raise CheckpointError(
                f"{run_dir} is a translation run (it exports {', '.join(translators)}), not a GAN: "
                f"use `ganforge translate --run {run_dir}`"
            )
    net, meta = load_inference(run_dir, which, device)
    kind = inference_kind(meta)
    if kind != "gan":
        raise CheckpointError(
            f"{run_dir} is a {kind} run: its generator translates images, it does not generate "
            f"them; use `ganforge translate --run {run_dir}`"
        )
    return net, meta


# --- any exported inference network (GAN, CycleGAN / pix2pix, StarGAN) --------------------


def inference_kind(meta: dict[str, Any]) -> str:
    """What a ``generator*.json`` describes, from its own keys: ``gan`` (a ``model`` section),
    ``stargan`` (``family: stargan``) or ``translation`` (a ResNet / U-Net image-to-image G).
    A ``game`` key, where the game wrote one, wins."""
    if not isinstance(meta, dict):
        raise CheckpointError("the generator metadata is not a JSON object")
    if meta.get("game") in ("stargan", "cyclegan", "pix2pix"):
        return "stargan" if meta["game"] == "stargan" else "translation"
    if meta.get("family") == "stargan":
        return "stargan"
    if meta.get("generator") in ("resnet", "unet") and "in_channels" in meta:
        return "translation"
    if isinstance(meta.get("model"), dict):
        return "gan"
    raise CheckpointError("the generator metadata names no known network (model, family or generator)")


def exported_networks(run_dir: str | Path) -> list[str]:
    """The ``which`` names a run folder exports, sorted: ``last``, ``best``, ``AtoB``,
    ``AtoB-best``, ``BtoA`` ... (one per ``generator*.json`` with its weights beside it)."""
    names = []
    for info in Path(run_dir).glob("generator*.json"):
        stem = info.stem
        if not info.with_suffix(".safetensors").is_file():
            continue
        if stem == "generator":
            names.append("last")
        elif stem.startswith("generator-"):
            names.append(stem[len("generator-") :])
    return sorted(names)


def _build_inference(meta: dict[str, Any]) -> nn.Module:
    kind = inference_kind(meta)
    if kind == "gan":
        cfg = from_dict({"model": meta["model"]})
        return build_generator(cfg.model, tuple(meta["data_shape"]))
    if kind == "stargan":
        return stargan_models.build_generator(meta)
    return translation_models.build_generator(meta)


def load_inference(
    run_dir: str | Path, which: str = "last", device: str | torch.device = "cpu"
) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild any exported network of a run in eval mode; returns ``(net, metadata)``.

    ``which``: ``last`` / ``best`` (a GAN's or StarGAN's ``generator.*``), ``AtoB`` /
    ``BtoA`` and their ``-best`` (CycleGAN; pix2pix exports ``AtoB``). What is rebuilt follows
    the metadata (``inference_kind``). A missing one names those the run has.
    """
    weights, info = generator_paths(run_dir, which)
    if not weights.is_file() or not info.is_file():
        have = exported_networks(run_dir)
        hint = " (train with eval.every > 0 to keep a best generator)" if which.endswith("best") else ""
        found = f"it exports: {', '.join(have)}" if have else "is it a ganforge run folder?"
        raise CheckpointError(
            f"no exported generator '{which}' in {run_dir} (expected {weights.name} and "
            f"{info.name}); {found}{hint}"
        )
    try:
        meta = json.loads(info.read_text())
        net = _build_inference(meta)
        net.load_state_dict(load_file(str(weights)))
    except Exception as err:  # bad JSON, missing keys, shape mismatch, damaged safetensors
        first = (str(err).splitlines() or [type(err).__name__])[0][:200]
        raise CheckpointError(f"cannot rebuild the generator '{which}' in {run_dir}: {first}") from None
    return net.to(device).eval(), meta
