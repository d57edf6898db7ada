"""How many CPU threads torch uses: ``run.threads`` (``auto`` or a fixed count).

On a shared machine the fastest count changes with the neighbours: with one core of two kept
busy, torch's default of one thread per core ran the demo 2.5x slower than one thread
(issue 14), because every parallel region waits for its slowest thread, the one sharing a
core. ``auto`` therefore measures instead of guessing: :class:`ThreadTuner` times a few
training steps at each candidate count, keeps the fastest, and measures again every few
hundred steps or when the step time drifts (a neighbour came or went).

It times with the host clock only. On the CPU every op finishes before the next Python line
runs, so the wall-clock time between two calls *is* the step time: no sync is added. On CUDA
the host clock says nothing about the kernels and the CPU threads barely matter, so the tuner
does nothing there.

Thread counts change the order of floating-point sums in the CPU kernels, and with it the
last bits of the results; see docs/threads.md for what that means for reproducibility.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable

import torch

from ganforge.config import ConfigError

AUTO = "auto"


def parse_threads(value: str | int) -> int | None:
    """``run.threads`` -> a fixed count, or None for ``auto``; bad values raise ConfigError."""
    text = str(value).strip().lower()
    if text == AUTO:
        return None
    if text.isdigit() and int(text) > 0:
        return int(text)
    raise ConfigError(f"run.threads={value!r} is not valid; give auto or a positive whole number, e.g. 1")


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask, e.g. under taskset or a container)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows: no affinity masks
        return max(1, os.cpu_count() or 1)


def candidate_counts(cores: int) -> list[int]:
    """1, 2, 4, ... up to ``cores``, and ``cores`` itself: few probes even on a large machine."""
    counts, n = [], 1
    while n < cores:
        counts.append(n)
        n *= 2
    return counts + [cores]


class ThreadTuner:
    """Keeps ``torch.set_num_threads`` at the fastest count while a loop runs.

    Call :meth:`step` once after every training iteration. Phases:

    * probe: for each candidate count, skip ``warmup`` steps (new thread pools, primitive
      caches), then time ``probe_steps`` steps; the median per-step time is that count's score.
    * run: keep the fastest count; every ``window`` steps compare the window's median step
      time with the probe's. A drift beyond ``drift`` (either way: load came or went) probes
      again at once; otherwise it probes again after ``reprobe_every`` steps, an interval that
      doubles (up to ``max_reprobe_every``) each time the same count wins, so a steady
      machine pays for probing less and less. Drift probes come at most every ``min_gap``
      steps. A candidate is dropped early once it is clearly losing: its first two timed steps
      both ``give_up`` times slower than the best so far (two, so that one step that also
      wrote a checkpoint does not drop a faster count). Steps at a losing count are the
      tuner's whole cost on a steady machine: on an idle 2-core machine, where one thread is
      ~1.6x slower than two, five timed steps cost 1.6 % of a 300-step run, two cost 0.8 %.

    Medians, not means, so that an occasional checkpoint or sample grid between two calls
    does not count as a slow step. ``clock`` and ``set_threads`` are injectable for tests.
    ``fixed`` pins one count (``run.threads=N``); ``enabled=False`` leaves torch alone.
    """

    def __init__(
        self,
        fixed: int | None = None,
        *,
        enabled: bool = True,
        candidates: list[int] | None = None,
        warmup: int = 1,
        probe_steps: int = 5,
        window: int = 25,
        drift: float = 0.3,
        min_gap: int = 100,
        give_up: float = 1.25,
        reprobe_every: int = 250,
        max_reprobe_every: int = 2000,
        clock: Callable[[], float] = time.perf_counter,
        set_threads: Callable[[int], None] = torch.set_num_threads,
        get_threads: Callable[[], int] = torch.get_num_threads,
    ):
        self.enabled = enabled
        self.fixed = fixed
        self.candidates = candidates or candidate_counts(usable_cores())
        self.warmup, self.probe_steps, self.window, self.drift = warmup, probe_steps, window, drift
        self.min_gap, self.give_up = min_gap, give_up
        self.base_reprobe_every = self.reprobe_every = reprobe_every
        self.max_reprobe_every = max_reprobe_every
        self._clock, self._set, self._get = clock, set_threads, get_threads
        self.previous = get_threads()  # restored by restore()
        self.scores: dict[int, float] = {}  # last probe: count -> median seconds per step
        self.history: list[tuple[int, int]] = []  # (step, count) at every change, for the log
        self.steps = 0
        self.current = self.previous
        self._last: float | None = None
        self._times: list[float] = []
        self._queue: list[int] = []
        self._skip = 0
        self._since_probe = 0
        self._before_probe = self.current
        if not enabled:
            return
        if fixed is not None:
            self._use(fixed)
        else:
            self._start_probe()

    @property
    def active(self) -> bool:
        """True while ``auto`` is tuning (not pinned, not on CUDA)."""
        return self.enabled and self.fixed is None

    @property
    def probing(self) -> bool:
        return bool(self._queue)

    def step(self) -> None:
        """Record one finished iteration; may change the thread count for the next ones."""
        if not self.active:
            return
        if self._get() != self.current:  # torch's count is per OS thread: a lab game may move
            self._set(self.current)
        now = self._clock()
        last, self._last = self._last, now
        self.steps += 1
        if last is None:
            return  # the first call only starts the clock
        if self._skip:
            self._skip -= 1
            return
        self._times.append(now - last)
        if self.probing:
            if self._losing() or len(self._times) >= self.probe_steps:
                self.scores[self._queue.pop(0)] = statistics.median(self._times)
                self._next_probe_count()
            return
        self._since_probe += 1
        if len(self._times) >= self.window:
            self._check_window(statistics.median(self._times))

    def restore(self) -> None:
        """Put back the count torch had before this tuner (end of a run or a lab game)."""
        if self.enabled and self._get() != self.previous:
            self._set(self.previous)

    # --- internals --------------------------------------------------------------------------

    def _use(self, count: int) -> None:
        if count != self.current or self._get() != count:
            self._set(count)
            self.history.append((self.steps, count))
        self.current = count
        self._times, self._skip = [], self.warmup

    def _losing(self) -> bool:
        """True when the candidate being probed is already clearly slower than the best so far
        (one step can be slow by chance; two in a row rarely are)."""
        best = min(self.scores.values(), default=None)
        return best is not None and len(self._times) >= 2 and min(self._times[:2]) > self.give_up * best

    def _start_probe(self) -> None:
        # The count in use is probed first: no switch, and its score is the freshest.
        ordered = sorted(self.candidates, key=lambda n: n != self.current)
        self._queue, self.scores, self._before_probe = ordered, {}, self.current
        self._use(self._queue[0])

    def _next_probe_count(self) -> None:
        if self._queue:
            self._use(self._queue[0])
            return
        best = min(self.scores, key=self.scores.get)
        # The same winner again: the machine is steady, so probe less often (and vice versa).
        same = best == self._before_probe
        self.reprobe_every = (
            min(self.reprobe_every * 2, self.max_reprobe_every) if same else self.base_reprobe_every
        )
        self._use(best)
        self._since_probe = 0

    def _check_window(self, seconds: float) -> None:
        expected = self.scores.get(self.current)
        drifted = expected is not None and abs(seconds - expected) > self.drift * expected
        drifted = drifted and self._since_probe >= self.min_gap
        if drifted:
            self.reprobe_every = self.base_reprobe_every
        if drifted or self._since_probe >= self.reprobe_every:
            self._start_probe()
        else:
            self._times = []


def env_pinned() -> bool:
    """True when OMP_NUM_THREADS is set: the user (or torchrun, which sets 1 for its workers)
    chose the count, and ``auto`` leaves it alone."""
    return bool(os.environ.get("OMP_NUM_THREADS", "").strip())


def for_run(setting: str | int, device: torch.device | str, distributed: bool = False) -> ThreadTuner:
    """The tuner for one training run: pinned for ``run.threads=N``; for ``auto``, idle on CUDA
    (host timing says nothing there), under DDP and under OMP_NUM_THREADS (see env_pinned)."""
    fixed = parse_threads(setting)
    on_cpu = torch.device(device).type == "cpu"
    if fixed is None and (not on_cpu or distributed or env_pinned()):
        return ThreadTuner(enabled=False)
    return ThreadTuner(fixed)


def busy_cores(interval: float = 0.1) -> float:
    """Cores kept busy by other work, from two /proc/stat readings ``interval`` seconds apart
    (Linux); 0 where /proc/stat is missing. Counts this process too, which is idle here."""

    def read() -> tuple[int, int]:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
        return sum(fields), fields[3] + fields[4]  # total, idle + iowait

    try:
        total0, idle0 = read()
        time.sleep(interval)
        total1, idle1 = read()
    except (OSError, ValueError, IndexError):
        return 0.0
    if total1 <= total0:
        return 0.0
    share_busy = 1 - (idle1 - idle0) / (total1 - total0)
    return share_busy * (os.cpu_count() or 1)


def one_shot_threads(device: torch.device | str, cores: int | None = None, busy: float | None = None) -> int:
    """The thread count for a one-shot job (``sample``, ``eval``): the usable cores that other
    work leaves free right now, at least 1. A rule, not a probe: these jobs are too short to
    time candidates against, and an idle core is the one case where more threads pay."""
    cores = usable_cores() if cores is None else cores
    if torch.device(device).type != "cpu" or env_pinned():
        return torch.get_num_threads()
    busy = busy_cores() if busy is None else busy
    return max(1, min(cores, round(cores - busy)))


def apply_one_shot(device: torch.device | str) -> int:
    """Set torch's thread count for a one-shot job on ``device`` (see one_shot_threads)."""
    count = one_shot_threads(device)
    torch.set_num_threads(count)
    return count
