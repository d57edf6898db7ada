"""StarGAN's networks: shapes at 28-128 px, D's depth rule, gradients, label conditioning."""

import pytest
import torch

from ganforge.models.stargan import (
    StarDiscriminator,
    StarGANShapeError,
    StarGenerator,
    build_generator,
    discriminator_depth,
    generator_meta,
)


@pytest.mark.parametrize("size, depth, side", [(28, 3, 3), (32, 4, 2), (64, 5, 2), (128, 6, 2), (256, 6, 4)])
def test_discriminator_depth_rule(size, depth, side):
    assert discriminator_depth(size) == (depth, side)


@pytest.mark.parametrize("size", [28, 32, 64, 128])
def test_shapes_and_gradients(size):
    torch.manual_seed(0)
    G = StarGenerator(3, 5, size, width=4, res_blocks=2)
    D = StarDiscriminator(3, 5, size, width=4)
    x = torch.rand(2, 3, size, size) * 2 - 1
    c = torch.tensor([[1.0, 0, 0, 1, 0], [0, 1, 0, 0, 1]])
    fake = G(x, c)
    assert fake.shape == x.shape and fake.abs().max() <= 1
    patches, classes = D(fake)
    side = discriminator_depth(size)[1]
    assert patches.shape == (2, side * side) and classes.shape == (2, 5)
    (patches.mean() + classes.sum()).backward()
    for net in (G, D):
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())
        assert any(p.grad.abs().sum() > 0 for p in net.parameters())


def test_the_label_changes_the_translation():
    torch.manual_seed(0)
    G = StarGenerator(1, 3, 28, width=4, res_blocks=1)
    x = torch.rand(1, 1, 28, 28)
    a, b = G(x, torch.tensor([[1.0, 0, 0]])), G(x, torch.tensor([[0.0, 1, 0]]))
    assert (a - b).abs().max() > 1e-4


def test_eval_mode_translates_like_training_mode():
    # Instance norm must not switch to running statistics in eval mode.
    torch.manual_seed(0)
    G = StarGenerator(1, 2, 28, width=4, res_blocks=1)
    x, c = torch.rand(2, 1, 28, 28), torch.tensor([[1.0, 0], [0, 1]])
    train_out = G(x, c)
    assert torch.allclose(G.eval()(x, c), train_out)


def test_rebuild_from_meta_round_trip():
    torch.manual_seed(0)
    meta = generator_meta(3, 4, 32, 4, 1)
    G = build_generator(meta)
    G2 = build_generator(meta)
    G2.load_state_dict(G.state_dict())
    x, c = torch.rand(1, 3, 32, 32), torch.eye(4)[:1]
    assert torch.equal(G(x, c), G2(x, c))


@pytest.mark.parametrize("size", [30, 4])
def test_bad_sizes_fail_clearly(size):
    with pytest.raises(StarGANShapeError, match="data.image_size"):
        StarGenerator(3, 2, size)
