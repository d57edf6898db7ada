"""``benchmarks/stargan_flip_probe.py``'s own logic: the targets it draws, the caricature of
the inversion failure it builds, and its detector's two ends (blind on one distribution,
sure on two). Tiny synthetic garments; no run, no timing."""

import sys
from pathlib import Path

import pytest
import torch

from ganforge.data.styles import render, unrender

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def probe(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    import stargan_flip_probe

    yield stargan_flip_probe
    sys.modules.pop("stargan_flip_probe", None)


def blobs(count: int, seed: int) -> torch.Tensor:
    """Gray 'garments' uint8 ``[N, 1, 28, 28]``: a bright rectangle of random size, place and
    level on black, so garment and background are told apart by level as in Fashion-MNIST."""
    generator = torch.Generator().manual_seed(seed)
    images = torch.zeros(count, 1, 28, 28, dtype=torch.uint8)
    for image in images:
        top, left = torch.randint(2, 10, (2,), generator=generator).tolist()
        height, width = torch.randint(10, 16, (2,), generator=generator).tolist()
        image[0, top : top + height, left : left + width] = int(
            torch.randint(170, 256, (1,), generator=generator)
        )
    return images


def combos() -> torch.Tensor:
    """All 12 fmnist-styles combinations ``[12, 5]``."""
    rows = [
        [*(float(t == i) for i in range(3)), inv, stripe]
        for t in range(3)
        for inv in (0.0, 1.0)
        for stripe in (0.0, 1.0)
    ]
    return torch.tensor(rows)


def test_targets_flip_or_keep_the_inversion_and_never_repeat_the_source(probe):
    sources = combos()[torch.randint(0, 12, (40,), generator=torch.Generator().manual_seed(0))]
    flip = probe.draw_targets(sources, combos(), flip=True, seed=0)
    keep = probe.draw_targets(sources, combos(), flip=False, seed=0)
    assert torch.all(flip[:, 3] != sources[:, 3])
    assert torch.all(keep[:, 3] == sources[:, 3])
    assert not (keep == sources).all(1).any()


def test_the_caricature_keeps_the_background_true_and_reads_back_inverted(probe):
    gray = blobs(6, seed=1)
    targets = torch.tensor([[1.0, 0, 0, 1, 0], [0, 1, 0, 0, 1], [0, 0, 1, 1, 1]]).repeat(2, 1)
    caricature = probe.swap_inversion(gray, targets, "garment")
    background = probe.swap_inversion(gray, targets, "background")
    truth = render(gray, targets)
    inside = (gray > probe.GARMENT_LEVEL).expand_as(truth)
    assert torch.equal(caricature[~inside], truth[~inside])  # the background is the target's
    assert torch.equal(background[inside], truth[inside])  # the garment is the target's
    assert not torch.equal(caricature[inside], truth[inside])
    # read back in an unstriped target style, the caricature's garment is the input's negative
    plain = targets.clone()
    plain[:, 4] = 0
    back = unrender(probe.swap_inversion(gray, plain, "garment"), plain).int()
    garment = gray > probe.GARMENT_LEVEL
    assert (back[garment] - (255 - gray[garment].int())).abs().max() <= 2


def test_the_detector_is_blind_to_one_distribution_and_sees_two(probe):
    targets = torch.tensor([[1.0, 0, 0, 1, 0]]).repeat(240, 1)
    real = render(blobs(240, seed=2), targets)
    same = render(blobs(240, seed=3), targets)  # other garments, the same style: real too
    caricature = probe.swap_inversion(blobs(240, seed=3), targets, "garment")
    blind = probe.detector_accuracy(real, same, train=160, epochs=3, seed=0)
    sure = probe.detector_accuracy(real, caricature, train=160, epochs=3, seed=0)
    assert abs(blind["accuracy"] - 0.5) < 0.15
    assert sure["accuracy"] > 0.9 and sure["auc"] > 0.95


def test_auc_is_half_for_ties_and_one_for_separated_scores(probe):
    assert probe.auc(torch.ones(5), torch.ones(7)) == pytest.approx(0.5)
    assert probe.auc(torch.tensor([2.0, 3.0]), torch.tensor([0.0, 1.0])) == pytest.approx(1.0)


def test_the_game_like_detector_sees_the_caricature_and_its_class_head_reads_the_inversion(probe):
    """Phase 8's D, trained as the game's ``d_update`` trains it: its realism head learns to
    reject the caricature (and not the real rendered truth), with the class loss or without;
    only with it does the class head name the inversion of held-out reals."""
    targets = torch.tensor([[1.0, 0, 0, 1, 0], [0, 1, 0, 0, 0]]).repeat(120, 1)
    real = render(blobs(240, seed=2), targets)
    caricature = probe.swap_inversion(blobs(240, seed=3), targets, "garment")
    truth = render(blobs(240, seed=3), targets)
    held = {"caricature": caricature[160:], "truth": truth[160:]}
    train_sets = (real[:160], targets[:160], caricature[:160])
    for heads in probe.HEADS:
        out = probe.game_detector(train_sets, (real[160:], targets[160:]), held, heads, steps=150, seed=0)
        assert out["caricature"] > 0.9 and abs(out["truth"] - 0.5) < 0.2, heads
        assert (out["real_inverted_accuracy"] > 0.95) == (heads == "adv+cls"), heads
