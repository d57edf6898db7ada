"""The marginal term (games/marginals.py): a distance between pixel-value distributions."""

import torch

from ganforge.games.marginals import MarginalReference, directions


def _levels(n, seed, size=8):
    """uint8 ``[n, 1, size, size]`` images: a dark background and a blob of random levels."""
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 30, (n, 1, size, size), generator=g)
    images[:, :, 2:6, 2:6] = torch.randint(40, 256, (n, 1, 4, 4), generator=g)
    return images.to(torch.uint8)


def test_directions_are_unit_vectors_covering_each_channel():
    for channels in (1, 2, 3):
        axes = directions(channels)
        assert torch.allclose(axes.norm(dim=0), torch.ones(axes.shape[1]))
        assert torch.equal(axes[:, :channels], torch.eye(channels))


def test_the_distance_sees_values_not_places():
    reference = MarginalReference(_levels(400, 0))
    batch = _levels(8, 1).float() / 127.5 - 1
    shuffled = batch.flatten()[torch.randperm(batch.numel())].reshape(batch.shape)
    assert torch.allclose(reference.distance(shuffled), reference.distance(batch))
    brighter = (batch + 0.2).clamp(-1, 1)
    assert reference.distance(brighter) > reference.distance(batch) + 0.1


def test_descending_it_undoes_a_warp_of_the_gray_levels():
    """A learnable level table starts as a contrast stretch (the convention fmnist-tint's
    generators share); batches of 8 images from the same distribution as the reference pull
    it back towards the identity, though each batch's distance is noisy."""
    reference = MarginalReference(_levels(400, 0))
    pool = _levels(400, 1).long()
    identity = torch.linspace(-1, 1, 256)
    table = (identity * 1.25).clamp(-1, 1).requires_grad_()
    optimizer = torch.optim.Adam([table], lr=2e-3)
    g = torch.Generator().manual_seed(2)
    start = (table - identity).abs().mean().item()
    for _ in range(300):
        batch = table[pool[torch.randint(len(pool), (8,), generator=g)]]
        optimizer.zero_grad()
        reference.distance(batch).backward()
        optimizer.step()
    used = torch.unique(pool)
    assert (table - identity)[used].abs().mean().item() < 0.4 * start
