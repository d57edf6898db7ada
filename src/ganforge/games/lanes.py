"""Two independent halves of a training step, run side by side on the CPU (``train.lanes``).

At the small sizes a CPU trains (28 px, batch 8), most convolutions are too small to keep two
cores busy: torch's second intra-op thread bought the fmnist-tint step only ~1.4x over one
thread on a 2-core machine. CycleGAN's step splits in two halves that share no intermediate
tensor (the A -> B -> A lane and the B -> A -> B lane; then D_A's update and D_B's), so two
Python threads with half the intra-op threads each keep both cores busier: the whole step 1.25x
faster again (0.163 against 0.203 s; docs/speed.md, "Speed switches"). The ops release the GIL,
so the threads run in parallel.

What keeps this exact and safe:
- Each lane only reads shared tensors and writes its own results; a lane's gradients come
  from ``torch.autograd.grad``, not ``backward``, and are added in a fixed order afterwards,
  so a run is deterministic (the same seed and thread count give the same bits). The sum's
  order differs from one ``backward`` over both lanes, so the weights agree with the serial
  step only to float rounding.
- Anything random is drawn before the lanes start, in the serial order.
- Only where it pays and is safe: on the CPU, in fp32 (autocast is thread-local), in one
  process (DDP's gradient hooks need ``backward``), and with at least two intra-op threads.
  Otherwise the lanes run one after the other in the calling thread.
- The calling thread waits for the other lane even when its own lane fails (Ctrl-C
  included), so no lane still runs when the step's error reaches the loop.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import TypeVar

import torch

A = TypeVar("A")
B = TypeVar("B")


class Lanes:
    """Runs two callables side by side (``run``) when ``enabled`` and torch has >= 2 threads."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self._pool: ThreadPoolExecutor | None = None

    @property
    def parallel(self) -> bool:
        """Whether the next ``run`` uses two threads (the thread count may change between steps:
        ``run.threads=auto`` tunes it)."""
        return self.enabled and torch.get_num_threads() >= 2

    def run(self, first: Callable[[], A], second: Callable[[], B]) -> tuple[A, B]:
        """``(first(), second())``; in parallel, ``second`` runs in a worker thread and each lane
        gets half of torch's intra-op threads (the calling thread the larger half)."""
        if not self.parallel:
            return first(), second()
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="ganforge-lane")
        total = torch.get_num_threads()
        share = total // 2
        future = self._pool.submit(_with_threads, second, share)
        torch.set_num_threads(total - share)
        try:
            result = first()
        except BaseException:
            wait([future])
            raise
        finally:
            torch.set_num_threads(total)
        return result, future.result()


def _with_threads(fn: Callable[[], B], count: int) -> B:
    torch.set_num_threads(count)  # per thread under OpenMP: the worker's own count
    return fn()
