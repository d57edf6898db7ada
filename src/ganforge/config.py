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
from ganforge.files import atomic_write


class ConfigError(GanforgeError, ValueError):
    """A config file or override that cannot be used; the message says how to fix it."""


# Every field says whether a resumed run may change it (``metadata["resumable"]``): settings
# of where and how fast a run goes may; anything that changes what is trained would make it
# another run. tests/test_config.py fails on a field that says neither.
RESUMABLE = {"resumable": True}
FIXED = {"resumable": False}


def _choices(resumable: bool, values: tuple[str, ...]) -> dict:
    return {"choices": values, "resumable": resumable}


def is_resumable(section: str, key: str) -> bool:
    """Whether ``section.key`` may change when a run is resumed (its field's metadata)."""
    cls = type(getattr(Config(), section))
    return next(f for f in dataclasses.fields(cls) if f.name == key).metadata["resumable"]


@dataclass
class RunConfig:
    # run folder: config, metrics, samples, checkpoints
    dir: str = field(default="runs/default", metadata=RESUMABLE)
    seed: int = field(
        default=0, metadata=FIXED
    )  # same seed, same run (bit for bit on CPU with run.threads fixed)
    device: str = field(default="auto", metadata=RESUMABLE)  # auto (CUDA when present) | cpu | cuda | cuda:N
    progress: bool = field(default=True, metadata=RESUMABLE)  # show a progress bar on the terminal
    # torch CPU threads: auto (measured, re-measured as the load changes) | N (fixed: bit-exact);
    # a change alters the last bits of later steps, not the run (docs/threads.md)
    threads: str = field(default="auto", metadata=RESUMABLE)


@dataclass
class DataConfig:
    # a registered data set; `ganforge info` lists them
    name: str = field(default="fashion-mnist", metadata=FIXED)
    # folder holding the files; None searches the usual places
    root: str | None = field(default=None, metadata=RESUMABLE)
    # which split
    split: str = field(default="train", metadata=_choices(resumable=False, values=("train", "test")))
    # resize (center crop first) to this side, pixels; None: native
    image_size: int | None = field(default=None, metadata=FIXED)
    # convert to 1 (gray) or 3 (RGB) channels; None: native
    channels: int | None = field(default=None, metadata=FIXED)
    # bad image file
    on_corrupt: str = field(default="skip", metadata=_choices(resumable=False, values=("skip", "error")))
    limit: int | None = field(default=None, metadata=FIXED)  # use only the first N examples; None: all
    n_points: int = field(default=100_000, metadata=FIXED)  # points drawn once for the 2-D mixtures
    download: bool = field(default=True, metadata=RESUMABLE)  # fetch (with checksum) when missing and online
    # StarGAN on celeba-attributes: list_attr_celeba.txt columns that are the domains (comma list)
    attributes: str = field(default="Black_Hair,Blond_Hair,Brown_Hair,Male,Young", metadata=FIXED)


@dataclass
class ModelConfig:
    # a registered model family; `ganforge info` lists them
    name: str = field(default="dcgan", metadata=FIXED)
    z_dim: int = field(default=100, metadata=FIXED)  # noise dimension
    # U[-1,1] or N(0,1)
    noise: str = field(default="uniform", metadata=_choices(resumable=False, values=("uniform", "normal")))
    # DCGAN: ngf (channels of G's last hidden layer); MLP: hidden units
    g_width: int = field(default=64, metadata=FIXED)
    # DCGAN: ndf (channels of D's first layer); MLP: hidden units
    d_width: int = field(default=64, metadata=FIXED)
    hidden_layers: int = field(default=2, metadata=FIXED)  # MLP only: hidden layers in G and in D
    # MLP only: dropout in D's hidden layers (Goodfellow et al. used it)
    dropout: float = field(default=0.0, metadata=FIXED)
    # Conditional models (cgan, cdcgan) only:
    # classes G and D are conditioned on; None: from the data
    num_classes: int | None = field(default=None, metadata=FIXED)
    # cdcgan's D: projection (Miyato & Koyama 2018) or aux. classifier (ACGAN, Odena et al. 2017)
    conditioning: str = field(
        default="projection", metadata=_choices(resumable=False, values=("projection", "acgan"))
    )
    # Translation and multi-domain games (cyclegan, pix2pix, stargan) only; g_width / d_width
    # are the reference's ngf / ndf.
    # translation G; auto: resnet for cyclegan and stargan, unet for pix2pix (as in the papers);
    # skip, pixel: stargan only (its resnet G with U-Net skips; pixel adds a per-pixel affine
    # output head and phase planes; docs/stargan.md)
    generator: str = field(
        default="auto", metadata=_choices(resumable=False, values=("auto", "resnet", "unet", "skip", "pixel"))
    )
    # unet G only: add a full-size level (a 3x3 stem whose features skip to a full-size head), so
    # output pixels are not all interpolated from half-size features (models/unet.py)
    full_res: bool = field(default=False, metadata=FIXED)
    # residual blocks of the resnet G; None: 6 up to 128 px, 9 above (the reference)
    res_blocks: int | None = field(default=None, metadata=FIXED)
    # PatchGAN stride-2 layers; None: 3 (70 px patches) from 128 px, 2 from 48 px, 1 below
    d_layers: int | None = field(default=None, metadata=FIXED)
    # StarGAN only (other games ignore it): give D's class head a trunk of its own, so L_cls
    # cannot shape the features its realism head reads; twice D's cost (docs/stargan.md, "Phase 8")
    d_split: bool = field(default=False, metadata=FIXED)
    # StarGAN only: D's realism head also sees the domain labels (a projection discriminator,
    # Miyato & Koyama 2018: each patch's score plus <embed(labels), its features>), so an image
    # is judged real *for its domain*; false: the paper's unconditional head (docs/stargan.md,
    # "Phase 10")
    d_conditional: bool = field(default=False, metadata=FIXED)
    # StarGAN's pixel G only: its head's coefficients on a K x K grid, bilinearly upsampled (smooth
    # in space, so G cannot repaint the background apart from the garment); 0: per pixel
    # (docs/stargan.md, "Phase 9")
    pixel_grid: int = field(default=0, metadata=FIXED)


@dataclass
class TrainConfig:
    # a registered loss; `ganforge info` lists them
    loss: str = field(default="nonsaturating", metadata=FIXED)
    steps: int = field(default=3000, metadata=RESUMABLE)  # G updates in the whole run
    batch_size: int = field(default=64, metadata=FIXED)  # real images per D update (global batch under DDP)
    d_steps: int = field(default=1, metadata=FIXED)  # D updates per G update
    lr_g: float = field(default=2e-4, metadata=FIXED)  # Adam learning rate of G
    lr_d: float = field(default=2e-4, metadata=FIXED)  # Adam learning rate of D
    beta1: float = field(default=0.5, metadata=FIXED)  # Adam beta1 (DCGAN paper: 0.5)
    beta2: float = field(default=0.999, metadata=FIXED)  # Adam beta2
    gp_weight: float = field(default=10.0, metadata=FIXED)  # wgan-gp only: gradient-penalty weight lambda
    # EMA of every generator's weights per G update (G; CycleGAN's G_AB and G_BA), e.g. 0.999;
    # the averages sample, translate, are scored and exported; 0 turns it off
    ema_decay: float = field(default=0.0, metadata=FIXED)
    # EMA only: the EMA G's batch-norm statistics: copy (G's, each step) | recompute (GAN game:
    # re-estimated on the EMA G's own samples whenever it is sampled, scored or exported)
    ema_bn_stats: str = field(default="copy", metadata=_choices(resumable=True, values=("copy", "recompute")))
    # share of train.steps after which both lrs fall linearly to 0; 1: constant
    lr_decay_start: float = field(default=1.0, metadata=FIXED)
    # acgan only: weight of the class cross-entropy in D's and G's losses
    aux_weight: float = field(default=1.0, metadata=FIXED)
    log_every: int = field(default=50, metadata=RESUMABLE)  # steps between metrics.csv rows (and host syncs)
    sample_every: int = field(default=500, metadata=RESUMABLE)  # steps between sample grids
    checkpoint_every: int = field(default=500, metadata=RESUMABLE)  # steps between checkpoints
    keep_checkpoints: int = field(default=3, metadata=RESUMABLE)  # how many recent checkpoints to keep
    grid_size: int = field(default=64, metadata=FIXED)  # images in each sample grid (fixed noise)
    # Speed switches (training/speed.py); "auto" picks what measured fastest on the device.
    # bf16 autocast; auto: on CUDA, and on bf16-capable CPUs for convs
    precision: str = field(default="auto", metadata=_choices(resumable=True, values=("auto", "fp32", "bf16")))
    # StarGAN only (Choi et al. 2018, eq. 7-8), weights beside the adversarial loss:
    lambda_cls: float = field(default=1.0, metadata=FIXED)  # domain classification (CE/BCE)
    lambda_rec: float = field(default=10.0, metadata=FIXED)  # reconstruction L1 (pixels)
    # StarGAN: identity L1 |x - G(x, own labels)|; 0 is the paper's (docs/stargan.md, "Tuning")
    lambda_id: float = field(default=0.0, metadata=FIXED)
    # StarGAN: G updates over which lambda_rec ramps linearly up from 0; 0 is the paper's (off)
    rec_warmup: int = field(default=0, metadata=FIXED)
    memory_format: str = field(
        default="auto", metadata=_choices(resumable=True, values=("auto", "channels_last", "contiguous"))
    )  # conv layout; auto: channels_last unless compiled
    adam_impl: str = field(
        default="auto", metadata=_choices(resumable=True, values=("auto", "fused", "foreach", "loop"))
    )  # Adam kernels; auto: fused on CUDA
    compile: str = field(
        default="auto",
        metadata=_choices(resumable=True, values=("auto", "eager", "cuda-graphs", "reduce-overhead")),
    )  # auto: cuda-graphs on 1 GPU, else eager
    # cyclegan on a CPU: the A -> B -> A and B -> A -> B halves of each step (and the two D
    # updates) in two threads, each with half the intra-op threads (games/lanes.py); auto: when
    # on the CPU, in fp32, in one process, with >= 2 threads; off: one after the other
    lanes: str = field(default="auto", metadata=_choices(resumable=True, values=("auto", "off")))
    # under DDP (CUDA only): batch-norm statistics over the global batch
    sync_batchnorm: bool = field(default=False, metadata=RESUMABLE)
    # Translation games only. CycleGAN (Zhu et al. 2017, sec. 4 and 7.1) and pix2pix (Isola et al. 2017).
    # cyclegan: lambda_cycle, weight of each direction's L1 cycle loss; 0: the GAN-only ablation
    cycle_weight: float = field(default=10.0, metadata=FIXED)
    # cyclegan: lambda of the B -> A -> B cycle alone (the reference's lambda_B, cycle_weight being
    # its lambda_A); None: cycle_weight (docs/translation.md, "Results", session 6)
    cycle_weight_b: float | None = field(default=None, metadata=FIXED)
    # cyclegan: identity L1 weight as a multiple of lambda_cycle (0.5 * 10 = 5, the paper's); 0: off
    identity_weight: float = field(default=0.5, metadata=FIXED)
    # cyclegan: the identity term on the first K images of each batch (the same term in
    # expectation, cheaper: its two passes are 29 % of the tint preset's step); None: all of them
    identity_batch: int | None = field(default=None, metadata=FIXED)
    # cyclegan: generated images each D's history pool holds (Shrivastava et al. 2017); 0: no pool
    pool_size: int = field(default=50, metadata=FIXED)
    # cyclegan, stargan: std (on the [-1, 1] scale) of Gaussian noise added to each translation before the
    # reverse G reconstructs it, in the cycle loss only, so G cannot hide its input in faint
    # detail (Bashkirova et al. 2019; docs/translation.md); 0: off, the paper's cycle loss
    cycle_noise: float = field(default=0.0, metadata=FIXED)
    # cyclegan: G_AB's translations binarised (-1/1, straight-through gradient) before D_B and the
    # cycle see them, for a binary B domain (games/binary_translation.py); false: the paper's game
    binary_b: bool = field(default=False, metadata=FIXED)
    # cyclegan, stargan: weight of the marginal term, the pixel values of the translations against
    # those of real images of their target domain, as distributions (games/marginals.py: against a
    # convention the cycles accept, docs/translation.md "Session 9"); 0: off, the paper's game
    marginal_weight: float = field(default=0.0, metadata=FIXED)
    l1_weight: float = field(default=100.0, metadata=FIXED)  # pix2pix: lambda of the L1 term


@dataclass
class EvalConfig:
    # steps between evaluations during training (a multiple of train.log_every); 0: off
    every: int = field(default=0, metadata=RESUMABLE)
    # comma list of fid, kid, prdc (pr, dc), is, classes
    metrics: str = field(default="fid,kid", metadata=RESUMABLE)
    # generated samples per evaluation, and as many real ones (training split)
    n: int = field(default=5000, metadata=RESUMABLE)
    # keep generator-best by this column, e.g. fid_fmnist; auto: the first
    best_metric: str = field(default="auto", metadata=RESUMABLE)
    # auto: the data's evaluator, else inception | fmnist | mnist | cifar10
    feature_net: str = field(default="auto", metadata=RESUMABLE)


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
        """Write the resolved config as YAML, atomically (readers never see it half-written)."""
        text = yaml.safe_dump(self.to_dict(), sort_keys=False)
        atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


# --- reading YAML -----------------------------------------------------------------------
# Every YAML ganforge reads (presets, run folders' config.yaml, --set values) goes through
# read_yaml / parse_yaml. Aliases are refused: a few hundred bytes of nested `*a` references
# expand to gigabytes (the "billion laughs"), and a config never needs them.
MAX_YAML_BYTES = 1 << 20  # a config is a few KB; anything this large is not one


class _NoAliasLoader(yaml.SafeLoader):
    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise ConfigError(
                f"YAML aliases (*name) are not allowed in a ganforge config (line {mark.line + 1}); "
                "write the values out"
            )
        return super().compose_node(parent, index)


def parse_yaml(text: str, origin: str = "config") -> Any:
    """YAML text -> Python values with the safe loader, aliases refused (ConfigError)."""
    if len(text) > MAX_YAML_BYTES:
        raise ConfigError(f"{origin} is {len(text)} characters; a config is at most {MAX_YAML_BYTES}")
    try:
        return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as err:
        raise ConfigError(f"{origin} is not valid YAML: {' '.join(str(err).split())}") from None


def read_yaml(path: str | Path) -> Any:
    """A YAML file -> Python values; too large, not UTF-8, not YAML or with aliases: ConfigError."""
    path = Path(path)
    with open(path, "rb") as handle:
        data = handle.read(MAX_YAML_BYTES + 1)
    if len(data) > MAX_YAML_BYTES:
        raise ConfigError(f"{path} is larger than {MAX_YAML_BYTES} bytes; a config is a few KB")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data[:64]:
        raise ConfigError(f"{path} looks like UTF-16 text; save it as UTF-8")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"{path} is not UTF-8 text (bad byte at offset {err.start}); save it as UTF-8"
        ) from None
    return parse_yaml(text, str(path))


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
        value = parse_yaml(value, where)
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
        if isinstance(value, str):  # YAML 1.1 reads 2e-4 (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
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
        update(cfg, read_yaml(path) or {}, origin=str(path))
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
    _check_upper_bounds(cfg)
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
    for name in ("lambda_cls", "lambda_rec", "lambda_id"):  # StarGAN
        if getattr(cfg.train, name) < 0:
            raise ConfigError(f"train.{name} must be >= 0, got {getattr(cfg.train, name)}")
    if cfg.train.rec_warmup < 0:
        raise ConfigError(f"train.rec_warmup must be >= 0 G updates (0: off), got {cfg.train.rec_warmup}")
    if cfg.train.identity_batch is not None and cfg.train.identity_batch < 1:
        raise ConfigError(
            "train.identity_batch must be at least 1 image (none: the whole batch), "
            f"got {cfg.train.identity_batch}"
        )
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
    if cfg.run.threads != "auto" and not (cfg.run.threads.isdigit() and int(cfg.run.threads) > 0):
        raise ConfigError(
            f"run.threads={cfg.run.threads!r} is not valid; give auto or a positive whole number, e.g. 1"
        )


# Upper bounds checked before anything is allocated: far above any model or batch this toolkit
# trains, far below what would exhaust memory on the way to an out-of-memory traceback.
# (models.check_size then bounds the parameter count the combination of sizes gives.)
UPPER_BOUNDS = {
    "model.z_dim": 16_384,
    "model.g_width": 16_384,
    "model.d_width": 16_384,
    "model.hidden_layers": 64,
    "model.num_classes": 100_000,
    "data.image_size": 2_048,
    "data.n_points": 100_000_000,
    "train.batch_size": 1_048_576,
    "train.grid_size": 4_096,
}


def _check_upper_bounds(cfg: Config) -> None:
    for name, limit in UPPER_BOUNDS.items():
        section, key = name.split(".")
        value = getattr(getattr(cfg, section), key)
        if value is not None and value > limit:
            raise ConfigError(f"{name}={value} is too large; the limit is {limit:,}")


def from_dict(values: dict[str, Any]) -> Config:
    """Rebuild a Config saved with ``Config.to_dict`` (e.g. from a checkpoint)."""
    cfg = update(Config(), values, origin="saved config")
    validate(cfg)
    return cfg
