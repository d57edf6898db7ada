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
    FORMAT_VERSION,
    atomic_write,
    checkpoint_config,
    checkpoint_dir,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
    save_generator,
)
from ganforge.config import Config, ConfigError
from ganforge.data.batches import to_unit_range
from ganforge.errors import GanforgeError
from ganforge.metrics.evaluate import TrainingEvaluator
from ganforge.training import distributed, fast, threads
from ganforge.training.log import MetricsLog, read_metrics
from ganforge.training.state import TrainState, build_state
from ganforge.training.steps import d_step, g_step, update_ema
from ganforge.viz import plot_curves, save_samples
from ganforge.viz.metric_curves import plot_metric_curves

# Settings a resumed run may change; anything else would make it a different run.
RESUMABLE = {
    "run.dir",
    "run.device",
    "run.progress",
    "run.threads",  # changes the last bits of later steps, not the run (docs/threads.md)
    "data.root",
    "data.download",
    "train.steps",
    "train.log_every",
    "train.sample_every",
    "train.checkpoint_every",
    "train.keep_checkpoints",
    "train.precision",
    "train.memory_format",
    "train.adam_impl",
    "train.compile",
    "train.sync_batchnorm",
    # evaluation reads G and never touches the training random stream
    "eval.every",
    "eval.metrics",
    "eval.n",
    "eval.best_metric",
    "eval.feature_net",
}


class TrainingDiverged(GanforgeError):
    """A loss became NaN or infinite; the last good checkpoint is left untouched."""


def train_iteration(state: TrainState) -> dict[str, torch.Tensor]:
    """One G update preceded by ``d_steps`` D updates; returns detached device scalars.

    It runs in the run's precision (bf16 autocast or fp32). With ``train.compile=cuda-graphs``
    the loop records it once and replays it: keep host-side work (``.item()``, printing,
    Python counters other than ``state.step``) out of it.
    """
    with fast.autocast(state.speed, state.device):
        stats = _d_and_g_steps(state)
    state.step += 1
    return stats


def _d_and_g_steps(state: TrainState) -> dict[str, torch.Tensor]:
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
            fake = state.G_train(z) if fake_labels is None else state.G_train(z, fake_labels)
        stats = d_step(
            state.D_train,
            state.opt_d,
            state.loss,
            real,
            fake.detach(),
            t.gp_weight,
            real_labels,
            fake_labels,
            t.aux_weight,
        )
    # G learns through D; D's weights get no gradient here, so its DDP wrapper expects none.
    with distributed.no_grad_sync(state.D_train):
        stats.update(g_step(state.D_train, state.opt_g, state.loss, fake, fake_labels, t.aux_weight))
    if state.G_ema is not None:
        update_ema(state.G_ema, state.G, t.ema_decay)
    return stats


def lr_factor(step: int, steps: int, decay_start: float) -> float:
    """The learning rates' multiplier for the iteration after ``step`` updates: 1 until
    ``decay_start * steps``, then falling linearly to 0 at ``steps`` (the last update still
    moves). A function of the step alone, so a resumed run continues the same schedule."""
    start = decay_start * steps
    if step < start or start >= steps:
        return 1.0
    return max(0.0, (steps - step) / (steps - start))


def set_learning_rates(state: TrainState, factor: float) -> None:
    t = state.cfg.train
    for optimizer, lr in ((state.opt_g, t.lr_g), (state.opt_d, t.lr_d)):
        for group in optimizer.param_groups:
            group["lr"] = lr * factor


def check_resume(saved: Config, wanted: Config) -> Config:
    """The saved config with the allowed changes of ``wanted``; other changes are errors."""
    saved_values, wanted_values = saved.to_dict(), wanted.to_dict()
    for section, entries in wanted_values.items():
        for key, value in entries.items():
            name = f"{section}.{key}"
            if saved_values[section][key] != value:
                if name not in RESUMABLE:
                    raise ConfigError(
                        f"{name} cannot change on resume (checkpoint has "
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


def train(
    cfg: Config, resume: bool = False, on_log: Callable[[TrainState, dict[str, float]], None] | None = None
) -> TrainState:
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
        raise GanforgeError(
            f"{run_dir} already holds a run; continue it with "
            f"`ganforge train --resume {run_dir}` or set run.dir elsewhere"
        )

    state = build_state(cfg)
    if payload is not None:
        state.restore(payload)
    main = state.dist.is_main  # under torchrun only rank 0 writes the run folder
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
        cfg.save(run_dir / "config.yaml")
    log = MetricsLog(run_dir / "metrics.csv", resume_step=state.step) if main else None
    # eval.every: score G now and then (metrics/evaluate.py); the best so far survives resumes
    # through metrics.csv.
    evaluator = (
        TrainingEvaluator(cfg.eval, cfg.data, state.dataset, cfg.run.seed, state.device, history=log.rows)
        if cfg.eval.every and main
        else None
    )

    steps, t = cfg.train.steps, cfg.train
    sums: dict[str, torch.Tensor] = {}
    count = 0
    first_bad = torch.full((), -1, dtype=torch.long, device=state.device)
    started = time.perf_counter()
    # Redirected to a file (CI, `make demo > log`), a bar redrawn twice a second would flood it.
    bar = tqdm(
        total=steps,
        initial=state.step,
        disable=not (cfg.run.progress and main),
        unit="step",
        dynamic_ncols=True,
        file=sys.stderr,
        mininterval=0.5 if sys.stderr.isatty() else 30,
    )

    def elapsed() -> float:
        """Total training seconds of the run, across resumes."""
        nonlocal started
        now = time.perf_counter()
        state.elapsed_seconds += now - started
        started = now
        return state.elapsed_seconds

    def checkpoint() -> Path | None:
        check_finite()
        elapsed()
        if not main:
            return None
        return save_checkpoint(run_dir, state.payload(), keep=t.keep_checkpoints)

    def check_finite() -> None:
        bad_step = int(distributed.max_across_ranks(first_bad, state.dist))
        if bad_step >= 0:
            last = latest_checkpoint(run_dir)
            where = f"last good checkpoint: {last}" if last else "no checkpoint was written yet"
            raise TrainingDiverged(
                f"a loss became NaN/inf at step {bad_step}; training stopped "
                f"({where}); try lower learning rates or another loss"
            )

    run_iteration = fast.make_runner(state, train_iteration)  # eager, CUDA graph or compiled
    thread_tuner = threads.for_run(cfg.run.threads, state.device, state.dist.enabled)  # run.threads
    stopping = False
    with _StopRequest() as stop:
        while state.step < steps and not stopping:
            if t.lr_decay_start < 1:
                set_learning_rates(state, lr_factor(state.step, steps, t.lr_decay_start))
            stats = run_iteration(state)
            # Track the first non-finite step on the device: no host sync in the hot loop.
            bad = ~torch.isfinite(stats["d_loss"] + stats["g_loss"])
            first_bad = torch.where(bad & (first_bad < 0), state.step, first_bad)
            for name, value in stats.items():
                sums[name] = sums[name] + value if name in sums else value.clone()
            count += 1
            bar.update(1)
            thread_tuner.step()  # CPU: times the step on the host clock; may change the count
            stopping = stop.requested and not state.dist.enabled

            if state.step % t.log_every == 0 or state.step == steps:
                check_finite()
                means = distributed.mean_across_ranks({n: v / count for n, v in sums.items()}, state.dist)
                row = {name: float(v) for name, v in means.items()}
                row.update(
                    step=state.step,
                    seconds=round(elapsed(), 3),
                    lr_d=state.opt_d.param_groups[0]["lr"],
                    lr_g=state.opt_g.param_groups[0]["lr"],
                )
                # Under DDP every rank stops at the same step: they agree here, at log rows.
                stopping = distributed.any_rank(stop.requested, state.dist, state.device)
                if main:
                    if evaluator is not None and evaluator.due(state.step, steps):
                        eval_started = time.perf_counter()
                        row.update(evaluate_generator(state, evaluator))
                        started += time.perf_counter() - eval_started  # not training time
                    log.write(row)
                bar.set_postfix(
                    {
                        "D_loss": f"{row['d_loss']:.3f}",
                        "G_loss": f"{row['g_loss']:.3f}",
                        "D(x)": f"{row['d_real']:.3f}",
                        "D(G(z))": f"{row['d_fake']:.3f}",
                    },
                    refresh=False,
                )
                sums, count = {}, 0
                if on_log is not None and main:
                    on_log(state, row)
            if main and state.step % t.sample_every == 0:
                write_samples(state)
            if state.step % t.checkpoint_every == 0:
                checkpoint()
        bar.close()
        checkpoint()
    thread_tuner.restore()
    if main:
        finish(state)
        if evaluator is not None:
            plot_metric_curves(
                read_metrics(run_dir / "metrics.csv"),
                evaluator.columns,
                run_dir / "metrics.png",
                title=evaluator.describe(),
            )
    distributed.barrier(state.dist)
    if stopping and main:
        print(
            f"ganforge: stopped at step {state.step}; checkpoint written. Continue with "
            f"`ganforge train --resume {run_dir}`",
            file=sys.stderr,
        )
    return state


def evaluate_generator(state: TrainState, evaluator: TrainingEvaluator) -> dict[str, float]:
    """Score the sampling G; when it beats the best so far, keep it as ``generator-best`` and
    ``checkpoints/best.pt`` (the whole training state at that step), both written atomically."""
    meta = state.generator_meta()
    scores = evaluator.evaluate(state.sampling_G, meta)
    if evaluator.improved(scores):
        meta["eval"] = {
            "metric": evaluator.best_column,
            "value": evaluator.best_value,
            "step": state.step,
            "protocol": evaluator.protocol(),
        }
        save_generator(state.run_dir, state.sampling_G, meta, which="best")
        payload = {"format": FORMAT_VERSION, **state.payload()}
        atomic_write(checkpoint_dir(state.run_dir) / "best.pt", lambda tmp: torch.save(payload, tmp))
    return scores


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
    real = state.data[: min(len(fake) * 20, 5000)] if state.dataset.kind == "points" else None
    save_samples(
        fake.float().cpu(), path, real=None if real is None else real.float().cpu(), columns=state.num_classes
    )
    return path


def finish(state: TrainState) -> None:
    """End of run: final grid, curves, the exported generator."""
    write_samples(state)
    save_generator(state.run_dir, state.sampling_G, state.generator_meta())
    plot_curves(
        read_metrics(state.run_dir / "metrics.csv"),
        state.run_dir / "curves.png",
        probabilistic=state.loss.probabilistic,
    )
