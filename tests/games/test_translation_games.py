"""CycleGAN and pix2pix games, run directly (no loop) on a tiny folder pair written here."""

import io

import numpy as np
import pytest
import torch
from PIL import Image
from tiny_translation import SIZE, tiny_translation, traced_iteration

from ganforge.config import ConfigError, load_config
from ganforge.games import GAMES
from ganforge.models.translation import build_generator
from ganforge.training.distributed import DistContext
from ganforge.training.speed import SpeedPlan


@pytest.fixture(scope="module")
def folders(tmp_path_factory, write_pairs):
    """Unpaired (trainA..testB) and paired (train/A, B; test/A, B) layouts: B = A tinted red."""
    return write_pairs(tmp_path_factory.mktemp("pairs"), SIZE, test=4)


def _game(name, folders, *overrides, seed=0):
    cfg = load_config(
        None,
        [
            *tiny_translation(name, folders),
            "train.lr_g=0.002",
            "train.lr_d=0.002",
            f"run.seed={seed}",
            *overrides,
        ],
    )
    torch.manual_seed(seed)  # the loop seeds the global RNG before building the game
    return GAMES[name](cfg, torch.device("cpu"), DistContext(), SpeedPlan())


def _run(game, steps):
    return [{k: v.item() for k, v in game.iteration().items()} for _ in range(steps)]


@pytest.mark.parametrize(
    ("name", "watched"), [("cyclegan", ("loss_cycle_A", "loss_cycle_B")), ("pix2pix", ("loss_G_L1",))]
)
def test_losses_fall_and_stats_are_detached_scalars(folders, name, watched):
    game = _game(name, folders)
    stats = game.iteration()
    assert all(v.ndim == 0 and not v.requires_grad for v in stats.values())
    history = _run(game, 40)
    for key in watched:
        first, last = np.mean([h[key] for h in history[:5]]), np.mean([h[key] for h in history[-5:]])
        assert last < 0.7 * first, (key, first, last)


def test_cyclegan_reports_the_papers_terms_and_freezes_d_only_during_g(folders):
    game = _game("cyclegan", folders)
    stats = game.iteration()
    expected = {
        "loss_G_AB",
        "loss_G_BA",
        "loss_cycle_A",
        "loss_cycle_B",
        "loss_idt_A",
        "loss_idt_B",
        "loss_G",
    }
    assert expected | {"loss_D_A", "loss_D_B"} <= set(stats)
    assert all(p.requires_grad for net in game.nets.values() for p in net.parameters())
    no_identity = _game("cyclegan", folders, "train.identity_weight=0")
    assert "loss_idt_A" not in no_identity.iteration()


def _payload(game):
    """Everything a checkpoint holds for the game, through torch.save / weights_only load."""
    state = {
        "nets": {k: v.state_dict() for k, v in game.nets.items()},
        "optimizers": {k: v.state_dict() for k, v in game.optimizers.items()},
        "game": game.state_dict(),
        "rng": torch.get_rng_state(),
    }
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def _restore(game, state):
    for key, net in game.nets.items():
        net.load_state_dict(state["nets"][key])
    for key, optimizer in game.optimizers.items():
        optimizer.load_state_dict(state["optimizers"][key])
    game.load_state_dict(state["game"])
    torch.set_rng_state(state["rng"])


@pytest.mark.parametrize(
    ("name", "overrides"),
    [
        ("cyclegan", ()),
        ("cyclegan", ("train.cycle_noise=0.3", "train.marginal_weight=5", "train.ema_decay=0.9")),
        ("pix2pix", ("train.ema_decay=0.9",)),
    ],
    ids=["cyclegan", "cyclegan-noise-marginal-ema", "pix2pix-ema"],
)
def test_state_round_trip_continues_bit_identically(folders, name, overrides):
    straight = _game(name, folders, *overrides)
    _run(straight, 9)  # past the pool's fill (6 images) and an epoch boundary (24 / 4 = 6)
    saved = _payload(straight)
    expected = _run(straight, 5)
    resumed = _game(name, folders, *overrides, seed=0)
    _run(resumed, 2)  # a different state that the restore must overwrite entirely
    _restore(resumed, saved)
    assert _run(resumed, 5) == expected
    for key in straight.nets:
        for a, b in zip(straight.nets[key].state_dict().values(), resumed.nets[key].state_dict().values()):
            assert torch.equal(a, b), key


@pytest.mark.parametrize("name", ["cyclegan", "pix2pix"])
def test_grid_and_inference(folders, tmp_path, name):
    game = _game(name, folders)
    game.write_grid(tmp_path / "grid.png")
    with Image.open(tmp_path / "grid.png") as picture:
        assert (
            picture.mode == "RGB"
            and picture.width > picture.height / 4 * (6 if name == "cyclegan" else 3) / 2
        )
    directions = game.inference()
    assert set(directions) == ({"AtoB", "BtoA"} if name == "cyclegan" else {"AtoB"})
    G, meta = directions["AtoB"]
    rebuilt = build_generator(meta).eval()
    rebuilt.load_state_dict(G.state_dict())
    x = torch.rand(2, 3, SIZE, SIZE) * 2 - 1
    with torch.no_grad():
        assert torch.equal(rebuilt(x), G.eval()(x))


@pytest.mark.parametrize(("name", "keys"), [("cyclegan", ("G_AB", "G_BA")), ("pix2pix", ("G",))])
def test_ema_averages_each_generator_and_is_what_translates(folders, name, keys):
    assert not any(f"{key}_ema" in _game(name, folders).nets for key in keys)  # off by default
    game = _game(name, folders, "train.ema_decay=0.75")
    before = {key: [p.clone() for p in game.nets[f"{key}_ema"].parameters()] for key in keys}
    _run(game, 1)
    for key in keys:
        averages, trained = list(game.nets[f"{key}_ema"].parameters()), list(game.nets[key].parameters())
        assert not any(p.requires_grad for p in averages)
        for old, average, weight in zip(before[key], averages, trained):
            torch.testing.assert_close(average, 0.75 * old + 0.25 * weight)
        assert not torch.equal(averages[0], trained[0])  # the average lags the trained G
    translators = [net for net, _ in game.inference().values()]
    assert translators == [game.nets[f"{key}_ema"] for key in keys]
    with pytest.raises(ConfigError, match="ema_bn_stats=recompute is for the GAN game"):
        _game(name, folders, "train.ema_decay=0.75", "train.ema_bn_stats=recompute")


def test_identity_loss_needs_equal_channels(folders, monkeypatch):
    from ganforge.data.translation import TranslationData
    from ganforge.games import cyclegan

    gray, rgb = (
        torch.zeros(4, 1, SIZE, SIZE, dtype=torch.uint8),
        torch.zeros(4, 3, SIZE, SIZE, dtype=torch.uint8),
    )
    data = TranslationData("x", gray, rgb, gray, rgb, paired=False, test_paired=False)
    monkeypatch.setattr(cyclegan, "load_translation", lambda cfg, paired: data)
    with pytest.raises(
        ConfigError, match=r"same channels \(1 vs 3\); set data.channels, or train.identity_weight=0"
    ):
        _game("cyclegan", folders)
    game = _game("cyclegan", folders, "train.identity_weight=0")
    assert game.iteration()["loss_cycle_A"] > 0


def test_channels_last_plan_runs(folders):
    from ganforge.training.speed import SpeedPlan as Plan

    cfg_game = _game("cyclegan", folders)
    game = type(cfg_game)(
        cfg_game.cfg, torch.device("cpu"), DistContext(), Plan(memory_format="channels_last")
    )
    stats = game.iteration()
    assert all(torch.isfinite(v) for v in stats.values())
    assert game.G_AB.model[1].weight.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize("game_name", ["cyclegan", "pix2pix"])
def test_full_res_unet_trains_and_is_saved_in_the_metadata(folders, game_name):
    from ganforge.models.patchgan import ModelConfigError

    game = _game(game_name, folders, "model.generator=unet", "model.full_res=true")
    stats = game.iteration()
    assert all(torch.isfinite(v) for v in stats.values())
    for _, meta in game.inference().values():
        assert meta["generator"] == "unet" and meta["full_res"] is True
    with pytest.raises(ModelConfigError, match="model.full_res is a U-Net option"):
        _game(game_name, folders, "model.generator=resnet", "model.full_res=true")


def test_negative_weights_are_refused(folders):
    with pytest.raises(ConfigError, match=r"train.cycle_weight must be >= 0 \(0 turns it off\), got -1.0"):
        _game("cyclegan", folders, "train.cycle_weight=-1")
    with pytest.raises(ConfigError, match=r"train.cycle_noise must be >= 0 \(0 turns it off\), got -0.1"):
        _game("cyclegan", folders, "train.cycle_noise=-0.1")
    with pytest.raises(ConfigError, match=r"train.cycle_weight_b must be >= 0 \(0 turns it off\), got -2.0"):
        _game("cyclegan", folders, "train.cycle_weight_b=-2")
    with pytest.raises(ConfigError, match=r"train.marginal_weight must be >= 0 \(0 turns it off\), got -1.0"):
        _game("cyclegan", folders, "train.marginal_weight=-1")


def _traced_iteration(folders, *overrides):
    """One CycleGAN iteration, recording G_AB's outputs and G_BA's inputs in call order."""
    game = _game("cyclegan", folders, *overrides)
    return game, *traced_iteration(game)


def test_cycle_noise_reaches_the_reverse_generator_only(folders):
    # G_BA's calls in the G step: G_BA(G_AB(a) + noise) (the cycle), G_BA(a) (identity), G_BA(b)
    game, outputs_ab, inputs_ba, _ = _traced_iteration(folders, "train.cycle_noise=0.5")
    fake_b = outputs_ab[0]
    noise = inputs_ba[0] - fake_b
    assert abs(noise.std().item() - 0.5) < 0.05 and abs(noise.mean().item()) < 0.05
    # D_B is shown the clean translation (the pool stores it as given while it fills)
    assert torch.equal(game.pool_b.images[: len(fake_b)], fake_b)
    # Off (the paper's cycle): the reverse generator gets the translation itself
    _, outputs_ab, inputs_ba, _ = _traced_iteration(folders)
    assert torch.equal(inputs_ba[0], outputs_ab[0])


def test_cycle_noise_changes_the_cycle_loss_and_same_seed_runs_stay_bit_exact(folders):
    plain = _traced_iteration(folders)[3]
    noised = [_traced_iteration(folders, "train.cycle_noise=0.5")[3] for _ in range(2)]
    assert noised[0]["loss_cycle_A"] != plain["loss_cycle_A"]
    assert noised[0]["loss_G_AB"] == plain["loss_G_AB"]  # the adversarial terms see no noise
    assert all(torch.equal(noised[0][key], noised[1][key]) for key in noised[0])
    runs = [_run(_game("cyclegan", folders, "train.cycle_noise=0.5"), 3) for _ in range(2)]
    assert runs[0] == runs[1]


def test_cycle_weight_b_weighs_the_b_cycle_and_b_identity_only(folders):
    # The first iteration's G step sees the same nets and batches in both games, so each term
    # is the same L1 times its lambda: lambda_A = cycle_weight (2) for the A cycle and G_BA(a)
    # ~ a; lambda_B (cycle_weight_b, else cycle_weight) for the B cycle and G_AB(b) ~ b.
    same = _traced_iteration(folders, "train.cycle_weight=2")[3]
    apart = _traced_iteration(folders, "train.cycle_weight=2", "train.cycle_weight_b=6")[3]
    for key in ("loss_cycle_A", "loss_idt_A", "loss_G_AB", "loss_G_BA"):
        assert torch.equal(apart[key], same[key]), key
    for key in ("loss_cycle_B", "loss_idt_B"):
        assert torch.allclose(apart[key], 3 * same[key], rtol=1e-6), key
    assert apart["loss_cycle_B"] > same["loss_cycle_B"] > 0
    # None (the default) is the paper's single lambda: bit for bit what an equal value gives
    equal = _traced_iteration(folders, "train.cycle_weight=2", "train.cycle_weight_b=2")[3]
    assert all(torch.equal(equal[key], same[key]) for key in same)


def test_identity_batch_takes_the_identity_term_on_the_first_images_only(folders):
    # G_AB's calls in the G step: G_AB(a), G_AB(G_BA(b)) (the cycle), G_AB(b[:K]) (identity)
    game, outputs_ab, inputs_ba, stats = _traced_iteration(folders, "train.identity_batch=2")
    real_b = inputs_ba[2]  # G_BA(b) comes last
    assert real_b.shape[0] == 4 and outputs_ab[2].shape[0] == 2 and inputs_ba[1].shape[0] == 2
    t = game.cfg.train
    expected = t.identity_weight * t.cycle_weight * (outputs_ab[2] - real_b[:2]).abs().mean()
    assert torch.allclose(stats["loss_idt_B"], expected, rtol=1e-5)
    whole = _traced_iteration(folders)[3]  # the other terms do not change
    assert all(torch.equal(whole[k], stats[k]) for k in ("loss_G_AB", "loss_cycle_A", "loss_cycle_B"))
    assert not torch.equal(whole["loss_idt_B"], stats["loss_idt_B"])
    with pytest.raises(ConfigError, match="train.identity_batch must be at least 1 image"):
        _game("cyclegan", folders, "train.identity_batch=0")


def test_the_marginal_term_scores_each_generators_fakes_against_its_target_domain(folders):
    # The first G step sees the same nets and batches with and without the term.
    plain = _traced_iteration(folders)[3]
    game, outputs_ab, _, marked = _traced_iteration(folders, "train.marginal_weight=4")
    assert all(torch.equal(marked[key], plain[key]) for key in plain if key in marked and key != "loss_G")
    expected_b = 4 * game.marginals["B"].distance(outputs_ab[0])
    assert torch.allclose(marked["loss_marginal_B"], expected_b) and marked["loss_marginal_A"] > 0
    assert "loss_marginal_A" not in plain
