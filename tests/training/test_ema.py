"""The EMA generator (train.ema_decay > 0) is the one a run's users get: exported, sampled,
drawn in the grids and scored for generator-best."""

import torch
from safetensors.torch import load_file

from ganforge.checkpoint import load_generator
from ganforge.games.gan import bn_stats_inputs
from ganforge.training import train
from ganforge.training.steps import recompute_bn_stats


def test_the_ema_generator_is_exported_sampled_and_scored(tmp_path, tiny_dcgan):
    state = train(tiny_dcgan(tmp_path / "r", "train.steps=6", "train.ema_decay=0.5"))
    game = state.game
    assert game.G_ema is not None and game.sampling_G is game.G_ema
    # generator.safetensors holds G_ema's weights, not G's (they differ after 6 updates)
    exported = load_file(tmp_path / "r" / "generator.safetensors")
    ema, raw = game.G_ema.state_dict(), game.G.state_dict()
    weights = [k for k in ema if "running" not in k and "num_batches" not in k]
    assert all(torch.equal(exported[k], ema[k].cpu()) for k in weights)
    assert not all(torch.equal(exported[k], raw[k].cpu()) for k in weights)
    G, meta = load_generator(tmp_path / "r")
    assert meta["ema"] is True
    # `ganforge sample` / eval rebuild that G; the during-training scorer reads inference()
    assert torch.equal(G.state_dict()[weights[0]], ema[weights[0]].cpu())
    assert game.inference()["generator"][0] is game.G_ema


def test_without_ema_the_trained_generator_is_exported(tmp_path, tiny_dcgan):
    state = train(tiny_dcgan(tmp_path / "r", "train.steps=4"))
    assert state.game.G_ema is None and state.game.sampling_G is state.game.G
    exported = load_file(tmp_path / "r" / "generator.safetensors")
    assert all(torch.equal(exported[k], v.cpu()) for k, v in state.game.G.state_dict().items())
    assert load_generator(tmp_path / "r")[1]["ema"] is False


# --- train.ema_bn_stats=recompute ------------------------------------------------------------


def test_recompute_bn_stats_is_the_average_over_the_given_batches():
    torch.manual_seed(0)
    G = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3)).eval()
    G[1].running_mean.fill_(5.0)  # stale statistics, as copied from another network
    weights = G[0].weight.clone()
    inputs = [(torch.randn(16, 4) * (i + 1),) for i in range(3)]
    recompute_bn_stats(G, inputs)
    hidden = [G[0](z) for (z,) in inputs]
    expected_mean = torch.stack([h.mean(0) for h in hidden]).mean(0)
    expected_var = torch.stack([h.var(0, unbiased=True) for h in hidden]).mean(0)
    assert torch.allclose(G[1].running_mean, expected_mean, atol=1e-6)
    assert torch.allclose(G[1].running_var, expected_var, atol=1e-5)
    assert torch.equal(G[0].weight, weights) and not G.training and G[1].momentum == 0.1


def test_recompute_changes_only_the_ema_generators_statistics(tmp_path, tiny_dcgan):
    extra = ["train.steps=6", "train.ema_decay=0.5"]
    copied = train(tiny_dcgan(tmp_path / "copy", *extra)).game
    recomputed = train(tiny_dcgan(tmp_path / "re", *extra, "train.ema_bn_stats=recompute")).game
    # Training is the same run: G, D and G_ema's weights are equal bit for bit.
    for name in ("G", "D"):
        a, b = copied.nets[name].state_dict(), recomputed.nets[name].state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a), name
    a, b = copied.G_ema.state_dict(), recomputed.G_ema.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a if "running" not in k and "num_batches" not in k)
    # copy: the trained G's statistics; recompute: those of G_ema's own first-layer output.
    assert torch.equal(a["net.1.running_mean"], copied.G.state_dict()["net.1.running_mean"])
    exported = load_file(tmp_path / "re" / "generator.safetensors")
    assert not torch.allclose(exported["net.1.running_mean"], a["net.1.running_mean"])
    model = recomputed.cfg.model
    inputs = bn_stats_inputs(model.z_dim, model.noise, None, recomputed.cfg.run.seed)
    with torch.no_grad():
        first = recomputed.G_ema.net[0]
        means = torch.stack([first(z[:, :, None, None]).mean((0, 2, 3)) for (z,) in inputs]).mean(0)
    assert torch.allclose(exported["net.1.running_mean"], means, atol=1e-5)


def test_recompute_keeps_resume_bit_exact(tmp_path, tiny_dcgan):
    extra = ["train.ema_decay=0.5", "train.ema_bn_stats=recompute", "train.sample_every=2"]
    straight = train(tiny_dcgan(tmp_path / "a", "train.steps=8", *extra))
    train(tiny_dcgan(tmp_path / "b", "train.steps=4", *extra))
    resumed = train(tiny_dcgan(tmp_path / "b", "train.steps=8", *extra), resume=True)
    for name in ("G", "D", "G_ema"):
        a, b = straight.game.nets[name].state_dict(), resumed.game.nets[name].state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a), name
