"""The training loop. It only schedules: when to step, log, evaluate, sample and checkpoint.

It runs every game (``games/``) the same way. A run folder ends up holding ``config.yaml``,
``metrics.csv``, ``samples/step_*.png``, ``curves.png``, ``checkpoints/step_*.pt`` and the
exported inference networks (a GAN's ``generator.safetensors`` + ``generator.json``).
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from ganforge.checkpoint import (
    checkpoint_config,
    latest_checkpoint,
    load_latest_checkpoint,
    save_checkpoint,
    save_generator,
)
from ganforge.config import Config, ConfigError, is_resumable
from ganforge.errors import GanforgeError
from ganforge.files import remove_stale_temporaries
from ganforge.runlock import hold
from ganforge.training import distributed, runners, speed, threads
from ganforge.training.log import MetricsLog, read_metrics
from ganforge.training.scoring import scorer_for
from ganforge.training.state import TrainState, build_state
from ganforge.viz import plot_curves

OnLog = Callable[[TrainState, dict[str, float]], None]


class TrainingDiverged(GanforgeError):
    """A loss became NaN or infinite; the last good checkpoint is left untouched."""


def train_iteration(state: TrainState) -> dict[str, torch.Tensor]:
    """One iteration of the game (a GAN: ``d_steps`` D updates, then one G update); returns
    detached device scalars.

    It runs in the run's precision (bf16 autocast or fp32). With ``train.compile=cuda-graphs``
    the loop records it once and replays it: keep host-side work (``.item()``, printing,
    Python counters other than ``state.step``) out of it.
    """
    with speed.autocast(state.speed, state.device):
        stats = state.game.iteration()
    state.step += 1
    return stats


def lr_factor(step: int, steps: int, decay_start: float) -> float:
    """The learning rates' multiplier for the iteration after ``step`` updates: 1 until
    ``decay_start * steps``, then falling linearly to 0 at ``steps`` (the last update still
    moves). A function of the step alone, so a resumed run continues the same schedule."""
    start = decay_start * steps
    if step < start or start >= steps:
        return 1.0
    return max(0.0, (steps - step) / (steps - start))


def check_resume(saved: Config, wanted: Config) -> Config:
    """The saved config with the allowed changes of ``wanted`` (fields marked ``resumable``
    in config.py); other changes are errors."""
    saved_values, wanted_values = saved.to_dict(), wanted.to_dict()
    for section, entries in wanted_values.items():
        for key, value in entries.items():
            if saved_values[section][key] == value:
                continue
            if not is_resumable(section, key):
                raise ConfigError(
                    f"{section}.{key} cannot change on resume (checkpoint has "
                    f"{saved_values[section][key]!r}, asked {value!r}); "
                    "start a new run folder instead"
                )
            setattr(getattr(saved, section), key, value)
    return saved


class _StopRequest:
    """Turns the first Ctrl-C (or SIGTERM) into a flag the loop checks between iterations,
    so the checkpoint it writes holds a whole iteration; a second Ctrl-C stops at once."""

    def __init__(self):
        self.requested = False
        self._previous: dict[int, object] = {}

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread (e.g. inside the lab): no signals here
                pass
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _progress_bar(state: TrainState, main: bool) -> tqdm:
    # Redirected to a file (CI, `make demo > log`), a bar redrawn twice a second would flood it.
    return tqdm(
        total=state.cfg.train.steps,
        initial=state.step,
        disable=not (state.cfg.run.progress and main),
        unit="step",
        dynamic_ncols=True,
        file=sys.stderr,
        mininterval=0.5 if sys.stderr.isatty() else 30,
    )


class RunBook:
    """The bookkeeping of one training session: the stat sums between log rows, the first
    non-finite step (kept on the device), the training clock, metrics.csv, the scorer, the bar.

    Under torchrun only rank 0 (``main``) writes the run folder.
    """

    def __init__(self, state: TrainState, on_log: OnLog | None = None):
        self.state, self.on_log = state, on_log
        self.run_dir, self.main = state.run_dir, state.dist.is_main
        self.sums: dict[str, torch.Tensor] = {}
        self.count = 0
        self.stat_names: list[str] = []  # what the game logs, for curves.png
        self.first_bad = torch.full((), -1, dtype=torch.long, device=state.device)
        self.started = time.perf_counter()
        self.log = self.scorer = None
        if self.main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            state.cfg.save(self.run_dir / "config.yaml")
            columns = [
                "step",
                "seconds",
                *(s for s, _ in state.game.progress_stats),
                *state.game.learning_rates(),
            ]
            self.log = MetricsLog(self.run_dir / "metrics.csv", resume_step=state.step, columns=columns)
            if state.cfg.eval.every:
                self.scorer = scorer_for(state.game, self.log.rows)
        self.bar = _progress_bar(state, self.main)

    def add(self, stats: dict[str, torch.Tensor]) -> None:
        """Accumulate one iteration's stats; note the first step where any is non-finite
        (on the device: no host sync in the hot loop)."""
        bad = ~torch.isfinite(torch.stack([v.float() for v in stats.values()])).all()
        self.first_bad = torch.where(bad & (self.first_bad < 0), self.state.step, self.first_bad)
        for name, value in stats.items():
            self.sums[name] = self.sums[name] + value if name in self.sums else value.clone()
        self.count += 1
        self.bar.update(1)

    def elapsed(self) -> float:
        """Total training seconds of the run, across resumes."""
        now = time.perf_counter()
        self.state.elapsed_seconds += now - self.started
        self.started = now
        return self.state.elapsed_seconds

    def check_finite(self) -> None:
        bad_step = int(distributed.max_across_ranks(self.first_bad, self.state.dist))
        if bad_step >= 0:
            last = latest_checkpoint(self.run_dir)
            where = f"last good checkpoint: {last}" if last else "no checkpoint was written yet"
            raise TrainingDiverged(
                f"a loss became NaN/inf at step {bad_step}; training stopped "
                f"({where}); try lower learning rates or another loss"
            )

    def log_row(self, stop_requested: bool) -> bool:
        """Write metrics.csv's row (scores too when due); returns whether every rank stops."""
        state = self.state
        self.check_finite()
        means = distributed.mean_across_ranks({n: v / self.count for n, v in self.sums.items()}, state.dist)
        row: dict[str, Any] = {name: float(v) for name, v in means.items()}
        self.stat_names = list(dict.fromkeys([*self.stat_names, *means]))
        row.update(step=state.step, seconds=round(self.elapsed(), 3), **state.game.learning_rates())
        # Under DDP every rank stops at the same step: they agree here, at log rows.
        stopping = distributed.any_rank(stop_requested, state.dist, state.device)
        if self.main:
            if self.scorer is not None and self.scorer.due(state.step, state.cfg.train.steps):
                row.update(self.evaluate())
            self.log.write(row)
        labels = state.game.progress_stats
        self.bar.set_postfix({label: f"{row[s]:.3f}" for s, label in labels if s in row}, refresh=False)
        self.sums, self.count = {}, 0
        if self.on_log is not None and self.main:
            self.on_log(state, row)
        return stopping

    def evaluate(self) -> dict[str, float]:
        """Score now (not training time); a new best is kept as ``checkpoints/best.pt`` and
        the inference networks as ``*-best``."""
        eval_started = time.perf_counter()
        scores, best = self.scorer.score(self.state.step)
        if best is not None:
            export(self.state, best=best)
            save_checkpoint(self.run_dir, self.state.payload(), which="best")
        self.started += time.perf_counter() - eval_started
        return scores

    def checkpoint(self) -> Path | None:
        self.check_finite()
        self.elapsed()
        if not self.main:
            return None
        return save_checkpoint(self.run_dir, self.state.payload(), keep=self.state.cfg.train.keep_checkpoints)

    def sample(self) -> None:
        if self.main:
            folder = self.run_dir / "samples"
            folder.mkdir(parents=True, exist_ok=True)  # games draw into it; the loop owns the folder
            self.state.game.write_grid(folder / f"step_{self.state.step:07d}.png")

    def finish(self, stopping: bool) -> None:
        """End of run: final grid, exports, curves (and the scorer's plot), the stop message."""
        if self.main:
            self.sample()
            export(self.state)
            rows = read_metrics(self.run_dir / "metrics.csv")
            stats = self.stat_names or None  # None: resumed at the end, nothing logged now
            plot_curves(rows, self.run_dir / "curves.png", self.state.game.probabilistic, stats)
            self.state.game.finish(self.run_dir)
            if self.scorer is not None:
                self.scorer.finish(self.run_dir)
        distributed.barrier(self.state.dist)
        if stopping and self.main:
            print(
                f"ganforge: stopped at step {self.state.step}; checkpoint written. Continue with "
                f"`ganforge train --resume {self.run_dir}`",
                file=sys.stderr,
            )


def export(state: TrainState, best: dict[str, Any] | None = None) -> None:
    """Save each ``game.inference()`` network with ``save_generator``: ``generator`` as
    ``generator.*``, another key K as ``generator-K.*``; with ``best`` (the score that made it
    the best, stored as ``meta["eval"]``) as ``generator-best.*`` / ``generator-K-best.*``."""
    for key, (net, meta) in state.inference().items():
        which = "last" if key == "generator" else key
        if best is not None:
            meta = {**meta, "eval": best}
            which = "best" if key == "generator" else f"{key}-best"
        save_generator(state.run_dir, net, meta, which=which)


def open_run(cfg: Config, resume: bool) -> TrainState:
    """Build the state of a new run, or of the run in ``cfg.run.dir`` at its last checkpoint."""
    run_dir = Path(cfg.run.dir)
    found = latest_checkpoint(run_dir)
    if not resume:
        if found is not None:
            raise GanforgeError(
                f"{run_dir} already holds a run; continue it with "
                f"`ganforge train --resume {run_dir}` or set run.dir elsewhere"
            )
        return build_state(cfg)
    path, payload = load_latest_checkpoint(run_dir)  # a damaged newest one: the one before
    cfg = check_resume(checkpoint_config(payload, path), cfg)
    if cfg.train.steps < payload["step"]:  # a run cannot go back
        raise ConfigError(
            f"train.steps={cfg.train.steps} is below step {payload['step']} that {path.name} "
            f"reached; give train.steps >= {payload['step']} to resume"
        )
    state = build_state(cfg)
    state.restore(payload)
    return state


def run_schedule(book: RunBook, stop: _StopRequest) -> bool:
    """Iterate until ``train.steps`` (or a stop request); returns whether it was stopped."""
    state = book.state
    run_iteration = runners.make_runner(state, train_iteration)  # eager, CUDA graph or compiled
    thread_tuner = threads.for_run(state.cfg.run.threads, state.device, state.dist.enabled)
    try:
        return _iterate(book, stop, run_iteration, thread_tuner)
    finally:
        thread_tuner.restore()


def _iterate(book: RunBook, stop: _StopRequest, run_iteration, thread_tuner: threads.ThreadTuner) -> bool:
    state, t = book.state, book.state.cfg.train
    stopping = False
    while state.step < t.steps and not stopping:
        if t.lr_decay_start < 1:
            state.game.set_lr_factor(lr_factor(state.step, t.steps, t.lr_decay_start))
        book.add(run_iteration(state))
        thread_tuner.step()  # CPU: times the step on the host clock; may change the count
        stopping = stop.requested and not state.dist.enabled
        if state.step % t.log_every == 0 or state.step == t.steps:
            stopping = book.log_row(stop.requested)
        if state.step % t.sample_every == 0:
            book.sample()
        if state.step % t.checkpoint_every == 0:
            book.checkpoint()
    book.bar.close()
    book.checkpoint()
    return stopping


def train(cfg: Config, resume: bool = False, on_log: OnLog | None = None) -> TrainState:
    """Train (or, with ``resume``, continue) the run in ``cfg.run.dir``; returns the final state.

    ``on_log(state, row)`` is called at every log row (lab and tests use it). The run was
    stopped early (Ctrl-C, SIGTERM) when the returned ``state.step`` is below ``train.steps``.
    One writer per run folder: the lock (runlock.py) is held throughout, and the temporaries
    of a killed writer are removed under it.
    """
    with hold(cfg.run.dir):
        remove_stale_temporaries(cfg.run.dir)
        state = open_run(cfg, resume)
        # Before the book writes metrics.csv: whoever sees that file may stop the run cleanly.
        with _StopRequest() as stop:
            book = RunBook(state, on_log)
            stopping = run_schedule(book, stop)
        book.finish(stopping)
    return state
