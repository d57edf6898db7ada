"""Data-parallel training over several processes with DistributedDataParallel (DDP).

``torchrun --nproc_per_node=N -m ganforge train ...`` starts N copies of the same run and sets
``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and the rendezvous address. Every process builds the
same state from the same seed (DDP also broadcasts rank 0's weights), draws the same global
batch of indices and of noise, and trains on its own slice of it (``train.batch_size /
world_size`` examples); DDP averages the gradients. One DDP step therefore equals a
single-process step on the global batch ``train.batch_size`` with the same learning rates,
except that batch norm normalises over each slice unless ``train.sync_batchnorm`` (CUDA only).
Rank 0 alone writes the run folder: metrics.csv, samples, checkpoints (same format as a
single-process run, so either can resume the other).

Everything here is a no-op for a single process, so the loop calls it unconditionally.
"""

from __future__ import annotations

import atexit
import contextlib
import inspect
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from ganforge.config import ConfigError
from ganforge.training.sampler import EpochSampler


@dataclass(frozen=True)
class DistContext:
    """Where this process sits in the job; the default is a single process."""

    rank: int = 0  # this process, 0 .. world_size - 1
    world_size: int = 1  # processes training together
    local_rank: int = 0  # this process on its node (picks its GPU)

    @property
    def is_main(self) -> bool:
        """Rank 0 writes the run folder and prints; the others only train."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def setup(device_name: str = "auto") -> DistContext:
    """Join the process group that torchrun (or a test) set up; a lone process gets the default.

    With ``WORLD_SIZE > 1`` in the environment and no group yet, one is started: NCCL when this
    run trains on CUDA, gloo on CPU. It is torn down when the process exits.
    """
    if not dist.is_available():
        return DistContext()
    if not dist.is_initialized():
        if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
            return DistContext()
        cuda = device_name != "cpu" and torch.cuda.is_available()
        if cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend="nccl" if cuda else "gloo")
        atexit.register(_shutdown)
    world_size = dist.get_world_size()
    rank = dist.get_rank()
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    return DistContext(rank=rank, world_size=world_size, local_rank=local_rank)


def _shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def place(device: torch.device, ctx: DistContext) -> torch.device:
    """Each rank trains on its own GPU: ``cuda`` becomes ``cuda:<local rank>`` under DDP."""
    if ctx.enabled and device.type == "cuda" and device.index is None:
        return torch.device("cuda", ctx.local_rank)
    return device


def check_batch(batch_size: int, ctx: DistContext) -> None:
    if batch_size % ctx.world_size:
        raise ConfigError(
            f"train.batch_size={batch_size} is the global batch and must split "
            f"evenly over {ctx.world_size} processes; use a multiple of "
            f"{ctx.world_size}"
        )


class ShardedSampler(EpochSampler):
    """The global batches of ``EpochSampler``; each rank gets its contiguous slice of each.

    Every rank draws the same permutation (same seed), so the union of the ranks' slices is
    exactly the batch a single process would see, and the state saved by rank 0 resumes any
    number of processes.
    """

    def __init__(self, size: int, batch_size: int, seed: int, device: torch.device, ctx: DistContext):
        check_batch(batch_size, ctx)
        super().__init__(size, batch_size, seed, device)
        self.local_batch_size = batch_size // ctx.world_size
        self.offset = ctx.rank * self.local_batch_size

    def next(self) -> torch.Tensor:
        """Indices ``[batch_size / world_size]`` (int64, on the device): this rank's slice."""
        return super().next()[self.offset : self.offset + self.local_batch_size]


def shard_rows(x: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """This rank's rows of a global batch ``[world_size * n, ...]`` -> ``[n, ...]``."""
    if not ctx.enabled:
        return x
    n = x.shape[0] // ctx.world_size
    return x[ctx.rank * n : (ctx.rank + 1) * n]


def wrap(
    module: nn.Module, ctx: DistContext, device: torch.device, sync_batchnorm: bool = False
) -> nn.Module:
    """``module`` in DDP for training under torchrun; the module itself for one process.

    ``broadcast_buffers=False``: D runs several forwards per iteration (real, fake, then the G
    step), and re-broadcasting its batch-norm buffers before each would modify, in place,
    tensors an earlier forward saved for backward. Each rank keeps its own running statistics
    (used only in eval mode); rank 0's are checkpointed. With SyncBatchNorm they agree anyway.
    """
    if not ctx.enabled:
        return module
    if sync_batchnorm:
        if device.type != "cuda":
            raise ConfigError(
                "train.sync_batchnorm needs CUDA devices (PyTorch's SyncBatchNorm "
                "has no CPU kernel); set train.sync_batchnorm=false on CPU"
            )
        module = nn.SyncBatchNorm.convert_sync_batchnorm(module)
    ids = [device.index] if device.type == "cuda" else None
    ddp = nn.parallel.DistributedDataParallel
    # PyTorch 2.13 renamed the switch (both still sync the buffers once, at construction).
    if "forward_sync_buffers" in inspect.signature(ddp.__init__).parameters:
        return ddp(module, device_ids=ids, forward_sync_buffers=False)
    return ddp(module, device_ids=ids, broadcast_buffers=False)


def no_grad_sync(module: nn.Module):
    """Context for G's step through D: D's weights get no gradients there, so its DDP wrapper
    must not expect any (it would wait for them at D's next forward)."""
    inner = getattr(module, "_orig_mod", module)  # under torch.compile
    if isinstance(inner, nn.parallel.DistributedDataParallel):
        return inner.no_sync()
    return contextlib.nullcontext()


def mean_across_ranks(values: dict[str, torch.Tensor], ctx: DistContext) -> dict[str, torch.Tensor]:
    """Average scalar tensors over all ranks (one all-reduce); unchanged for one process."""
    if not ctx.enabled or not values:
        return values
    names = sorted(values)  # the same order on every rank
    stacked = torch.stack([values[n].float().reshape(()) for n in names])
    dist.all_reduce(stacked, op=dist.ReduceOp.SUM)
    stacked /= ctx.world_size
    return dict(zip(names, stacked.unbind()))


def max_across_ranks(value: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """Element-wise maximum of ``value`` over all ranks (e.g. the first bad step, -1 if none)."""
    if not ctx.enabled:
        return value
    value = value.clone()
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return value


def any_rank(flag: bool, ctx: DistContext, device: torch.device) -> bool:
    """True on every rank when ``flag`` is true on any (e.g. a Ctrl-C seen by one process)."""
    if not ctx.enabled:
        return flag
    return bool(max_across_ranks(torch.tensor(int(flag), device=device), ctx))


def barrier(ctx: DistContext) -> None:
    if ctx.enabled:
        dist.barrier()
