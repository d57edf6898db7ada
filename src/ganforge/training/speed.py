"""The speed plan: bf16 autocast, channels_last, Adam kernels, CUDA graphs and torch.compile.

Each is a ``train.*`` setting; ``auto`` resolves here, per device, to what measured fastest
(benchmarks/NOTES.md). None of them changes what is trained: the same data, noise and
updates, within bf16 / TF32 rounding (tests/training/test_fast.py checks each against the
plain path). Every game gets bf16, channels_last and the Adam kernels; the runners that replay
or compile the iteration (``training/runners.py``) apply to games that declare
``supports_compile``. The care they need:

- bf16 autocast runs with its weight cache off: D's weights change between its uses within
  one iteration (with ``d_steps > 1``), and a cached bf16 copy would be stale. D's logits
  are cast back to float32 so the losses (and their logged values) are computed in fp32.
- A CUDA graph replays the whole iteration (D steps, G step, EMA) at fixed shapes: the batch
  indices enter through fixed buffers that are refilled before each replay, and Adam keeps
  its step count on the GPU (``capturable``). Capture or compilation that fails falls back
  to eager execution with a warning; training goes on from the same state.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ganforge.config import ConfigError, TrainConfig


@dataclass(frozen=True)
class SpeedPlan:
    """The resolved speed settings of a run (no ``auto`` left)."""

    precision: str = "fp32"  # fp32 | bf16
    memory_format: str = "contiguous"  # contiguous | channels_last
    adam_impl: str = "loop"  # fused | foreach | loop
    compile: str = "eager"  # eager | cuda-graphs | reduce-overhead

    def describe(self) -> str:
        return (
            f"precision={self.precision} memory_format={self.memory_format} "
            f"adam={self.adam_impl} compile={self.compile}"
        )


def cpu_has_bf16() -> bool:
    """Whether this CPU has native bf16 instructions (AVX512-BF16 or AMX); without them oneDNN
    emulates bf16 and autocast is slower than fp32."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def has_conv(*modules: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.conv._ConvNd) for module in modules for m in module.modules())


def resolve(
    t: TrainConfig,
    device: torch.device,
    conv: bool,
    world_size: int = 1,
    gradient_penalty: bool = False,
    compilable: bool = True,
    game: str = "gan",
) -> SpeedPlan:
    """Turn the ``train`` speed settings into a plan for this device and model.

    ``conv``: the models have convolutions (layout and bf16 matter for them).
    ``gradient_penalty``: the loss back-propagates through a gradient (no auto CUDA graphs).
    ``compilable``: the game's iteration may be replayed as a CUDA graph or compiled
    (``Game.supports_compile``); when not, ``auto`` means eager and asking for it is an error.
    Impossible combinations are a ConfigError naming the setting to change.
    """
    if not compilable and t.compile not in ("auto", "eager"):
        raise ConfigError(
            f"train.compile={t.compile} is not available for the {game} game (only the GAN "
            "game is replayed or compiled); use train.compile=eager"
        )
    cuda = device.type == "cuda"
    mode = _compile_mode(t, cuda, world_size, gradient_penalty, compilable)
    layout = t.memory_format
    if layout == "auto":
        layout = "channels_last" if conv and mode != "reduce-overhead" else "contiguous"
    elif layout == "channels_last" and mode == "reduce-overhead":
        # PyTorch 2.11 on an H100 hit a stride assertion in convolution_backward here.
        raise ConfigError(
            "train.compile=reduce-overhead with train.memory_format=channels_last "
            "fails in convolution_backward (PyTorch 2.11); use one of them"
        )
    adam = t.adam_impl
    if adam == "auto":
        adam = "fused" if cuda else "loop"  # CPU: Adam is ~1 % of a DCGAN step either way
    return SpeedPlan(precision=_precision(t, cuda, conv), memory_format=layout, adam_impl=adam, compile=mode)


def _precision(t: TrainConfig, cuda: bool, conv: bool) -> str:
    if t.precision == "auto":
        if cuda:
            return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
        return "bf16" if conv and cpu_has_bf16() else "fp32"
    if t.precision == "bf16" and cuda and not torch.cuda.is_bf16_supported():
        raise ConfigError(
            "train.precision=bf16 needs a GPU with bf16 (Ampere or newer); use train.precision=fp32"
        )
    return t.precision


def _compile_mode(
    t: TrainConfig, cuda: bool, world_size: int, gradient_penalty: bool, compilable: bool
) -> str:
    # A CUDA graph bakes the learning rates in; a decaying schedule must run outside one.
    lr_decay = t.lr_decay_start < 1
    mode = t.compile
    if mode == "auto":
        graphs = compilable and cuda and world_size == 1 and not gradient_penalty and not lr_decay
        return "cuda-graphs" if graphs else "eager"
    if mode == "cuda-graphs" and not cuda:
        raise ConfigError("train.compile=cuda-graphs needs a CUDA device; use eager on CPU")
    if mode == "cuda-graphs" and lr_decay:
        raise ConfigError(
            "train.compile=cuda-graphs fixes the learning rates, so it cannot run "
            "train.lr_decay_start < 1; use eager or reduce-overhead"
        )
    if mode == "cuda-graphs" and world_size > 1:
        raise ConfigError(
            "train.compile=cuda-graphs is not supported under DDP; use eager (or reduce-overhead)"
        )
    return mode


def configure_backends(device: torch.device) -> None:
    """cuDNN picks the fastest convolution algorithms for our fixed shapes (after a first,
    slower step); float32 matmuls may use TF32 like cuDNN's convolutions already do."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.set_float32_matmul_precision("high")


def autocast(plan: SpeedPlan, device: torch.device):
    """The context the training step runs in: bf16 autocast when the plan asks for it.

    The cast cache is off: within one iteration D is used before and after its optimizer
    step (``d_steps > 1``), and CUDA graph capture needs it off as well.
    """
    return torch.autocast(
        device.type, dtype=torch.bfloat16, enabled=plan.precision == "bf16", cache_enabled=False
    )


def _float_output(module: nn.Module, args: tuple, output: Any) -> Any:
    """Forward hook: D's logits back to float32, so the losses are reduced in fp32."""
    if isinstance(output, torch.Tensor):
        return output.float()
    if isinstance(output, (tuple, list)):
        return type(output)(o.float() if isinstance(o, torch.Tensor) else o for o in output)
    return output


def prepare_nets(plan: SpeedPlan, nets: Mapping[str, nn.Module], float_outputs: Iterable[str] = ()) -> None:
    """Apply the plan's layout to every network with convolutions (in place) and, under
    bf16, make the networks named in ``float_outputs`` (the discriminators) return float32.

    The state dicts keep their keys and shapes, so checkpoints are the same on every path.
    """
    for net in nets.values():
        if plan.memory_format == "channels_last" and has_conv(net):
            net.to(memory_format=torch.channels_last)
    if plan.precision == "bf16":
        for key in float_outputs:
            nets[key].register_forward_hook(_float_output)


def build_adam(params, lr: float, betas: tuple[float, float], plan: SpeedPlan) -> torch.optim.Adam:
    """Adam with the plan's kernels; ``capturable`` (step count on the GPU) for CUDA graphs."""
    options: dict[str, Any] = (
        {"fused": True} if plan.adam_impl == "fused" else {"foreach": plan.adam_impl == "foreach"}
    )
    if plan.compile == "cuda-graphs":
        options["capturable"] = True
    return torch.optim.Adam(params, lr=lr, betas=betas, **options)
