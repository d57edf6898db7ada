"""The loop trains any game: a toy game (not a GAN) goes through the same loop, metrics.csv,
curves, checkpoints, exact resume, NaN detection and exports as the GAN does."""

from pathlib import Path

import pytest
import torch
from torch import nn

from ganforge.checkpoint import latest_checkpoint, load_checkpoint, load_generator
from ganforge.config import ConfigError, load_config
from ganforge.data import load_dataset
from ganforge.games import GAMES, Game, game_for
from ganforge.games.gan import GanGame
from ganforge.training import TrainingDiverged, train
from ganforge.training.log import read_metrics
from ganforge.viz import plot_curves


class ToyGame(Game):
    """Learns a 2x2 map of ring8 points onto the points turned by 90 degrees."""

    name = "toy"
    progress_stats = (("mse", "MSE"),)
    ddp_nets = ("G_AB",)
    nan_after: int | None = None  # poison the stats from this iteration on (NaN test)

    def __init__(self, cfg, device, dist, speed=None):
        super().__init__(cfg, device, dist, speed)
        self.dataset = load_dataset(cfg.data, seed=cfg.run.seed)
        self.nets["G_AB"] = nn.Linear(2, 2)
        self.plan_speed()
        self.prepare_nets()
        self.adam("opt_g", self.nets["G_AB"].parameters(), cfg.train.lr_g, (0.5, 0.999))
        self.wrap_nets()
        self.data = self.dataset.data.float().to(device)
        self.turn = torch.tensor([[0.0, -1.0], [1.0, 0.0]])
        self.seen = torch.zeros((), dtype=torch.long)  # game state that must survive a resume

    def iteration(self):
        index = torch.randint(len(self.data), (self.cfg.train.batch_size,))
        a = self.data[index]
        mse = (self.train_nets["G_AB"](a) - a @ self.turn.T).pow(2).mean()
        opt = self.optimizers["opt_g"]
        opt.zero_grad()
        mse.backward()
        opt.step()
        self.seen += 1
        stats = {"mse": mse.detach(), "scale": self.nets["G_AB"].weight.detach().abs().mean()}
        if self.nan_after is not None and int(self.seen) > self.nan_after:
            stats["scale"] = stats["scale"] * float("nan")  # not a loss: still stops the run
        return stats

    def state_dict(self):
        return {"seen": self.seen.clone()}

    def load_state_dict(self, state):
        self.seen = state["seen"].clone()

    def write_grid(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"grid")

    def inference(self):
        return {"AtoB": (self.nets["G_AB"], {"kind": "toy"})}


@pytest.fixture
def toy(monkeypatch):
    monkeypatch.setitem(GAMES, "toy", ToyGame)
    monkeypatch.setattr(ToyGame, "nan_after", None)

    def config(run_dir, *overrides):
        return load_config(
            None,
            [
                f"run.dir={run_dir}",
                "run.progress=false",
                "data.name=ring8",
                "data.n_points=256",
                "model.name=toy",
                "train.batch_size=16",
                "train.lr_g=0.05",
                "train.log_every=5",
                "train.sample_every=10",
                "train.checkpoint_every=10",
                *overrides,
            ],
        )

    return config


def test_game_for_picks_the_game_or_the_gan(toy):
    assert game_for(load_config(None, ["model.name=mlp"])) is GanGame
    assert game_for(load_config(None, ["model.name=cdcgan"])) is GanGame
    assert game_for(toy("r")) is ToyGame
    with pytest.raises(ConfigError, match="neither a model family nor a game.*mlp"):
        game_for(load_config(None, ["model.name=nope"]))


def test_a_toy_game_trains_logs_exports_and_resumes_exactly(tmp_path, toy):
    straight = train(toy(tmp_path / "a", "train.steps=40"))
    rows = read_metrics(tmp_path / "a/metrics.csv")
    assert rows["step"] == [5, 10, 15, 20, 25, 30, 35, 40]
    assert {"mse", "scale", "lr_g", "seconds"} <= set(rows) and "d_loss" not in rows
    assert rows["mse"][-1] < 0.2 * rows["mse"][0]  # it learned the turn
    for name in (
        "curves.png",
        "samples/step_0000040.png",
        "generator-AtoB.safetensors",
        "generator-AtoB.json",
    ):
        assert (tmp_path / "a" / name).is_file(), name
    payload = load_checkpoint(latest_checkpoint(tmp_path / "a"))
    assert payload["game"] == "toy" and int(payload["seen"]) == 40
    assert {"G_AB", "opt_g", "rng", "config"} <= set(payload)

    train(toy(tmp_path / "b", "train.steps=20"))
    resumed = train(toy(tmp_path / "b", "train.steps=40"), resume=True)
    assert int(resumed.game.seen) == 40
    a, b = straight.game.nets["G_AB"].state_dict(), resumed.game.nets["G_AB"].state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert read_metrics(tmp_path / "b/metrics.csv")["mse"] == rows["mse"]


def test_a_non_finite_stat_of_any_name_stops_the_run(tmp_path, toy, monkeypatch):
    monkeypatch.setattr(ToyGame, "nan_after", 13)
    with pytest.raises(TrainingDiverged, match="NaN/inf at step 14.*step_0000010.pt"):
        train(toy(tmp_path / "r", "train.steps=30"))


def test_compiling_a_game_that_does_not_support_it_is_a_clear_error(tmp_path, toy):
    with pytest.raises(ConfigError, match="compile=reduce-overhead is not available for the toy game"):
        train(toy(tmp_path / "r", "train.steps=5", "train.compile=reduce-overhead"))
    state = train(toy(tmp_path / "auto", "train.steps=5", "train.compile=auto"))
    assert state.speed.compile == "eager"


def test_the_gan_exports_keep_their_names(tmp_path, tiny_digits):
    state = train(tiny_digits(tmp_path / "r", "train.steps=10"))
    G, meta = load_generator(tmp_path / "r")
    assert meta["step"] == 10 and meta["model"]["name"] == "mlp"
    assert torch.equal(next(iter(G.state_dict().values())), next(iter(state.G.state_dict().values())))


def test_curves_plot_whatever_columns_there_are(tmp_path):
    steps = [1.0, 2.0, 3.0]
    toy = {"step": steps, "seconds": steps, "cycle_A": [3.0, 2.0, 1.0], "lr_g": [1e-3] * 3}
    assert plot_curves(toy, tmp_path / "toy.png").is_file()
    gan = {"step": steps, "d_loss": steps, "g_loss": steps, "d_real": [0.6] * 3, "d_fake": [0.4] * 3}
    assert plot_curves(gan, tmp_path / "gan.png").is_file()
    assert plot_curves({"step": steps, "seconds": steps}, tmp_path / "none.png") is None
