"""``train.lanes``: CycleGAN's two directions side by side in two threads on a CPU
(``games/lanes.py``): the same training as one after the other (to float rounding), bit-exact
between same-seed runs and across a resume, and off where it is not safe."""

import shutil
import threading

import pytest
import torch
from tiny_translation import SIZE, tiny_translation

from ganforge.checkpoint import latest_checkpoint, load_checkpoint
from ganforge.config import load_config
from ganforge.games import GAMES
from ganforge.games.lanes import Lanes
from ganforge.training import train
from ganforge.training.distributed import DistContext
from ganforge.training.speed import SpeedPlan


@pytest.fixture(scope="module")
def folders(tmp_path_factory, write_pairs):
    return write_pairs(tmp_path_factory.mktemp("pairs"), SIZE, test=4)


@pytest.fixture
def two_threads():
    torch.set_num_threads(2)  # the lanes run in parallel from two intra-op threads
    yield
    torch.set_num_threads(1)


OPTIONS = ("train.cycle_noise=0.3", "train.marginal_weight=2", "train.identity_batch=2")


def _game(folders, *overrides, plan=None):
    overrides = [*tiny_translation("cyclegan", folders), "train.lr_g=0.002", *OPTIONS, *overrides]
    cfg = load_config(None, overrides)
    torch.manual_seed(0)
    return GAMES["cyclegan"](cfg, torch.device("cpu"), DistContext(), plan or SpeedPlan())


def _weights(game):
    return {f"{key}.{k}": v.clone() for key, net in game.nets.items() for k, v in net.state_dict().items()}


def _grads(game):
    """The last update's gradients (G's from its step, each D's from its own)."""
    return {f"{key}.{k}": p.grad.clone() for key, net in game.nets.items() for k, p in net.named_parameters()}


def test_the_lanes_run_side_by_side_with_half_the_threads_each(two_threads):
    seen = {}

    def lane(name):
        seen[name] = (threading.get_ident(), torch.get_num_threads())
        return name

    assert Lanes(True).run(lambda: lane("first"), lambda: lane("second")) == ("first", "second")
    assert seen["first"][0] == threading.get_ident() != seen["second"][0]
    assert seen["first"][1] == seen["second"][1] == 1
    assert torch.get_num_threads() == 2  # restored
    torch.set_num_threads(1)  # one thread, or lanes off: one after the other, here
    assert not Lanes(True).parallel
    Lanes(True).run(lambda: lane("first"), lambda: lane("second"))
    assert seen["first"][0] == seen["second"][0] == threading.get_ident()


def test_a_failing_lane_fails_the_step_after_both_lanes_end(two_threads):
    ended = threading.Event()

    def slow():
        torch.randn(300, 300) @ torch.randn(300, 300)
        ended.set()

    def fail():
        raise RuntimeError("lane failed")

    with pytest.raises(RuntimeError, match="lane failed"):
        Lanes(True).run(fail, slow)
    assert ended.is_set()
    with pytest.raises(RuntimeError, match="lane failed"):
        Lanes(True).run(lambda: None, fail)


def test_parallel_lanes_train_as_the_serial_step_does_and_are_deterministic(folders, two_threads):
    """The same losses and gradients as one after the other, to float rounding (weights are not
    compared: Adam turns rounding noise in a ~0 gradient, a bias before instance norm, into a
    whole step); bit for bit the same between two same-seed runs."""
    serial, parallel, again = _game(folders, "train.lanes=off"), _game(folders), _game(folders)
    assert parallel.lanes.parallel and not serial.lanes.parallel
    stats_s, stats_p = serial.iteration(), parallel.iteration()
    assert list(stats_p) == list(stats_s)  # the same terms, in the same order
    for key in stats_s:
        assert torch.allclose(stats_p[key], stats_s[key], rtol=1e-5, atol=1e-7), key
    grads_s, grads_p = _grads(serial), _grads(parallel)
    for key in grads_s:
        assert torch.allclose(grads_p[key], grads_s[key], rtol=1e-3, atol=1e-6), key
    again.iteration()
    for _ in range(2):
        stats_p, stats_a = parallel.iteration(), again.iteration()
    assert all(torch.equal(stats_p[key], stats_a[key]) for key in stats_p)
    w_parallel, w_again = _weights(parallel), _weights(again)
    assert all(torch.equal(w_parallel[key], w_again[key]) for key in w_parallel)
    start = _weights(_game(folders))
    assert not torch.equal(w_parallel["G_BA.model.1.weight"], start["G_BA.model.1.weight"])


@pytest.mark.parametrize(
    "overrides, plan",
    [(("train.lanes=off",), None), ((), SpeedPlan(precision="bf16"))],
    ids=["off", "bf16"],
)
def test_the_lanes_stay_serial_when_off_or_under_autocast(folders, two_threads, overrides, plan):
    assert not _game(folders, *overrides, plan=plan).lanes.parallel


def test_a_run_with_parallel_lanes_resumes_bit_exactly(folders, tmp_path, two_threads, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # run.threads=auto leaves a pinned count alone

    def config(run_dir):
        overrides = [f"run.dir={run_dir}", "run.progress=false", "model.name=cyclegan"]
        overrides += tiny_translation("cyclegan", folders)
        overrides += [*OPTIONS, "train.steps=6", "train.checkpoint_every=3", "train.precision=fp32"]
        return load_config(None, overrides)

    straight = train(config(tmp_path / "a"))
    assert straight.game.lanes.parallel
    split = tmp_path / "b"
    (split / "checkpoints").mkdir(parents=True)
    shutil.copy(tmp_path / "a/checkpoints/step_0000003.pt", split / "checkpoints")
    resumed = train(config(split), resume=True)
    a, b = load_checkpoint(latest_checkpoint(tmp_path / "a")), load_checkpoint(latest_checkpoint(split))
    assert a["step"] == b["step"] == 6
    for key in ("G_AB", "G_BA", "D_A", "D_B"):
        assert all(torch.equal(a[key][k], b[key][k]) for k in a[key]), key
    assert resumed.game.lanes.parallel
