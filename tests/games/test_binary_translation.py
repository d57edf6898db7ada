"""``train.binary_b``: G_AB's translations reach D_B and the cycle as -1/1 maps, with the gradient
of the soft output (games/binary_translation.py)."""

import pytest
import torch
from tiny_translation import SIZE, tiny_translation, traced_iteration

from ganforge.config import load_config
from ganforge.games import GAMES
from ganforge.games.binary_translation import straight_through_binary
from ganforge.training.distributed import DistContext
from ganforge.training.speed import SpeedPlan


@pytest.fixture(scope="module")
def folders(tmp_path_factory, write_pairs):
    return write_pairs(tmp_path_factory.mktemp("pairs"), SIZE, test=4)


def test_straight_through_binary_is_a_sign_forward_and_the_identity_backward():
    x = torch.tensor([-0.9, -0.01, 0.0, 0.3, 1.0], requires_grad=True)
    y = straight_through_binary(x)
    assert y.tolist() == [-1, -1, 1, 1, 1]
    (y * torch.arange(5.0)).sum().backward()
    assert x.grad.tolist() == [0, 1, 2, 3, 4]


def _traced(folders, *overrides):
    cfg = load_config(None, [*tiny_translation("cyclegan", folders), "run.seed=0", *overrides])
    torch.manual_seed(0)
    game = GAMES["cyclegan"](cfg, torch.device("cpu"), DistContext(), SpeedPlan())
    return game, *traced_iteration(game)


def test_binary_b_shows_d_b_and_the_cycle_a_binary_map_and_still_trains_g_ab(folders):
    game, outputs_ab, inputs_ba, stats = _traced(folders, "train.binary_b=true")
    soft, cycle_input = outputs_ab[0], inputs_ba[0]  # G_BA's first call: the cycle
    assert not set(soft.unique().tolist()) <= {-1.0, 1.0}  # G_AB itself stays soft ...
    assert torch.equal(cycle_input, torch.where(soft >= 0, 1.0, -1.0))  # ... the cycle gets its sign
    pooled = game.pool_b.images[: len(soft)]
    assert set(pooled.unique().tolist()) <= {-1.0, 1.0}  # and so does D_B, through its pool
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in game.G_AB.parameters() if p.ndim > 1)
    # Off (the default): the soft translation everywhere, and a different cycle loss
    _, outputs_ab, inputs_ba, plain = _traced(folders)
    assert torch.equal(inputs_ba[0], outputs_ab[0]) and plain["loss_cycle_A"] != stats["loss_cycle_A"]
