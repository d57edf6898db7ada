"""Typed, commented, validated configuration.

Every field has a default and a comment with its unit. A YAML preset overrides only the
fields that differ from these defaults; ``--set section.key=value`` overrides a preset.
Unknown sections or keys, and values of the wrong type, fail with a message listing
what is valid. The resolved config is written into every run folder.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ganforge.errors import GanforgeError


class ConfigError(GanforgeError, ValueError):
    """A config file or override that cannot be used; the message says how to fix it."""


def _choices(*values: str) -> dict:
    return {"choices": values}


@dataclass
class RunConfig:
    dir: str = "runs/default"  # run folder: config, metrics, samples, checkpoints
    seed: int = 0  # same seed, same run (bit for bit on CPU)
    device: str = "auto"  # auto (CUDA when present) | cpu | cuda | cuda:N
    progress: bool = True  # show a progress bar on the terminal


@dataclass
class DataConfig:
    name: str = "fashion-mnist"  # a registered data set; `ganforge info` lists them
    root: str | None = None  # folder holding the files; None searches the usual places
    split: str = field(default="train", metadata=_choices("train", "test"))  # which split
    image_size: int | None = None  # resize (center crop first) to this side, pixels; None: native
    channels: int | None = None  # convert to 1 (gray) or 3 (RGB) channels; None: native
    on_corrupt: str = field(default="skip", metadata=_choices("skip", "error"))  # bad image file
    limit: int | None = None  # use only the first N examples; None: all
    n_points: int = 100_000  # points drawn once for the 2-D mixtures
    download: bool = True  # fetch (with checksum) when missing and online
    attributes: str = field(
        default="Black_Hair,Blond_Hair,Brown_Hair,Male,Young", metadata={"resumable": False}
    )  # StarGAN on celeba-attributes: list_attr_celeba.txt columns that are the domains (comma list)


@dataclass
class ModelConfig:
    name: str = "dcgan"  # a registered model family; `ganforge info` lists them
    z_dim: int = 100  # noise dimension
    noise: str = field(default="uniform", metadata=_choices("uniform", "normal"))  # U[-1,1] or N(0,1)
    g_width: int = 64  # DCGAN: ngf (channels of G's last hidden layer); MLP: hidden units
    d_width: int = 64  # DCGAN: ndf (channels of D's first layer); MLP: hidden units
    hidden_layers: int = 2  # MLP only: hidden layers in G and in D
    dropout: float = 0.0  # MLP only: dropout in D's hidden layers (Goodfellow et al. used it)
    # Conditional models (cgan, cdcgan) only:
    num_classes: int | None = None  # classes G and D are conditioned on; None: from the data
    # cdcgan's D: projection (Miyato & Koyama 2018) or aux. classifier (ACGAN, Odena et al. 2017)
    conditioning: str = field(default="projection", metadata=_choices("projection", "acgan"))

    res_blocks: int = field(default=6, metadata={"resumable": False})  # translation G: residual blocks


@dataclass
class TrainConfig:
    loss: str = "nonsaturating"  # a registered loss; `ganforge info` lists them
    steps: int = 3000  # G updates in the whole run
    batch_size: int = 64  # real images per D update (global batch under DDP)
    d_steps: int = 1  # D updates per G update
    lr_g: float = 2e-4  # Adam learning rate of G
    lr_d: float = 2e-4  # Adam learning rate of D
    beta1: float = 0.5  # Adam beta1 (DCGAN paper: 0.5)
    beta2: float = 0.999  # Adam beta2
    gp_weight: float = 10.0  # wgan-gp only: gradient-penalty weight lambda
    ema_decay: float = 0.0  # EMA of G's weights per step, e.g. 0.999; 0 turns it off
    lr_decay_start: float = 1.0  # share of train.steps after which both lrs fall linearly to 0; 1: constant
    aux_weight: float = 1.0  # acgan only: weight of the class cross-entropy in D's and G's losses

    # StarGAN only (Choi et al. 2018, eq. 7-8), weights beside the adversarial loss:
    lambda_cls: float = field(default=1.0, metadata={"resumable": False})  # domain classification (CE/BCE)
    lambda_rec: float = field(default=10.0, metadata={"resumable": False})  # reconstruction L1 (pixels)
    log_every: int = 50  # steps between metrics.csv rows (and host syncs)
    sample_every: int = 500  # steps between sample grids
    checkpoint_every: int = 500  # steps between checkpoints
    keep_checkpoints: int = 3  # how many recent checkpoints to keep
    grid_size: int = 64  # images in each sample grid (fixed noise)
    # Speed switches (training/fast.py); "auto" picks what measured fastest on the device.
    precision: str = field(
        default="auto", metadata=_choices("auto", "fp32", "bf16")
    )  # bf16 autocast; auto: on CUDA, and on bf16-capable CPUs for convs
    memory_format: str = field(
        default="auto", metadata=_choices("auto", "channels_last", "contiguous")
    )  # conv layout; auto: channels_last unless compiled
    adam_impl: str = field(
        default="auto", metadata=_choices("auto", "fused", "foreach", "loop")
    )  # Adam kernels; auto: fused on CUDA
    compile: str = field(
        default="auto", metadata=_choices("auto", "eager", "cuda-graphs", "reduce-overhead")
    )  # auto: cuda-graphs on 1 GPU, else eager
    sync_batchnorm: bool = False  # under DDP (CUDA only): batch-norm statistics over the global batch


@dataclass
class EvalConfig:
    every: int = 0  # steps between evaluations during training (a multiple of train.log_every); 0: off
    metrics: str = "fid,kid"  # comma list of fid, kid, prdc (pr, dc), is, classes
    n: int = 5000  # generated samples per evaluation, and as many real ones (training split)
    best_metric: str = "auto"  # keep generator-best by this column, e.g. fid_fmnist; auto: the first
    feature_net: str = "auto"  # auto: the data's evaluator, else inception | fmnist | mnist | cifar10


@dataclass
class Config:
    run: RunConfig = field(default_factory=RunConfig)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return dataclasses.asdict(self)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))


def _section_names() -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(Config))


def _coerce(value: Any, hint: Any, where: str) -> Any:
    """Check ``value`` against a field's type hint; YAML/CLI strings are parsed first."""
    args = typing.get_args(hint)
    optional = type(None) in args
    base = next((a for a in args if a is not type(None)), hint) if args else hint
    if value is None or (isinstance(value, str) and value.lower() in ("none", "null", "~")):
        if optional:
            return None
        raise ConfigError(f"{where} may not be empty; give a {base.__name__}")
    if isinstance(value, str) and base is not str:
        value = yaml.safe_load(value)
    if base is bool:
        if isinstance(value, bool):
            return value
    elif base is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif base is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif base is str:
        return str(value)
    raise ConfigError(f"{where} must be of type {base.__name__}, got {value!r}")


def _apply(section_obj: Any, section: str, key: str, value: Any) -> None:
    hints = typing.get_type_hints(type(section_obj))
    if key not in hints:
        valid = ", ".join(hints)
        raise ConfigError(f"unknown key '{section}.{key}'; valid keys in '{section}': {valid}")
    fld = next(f for f in dataclasses.fields(section_obj) if f.name == key)
    value = _coerce(value, hints[key], f"{section}.{key}")
    choices = fld.metadata.get("choices")
    if choices and value not in choices:
        raise ConfigError(f"{section}.{key}={value!r} is not valid; choose one of: " + ", ".join(choices))
    setattr(section_obj, key, value)


def update(cfg: Config, values: dict[str, Any], origin: str = "config") -> Config:
    """Apply a nested ``{section: {key: value}}`` mapping onto ``cfg`` in place."""
    if not isinstance(values, dict):
        raise ConfigError(f"{origin}: expected a mapping of sections ({', '.join(_section_names())})")
    for section, entries in values.items():
        if section not in _section_names():
            raise ConfigError(
                f"{origin}: unknown section '{section}'; valid sections: " + ", ".join(_section_names())
            )
        if not isinstance(entries, dict):
            raise ConfigError(f"{origin}: section '{section}' must be a mapping of key: value")
        for key, value in entries.items():
            _apply(getattr(cfg, section), section, key, value)
    return cfg


def parse_override(text: str) -> dict[str, dict[str, Any]]:
    """``"train.steps=3000"`` -> ``{"train": {"steps": "3000"}}`` (typed later by update)."""
    if "=" not in text or "." not in text.split("=", 1)[0]:
        raise ConfigError(f"--set {text!r}: write it as section.key=value, e.g. train.steps=3000")
    dotted, value = text.split("=", 1)
    section, key = dotted.strip().split(".", 1)
    return {section: {key: value.strip()}}


def load_config(path: str | Path | None = None, overrides: list[str] = ()) -> Config:
    """Defaults, then the YAML file at ``path`` (if any), then each ``--set`` override."""
    cfg = Config()
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist; presets live in configs/")
        try:
            values = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as err:
            raise ConfigError(f"{path} is not valid YAML: {err}") from None
        update(cfg, values, origin=str(path))
    for text in overrides:
        update(cfg, parse_override(text), origin=f"--set {text}")
    validate(cfg)
    return cfg


def validate(cfg: Config) -> None:
    """Range checks that a type alone cannot express."""
    positive = {
        "train.steps": cfg.train.steps,
        "train.batch_size": cfg.train.batch_size,
        "train.d_steps": cfg.train.d_steps,
        "train.log_every": cfg.train.log_every,
        "train.sample_every": cfg.train.sample_every,
        "train.checkpoint_every": cfg.train.checkpoint_every,
        "train.keep_checkpoints": cfg.train.keep_checkpoints,
        "model.z_dim": cfg.model.z_dim,
        "model.g_width": cfg.model.g_width,
        "model.d_width": cfg.model.d_width,
        "train.grid_size": cfg.train.grid_size,
        "data.n_points": cfg.data.n_points,
    }
    for name, value in positive.items():
        if value <= 0:
            raise ConfigError(f"{name} must be positive, got {value}")
    for name in ("lr_g", "lr_d"):
        if not 0 < getattr(cfg.train, name) < 1:
            raise ConfigError(f"train.{name} must be in (0, 1), got {getattr(cfg.train, name)}")
    if not 0 <= cfg.train.ema_decay < 1:
        raise ConfigError(f"train.ema_decay must be in [0, 1), got {cfg.train.ema_decay}")
    if not 0 <= cfg.train.lr_decay_start <= 1:
        raise ConfigError(
            "train.lr_decay_start must be in [0, 1] (a share of train.steps; 1 "
            f"keeps the learning rates constant), got {cfg.train.lr_decay_start}"
        )
    if cfg.data.channels not in (None, 1, 3):
        raise ConfigError(f"data.channels must be 1, 3 or none, got {cfg.data.channels}")
    if cfg.model.num_classes is not None and cfg.model.num_classes < 2:
        raise ConfigError(
            f"model.num_classes must be at least 2 (or none: from the data), got {cfg.model.num_classes}"
        )
    if cfg.train.aux_weight < 0:
        raise ConfigError(f"train.aux_weight must be >= 0, got {cfg.train.aux_weight}")
    for name in ("lambda_cls", "lambda_rec"):  # StarGAN
        if getattr(cfg.train, name) < 0:
            raise ConfigError(f"train.{name} must be >= 0, got {getattr(cfg.train, name)}")
    if not 0 <= cfg.model.dropout < 1:
        raise ConfigError(f"model.dropout must be in [0, 1), got {cfg.model.dropout}")
    if cfg.eval.every < 0:
        raise ConfigError(f"eval.every must be >= 0 (0 turns evaluation off), got {cfg.eval.every}")
    if cfg.eval.every and cfg.eval.every % cfg.train.log_every:
        raise ConfigError(
            f"eval.every={cfg.eval.every} must be a multiple of train.log_every="
            f"{cfg.train.log_every} (scores go into that step's metrics.csv row)"
        )
    if cfg.eval.n < 2:
        raise ConfigError(f"eval.n must be at least 2 samples, got {cfg.eval.n}")


def from_dict(values: dict[str, Any]) -> Config:
    """Rebuild a Config saved with ``Config.to_dict`` (e.g. from a checkpoint)."""
    cfg = update(Config(), values, origin="saved config")
    validate(cfg)
    return cfg
