"""The translation benchmarks' own logic: the table's gap arithmetic, the own-pair folders,
and the CycleGAN throughput path through ``train`` (tiny networks, no timing asserted)."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))  # the scripts import their siblings by name
    monkeypatch.chdir(BENCH.parent)  # presets are found relative to the repository root
    yield
    for name in (
        "translation_table",
        "translation_own_pair",
        "throughput_cyclegan",
        "cyclegan_reference",
        "translation_tint_errors",
        "translation_edge_errors",
        "translation_edge_shift",
        "translation_tint_probe",
        "translation_loss_balance",
        "translation_tint_warp",
        "translation_tint_gradients",
        "probe_output",
        "translation_step_cost",
    ):
        sys.modules.pop(name, None)


def test_table_trains_each_pair_against_its_own_paired_bound(bench):
    import translation_table as table

    from ganforge.config import load_config

    assert set(table.PIX2PIX) == set(table.PAIRS)
    for pair, preset in table.PIX2PIX.items():
        cfg = load_config(preset, [])
        assert (cfg.model.name, cfg.data.name) == ("pix2pix", pair)


def test_table_reports_the_share_of_the_gap_closed(bench):
    import translation_table as table

    rows = [
        {"pair": "fmnist-edges", "seed": 0, "method": "identity", "mae": 0.4, "psnr": 6.0, "edge_iou": 0.2},
        {
            "pair": "fmnist-edges",
            "seed": 0,
            "method": "cyclegan",
            "mae": 0.25,
            "psnr": 9.0,
            "edge_iou": 0.5,
            "steps": 3,
            "seconds_per_step": 1.0,
            "cpu_seconds_per_step": 0.5,
        },
        {"pair": "fmnist-edges", "seed": 0, "method": "pix2pix", "mae": 0.1, "psnr": 11.0, "edge_iou": 0.8},
    ]
    (line,) = table.gap_lines(rows)
    assert "mae 50 %" in line and "psnr 60 %" in line and "edge_iou 50 %" in line
    text = table.markdown(rows, "cmd", "now")
    assert "| fmnist-edges | cyclegan | 0 | 3 | 1.00 (0.50) |" in text and "| 0.625 |" in text  # x identity


def test_own_pair_is_an_unpaired_layout_with_true_test_pairs(bench, tmp_path):
    import translation_own_pair as own

    from ganforge.config import load_config
    from ganforge.data.translation import load_translation

    root = own.write_pair(tmp_path)
    cfg = load_config(
        None, ["data.name=unpaired", f"data.root={root}", "data.image_size=28", "data.channels=1"]
    )
    data = load_translation(cfg.data, paired=False)
    assert (len(data.train_a), len(data.train_b), len(data.test_a)) == (700, 700, 397)
    a, b = data.test_a.numpy().astype(int), data.test_b.numpy().astype(int)
    assert (b >= a).all() and (b > a).mean() > 0.1  # thickened: never less ink, often more


def test_cyclegan_throughput_trains_through_the_loop(bench, monkeypatch):
    import throughput_cyclegan as cg

    monkeypatch.setattr(cg, "SIZE", 32)
    monkeypatch.setattr(cg, "WIDTH", 4)
    monkeypatch.setattr(cg, "BLOCKS", 1)
    monkeypatch.setattr(cg, "VARIANTS", {"ganforge-fp32": cg.PLAIN})
    measured = cg.measure(torch.device("cpu"), warmup=1, steps=1, repeats=1, variants=["ganforge-fp32"])
    (seconds,) = measured["seconds_per_step"]["ganforge-fp32"]
    assert np.isfinite(seconds) and seconds > 0
    assert "precision=fp32" in measured["plans"]["ganforge-fp32"]


def test_step_cost_times_each_variant_beside_the_preset(bench, monkeypatch, capsys, tmp_path, write_pairs):
    import json

    import translation_step_cost as cost
    from tiny_translation import SIZE, tiny_translation

    sets = tiny_translation("cyclegan", write_pairs(tmp_path, SIZE, train=8, test=2))
    tiny = [arg for s in sets for arg in ("--set", s)]
    argv = ["x", *tiny, "--variant", "train.identity_weight=0", "--iterations", "1", "--warmup", "1"]
    monkeypatch.setattr(sys, "argv", [*argv, "--rounds", "1"])
    cost.main()
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["variant"] for r in rows] == ["preset", "train.identity_weight=0"]
    assert rows[0]["x_preset"] == 1 and rows[1]["cpu_s_per_iteration"] > 0
    monkeypatch.setattr(sys, "argv", [*argv, "--rounds", "1", "--clock", "wall", "--threads", "2"])
    cost.main()  # the clock, for what two threads (and train.lanes) buy
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows[1]["wall_s_per_iteration"] > 0 and torch.get_num_threads() == 2


def test_tint_errors_split_a_wrong_map_from_blur(bench, capsys):
    import translation_tint_errors as tint

    rng = np.random.default_rng(0)
    gray = rng.choice([0, 64, 128, 192], (4, 8, 8)).astype(np.uint8)  # ~64 pixels per level
    true = np.repeat(gray[:, None].astype(np.float64), 3, 1)
    tint.split_by_level(gray, true + 10, true)  # the same wrong colour for every level, no spread
    lines = capsys.readouterr().out.splitlines()
    assert (
        lines[0] == f"MAE {10 / 255:.4f}"
        and lines[1].endswith(f"{10 / 255:.4f}")
        and lines[2].endswith("0.0000")
    )
    noisy = true + rng.choice([-10.0, 10.0], true.shape)  # right on average per level, scattered
    tint.split_by_level(gray, noisy, true)
    lines = capsys.readouterr().out.splitlines()
    assert float(lines[1].split()[-1]) < 0.5 * float(lines[0].split()[-1])


def test_edge_errors_tell_an_offset_outline_from_speckle_and_gray_levels(bench):
    import translation_edge_errors as edge

    true = np.zeros((2, 1, 12, 12), np.uint8)
    true[:, 0, 5] = 255  # a one-pixel horizontal line
    garment = np.zeros_like(true)
    garment[:, 0, 6:] = 200  # the line is the background row just above a garment's top
    shifted = np.roll(true, 1, axis=2)  # the same line one pixel lower: on the garment
    found = edge.describe(shifted, true, garment)
    assert found["recall"] == 0 and found["recall ~1px"] == 1 and found["precision ~1px"] == 1
    assert found["FP far %"] == 0 and found["FP near %"] > 0 and found["miss %"] == 0
    speckle = true.copy()
    speckle[:, 0, 0, ::2] = 255  # dots far from the line
    found = edge.describe(speckle, true, garment)
    assert found["recall out"] == 1 and found["recall in"] == 0  # true edges: all on the background
    assert found["recall"] == 1 and found["FP near %"] == 0
    assert found["FP far %"] == pytest.approx(100 * 6 / 144)
    gray = (true * 0.6).astype(np.uint8)  # right place, level 153: thresholding recovers it exactly
    found = edge.describe(gray, true, garment)
    assert found["gray %"] == pytest.approx(100 * 12 / 144) and found["PSNR thr"] == 100 > found["PSNR"]


def test_edge_shift_moves_the_outline_onto_the_garment_and_a_probe_can_learn_a_difference(bench):
    import translation_edge_shift as shift

    from ganforge.data.translation import edges

    garment = np.zeros((1, 1, 12, 12), np.uint8)
    garment[0, 0, 3:9, 3:9] = 200  # a 6x6 square
    small = shift.shrink(garment)
    assert (small[0, 0, 4:8, 4:8] == 200).all() and (small > 0).sum() == 16  # the ring is gone
    true, inward, inner = edges(garment), shift.inward_maps(garment), shift.inner_maps(garment)
    assert (true[garment == 0] > 0).any()  # the Sobel outline straddles the silhouette ...
    assert (inward[garment == 0] == 0).all() and (inward > 0).sum() > 0  # ... the inward one does not
    assert (inner[garment == 0] == 0).all() and (inner == np.where(garment > 0, true, 0)).all()
    assert shift.auc(np.array([2.0, 3.0]), np.array([0.0, 1.0])) == 1.0
    assert shift.auc(np.array([1.0, 0.0]), np.array([1.0, 0.0])) == 0.5  # ties count half
    # The probe learns what separates two kinds of map (here: a line's row), held-out maps included.
    lines = np.zeros((40, 1, 12, 12), np.uint8)
    lines[:20, 0, 3] = 255
    lines[20:, 0, 8] = 255
    D = shift.train_probe(lines[:20], lines[20:], steps=60, width=4, d_layers=1)
    found = shift.separation(D, lines[:20], lines[20:], threshold=0.0)
    assert found["accuracy"] == 1.0 and found["auc"] == 1.0 and found["mean real"] > found["mean fake"]
    scored = shift.as_translation(true, true, garment)
    assert scored["mae"] == 0 and scored["edge_iou"] == 1


def test_tint_probe_transport_follows_the_histograms_not_the_pairs(bench):
    import translation_tint_probe as probe

    from ganforge.data.translation import tint

    rng = np.random.default_rng(0)
    gray_a = rng.integers(0, 256, (40, 8, 8)).astype(np.uint8)
    other = rng.integers(0, 256, (40, 1, 8, 8)).astype(np.uint8)  # B: other garments, same histogram
    table = tint(np.arange(256, dtype=np.uint8).reshape(1, 1, 1, 256))[0, :, 0].T.astype(np.float64)
    found = probe.transport_map(gray_a, tint(other))
    assert np.nanmean(np.abs(found - table)) < 6  # the true map, up to sampling
    brighter = np.minimum(other.astype(np.int64) + 60, 255).astype(np.uint8)  # B's garments brighter
    found = probe.transport_map(gray_a, tint(brighter))
    assert np.abs(found[100] - table[160]).max() < 12 and np.abs(found[100] - table[100]).max() > 30


def test_tint_probe_auc_and_fake_sets(bench):
    import translation_tint_probe as probe

    assert probe.auc(torch.tensor([2.0, 3.0]), torch.tensor([0.0, 1.0])) == 1
    assert probe.auc(torch.tensor([0.0, 1.0]), torch.tensor([2.0, 3.0])) == 0
    assert probe.auc(torch.tensor([1.0, 1.0]), torch.tensor([1.0, 1.0])) == 0.5
    rng = np.random.default_rng(0)
    gray = rng.choice([0, 96, 192], (6, 8, 8)).astype(np.uint8)
    true = probe.tint(gray[:, None]).astype(np.float64)
    pred = np.clip(true + 20 + rng.choice([-5.0, 5.0], true.shape), 0, 255).astype(np.uint8)
    sets = probe.fake_sets(gray, pred, true.astype(np.uint8))
    colour, blur = sets["its colour map alone (sharp)"], sets["true colours + its scatter (blur alone)"]
    garment = gray > 0
    assert np.abs(colour.astype(float) - true).transpose(0, 2, 3, 1)[garment].mean() > 10  # the offset
    assert np.abs(blur.astype(float) - true).transpose(0, 2, 3, 1)[garment].mean() < 10  # scatter only


def test_tint_probe_critic_learns_a_colour_shift(bench):
    import translation_tint_probe as probe

    from ganforge.data.translation import tint

    rng = np.random.default_rng(0)
    gray = rng.choice([0, 96, 192], (96, 1, 8, 8)).astype(np.uint8)
    real = torch.from_numpy(tint(gray))
    fake = real.clone()
    fake[:, 2] = torch.where(torch.from_numpy(gray[:, 0]) > 0, 255, 0)  # blue saturated on the garment
    row = probe.train_critic(probe.pixel_net, real, fake, held=16, steps=60, seed=0)
    assert row["acc"] > 0.9 and row["auc"] > 0.95


def test_tint_probe_texture_split_tells_flat_pixels_from_edges(bench):
    import translation_tint_probe as probe

    gray = np.zeros((1, 12, 12), np.uint8)
    gray[0, 2:10, 2:10] = 128  # a flat square: its inside is flat, its rim is an edge
    true = probe.tint(gray[:, None]).astype(np.float64)
    pred = true.copy()
    pred[:, :, 3:9, 3:9] += 10  # the inside's colour is off by 10 levels; the rim is right
    split = probe.texture_split(gray, pred, true)
    assert split["spread 0-8"]["share"] == pytest.approx(36 / 144)
    assert split["spread 0-8"]["mae"] == pytest.approx(10 / 255, abs=1e-4)
    assert split["spread 0-8"]["level_mean_mae"] == split["spread 0-8"]["mae"]
    assert split["spread 60-255"]["mae"] == 0  # the rim (spread 128)
    assert "spread 9-24" not in split  # no pixel there


@pytest.fixture(scope="module")
def tiny_tint_run(tmp_path_factory):
    """A 3-step CycleGAN run on 32 fmnist-tint garments (tiny nets), a checkpoint at every step."""
    from ganforge.config import load_config
    from ganforge.training import train

    run = tmp_path_factory.mktemp("tint-run")
    sets = ["data.limit=32", "model.g_width=4", "model.d_width=4", "train.steps=3", "train.batch_size=4"]
    sets += ["train.checkpoint_every=1", "train.sample_every=1000", "eval.every=0", "run.progress=false"]
    train(load_config(str(BENCH.parent / "configs/cyclegan-fmnist-tint.yaml"), [*sets, f"run.dir={run}"]))
    return run


def test_loss_balance_terms_are_the_games_and_sum_to_its_gradient(bench, tiny_tint_run):
    import translation_loss_balance as balance

    from ganforge.checkpoint import list_checkpoints

    game, step = balance.load_game(list_checkpoints(tiny_tint_run)[-1])
    assert step == 3
    real_a, real_b = game.dataset.train_a[:4], game.dataset.train_b[4:8]
    mean_map = balance.colour_map(game.G_AB, game.dataset.train_a[:16])
    found = balance.batch_gradients(game, real_a, real_b, mean_map)
    params = list(game.G_AB.parameters())
    _, _, stats = game.g_step(balance.to_unit(real_a), balance.to_unit(real_b))  # the game's own step
    game_grad = torch.cat([p.grad.flatten() for p in params])
    _, _, terms = game.g_losses(balance.to_unit(real_a), balance.to_unit(real_b))
    assert set(terms) == set(balance.TERMS)  # the preset has every term
    ours = sum(found["param"][n] for n in balance.TERMS)
    assert torch.allclose(ours, game_grad, rtol=1e-4, atol=1e-7)  # the terms add up to g_step's gradient
    for name in ("loss_G_BA", "loss_idt_A", "loss_marginal_A"):  # G_BA-only terms do not reach G_AB
        assert found["param"][name].abs().max() == 0
    reaching = ("loss_G_AB", "loss_cycle_A", "loss_cycle_B", "loss_idt_B", "loss_marginal_B")
    for name in (*reaching, balance.SUPERVISED):
        assert found["param"][name].norm() > 0
    assert set(found["output"]) == {"loss_G_AB", "loss_cycle_A"}
    # the map's error and the scatter add up to the error: their components along them too
    truth = balance.to_unit(torch.from_numpy(balance.tint(real_a[:, :1].numpy())))
    with torch.no_grad():
        o = game.G_AB(balance.to_unit(real_a))
    mapped = mean_map[real_a[:, 0].long()].permute(0, 3, 1, 2)
    assert torch.allclose((truth - mapped) + (mapped - o), truth - o, atol=1e-6)
    summary = balance.probe_checkpoint(list_checkpoints(tiny_tint_run)[0], batches=2, batch_size=4, seed=0)
    assert summary["step"] == 1 and summary["params"]["loss_G_BA"]["norm"] == 0
    assert 0 < summary["batch_mae_to_truth"] < 1


def test_loss_balance_summary_measures_alignment_with_the_truth(bench):
    import translation_loss_balance as balance

    e = torch.eye(3)
    batch = {  # the truth's gradient along e0; GAN along it, the cycle against it, the identity across
        balance.SUPERVISED: e[0],
        balance.SUPERVISED_L1: e[1],
        "loss_G_AB": 0.5 * e[0],
        "loss_cycle_A": -2 * e[0],
        "loss_cycle_B": 3 * e[1],
        "loss_idt_B": torch.zeros(3),
    }
    out = {n: {"cos_to_truth": 1.0, "along_truth": 1.0, "norm": 1.0} for n in ("loss_G_AB", "loss_cycle_A")}
    scale = torch.tensor([2.0, 1.0, 1.0])  # Adam steps twice as far along e0
    found = balance.summarise([{"param": batch, "output": out, "mae_to_truth": 0.1}] * 2, scale)
    rows = found["params"]
    assert rows["loss_G_AB"]["cos_to_truth"] == pytest.approx(1)
    assert rows["loss_cycle_A"]["cos_to_truth"] == pytest.approx(-1)
    assert rows["loss_cycle_B"]["cos_to_truth"] == pytest.approx(0)
    assert rows["loss_G_AB"]["norm_over_reconstruction"] == pytest.approx(0.5 / 13**0.5)
    assert rows["loss_G_AB"]["adam_truth_progress"] == pytest.approx(1.0)  # 1 * 2 * 0.5
    assert rows["loss_cycle_A"]["adam_truth_progress"] == pytest.approx(-4.0)
    assert rows["all terms (the step)"]["adam_truth_progress"] == pytest.approx(-3.0)
    assert found["cosines"]["loss_G_AB . loss_cycle_A"] == pytest.approx(-1)
    assert rows["loss_cycle_B"]["cos_to_truth_l1"] == pytest.approx(1)


def test_loss_balance_colour_map_is_the_mean_output_per_gray_level(bench):
    import translation_loss_balance as balance

    gray = torch.zeros(2, 3, 4, 4, dtype=torch.uint8)
    gray[0, :, :2] = 100
    gray[1, :, :1] = 200
    G = lambda x: torch.where(x[:, :1] > 0, 0.5, -0.5).expand(-1, 3, -1, -1)  # noqa: E731  (200 -> +0.5)
    found = balance.colour_map(G, gray)
    assert found[200].tolist() == [0.5] * 3 and found[100].tolist() == [-0.5] * 3
    true = balance.to_unit(torch.from_numpy(balance.tint(np.full((1, 1, 1, 1), 50, np.uint8))))
    assert torch.allclose(found[50], true.flatten())  # an absent level: the true colour


def test_loss_balance_playing_on_at_rate_zero_changes_nothing(bench, tiny_tint_run):
    import translation_loss_balance as balance

    from ganforge.checkpoint import list_checkpoints

    first = list_checkpoints(tiny_tint_run)[0]
    frozen = balance.continue_at(first, steps=2, factor=0.0, every=1, n_test=8)
    moving = balance.continue_at(first, steps=2, factor=1.0, every=1, n_test=8)
    assert [s for s, _ in frozen] == [1, 2, 3] and frozen[0] == moving[0]
    assert frozen[0][1] == frozen[-1][1] != moving[-1][1]  # Adam with lr 0 leaves G_AB as it was


def test_tint_warp_level_means_and_fill(bench):
    import translation_tint_warp as warp

    gray = np.array([[[0, 0], [5, 7]]], np.uint8)  # [N, H, W]
    values = np.array([[[[1.0, 3.0], [10.0, 20.0]]]])  # one channel
    means = warp.level_means(gray, values)
    assert means[0, 0] == 2 and means[5, 0] == 10 and means[7, 0] == 20
    assert np.isnan(means[6, 0])  # a level that never occurs
    filled = warp.fill(means[:, 0])
    assert filled[6] == 15 and filled[255] == 20  # interpolated between, held beyond


def test_tint_warp_reads_an_earlier_checkpoints_generators(bench, tiny_tint_run):
    import translation_tint_warp as warp

    from ganforge.checkpoint import load_checkpoint

    first = load_checkpoint(tiny_tint_run / "checkpoints" / "step_0000001.pt")
    early, last = warp.generators(str(tiny_tint_run), 1), warp.generators(str(tiny_tint_run), None)
    for net, saved in zip(early, (first["G_AB"], first["G_BA"])):
        assert all(torch.equal(v, saved[k]) for k, v in net.state_dict().items())
    # the exports are step 3's: the default must not be step 1's weights
    assert any(not torch.equal(v, first["G_AB"][k]) for k, v in last[0].state_dict().items())


def test_tint_warp_reads_the_averages_of_a_run_that_kept_them(bench, tiny_tint_run, monkeypatch):
    """With ``train.ema_decay`` a checkpoint also holds ``G_AB_ema`` / ``G_BA_ema``: those are what
    the run exports and translates with, so ``--step`` reads them too."""
    import translation_tint_warp as warp

    from ganforge.checkpoint import load_checkpoint

    payload = load_checkpoint(tiny_tint_run / "checkpoints" / "step_0000001.pt")
    for key in ("G_AB", "G_BA"):  # stand-in averages, unlike the trained weights
        payload[f"{key}_ema"] = {k: v * 0.5 if v.is_floating_point() else v for k, v in payload[key].items()}
    monkeypatch.setattr(warp, "load_checkpoint", lambda path: payload)
    for net, key in zip(warp.generators(str(tiny_tint_run), 1), ("G_AB", "G_BA")):
        assert all(torch.equal(v, payload[f"{key}_ema"][k]) for k, v in net.state_dict().items())


def test_tint_gradients_alignment_reads_a_push_toward_the_truth(bench, tmp_path):
    import probe_output
    import translation_tint_gradients as grads

    torch.manual_seed(0)
    y, b = torch.zeros(2, 3, 4, 4), torch.rand(2, 3, 4, 4)
    masks = {"all": np.ones((2, 4, 4), bool)}
    found = grads.alignment(y, b, {"toward": -(b - y), "away": b - y}, masks)["all"]
    assert found["toward"]["cos_with_error"] == pytest.approx(1, abs=1e-3)
    assert found["away"]["cos_with_error"] == pytest.approx(-1, abs=1e-3)
    assert found["sum"]["rms_grad"] == 0  # the two terms cancel
    probe_output.emit(found, str(tmp_path / "out.json"))
    assert (tmp_path / "out.json").read_text().count("cos_with_error") == 3
