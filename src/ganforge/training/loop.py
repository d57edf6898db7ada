"""The training loop. It only schedules: when to step, log, sample and checkpoint.

A run folder ends up holding ``config.yaml``, ``metrics.csv``, ``samples/step_*.png``,
``curves.png``, ``checkpoints/step_*.pt`` and ``generator.safetensors`` + ``generator.json``.
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from tqdm import tqdm

from ganforge.checkpoint import (
    checkpoint_config,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
    save_generator,
)
from ganforge.config import Config, ConfigError
from ganforge.data.batches import to_unit_range
from ganforge.errors import GanforgeError
from ganforge.training.log import MetricsLog, read_metrics
from ganforge.training.state import TrainState, build_state
from ganforge.training.steps import d_step, g_step, update_ema
from ganforge.viz import plot_curves, save_samples

# Settings a resumed run may change; anything else would make it a different run.
RESUMABLE = {"run.dir", "run.device", "run.progress", "data.root", "data.download",
             "train.steps", "train.log_every", "train.sample_every", "train.checkpoint_every",
             "train.keep_checkpoints"}


class TrainingDiverged(GanforgeError):
    """A loss became NaN or infinite; the last good checkpoint is left untouched."""


def train_iteration(state: TrainState) -> dict[str, torch.Tensor]:
    """One G update preceded by ``d_steps`` D updates; returns detached device scalars."""
    t = state.cfg.train
    for i in range(t.d_steps):
        last = i == t.d_steps - 1
        index = state.sampler.next()
        real = state.data[index]
        real = to_unit_range(real) if real.dtype == torch.uint8 else real
        # Conditional models: real images keep their labels, G is asked for uniform classes.
        real_labels = None if state.labels is None else state.labels[index]
        fake_labels = state.fake_labels(real.shape[0])
        z = state.noise(real.shape[0])
        # G's forward for the last D step is reused by the G step (as in pytorch/examples).
        with torch.set_grad_enabled(last):
            fake = state.G(z) if fake_labels is None else state.G(z, fake_labels)
        stats = d_step(state.D, state.opt_d, state.loss, real, fake.detach(), t.gp_weight,
                       real_labels, fake_labels, t.aux_weight)
    stats.update(g_step(state.D, state.opt_g, state.loss, fake, fake_labels, t.aux_weight))
    if state.G_ema is not None:
        update_ema(state.G_ema, state.G, t.ema_decay)
    state.step += 1
    return stats


def check_resume(saved: Config, wanted: Config) -> Config:
    """The saved config with the allowed changes of ``wanted``; other changes are errors."""
    saved_values, wanted_values = saved.to_dict(), wanted.to_dict()
    for section, entries in wanted_values.items():
        for key, value in entries.items():
            name = f"{section}.{key}"
            if saved_values[section][key] != value:
                if name not in RESUMABLE:
                    raise ConfigError(f"{name} cannot change on resume (checkpoint has "
                                      f"{saved_values[section][key]!r}, asked {value!r}); "
                                      "start a new run folder instead")
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


def train(cfg: Config, resume: bool = False,
          on_log: Callable[[TrainState, dict[str, float]], None] | None = None) -> TrainState:
    """Train (or, with ``resume``, continue) the run in ``cfg.run.dir``; returns the final state.

    ``on_log(state, row)`` is called at every log row (lab and tests use it).
    """
    run_dir = Path(cfg.run.dir)
    payload = None
    if resume:
        path = latest_checkpoint(run_dir)
        if path is None:
            raise GanforgeError(f"nothing to resume in {run_dir}: it has no checkpoints/")
        payload = load_checkpoint(path)
        cfg = check_resume(checkpoint_config(payload, path), cfg)
    elif latest_checkpoint(run_dir) is not None:
        raise GanforgeError(f"{run_dir} already holds a run; continue it with "
                            f"`ganforge train --resume {run_dir}` or set run.dir elsewhere")

    state = build_state(cfg)
    if payload is not None:
        state.restore(payload)
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg.save(run_dir / "config.yaml")
    log = MetricsLog(run_dir / "metrics.csv", resume_step=state.step)

    steps, t = cfg.train.steps, cfg.train
    sums: dict[str, torch.Tensor] = {}
    count = 0
    first_bad = torch.full((), -1, dtype=torch.long, device=state.device)
    started = time.perf_counter()
    bar = tqdm(total=steps, initial=state.step, disable=not cfg.run.progress, unit="step",
               dynamic_ncols=True, file=sys.stderr, mininterval=0.5)

    def elapsed() -> float:
        """Total training seconds of the run, across resumes."""
        nonlocal started
        now = time.perf_counter()
        state.elapsed_seconds += now - started
        started = now
        return state.elapsed_seconds

    def checkpoint() -> Path:
        check_finite()
        elapsed()
        return save_checkpoint(run_dir, state.payload(), keep=t.keep_checkpoints)

    def check_finite() -> None:
        bad_step = int(first_bad)
        if bad_step >= 0:
            last = latest_checkpoint(run_dir)
            where = f"last good checkpoint: {last}" if last else "no checkpoint was written yet"
            raise TrainingDiverged(f"a loss became NaN/inf at step {bad_step}; training stopped "
                                   f"({where}); try lower learning rates or another loss")

    with _StopRequest() as stop:
        while state.step < steps and not stop.requested:
            stats = train_iteration(state)
            # Track the first non-finite step on the device: no host sync in the hot loop.
            bad = ~torch.isfinite(stats["d_loss"] + stats["g_loss"])
            first_bad = torch.where(bad & (first_bad < 0), state.step, first_bad)
            for name, value in stats.items():
                sums[name] = sums[name] + value if name in sums else value.clone()
            count += 1
            bar.update(1)

            if state.step % t.log_every == 0 or state.step == steps:
                check_finite()
                row = {name: float(v) / count for name, v in sums.items()}
                row.update(step=state.step, seconds=round(elapsed(), 3),
                           lr_d=state.opt_d.param_groups[0]["lr"],
                           lr_g=state.opt_g.param_groups[0]["lr"])
                log.write(row)
                bar.set_postfix({"D_loss": f"{row['d_loss']:.3f}", "G_loss": f"{row['g_loss']:.3f}",
                                 "D(x)": f"{row['d_real']:.3f}", "D(G(z))": f"{row['d_fake']:.3f}"},
                                refresh=False)
                sums, count = {}, 0
                if on_log is not None:
                    on_log(state, row)
            if state.step % t.sample_every == 0:
                write_samples(state)
            if state.step % t.checkpoint_every == 0:
                checkpoint()
        bar.close()
        checkpoint()
    finish(state)
    if stop.requested:
        print(f"ganforge: stopped at step {state.step}; checkpoint written. Continue with "
              f"`ganforge train --resume {run_dir}`", file=sys.stderr)
    return state


@torch.no_grad()
def write_samples(state: TrainState) -> Path:
    """Draw the fixed-noise grid into ``samples/step_<step>.png``."""
    G = state.sampling_G
    was_training = G.training
    G.eval()
    labels = state.grid_labels()  # conditional: one class per grid column
    fake = G(state.fixed_z) if labels is None else G(state.fixed_z, labels)
    G.train(was_training)
    path = state.run_dir / "samples" / f"step_{state.step:07d}.png"
    real = state.data[: len(fake) * 20] if state.dataset.kind == "points" else None
    save_samples(fake.float().cpu(), path, real=None if real is None else real.float().cpu(),
                 columns=state.num_classes)
    return path


def finish(state: TrainState) -> None:
    """End of run: final grid, curves, the exported generator."""
    write_samples(state)
    save_generator(state.run_dir, state.sampling_G, state.generator_meta())
    plot_curves(read_metrics(state.run_dir / "metrics.csv"), state.run_dir / "curves.png",
                probabilistic=state.loss.probabilistic)
