"""DDP on CPU (gloo, 2 processes): a 2-process run equals a 1-process run of the same global
batch, writes the same checkpoint format, and resumes exactly.

The 2-process runs are launched once by torchrun itself, with this file as the script
(see ``__main__`` at the bottom), exactly as a user launches ``-m ganforge train``: one launch
trains every game's runs (each launch costs torchrun's and two workers' start-up).
"""

import shutil
import subprocess
import sys

import pytest
import torch

from ganforge.checkpoint import latest_checkpoint, load_checkpoint
from ganforge.config import ConfigError, load_config
from ganforge.training import train
from ganforge.training.distributed import DistContext, ShardedSampler, check_batch, shard_rows
from ganforge.training.log import read_metrics
from ganforge.training.sampler import EpochSampler

WORLD = 2


def digits_config(run_dir, *overrides):
    """The MLP GAN on 8x8 digits (no batch norm, so 1 and 2 processes compute the same)."""
    return load_config(
        None,
        [
            f"run.dir={run_dir}",
            "run.progress=false",
            "data.name=digits",
            "model.name=mlp",
            "model.g_width=64",
            "model.d_width=64",
            "model.z_dim=16",
            "train.batch_size=32",
            "train.log_every=2",
            "train.sample_every=1000",
            "train.checkpoint_every=6",
            "train.ema_decay=0.9",
            *overrides,
        ],
    )


def dcgan_config(run_dir, *overrides):
    """A tiny DCGAN (batch norm in G and D) on the digits upscaled to 28 px."""
    return load_config(
        None,
        [
            f"run.dir={run_dir}",
            "run.progress=false",
            "data.name=digits",
            "data.image_size=28",
            "model.name=dcgan",
            "model.g_width=8",
            "model.d_width=8",
            "model.z_dim=16",
            "train.batch_size=16",
            "train.steps=4",
            "train.log_every=1",
            "train.sample_every=1000",
            "train.checkpoint_every=4",
            *overrides,
        ],
    )


def ddp_trainings(root: str) -> None:
    """What each torchrun process runs (the group is set up by the first ``train``)."""
    torch.set_num_threads(1)
    train(digits_config(f"{root}/ddp", "train.steps=12"))
    # Split run: 6 steps, then resume to 12 (all ranks read rank 0's checkpoint).
    train(digits_config(f"{root}/ddp_split", "train.steps=6"))
    train(digits_config(f"{root}/ddp_split", "train.steps=12"), resume=True)
    train(dcgan_config(f"{root}/ddp_dcgan"))


@pytest.fixture(scope="module")
def ddp_launch(tmp_path_factory):
    """Run every 2-process training of this module in one torchrun launch; returns the root:
    ``digits/`` (ddp_trainings), ``stargan/ddp`` and ``cyclegan/`` (cyclegan_trainings)."""
    root = tmp_path_factory.mktemp("ddp")
    write_unpaired(root / "cyclegan")
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={WORLD}",
        __file__,
        str(root),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return root


@pytest.fixture(scope="module")
def ddp_runs(ddp_launch):
    return ddp_launch / "digits"


def test_two_processes_match_one_process_of_the_global_batch(ddp_runs, tmp_path):
    single = train(digits_config(tmp_path / "single", "train.steps=12"))
    one, two = read_metrics(tmp_path / "single/metrics.csv"), read_metrics(ddp_runs / "ddp/metrics.csv")
    assert one["step"] == two["step"] == [2, 4, 6, 8, 10, 12]
    # Same batches and noise, gradients averaged over the ranks: only the order of float
    # additions differs (the all-reduce sums per-rank means), so agreement is to ~1e-6.
    for name in ("d_loss", "g_loss", "d_real", "d_fake"):
        assert one[name] == pytest.approx(two[name], rel=1e-4, abs=1e-5), name
    ddp_payload = load_checkpoint(latest_checkpoint(ddp_runs / "ddp"))
    for name in ("G", "D", "G_ema"):
        expected = getattr(single, name).state_dict()
        assert list(ddp_payload[name]) == list(expected), name  # no DDP "module." prefixes
        for key, value in expected.items():
            torch.testing.assert_close(ddp_payload[name][key], value, rtol=1e-4, atol=1e-5)


def test_resume_under_ddp_continues_exactly(ddp_runs):
    straight, split = ddp_runs / "ddp", ddp_runs / "ddp_split"
    a_rows, b_rows = read_metrics(straight / "metrics.csv"), read_metrics(split / "metrics.csv")
    for name in ("step", "d_loss", "g_loss", "d_real", "d_fake"):
        assert a_rows[name] == b_rows[name], name
    a = load_checkpoint(latest_checkpoint(straight))
    b = load_checkpoint(latest_checkpoint(split))
    assert a["step"] == b["step"] == 12
    for name in ("G", "D"):
        for key in a[name]:
            assert torch.equal(a[name][key], b[name][key]), (name, key)


def test_a_ddp_checkpoint_resumes_in_one_process(ddp_runs, tmp_path):
    run = tmp_path / "moved"
    shutil.copytree(ddp_runs / "ddp", run)
    state = train(digits_config(run, "train.steps=14"), resume=True)
    assert state.step == 14
    assert read_metrics(run / "metrics.csv")["step"][-1] == 14


def test_ddp_with_batch_norm_trains_and_keeps_the_checkpoint_format(ddp_runs, tmp_path):
    single = train(dcgan_config(tmp_path / "single"))
    payload = load_checkpoint(latest_checkpoint(ddp_runs / "ddp_dcgan"))
    reference = load_checkpoint(latest_checkpoint(tmp_path / "single"))
    for name in ("G", "D", "opt_g", "opt_d", "sampler"):
        assert payload[name].keys() == reference[name].keys(), name
    for key, value in single.D.state_dict().items():
        assert payload["D"][key].shape == value.shape, key
    # Without SyncBatchNorm (CUDA only) each rank normalises over its 8 of the 16 examples,
    # so the runs differ from the first step on (by ~1e-3 in the losses when this was
    # written); same weights, data and noise keep them close over these 4 steps.
    one = read_metrics(tmp_path / "single/metrics.csv")
    two = read_metrics(ddp_runs / "ddp_dcgan/metrics.csv")
    assert one["step"] == two["step"] == [1, 2, 3, 4]
    for name in ("d_loss", "g_loss"):
        assert one[name] == pytest.approx(two[name], abs=0.02), name


def test_sharded_sampler_splits_each_global_batch():
    single = EpochSampler(40, 8, seed=3, device=torch.device("cpu"))
    ranks = [
        ShardedSampler(40, 8, 3, torch.device("cpu"), DistContext(rank=r, world_size=2)) for r in range(2)
    ]
    for _ in range(7):  # across an epoch boundary
        expected = single.next()
        assert torch.equal(torch.cat([r.next() for r in ranks]), expected)
    assert ranks[0].state_dict()["position"] == single.state_dict()["position"]


def test_global_batch_must_split_evenly_and_rows_are_sharded():
    with pytest.raises(ConfigError, match="multiple of 3"):
        check_batch(64, DistContext(rank=0, world_size=3))
    rows = torch.arange(12).view(6, 2)
    assert torch.equal(shard_rows(rows, DistContext(rank=1, world_size=3)), rows[2:4])
    assert shard_rows(rows, DistContext()) is rows


def stargan_config(run_dir, *overrides):
    """A tiny StarGAN on fmnist-styles (instance norm only: 1 and 2 processes compute the same)."""
    return load_config(
        None,
        [
            f"run.dir={run_dir}",
            "run.progress=false",
            "model.name=stargan",
            "data.name=fmnist-styles",
            "data.limit=64",
            "data.image_size=12",
            "model.g_width=4",
            "model.d_width=8",
            "model.res_blocks=1",
            "train.loss=wgan-gp",
            "train.batch_size=8",
            "train.d_steps=2",
            "train.steps=4",
            "train.log_every=1",
            "train.sample_every=1000",
            "train.checkpoint_every=4",
            "train.precision=fp32",
            "train.memory_format=contiguous",
            *overrides,
        ],
    )


def test_stargan_under_ddp_matches_one_process_of_the_global_batch(ddp_launch, tmp_path):
    """Every rank draws the global batch, its target permutation and the penalty's weights
    and keeps its rows (games/stargan.py), so 2 gloo processes train as 1 process does."""
    ddp = ddp_launch / "stargan" / "ddp"
    single = train(stargan_config(tmp_path / "single"))
    one, two = read_metrics(tmp_path / "single/metrics.csv"), read_metrics(ddp / "metrics.csv")
    assert one["step"] == two["step"] == [1, 2, 3, 4]
    for name in ("d_loss", "g_loss", "g_rec", "d_cls", "gp", "g_cls"):
        assert one[name] == pytest.approx(two[name], rel=1e-4, abs=1e-5), name
    payload = load_checkpoint(latest_checkpoint(ddp))
    for name in ("G", "D"):
        expected = single.game.nets[name].state_dict()
        assert list(payload[name]) == list(expected), name  # no DDP "module." prefixes
        diff = torch.cat([(payload[name][k] - v).abs().flatten() for k, v in expected.items()])
        # Adam divides by the gradient's running RMS, so a weight whose gradient is ~0 may step
        # either way on float-order noise (one step is at most ~lr = 2e-4); all others agree.
        assert (diff > 1e-5).float().mean() < 0.03 and diff.max() < 8 * 2e-4, (name, diff.max())


def test_sync_batchnorm_on_cpu_is_a_clear_error_and_a_no_op_alone():
    from torch import nn

    from ganforge.training.distributed import wrap

    module = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4))
    with pytest.raises(ConfigError, match="sync_batchnorm needs CUDA"):
        wrap(module, DistContext(rank=0, world_size=2), torch.device("cpu"), sync_batchnorm=True)
    assert wrap(module, DistContext(), torch.device("cpu"), sync_batchnorm=True) is module


# --- CycleGAN under DDP (a translation game: four DDP-wrapped nets, two image pools) --------


def cyclegan_config(root, run, *overrides):
    """A tiny CycleGAN (instance norm: per image, so slicing the batch changes nothing)."""
    return load_config(
        None,
        [
            f"run.dir={root}/{run}",
            "run.progress=false",
            "model.name=cyclegan",
            "data.name=unpaired",
            f"data.root={root}/pairs",
            "data.image_size=16",
            "model.d_layers=1",
            "data.channels=1",
            "model.g_width=4",
            "model.d_width=4",
            "model.res_blocks=1",
            "train.batch_size=4",
            "train.loss=lsgan",
            "train.steps=4",
            "train.log_every=1",
            "train.sample_every=1000",
            "train.checkpoint_every=4",
            "train.precision=fp32",
            "train.memory_format=contiguous",
            "train.pool_size=0",
            *overrides,
        ],
    )


def write_unpaired(root) -> None:
    """``root/pairs/trainA..testB``: 16 random gray 16 px images per domain (B brighter)."""
    from PIL import Image

    generator = torch.Generator().manual_seed(0)
    for folder, scale in (("trainA", 120), ("trainB", 250), ("testA", 120), ("testB", 250)):
        (root / "pairs" / folder).mkdir(parents=True)
        for i in range(16 if folder.startswith("train") else 4):
            pixels = (torch.rand(16, 16, generator=generator) * scale).to(torch.uint8).numpy()
            Image.fromarray(pixels).save(root / "pairs" / folder / f"{i:02d}.png")
            # The paired layout for pix2pix: train|test/A, B (B: A inverted).
            split = "train" if folder.startswith("train") else "test"
            for side, image in (("A", pixels), ("B", 255 - pixels)):
                (root / "paired" / split / side).mkdir(parents=True, exist_ok=True)
                Image.fromarray(image).save(root / "paired" / split / side / f"{folder}{i:02d}.png")


def cyclegan_trainings(root: str) -> None:
    """Each rank trains, then saves its own nets (rank 1's never reach a checkpoint)."""
    torch.set_num_threads(1)
    paired = (f"data.root={root}/paired", "data.name=paired", "model.name=pix2pix")
    for run, extra in (("cyc", ()), ("cyc_pool", ("train.pool_size=6",)), ("p2p", paired)):
        state = train(cyclegan_config(root, run, *extra))
        nets = {key: net.state_dict() for key, net in state.game.nets.items()}
        torch.save(nets, f"{root}/{run}-rank{state.dist.rank}.pt")


@pytest.fixture(scope="module")
def cyclegan_ddp_runs(ddp_launch):
    return ddp_launch / "cyclegan"


def test_cyclegan_under_ddp_matches_one_process_and_the_ranks_agree(cyclegan_ddp_runs):
    root = cyclegan_ddp_runs
    single = train(cyclegan_config(root, "single"))
    one, two = read_metrics(root / "single/metrics.csv"), read_metrics(root / "cyc/metrics.csv")
    assert one["step"] == two["step"] == [1, 2, 3, 4]
    # Same batches and weights; only the order of float additions differs (per-rank means,
    # then the all-reduce), which Adam's first, sign-like steps amplify to ~1e-4 here.
    for name in ("loss_G", "loss_cycle_A", "loss_cycle_B", "loss_D_A", "loss_D_B"):
        assert one[name] == pytest.approx(two[name], rel=1e-3), name
    ranks = [torch.load(root / f"cyc-rank{r}.pt", weights_only=True) for r in range(WORLD)]
    payload = load_checkpoint(latest_checkpoint(root / "cyc"))
    # Adam moves a weight by at most ~lr per step, so where a gradient is ~0 a rounding
    # difference may flip a step's sign: at most 2 * lr * steps apart, and rarely.
    bound, differences = 2 * 2e-4 * 4, []
    for key, net in single.game.nets.items():
        for name, value in net.state_dict().items():
            # Each rank trained on its half of every global batch; DDP averaged the gradients.
            assert torch.equal(ranks[0][key][name], ranks[1][key][name]), (key, name)
            assert torch.equal(payload[key][name], ranks[0][key][name]), (key, name)
            differences.append((ranks[0][key][name] - value).abs().flatten())
    differences = torch.cat(differences)
    assert differences.max() <= bound and (differences > 1e-5).float().mean() < 0.02


@pytest.mark.parametrize("run", ["cyc_pool", "p2p"])
def test_translation_ddp_keeps_the_ranks_in_step(cyclegan_ddp_runs, run):
    """CycleGAN with pools (each rank's own), pix2pix (batch norm per rank): same weights."""
    root = cyclegan_ddp_runs
    ranks = [torch.load(root / f"{run}-rank{r}.pt", weights_only=True) for r in range(WORLD)]
    for key in ranks[0]:
        for name, value in ranks[0][key].items():
            if "running_" in name or "num_batches" in name:
                continue  # batch-norm statistics: each rank's own slices (see distributed.wrap)
            assert torch.equal(value, ranks[1][key][name]), (key, name)
    assert load_checkpoint(latest_checkpoint(root / run))["step"] == 4


def test_cyclegan_ddp_pools_hold_each_ranks_own_fakes(cyclegan_ddp_runs):
    payload = load_checkpoint(latest_checkpoint(cyclegan_ddp_runs / "cyc_pool"))
    # Rank 0's pools hold its own shard's fakes: 2 per step, so 6 after 3 of the 4 steps.
    assert payload["pool_a"]["count"] == payload["pool_b"]["count"] == 6


if __name__ == "__main__":  # a torchrun worker, see ddp_launch
    ddp_trainings(f"{sys.argv[1]}/digits")
    train(stargan_config(f"{sys.argv[1]}/stargan/ddp"))
    cyclegan_trainings(f"{sys.argv[1]}/cyclegan")
