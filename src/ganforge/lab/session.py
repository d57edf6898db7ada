"""One page's game: G, D, their optimizers and data, advanced one update at a time.

Training goes through ganforge's public pieces only: ``build_models`` for the MLPs,
``get_loss`` for the objective, ``d_step`` / ``g_step`` for the updates, ``load_dataset`` and
``sample_noise`` for the inputs. A ``LabSession`` is plain synchronous PyTorch; the server
calls it from one worker thread at a time, never from two at once.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from ganforge.config import DataConfig, ModelConfig
from ganforge.data import load_dataset
from ganforge.errors import GanforgeError
from ganforge.lab import frames
from ganforge.lab.protocol import DRAW_BOUNDS, SETTINGS, default_settings, encode_frame
from ganforge.losses import get_loss
from ganforge.models import build_models, sample_noise
from ganforge.training.steps import d_step, g_step
from ganforge.training.threads import for_run as thread_tuner

LAB_POINTS = 20_000  # real points drawn once per built-in data set
DRAWN_STD = 0.03  # drawn points are spread by this Gaussian jitter, in data units
GP_WEIGHT = 10.0  # wgan-gp's lambda, as TrainConfig.gp_weight
DISPLAY_FAKES = 256  # generated points on the canvas (fixed noise, so motion is smooth)
DISPLAY_REALS = 512  # real points on the canvas
QUALITY_SAMPLES = 1000  # generated points behind the quality chart (fixed noise)
HEAT_RESOLUTION = 32  # heat map cells per side
MANIFOLD_RESOLUTION = 16  # noise grid points per side


class LabError(GanforgeError, ValueError):
    """A lab request that cannot be carried out (e.g. training on a drawing with no points)."""


def _finite(value: float) -> float | None:
    """JSON has no NaN: non-finite numbers travel as null."""
    value = float(value)
    return value if np.isfinite(value) else None


def draw_real(base: torch.Tensor, jitter: float, n: int, generator: torch.Generator) -> torch.Tensor:
    """``[n, 2]`` points of ``base [M, 2]`` drawn with replacement, plus N(0, jitter^2) noise."""
    real = base[torch.randint(len(base), (n,), generator=generator)]
    if jitter:
        real = real + jitter * torch.randn(n, 2, generator=generator)
    return real


class LabSession:
    """G, D and everything they train on, for one set of ``settings`` (see protocol.SETTINGS).

    Counters: ``iteration`` counts G updates (as ``ganforge train``'s step does),
    ``d_updates`` counts D updates; one whole iteration is ``d_steps`` D updates then one
    G update.
    """

    def __init__(
        self, settings: dict[str, Any] | None = None, drawn: list[tuple[float, float]] | None = None
    ):
        self.settings = default_settings()
        self.settings.update(settings or {})
        self.drawn = drawn
        self.run_id = 0
        self._threads = thread_tuner("auto", "cpu")  # the fastest torch thread count, re-measured
        self._install(self._build())

    # --- building and changing the game ----------------------------------------------------

    def _build(self) -> dict[str, Any]:
        """Everything a (re)start needs, built aside so a failure leaves the old game running."""
        s = self.settings
        if s["data"] == "drawn":
            if not self.drawn or len(self.drawn) < 2:
                raise LabError("draw at least 2 points on the canvas before training on them")
            base = torch.tensor(self.drawn, dtype=torch.float32)
            modes = mode_std = None
            jitter, bounds = DRAWN_STD, DRAW_BOUNDS
        else:
            dataset = load_dataset(DataConfig(name=s["data"], n_points=LAB_POINTS), seed=s["seed"])
            base, jitter = dataset.data, 0.0
            modes, mode_std = dataset.modes, dataset.mode_std
            bounds = frames.view_bounds(base)
        model_cfg = ModelConfig(
            name="mlp",
            z_dim=s["z_dim"],
            noise=s["noise"],
            g_width=s["width"],
            d_width=s["width"],
            hidden_layers=s["hidden_layers"],
        )
        # Weight init draws from torch's global RNG: seed it without disturbing anyone else's.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(s["seed"])
            G, D = build_models(model_cfg, (2,))
        if s["optimizer"] == "adam":
            opt_g = torch.optim.Adam(G.parameters(), lr=s["lr_g"], betas=(0.5, 0.999))
            opt_d = torch.optim.Adam(D.parameters(), lr=s["lr_d"], betas=(0.5, 0.999))
        else:
            opt_g = torch.optim.SGD(G.parameters(), lr=s["lr_g"])
            opt_d = torch.optim.SGD(D.parameters(), lr=s["lr_d"])
        fixed = torch.Generator().manual_seed(s["seed"] + 1)
        z_grid, rows, cols = frames.noise_grid(s["z_dim"], s["noise"], MANIFOLD_RESOLUTION)
        built = {
            "G": G,
            "D": D,
            "opt_g": opt_g,
            "opt_d": opt_d,
            "loss": get_loss(s["loss"]),
            "base": base,
            "jitter": jitter,
            "bounds": bounds,
            "modes": None if modes is None else modes.numpy(),
            "mode_std": mode_std,
            "gen": torch.Generator().manual_seed(s["seed"]),
            "display_z": sample_noise(DISPLAY_FAKES, s["z_dim"], s["noise"], generator=fixed),
            "quality_z": sample_noise(QUALITY_SAMPLES, s["z_dim"], s["noise"], generator=fixed),
            "z_grid": z_grid,
            "grid_shape": (rows, cols),
        }
        built["display_real"] = draw_real(base, jitter, DISPLAY_REALS, fixed)
        return built

    def _install(self, built: dict[str, Any]) -> None:
        for name, value in built.items():
            setattr(self, name, value)
        self.run_id += 1
        self.iteration = 0  # G updates
        self.d_updates = 0
        self.phase: str | None = None  # what the last update was: "d", "g" or "iteration"
        self.diverged = False
        self._real_sent = False
        self._sums: dict[str, float] = {}
        self._counts: dict[str, int] = {}

    def restart(self) -> None:
        """Fresh weights, optimizers and counters with the current settings."""
        self._install(self._build())

    def apply(self, values: dict[str, Any]) -> bool:
        """Apply checked settings; returns True when the game restarted.

        Learning rates, loss, D steps, batch size and speed apply live (optimizer state
        kept); data, model shape, noise, optimizer and seed rebuild everything.
        """
        changed = {k: v for k, v in values.items() if self.settings[k] != v}
        if any(not SETTINGS[k].live for k in changed):
            previous = dict(self.settings)
            self.settings.update(changed)
            try:
                self.restart()
            except Exception:
                self.settings = previous  # keep playing the old game
                raise
            return True
        self.settings.update(changed)
        for name, optimizer in (("lr_d", self.opt_d), ("lr_g", self.opt_g)):
            if name in changed:
                for group in optimizer.param_groups:
                    group["lr"] = changed[name]
        if "loss" in changed:
            self.loss = get_loss(changed["loss"])
        return False

    def set_drawn(self, points: list[tuple[float, float]]) -> None:
        """Train on user-drawn points (checked by protocol.check_points); restarts the game."""
        previous_points, previous_data = self.drawn, self.settings["data"]
        self.drawn, self.settings["data"] = points, "drawn"
        try:
            self.restart()
        except Exception:
            self.drawn, self.settings["data"] = previous_points, previous_data
            raise

    # --- the updates ------------------------------------------------------------------------

    def _real_batch(self, n: int) -> torch.Tensor:
        return draw_real(self.base, self.jitter, n, self.gen)

    def _noise(self, n: int) -> torch.Tensor:
        return sample_noise(n, self.settings["z_dim"], self.settings["noise"], generator=self.gen)

    def _record(self, stats: dict[str, torch.Tensor]) -> None:
        for name, value in stats.items():
            value = float(value)
            self._sums[name] = self._sums.get(name, 0.0) + value
            self._counts[name] = self._counts.get(name, 0) + 1
            if not np.isfinite(value):
                self.diverged = True

    def step_d(self) -> None:
        """One D update on a fresh real batch and a fresh fake batch."""
        batch = self.settings["batch_size"]
        with torch.no_grad():
            fake = self.G(self._noise(batch))
        self._record(d_step(self.D, self.opt_d, self.loss, self._real_batch(batch), fake, GP_WEIGHT))
        self.d_updates += 1
        self.phase = "d"

    def step_g(self) -> None:
        """One G update on a fresh fake batch; counts as an iteration."""
        fake = self.G(self._noise(self.settings["batch_size"]))
        self._record(g_step(self.D, self.opt_g, self.loss, fake))
        self.iteration += 1
        self.phase = "g"

    def step_iteration(self) -> None:
        """``d_steps`` D updates, then one G update reusing the last D step's fakes
        (the same schedule as ganforge.training.loop.train_iteration)."""
        batch, d_steps = self.settings["batch_size"], self.settings["d_steps"]
        for i in range(d_steps):
            last = i == d_steps - 1
            with torch.set_grad_enabled(last):
                fake = self.G(self._noise(batch))
            self._record(
                d_step(self.D, self.opt_d, self.loss, self._real_batch(batch), fake.detach(), GP_WEIGHT)
            )
        self._record(g_step(self.D, self.opt_g, self.loss, fake))
        self.d_updates += d_steps
        self.iteration += 1
        self.phase = "iteration"

    def step(self, unit: str) -> None:
        {"d": self.step_d, "g": self.step_g, "iteration": self.step_iteration}[unit]()

    def train(self, max_iterations: int, budget_seconds: float) -> int:
        """Whole iterations until ``max_iterations`` or ``budget_seconds`` (at least one);
        stops early when a loss turns NaN/inf. Returns how many ran."""
        deadline = time.perf_counter() + budget_seconds
        done = 0
        while done < max_iterations and not self.diverged:
            self.step_iteration()
            self._threads.step()
            done += 1
            if time.perf_counter() >= deadline:
                break
        return done

    # --- the picture ------------------------------------------------------------------------

    def frame(self, seq: int, playing: bool, iterations_per_second: float | None) -> bytes:
        """Everything the page draws, as one binary frame (protocol.encode_frame).

        Arrays: ``heat [res * res]`` (frames.heat_map), ``fake [DISPLAY_FAKES * 2]``,
        ``arrows`` (same shape, frames.gradient_arrows), ``manifold [rows * cols * 2]`` and,
        in the first frame of each game, ``real [DISPLAY_REALS * 2]``.
        """
        heat, low, high = frames.heat_map(self.D, self.loss, self.bounds, HEAT_RESOLUTION)
        with torch.no_grad():
            fake = self.G(self.display_z)
            quality_fake = self.G(self.quality_z).numpy()
        arrows = frames.gradient_arrows(self.D, self.loss, fake)
        arrays = {
            "heat": heat,
            "fake": fake.numpy(),
            "arrows": arrows,
            "manifold": frames.manifold(self.G, self.z_grid),
        }
        if not self._real_sent:
            arrays["real"] = self.display_real.numpy()
            self._real_sent = True
        stats = None
        if self._sums:
            stats = {name: _finite(total / self._counts[name]) for name, total in self._sums.items()}
            self._sums, self._counts = {}, {}
        quality = frames.sample_quality(
            quality_fake, self.display_real.numpy(), self.modes, self.mode_std, self.bounds
        )
        rows, cols = self.grid_shape
        header = {
            "type": "frame",
            "seq": seq,
            "run": self.run_id,
            "iteration": self.iteration,
            "d_updates": self.d_updates,
            "phase": self.phase,
            "playing": playing,
            "diverged": self.diverged,
            "data": self.settings["data"],
            "loss": self.settings["loss"],
            "probabilistic": self.loss.probabilistic,
            "bounds": list(self.bounds),
            "heat": {"res": HEAT_RESOLUTION, "low": _finite(low), "high": _finite(high)},
            "manifold": {"rows": rows, "cols": cols},
            # the page scales arrows to the longest; their absolute mean size is where a
            # saturating loss shows its vanishing gradient
            "arrows_mean": _finite(np.linalg.norm(arrows, axis=1).mean()),
            "stats": stats,
            "quality": {k: _finite(v) for k, v in quality.items()},
            "rate": None if iterations_per_second is None else round(iterations_per_second, 1),
        }
        return encode_frame(header, arrays)
