"""The StarGAN game on tiny domain folders written here: it learns, resumes bit-exactly,
draws its grid and hands over a G that can be rebuilt."""

import io
import os
import signal
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from tiny_stargan import TINY, write_colour_domains
from torch import nn

from ganforge.checkpoint import latest_checkpoint, load_checkpoint
from ganforge.cli import main
from ganforge.config import ConfigError, load_config
from ganforge.games import GAMES
from ganforge.models.stargan import StarGANConfigError, build_generator
from ganforge.training import train
from ganforge.training.distributed import DistContext
from ganforge.training.log import read_metrics


def domain_config(tmp_path, run, *overrides):
    """TINY on colour domains written once under ``tmp_path``, trained into ``run``."""
    if not (tmp_path / "domains").exists():
        write_colour_domains(tmp_path / "domains")
    return load_config(None, [f"run.dir={run}", f"data.root={tmp_path / 'domains'}", *TINY, *overrides])


def tiny(tmp_path, *overrides):
    return domain_config(tmp_path, tmp_path / "run", "train.lr_g=0.001", "train.lr_d=0.001", *overrides)


def build(cfg):
    torch.manual_seed(cfg.run.seed)  # the loop seeds the run before building the game
    return GAMES["stargan"](cfg, torch.device("cpu"), DistContext())


def weights(game):
    return {
        f"{key}.{name}": value.clone()
        for key, net in game.nets.items()
        for name, value in net.state_dict().items()
    }


@pytest.mark.parametrize("generator", ["auto", "skip", "pixel"])
def test_iterations_move_the_losses(tmp_path, generator):
    game = build(tiny(tmp_path, f"model.generator={generator}"))
    assert game.domains.names == ("blue", "green", "red") and not game.domains.multi_label
    history = [{k: float(v) for k, v in game.iteration().items()} for _ in range(40)]
    first, last = history[:5], history[-5:]

    def mean(rows, key):
        return sum(row[key] for row in rows) / len(rows)

    # D learns to name the colour of real images; G learns to translate back (cycle).
    assert mean(last, "d_cls") < 0.5 * mean(first, "d_cls")
    assert mean(last, "g_rec") < 0.85 * mean(first, "g_rec")
    assert {"d_loss", "g_loss", "gp", "g_cls", "g_adv"} <= set(history[0])


@pytest.mark.parametrize(
    "overrides",
    [
        (),
        ("train.lambda_id=5", "train.rec_warmup=3", "train.marginal_weight=2", "train.ema_decay=0.9"),
        ("model.d_split=true",),
        ("model.d_conditional=true", "train.loss=wgan-gp", "train.cycle_noise=0.3"),
    ],
)
def test_state_dict_round_trip_continues_bit_exactly(tmp_path, overrides):
    # with the warm-up, the save (after 2 updates) falls inside the ramp (3 updates)
    cfg = tiny(tmp_path, *overrides)
    straight = build(cfg)
    for _ in range(4):
        straight.iteration()

    first = build(cfg)
    for _ in range(2):
        first.iteration()
    buffer = io.BytesIO()
    torch.save(
        {
            "nets": {k: n.state_dict() for k, n in first.nets.items()},
            "optimizers": {k: o.state_dict() for k, o in first.optimizers.items()},
            "game": first.state_dict(),
            "rng": torch.get_rng_state(),
        },
        buffer,
    )
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)
    resumed = build(cfg)
    torch.manual_seed(12345)  # whatever the RNG did meanwhile, the checkpoint's state wins
    for key, net in resumed.nets.items():
        net.load_state_dict(saved["nets"][key])
    for key, optimizer in resumed.optimizers.items():
        optimizer.load_state_dict(saved["optimizers"][key])
    resumed.load_state_dict(saved["game"])
    torch.set_rng_state(saved["rng"])
    for _ in range(2):
        resumed.iteration()
    a, b = weights(straight), weights(resumed)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(weights(first)["G.main.0.weight"], a["G.main.0.weight"])


def test_the_g_update_reuses_the_last_d_steps_translation_exactly(tmp_path):
    """``iteration()`` hands the last D step's translation (graph kept) to the G update; the
    reference translates that batch again with the same, unchanged G. Same weights after."""
    cfg = tiny(tmp_path)
    game, reference = build(cfg), build(cfg)
    torch.manual_seed(7)
    for _ in range(2):
        game.iteration()
    torch.manual_seed(7)
    for _ in range(2):  # the reference's order: a fresh G forward in each step
        for _ in range(cfg.train.d_steps):
            real, labels, targets = reference.batch()
            with torch.no_grad():
                fake = reference.G(real, targets)
            reference.d_update(real, labels, targets, fake)
        reference.g_update(real, labels, targets, reference.G(real, targets))
    a, b = weights(game), weights(reference)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["G.main.0.weight"], weights(build(cfg))["G.main.0.weight"])


def test_a_conditional_d_judges_reals_by_their_labels_and_translations_by_their_targets(tmp_path):
    """``model.d_conditional``: D scores real images as images of their own domains, and G's
    translations (in D's update, in the gradient penalty and in G's) as images of the targets."""
    game = build(tiny(tmp_path, "model.d_conditional=true", "train.loss=wgan-gp", "train.d_steps=1"))
    seen, batches = [], []
    forward, batch = game.D.forward, game.batch
    game.D.forward = lambda x, labels=None: seen.append(labels) or forward(x, labels)
    game.batch = lambda: batches.append(batch()) or batches[-1]
    game.iteration()
    (_, labels, targets), *more = batches
    assert not more
    assert not torch.equal(labels, targets)  # the batch's labels, permuted
    assert [torch.equal(c, labels) for c in seen] == [True, False, False, False]
    assert all(torch.equal(c, targets) for c in seen[1:])


def test_cycle_noise_reaches_only_the_translation_back(tmp_path):
    """``train.cycle_noise``: G's second pass (back to the original labels) gets the translation
    plus noise; D sees the clean translation. Off, the second pass gets the translation itself."""

    def traced(forward, seen):
        def call(x, *labels):
            out = forward(x, *labels)
            seen.append((x.detach(), out))
            return out

        return call

    for std in (0.0, 0.5):
        game = build(tiny(tmp_path, f"train.cycle_noise={std}", "train.d_steps=1"))
        g_calls, d_calls = [], []
        game.G.forward, game.D.forward = traced(game.G.forward, g_calls), traced(game.D.forward, d_calls)
        game.iteration()
        (_, fake), (back_in, _) = g_calls  # the translation, then its way back
        assert torch.equal(d_calls[-1][0], fake.detach())  # G's adversarial and class terms
        noise = back_in - fake.detach()
        if std == 0:
            assert torch.equal(noise, torch.zeros_like(noise))
        else:
            assert noise.std().item() == pytest.approx(std, rel=0.1)


def test_the_identity_term_is_off_by_default_and_teaches_g_to_keep_its_input(tmp_path):
    assert "g_id" not in build(tiny(tmp_path)).iteration()  # the paper's objective
    with pytest.raises(ConfigError, match="lambda_id"):
        tiny(tmp_path, "train.lambda_id=-1")
    with pytest.raises(ConfigError, match="model.full_res is a U-Net option of cyclegan and pix2pix"):
        build(tiny(tmp_path, "model.full_res=true"))
    game = build(tiny(tmp_path, "train.lambda_id=10"))
    history = [float(game.iteration()["g_id"]) for _ in range(30)]
    assert sum(history[-5:]) < 0.85 * sum(history[:5])


def paper_g_update(game, real, labels, targets, fake):
    """The paper's G step (eq. 8), written out: what lambda_id = rec_warmup = 0 must train."""
    t, D = game.cfg.train, game.D
    D.requires_grad_(False)
    scores, classes = D(fake)
    g_adv, g_cls = game.loss.g(scores), game.classification_loss(classes, targets)
    g_rec = (real - game.G(fake, labels)).abs().mean()
    g_loss = g_adv + t.lambda_cls * g_cls + t.lambda_rec * g_rec
    D.requires_grad_(True)
    game.optimizers["opt_g"].zero_grad(set_to_none=True)
    g_loss.backward()
    game.optimizers["opt_g"].step()
    return {"g_adv": g_adv.detach(), "g_cls": g_cls.detach(), "g_rec": g_rec.detach(), "g_loss": g_loss}


def test_the_defaults_train_the_papers_g_step_bit_exactly(tmp_path, monkeypatch):
    cfg = tiny(tmp_path)
    assert (cfg.train.lambda_id, cfg.train.rec_warmup) == (0.0, 0)
    game, reference = build(cfg), build(cfg)
    monkeypatch.setattr(reference, "g_update", lambda *args: paper_g_update(reference, *args))
    for step in range(3):
        torch.manual_seed(step)  # the same target orders and penalty weights for both
        ours = game.iteration()
        torch.manual_seed(step)
        theirs = reference.iteration()
        assert ours.keys() == theirs.keys()
        assert all(torch.equal(ours[k], theirs[k]) for k in ours)
    a, b = weights(game), weights(reference)
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("split", [False, True])
def test_with_d_split_the_class_loss_leaves_the_realism_trunk_alone(tmp_path, split):
    """Two games alike but for ``lambda_cls`` take one D update on the same batch: with
    ``model.d_split`` D's realism trunk and head come out identical (L_cls cannot reach them)
    and only the class trunk differs; with one shared trunk (the paper's D) the trunk differs."""
    after = []
    for lambda_cls in (1, 5):
        game = build(tiny(tmp_path, f"model.d_split={str(split).lower()}", f"train.lambda_cls={lambda_cls}"))
        torch.manual_seed(1)
        real, labels, targets = game.batch()
        game.d_update(real, labels, targets, game.G(real, targets).detach())
        after.append(weights(game))
    same = {key: torch.equal(after[0][key], after[1][key]) for key in after[0] if key.startswith("D.")}
    realism = [key for key in same if key.startswith(("D.main.", "D.patch_head."))]
    assert all(same[key] for key in realism) == split
    assert not same["D.class_head.weight"]
    assert any(key.startswith("D.class_trunk.") for key in same) == split
    assert not split or not any(same[key] for key in same if key.startswith("D.class_trunk."))


class IdentityG(nn.Module):
    def forward(self, x, c):
        return x


def test_the_identity_term_adds_lambda_id_times_g_id_and_is_zero_for_an_identity_g(tmp_path):
    plain, with_id = build(tiny(tmp_path)), build(tiny(tmp_path, "train.lambda_id=5"))
    torch.manual_seed(3)
    a = plain.iteration()
    torch.manual_seed(3)
    b = with_id.iteration()
    assert float(b["g_id"]) > 0.05  # an untrained G changes its input
    assert float(b["g_loss"]) == pytest.approx(float(a["g_loss"]) + 5 * float(b["g_id"]), rel=1e-5)
    real, labels, targets = with_id.batch()
    fake = with_id.G(real, targets)  # the real G's graph, so the step has something to train
    with_id.train_nets["G"] = IdentityG()
    stats = with_id.g_update(real, labels, targets, fake)
    assert float(stats["g_id"]) == 0.0 and float(stats["g_rec"]) > 0  # G(fake, labels) = fake


def test_the_marginal_term_scores_each_target_against_its_own_domain(tmp_path):
    with pytest.raises(ConfigError, match=r"train.marginal_weight must be >= 0"):
        build(tiny(tmp_path, "train.marginal_weight=-1"))
    plain, marked = build(tiny(tmp_path)), build(tiny(tmp_path, "train.marginal_weight=3"))
    torch.manual_seed(3)
    a = plain.iteration()
    torch.manual_seed(3)
    b = marked.iteration()
    assert float(b["g_marginal"]) > 0 and "g_marginal" not in a
    assert float(b["g_loss"]) == pytest.approx(float(a["g_loss"]) + 3 * float(b["g_marginal"]), rel=1e-5)
    # Real images of a domain, offered as translations into it, are near its own quantiles,
    # and far from another domain's (the colour domains differ in every pixel).
    images, vectors = marked.images.float() / 127.5 - 1, marked.vectors
    first = (vectors == vectors[0]).all(1)
    other = vectors[(~first).nonzero()[0, 0]]
    own = marked.marginal_distance(images[first], vectors[first])
    wrong = marked.marginal_distance(images[first], other.expand(int(first.sum()), -1))
    assert float(own) < 0.3 * float(wrong)


def test_the_reconstruction_warm_up_ramps_lambda_rec_from_zero(tmp_path):
    with pytest.raises(ConfigError, match="rec_warmup"):
        tiny(tmp_path, "train.rec_warmup=-1")
    game = build(tiny(tmp_path, "train.lambda_rec=10", "train.rec_warmup=4"))
    weights_seen = []
    for _ in range(6):
        weights_seen.append(game.rec_weight())
        stats = game.iteration()
        if weights_seen[-1] == 0:  # the first update: no cycle term at all
            assert float(stats["g_loss"]) == pytest.approx(float(stats["g_adv"] + stats["g_cls"]), rel=1e-6)
    assert weights_seen == pytest.approx([0, 2.5, 5, 7.5, 10, 10])
    assert game.state_dict()["g_updates"] == 6


def test_learning_rate_factor_zero_freezes_the_weights(tmp_path):
    game = build(tiny(tmp_path))
    game.iteration()
    game.set_lr_factor(0.0)
    before = weights(game)
    game.iteration()
    after = weights(game)
    assert all(torch.equal(before[k], after[k]) for k in before)
    game.set_lr_factor(0.5)
    assert game.optimizers["opt_g"].param_groups[0]["lr"] == pytest.approx(5e-4)


def test_grid_a_row_per_input_a_column_per_domain(tmp_path):
    game = build(tiny(tmp_path))
    grid = game.translate_grid()
    assert grid.shape == (8, 4, 3, 12, 12)  # 8 of the 9 test images; input + 3 domains
    assert game.grid_targets.argmax(1).tolist() == [0, 0, 0, 1, 1, 2, 2, 2]  # every domain shown
    assert torch.equal(grid[:, 0], game.grid_images.float() / 127.5 - 1)
    path = tmp_path / "grid.png"
    game.write_grid(path)
    assert Image.open(path).size[0] < Image.open(path).size[1]  # 4 columns, 8 rows, scaled


@pytest.mark.parametrize(
    "generator, kind", [("auto", "resnet"), ("resnet", "resnet"), ("skip", "skip"), ("pixel", "pixel")]
)
def test_inference_meta_rebuilds_the_generator(tmp_path, generator, kind):
    game = build(tiny(tmp_path, f"model.generator={generator}"))
    game.iteration()
    G, meta = game.inference()["generator"]
    assert meta["generator"] == kind and type(build_generator(meta)) is type(G)
    assert meta["domain_names"] == ["blue", "green", "red"] and meta["multi_label"] is False
    rebuilt = build_generator(meta)
    rebuilt.load_state_dict(G.state_dict())
    x, c = torch.rand(2, 3, 12, 12) * 2 - 1, torch.eye(3)[[0, 2]]
    assert torch.equal(rebuilt(x, c), G(x, c))


def test_with_ema_the_average_of_g_is_what_translates_and_draws_the_grid(tmp_path):
    game = build(tiny(tmp_path, "train.ema_decay=0.5"))
    game.iteration()
    G, average = game.nets["G"], game.nets["G_ema"]
    assert game.inference()["generator"][0] is average and not torch.equal(
        next(G.parameters()), next(average.parameters())
    )
    x, c = game.grid_images.float() / 127.5 - 1, game.domains.grid_targets(game.grid_targets)[0]
    with torch.no_grad():
        assert torch.equal(game.translate_grid()[:, 1], average(x, c).float())


def test_a_generator_of_another_game_is_refused_in_one_line(tmp_path):
    with pytest.raises(StarGANConfigError, match="model.generator='unet' is not a StarGAN generator"):
        build(tiny(tmp_path, "model.generator=unet"))


def test_multi_label_attributes_use_binary_cross_entropy(tmp_path, monkeypatch):
    images = tmp_path / "celeba" / "img_align_celeba"
    images.mkdir(parents=True)
    names = ["Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young"]
    lines = ["8", " ".join(names)]
    rng = np.random.default_rng(1)
    for i in range(8):
        Image.fromarray(rng.integers(0, 256, (20, 16, 3), dtype=np.uint8)).save(images / f"{i:06d}.jpg")
        hair = [1 if k == i % 3 else -1 for k in range(3)]
        lines.append(f"{i:06d}.jpg " + " ".join(str(v) for v in [*hair, 1 - 2 * (i % 2), 1]))
    (tmp_path / "celeba" / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    monkeypatch.setenv("GANFORGE_DATA", str(tmp_path))
    game = build(tiny(tmp_path, "data.name=celeba-attributes", "data.image_size=8", "train.loss=lsgan"))
    assert game.domains.multi_label and game.domains.groups() == [[0, 1, 2]]
    stats = game.iteration()
    assert all(torch.isfinite(v) for v in stats.values()) and "gp" not in stats
    assert game.translate_grid().shape == (8, 6, 3, 8, 8)  # no test split: training images
    _, meta = game.inference()["generator"]
    assert meta["exclusive_groups"] == [["Black_Hair", "Blond_Hair", "Brown_Hair"]]


def test_the_preset_loads_and_names_its_departures_from_the_paper():
    path = Path(__file__).parents[2] / "configs" / "stargan-fmnist-styles.yaml"
    t = load_config(path).train
    assert (load_config(path).data.name, t.loss, t.d_steps, t.lr_g, t.lr_d, t.beta1) == (
        "fmnist-styles",
        "lsgan",
        1,
        4e-4,
        4e-4,
        0.5,
    )
    assert (t.lambda_cls, t.lambda_rec, t.lambda_id) == (1.0, 10.0, 0.0)  # the paper's terms
    assert load_config(path).model.generator == "skip"  # the paper's G is the default (auto: resnet)
    header = " ".join(line for line in path.read_text().splitlines() if line.startswith("#"))
    words = ("lsgan", "wgan-gp", "d_steps 1", "lr 4e-4", "paper 1e-4", "generator skip", "G is resnet")
    assert all(word in header for word in words)


# --- through the training loop ------------------------------------------------------------


def loop_config(tmp_path, run, *overrides):
    return domain_config(
        tmp_path,
        run,
        "run.progress=false",
        "model.name=stargan",
        "train.log_every=1",
        "train.sample_every=1000",
        "train.checkpoint_every=3",
        "train.lr_decay_start=0.5",
        *overrides,
    )


@pytest.mark.parametrize(
    "overrides", [(), ("train.rec_warmup=5", "train.lambda_id=1"), ("model.d_split=true",)]
)
def test_the_loop_resumes_a_stargan_run_bit_exactly_and_decays_to_zero(tmp_path, overrides):
    def stop_at_3(state, row):  # a SIGTERM during step 3's log row: the loop stops after step 4
        if state.step == 3:
            os.kill(os.getpid(), signal.SIGTERM)

    straight, split = tmp_path / "straight", tmp_path / "split"
    train(loop_config(tmp_path, straight, "train.steps=6", *overrides))
    # The same run (train.steps=6: the same decay schedule) stopped part-way, then resumed; with
    # the warm-up, inside the ramp (the checkpoint holds the game's G-update count).
    assert train(loop_config(tmp_path, split, "train.steps=6", *overrides), on_log=stop_at_3).step == 4
    train(loop_config(tmp_path, split, "train.steps=6", *overrides), resume=True)
    a, b = load_checkpoint(latest_checkpoint(straight)), load_checkpoint(latest_checkpoint(split))
    assert a["step"] == b["step"] == 6
    for net in ("G", "D"):
        assert a[net].keys() == b[net].keys()
        assert all(torch.equal(a[net][k], b[net][k]) for k in a[net]), net
    assert any(k.startswith("class_trunk.") for k in a["D"]) == ("model.d_split=true" in overrides)
    rows_a, rows_b = read_metrics(straight / "metrics.csv"), read_metrics(split / "metrics.csv")
    for name in ("step", "d_loss", "g_loss", "g_rec", "d_cls", "gp", "lr_g", "lr_d"):
        assert rows_a[name] == rows_b[name], name
    with_id = any("lambda_id" in o for o in overrides)
    assert ("g_id" in rows_a) == with_id and rows_a.get("g_id") == rows_b.get("g_id")
    # The rate is 2e-4 (the default) for the first half, then falls linearly: 3/3, 2/3, 1/3 of
    # it for the last three updates; the factor after the last update is 0 (loop.lr_factor).
    assert rows_a["lr_g"] == pytest.approx([2e-4, 2e-4, 2e-4, 2e-4, 4e-4 / 3, 2e-4 / 3], rel=1e-5)
    assert rows_a["lr_d"] == rows_a["lr_g"]
    assert (straight / "generator.safetensors").is_file() and (straight / "samples").is_dir()


def test_sigterm_stops_a_stargan_run_with_exit_75_and_a_checkpoint(tmp_path, monkeypatch, capsys):
    """``ganforge train`` in this process (a real SIGTERM to it, during step 3's log row): the
    StarGAN game's checkpoint on stop and the CLI's exit code. A child process killed for real
    is tests/training/test_hardening.py's and test_loop.py's job (the signal path is the loop's,
    the same for every game)."""
    import ganforge.training

    run = tmp_path / "run"
    cfg = loop_config(tmp_path, run, "train.steps=1000000")
    cfg.save(tmp_path / "config.yaml")
    real_train = ganforge.training.train

    def sigterm_at_3(state, row):  # a SIGTERM during step 3's log row: stops after step 4
        if state.step == 3:
            os.kill(os.getpid(), signal.SIGTERM)

    def train_with_hook(cfg, resume=False):
        return real_train(cfg, resume, on_log=sigterm_at_3)

    monkeypatch.setattr(ganforge.training, "train", train_with_hook)
    with pytest.raises(SystemExit) as stop:
        main(["train", "--config", str(tmp_path / "config.yaml")])
    err = capsys.readouterr().err
    assert stop.value.code == 75, err
    assert "checkpoint written" in err
    # Step 4 is no multiple of train.checkpoint_every=3: the checkpoint written on stopping.
    assert load_checkpoint(latest_checkpoint(run))["step"] == 4
