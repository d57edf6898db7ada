"""Each loss against hand-computed values, and the saturation that separates minimax from
non-saturating G losses."""

import math

import pytest
import torch

from ganforge.losses import LOSSES, LossError, get_loss, gradient_penalty

REAL = torch.tensor([2.0, -1.0])
FAKE = torch.tensor([0.5, -3.0])


def sig(x):
    return 1 / (1 + math.exp(-x))


def test_bce_d_loss_is_the_negated_value_function():
    # -(mean log D(x) + mean log(1 - D(G(z))))
    expected = (
        -(math.log(sig(2)) + math.log(sig(-1))) / 2 - (math.log(1 - sig(0.5)) + math.log(1 - sig(-3))) / 2
    )
    for name in ("minimax", "nonsaturating"):
        assert LOSSES[name].d(REAL, FAKE).item() == pytest.approx(expected, rel=1e-6)


def test_g_losses_by_hand():
    minimax = (math.log(1 - sig(0.5)) + math.log(1 - sig(-3))) / 2
    nonsat = -(math.log(sig(0.5)) + math.log(sig(-3))) / 2
    assert LOSSES["minimax"].g(FAKE).item() == pytest.approx(minimax, rel=1e-6)
    assert LOSSES["nonsaturating"].g(FAKE).item() == pytest.approx(nonsat, rel=1e-6)
    assert LOSSES["lsgan"].g(FAKE).item() == pytest.approx(((0.5 - 1) ** 2 + 16) / 4)
    assert LOSSES["hinge"].g(FAKE).item() == pytest.approx(1.25)
    assert LOSSES["wgan-gp"].g(FAKE).item() == pytest.approx(1.25)


def test_d_losses_by_hand():
    lsgan = 0.5 * ((2 - 1) ** 2 + (-1 - 1) ** 2) / 2 + 0.5 * (0.25 + 9) / 2
    hinge = (max(0, 1 - 2) + max(0, 1 + 1)) / 2 + (max(0, 1 + 0.5) + max(0, 1 - 3)) / 2
    wgan = (0.5 - 3) / 2 - (2 - 1) / 2
    assert LOSSES["lsgan"].d(REAL, FAKE).item() == pytest.approx(lsgan)
    assert LOSSES["hinge"].d(REAL, FAKE).item() == pytest.approx(hinge)
    assert LOSSES["wgan-gp"].d(REAL, FAKE).item() == pytest.approx(wgan)


def g_grad(name, logit):
    x = torch.tensor([logit], requires_grad=True)
    LOSSES[name].g(x).backward()
    return x.grad.item()


def test_minimax_saturates_where_nonsaturating_does_not():
    # D confidently rejects the fake: D(G(z)) = sigmoid(-10) ~ 4.5e-5.
    minimax, nonsat = g_grad("minimax", -10.0), g_grad("nonsaturating", -10.0)
    assert abs(minimax) < 1e-4  # d/dl log(1 - sigmoid(l)) = -sigmoid(l)
    assert abs(nonsat) > 0.99  # d/dl -log sigmoid(l) = sigmoid(l) - 1
    # Both push the logit up (minimising the G loss raises D(G(z))).
    assert minimax < 0 and nonsat < 0


def test_stable_at_extreme_logits():
    big = torch.tensor([1e4, -1e4])
    for loss in LOSSES.values():
        assert torch.isfinite(loss.d(big, -big)) and torch.isfinite(loss.g(big))


def test_gradient_penalty_of_a_linear_critic():
    torch.manual_seed(0)
    w = torch.tensor([3.0, 4.0])  # ||grad|| = 5 everywhere -> penalty (5 - 1)^2 = 16
    penalty = gradient_penalty(lambda x: x @ w, torch.randn(8, 2), torch.randn(8, 2))
    assert penalty.item() == pytest.approx(16.0)
    unit = gradient_penalty(lambda x: x @ (w / 5), torch.randn(8, 2), torch.randn(8, 2))
    assert unit.item() == pytest.approx(0.0, abs=1e-10)


def test_unknown_loss_lists_choices():
    with pytest.raises(LossError, match="minimax, nonsaturating, lsgan, hinge, wgan-gp"):
        get_loss("vanilla")
