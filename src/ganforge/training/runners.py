"""Runners of the training iteration: eager, one CUDA graph, or torch.compile.

The loop calls ``make_runner(state, train_iteration)`` once and then the runner every step.
Both runners apply only to games with ``supports_compile`` (the GAN game); ``speed.resolve``
turns ``train.compile`` into eager (``auto``) or a ConfigError for the others.

- A CUDA graph replays the whole iteration (D steps, G step, EMA) at fixed shapes: the batch
  indices enter through fixed buffers that are refilled before each replay, and Adam keeps
  its step count on the GPU (``capturable``). Capture or compilation that fails falls back
  to eager execution with a warning; training goes on from the same state.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

if TYPE_CHECKING:  # the state imports this module to build its runner
    from ganforge.training.sampler import EpochSampler
    from ganforge.training.state import TrainState

Iteration = Callable[["TrainState"], dict[str, torch.Tensor]]  # train_iteration(state) -> device scalars


def make_runner(state: TrainState, iteration: Iteration) -> Iteration:
    """``iteration`` itself, or a runner that replays it as a CUDA graph or compiles G and D."""
    if state.speed.compile == "cuda-graphs":
        return GraphRunner(iteration)
    if state.speed.compile == "reduce-overhead":
        return CompileRunner(state, iteration, mode="reduce-overhead")
    return iteration


def _snapshot(state: TrainState) -> dict[str, Any]:
    """A deep copy of the whole training state, to undo a failed first compiled iteration."""
    return copy.deepcopy(state.payload())


class _StaticBatches:
    """Stands in for the sampler while the iteration is captured: each ``next()`` call hands
    out a fixed index buffer; ``fill()`` loads the real sampler's next batches into them
    before every replay (a graph reads the memory it was recorded with, nothing else)."""

    def __init__(self, sampler: EpochSampler):
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

    def __call__(self, state: TrainState) -> dict[str, torch.Tensor]:
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

    def _recorded_iteration(self, state: TrainState) -> dict[str, torch.Tensor]:
        """The iteration as the graph sees it: batches from fixed buffers, step left alone
        (host-side bookkeeping is redone by ``_replay``)."""
        game = state.game
        sampler, step = game.sampler, state.step
        self.batches.calls = 0
        game.sampler = self.batches
        try:
            return self.iteration(state)
        finally:
            game.sampler, state.step = sampler, step

    def _capture(self, state: TrainState) -> None:
        self.batches = _StaticBatches(state.game.sampler)
        # Gradients are allocated inside the graph's memory pool by the captured backward.
        for optimizer in state.game.optimizers.values():
            optimizer.zero_grad(set_to_none=True)
        self.flags = [p.requires_grad for p in _parameters(state)]
        self.graph, self.outputs = self.backend.capture(lambda: self._recorded_iteration(state))

    def _replay(self, state: TrainState) -> dict[str, torch.Tensor]:
        self.batches.fill()
        self.backend.replay(self.graph)
        state.step += 1
        return self.outputs  # refreshed in place by each replay

    def _give_up(self, state: TrainState, err: Exception) -> None:
        self.failed, self.graph, self.outputs = True, None, None
        for param, flag in zip(_parameters(state), self.flags):
            param.requires_grad_(flag)
        for optimizer in state.game.optimizers.values():
            optimizer.zero_grad(set_to_none=True)
        warnings.warn(
            f"CUDA graph capture of the training step failed ({_short(err)}); "
            "continuing eagerly (set train.compile=eager to skip the attempt)",
            stacklevel=3,
        )


def _short(err: Exception) -> str:
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0][:160]}" if lines else type(err).__name__


def _parameters(state: TrainState) -> list[nn.Parameter]:
    return [p for key in state.game.ddp_nets for p in state.game.nets[key].parameters()]


class CompileRunner:
    """Trains through ``torch.compile`` of the game's trained nets (G and D); if compiling
    (or the first compiled iterations) fails, undoes those iterations and continues eagerly
    with a warning."""

    checked_iterations = 2  # the first iteration compiles forward, backward and G's step path

    def __init__(self, state: TrainState, iteration: Iteration, mode: str = "reduce-overhead"):
        self.iteration, self.mode = iteration, mode
        train_nets = state.game.train_nets
        self.eager = dict(train_nets)
        for key in state.game.ddp_nets:  # the trained nets: what the iteration calls
            train_nets[key] = torch.compile(train_nets[key], mode=mode)
        self.calls = 0
        self.failed = False

    def __call__(self, state: TrainState) -> dict[str, torch.Tensor]:
        if self.failed or self.calls >= self.checked_iterations:
            return self._run(state)
        self.calls += 1
        snapshot = _snapshot(state)
        try:
            return self._run(state)
        except Exception as err:
            state.restore(snapshot)
            state.game.train_nets.update(self.eager)
            self.failed = True
            warnings.warn(
                f"torch.compile(mode={self.mode!r}) of the training step failed "
                f"({_short(err)}); continuing eagerly (set train.compile=eager to "
                "skip the attempt)",
                stacklevel=2,
            )
            return self.iteration(state)

    def _run(self, state: TrainState) -> dict[str, torch.Tensor]:
        if not self.failed and state.device.type == "cuda":
            # Outputs of the previous iteration's graphs may be overwritten from here on.
            torch.compiler.cudagraph_mark_step_begin()
        return self.iteration(state)
