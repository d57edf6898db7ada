"""Speed switches: bf16 autocast, channels_last, Adam kernels, CUDA graphs and torch.compile.

Each is a ``train.*`` setting; ``auto`` resolves here, per device, to what measured fastest
(benchmarks/NOTES.md). None of them changes what is trained: the same data, noise and
updates, within bf16 / TF32 rounding (tests/training/test_fast.py checks each against the
plain path). The GAN-specific care:

- bf16 autocast runs with its weight cache off: D's weights change between its uses within
  one iteration (with ``d_steps > 1``), and a cached bf16 copy would be stale. D's logits
  are cast back to float32 so the losses (and their logged values) are computed in fp32.
- A CUDA graph replays the whole iteration (D steps, G step, EMA) at fixed shapes: the batch
  indices enter through fixed buffers that are refilled before each replay, and Adam keeps
  its step count on the GPU (``capturable``). Capture or compilation that fails falls back
  to eager execution with a warning; training goes on from the same state.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ganforge.config import ConfigError, TrainConfig

Iteration = Callable[[Any], dict[str, torch.Tensor]]  # train_iteration(state) -> device scalars


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
    t: TrainConfig, device: torch.device, conv: bool, world_size: int = 1, gradient_penalty: bool = False
) -> SpeedPlan:
    """Turn the ``train`` speed settings into a plan for this device and model.

    ``conv``: the models have convolutions (layout and bf16 matter for them).
    ``gradient_penalty``: the loss back-propagates through a gradient (no auto CUDA graphs).
    Impossible combinations are a ConfigError naming the setting to change.
    """
    cuda = device.type == "cuda"
    precision = t.precision
    if precision == "auto":
        if cuda:
            precision = "bf16" if torch.cuda.is_bf16_supported() else "fp32"
        else:
            precision = "bf16" if conv and cpu_has_bf16() else "fp32"
    elif precision == "bf16" and cuda and not torch.cuda.is_bf16_supported():
        raise ConfigError(
            "train.precision=bf16 needs a GPU with bf16 (Ampere or newer); use train.precision=fp32"
        )

    # A CUDA graph bakes the learning rates in; a decaying schedule must run outside one.
    lr_decay = t.lr_decay_start < 1
    mode = t.compile
    if mode == "auto":
        mode = (
            "cuda-graphs" if cuda and world_size == 1 and not gradient_penalty and not lr_decay else "eager"
        )
    elif mode == "cuda-graphs" and not cuda:
        raise ConfigError("train.compile=cuda-graphs needs a CUDA device; use eager on CPU")
    elif mode == "cuda-graphs" and lr_decay:
        raise ConfigError(
            "train.compile=cuda-graphs fixes the learning rates, so it cannot run "
            "train.lr_decay_start < 1; use eager or reduce-overhead"
        )
    elif mode == "cuda-graphs" and world_size > 1:
        raise ConfigError(
            "train.compile=cuda-graphs is not supported under DDP; use eager (or reduce-overhead)"
        )

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
    return SpeedPlan(precision=precision, memory_format=layout, adam_impl=adam, compile=mode)


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


def prepare_models(plan: SpeedPlan, G: nn.Module, D: nn.Module) -> tuple[nn.Module, nn.Module]:
    """Apply the plan's layout to G and D (in place) and float32 logits to D under bf16.

    The state dicts keep their keys and shapes, so checkpoints are the same on every path.
    """
    if plan.memory_format == "channels_last":
        G = G.to(memory_format=torch.channels_last)
        D = D.to(memory_format=torch.channels_last)
    if plan.precision == "bf16":
        D.register_forward_hook(_float_output)
    return G, D


def build_adam(params, lr: float, betas: tuple[float, float], plan: SpeedPlan) -> torch.optim.Adam:
    """Adam with the plan's kernels; ``capturable`` (step count on the GPU) for CUDA graphs."""
    options: dict[str, Any] = (
        {"fused": True} if plan.adam_impl == "fused" else {"foreach": plan.adam_impl == "foreach"}
    )
    if plan.compile == "cuda-graphs":
        options["capturable"] = True
    return torch.optim.Adam(params, lr=lr, betas=betas, **options)


# --- running the iteration: eager, one CUDA graph, or torch.compile -----------------------


def make_runner(state, iteration: Iteration) -> Iteration:
    """``iteration`` itself, or a runner that replays it as a CUDA graph or compiles G and D."""
    if state.speed.compile == "cuda-graphs":
        return GraphRunner(iteration)
    if state.speed.compile == "reduce-overhead":
        return CompileRunner(state, iteration, mode="reduce-overhead")
    return iteration


def _snapshot(state) -> dict[str, Any]:
    """A deep copy of the whole training state, to undo a failed first compiled iteration."""
    return copy.deepcopy(state.payload())


class _StaticBatches:
    """Stands in for the sampler while the iteration is captured: each ``next()`` call hands
    out a fixed index buffer; ``fill()`` loads the real sampler's next batches into them
    before every replay (a graph reads the memory it was recorded with, nothing else)."""

    def __init__(self, sampler):
        self.sampler = sampler
        self.buffers: list[torch.Tensor] = []
        self.calls = 0

    def next(self) -> torch.Tensor:
        if self.calls == len(self.buffers):
            size = getattr(self.sampler, "local_batch_size", self.sampler.batch_size)
            self.buffers.append(torch.empty(size, dtype=torch.long, device=self.sampler.device))
        buffer = self.buffers[self.calls]
        self.calls += 1
        return buffer

    def fill(self) -> None:
        for buffer in self.buffers:
            buffer.copy_(self.sampler.next(), non_blocking=True)


class CudaGraphs:
    """The three CUDA operations GraphRunner needs (tests pass an emulation for CPU)."""

    def warmup(self, fn: Callable[[], Any]) -> Any:
        # Warm-up runs on a side stream, as capture requires (cuDNN/cuBLAS set-up, benchmark).
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            out = fn()
        torch.cuda.current_stream().wait_stream(stream)
        return out

    def capture(self, fn: Callable[[], Any]) -> tuple[Any, Any]:
        torch.cuda.synchronize()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            out = fn()
        return graph, out

    def replay(self, graph: Any) -> None:
        graph.replay()


class GraphRunner:
    """Runs the training iteration as one CUDA graph: no per-kernel launch cost, no Python.

    The first ``warmup`` calls run eagerly (they are real training steps); the next one
    captures the iteration and replays it; from then on every call refills the index buffers
    and replays. Capture records without executing, so a failed capture leaves the state as
    it was: the runner warns and continues eagerly.
    """

    def __init__(self, iteration: Iteration, backend: Any = None, warmup: int = 3):
        self.iteration = iteration
        self.backend = backend if backend is not None else CudaGraphs()
        self.warmup = warmup
        self.calls = 0
        self.graph = None
        self.outputs: dict[str, torch.Tensor] | None = None
        self.batches: _StaticBatches | None = None
        self.flags: list[bool] = []  # requires_grad of G's and D's weights before capture
        self.failed = False

    def __call__(self, state) -> dict[str, torch.Tensor]:
        if self.failed:
            return self.iteration(state)
        if self.graph is not None:
            return self._replay(state)
        self.calls += 1
        if self.calls <= self.warmup:
            return self.backend.warmup(lambda: self.iteration(state))
        try:
            self._capture(state)
        except Exception as err:  # anything uncapturable in the step: stay eager
            self._give_up(state, err)
            return self.iteration(state)
        return self._replay(state)

    def _recorded_iteration(self, state) -> dict[str, torch.Tensor]:
        """The iteration as the graph sees it: batches from fixed buffers, step left alone
        (host-side bookkeeping is redone by ``_replay``)."""
        sampler, step = state.sampler, state.step
        self.batches.calls = 0
        state.sampler = self.batches
        try:
            return self.iteration(state)
        finally:
            state.sampler, state.step = sampler, step

    def _capture(self, state) -> None:
        self.batches = _StaticBatches(state.sampler)
        # Gradients are allocated inside the graph's memory pool by the captured backward.
        for optimizer in (state.opt_d, state.opt_g):
            optimizer.zero_grad(set_to_none=True)
        self.flags = [p.requires_grad for p in _parameters(state)]
        self.graph, self.outputs = self.backend.capture(lambda: self._recorded_iteration(state))

    def _replay(self, state) -> dict[str, torch.Tensor]:
        self.batches.fill()
        self.backend.replay(self.graph)
        state.step += 1
        return self.outputs  # refreshed in place by each replay

    def _give_up(self, state, err: Exception) -> None:
        self.failed, self.graph, self.outputs = True, None, None
        for param, flag in zip(_parameters(state), self.flags):
            param.requires_grad_(flag)
        for optimizer in (state.opt_d, state.opt_g):
            optimizer.zero_grad(set_to_none=True)
        warnings.warn(
            f"CUDA graph capture of the training step failed ({_short(err)}); "
            "continuing eagerly (set train.compile=eager to skip the attempt)",
            stacklevel=3,
        )


def _short(err: Exception) -> str:
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0][:160]}" if lines else type(err).__name__


def _parameters(state) -> list[nn.Parameter]:
    return [*state.G.parameters(), *state.D.parameters()]


class CompileRunner:
    """Trains through ``torch.compile`` of G and D; if compiling (or the first compiled
    iterations) fails, undoes those iterations and continues eagerly with a warning."""

    checked_iterations = 2  # the first iteration compiles forward, backward and G's step path

    def __init__(self, state, iteration: Iteration, mode: str = "reduce-overhead"):
        self.iteration, self.mode = iteration, mode
        self.eager = (state.G_train, state.D_train)
        state.G_train = torch.compile(state.G_train, mode=mode)
        state.D_train = torch.compile(state.D_train, mode=mode)
        self.calls = 0
        self.failed = False

    def __call__(self, state) -> dict[str, torch.Tensor]:
        if self.failed or self.calls >= self.checked_iterations:
            return self._run(state)
        self.calls += 1
        snapshot = _snapshot(state)
        try:
            return self._run(state)
        except Exception as err:
            state.restore(snapshot)
            state.G_train, state.D_train = self.eager
            self.failed = True
            warnings.warn(
                f"torch.compile(mode={self.mode!r}) of the training step failed "
                f"({_short(err)}); continuing eagerly (set train.compile=eager to "
                "skip the attempt)",
                stacklevel=2,
            )
            return self.iteration(state)

    def _run(self, state) -> dict[str, torch.Tensor]:
        if not self.failed and state.device.type == "cuda":
            # Outputs of the previous iteration's graphs may be overwritten from here on.
            torch.compiler.cudagraph_mark_step_begin()
        return self.iteration(state)
