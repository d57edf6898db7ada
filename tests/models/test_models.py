"""Every registered model family through the same checks: shapes, parameter counts,
gradients, seeded determinism, save/load round trip, clear errors for unsupported shapes."""

import io

import pytest
import torch

from ganforge.config import ModelConfig
from ganforge.models import MODELS, ModelError, build_models, sample_noise

CASES = [
    ("mlp", (2,)),
    ("mlp", (1, 8, 8)),
    ("dcgan", (1, 28, 28)),
    ("dcgan", (3, 32, 32)),
    ("dcgan", (3, 64, 64)),
    ("dcgan", (1, 64, 64)),
]


def small(name, **kw):
    return ModelConfig(name=name, z_dim=16, g_width=8, d_width=8, **kw)


def test_every_family_is_covered():
    # conditional families take labels; tests/models/test_conditional.py covers them
    assert {name for name, _ in CASES} == {n for n, spec in MODELS.items() if not spec.conditional}


@pytest.mark.parametrize("name, shape", CASES)
def test_shapes_gradients_and_round_trip(name, shape):
    torch.manual_seed(0)
    G, D = build_models(small(name), shape)
    z = sample_noise(4, 16, "uniform")
    fake = G(z)
    assert fake.shape == (4, *shape)
    if len(shape) == 3:
        assert fake.min() >= -1 and fake.max() <= 1
    logits = D(fake)
    assert logits.shape == (4,)
    logits.mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in G.parameters())
    assert all(p.grad is not None for p in D.parameters())
    buffer = io.BytesIO()
    torch.save(G.state_dict(), buffer)
    buffer.seek(0)
    G2, _ = build_models(small(name), shape)
    G2.load_state_dict(torch.load(buffer, weights_only=True))
    G.eval(), G2.eval()
    assert torch.equal(G(z), G2(z))


@pytest.mark.parametrize("name, shape", CASES)
def test_seeded_construction_is_deterministic(name, shape):
    torch.manual_seed(3)
    a, _ = build_models(small(name), shape)
    torch.manual_seed(3)
    b, _ = build_models(small(name), shape)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_dcgan64_matches_the_reference_parameter_counts():
    # pytorch/examples dcgan with nz=100, ngf=ndf=64, nc=3.
    G, D = build_models(ModelConfig(name="dcgan"), (3, 64, 64))
    assert sum(p.numel() for p in G.parameters()) == 3_576_704
    assert sum(p.numel() for p in D.parameters()) == 2_765_568


def test_dcgan_init_is_normal_002():
    torch.manual_seed(0)
    G, _ = build_models(ModelConfig(name="dcgan"), (3, 64, 64))
    conv = G.net[0].weight
    assert abs(conv.std().item() - 0.02) < 0.001 and abs(conv.mean().item()) < 0.001


@pytest.mark.parametrize(
    "name, shape, message",
    [
        ("dcgan", (1, 48, 48), "28, 32, 64 px, got 48x48: set data.image_size"),
        ("dcgan", (2,), "use model.name=mlp"),
        ("dcgan", (4, 32, 32), "1 or 3 channels"),
        ("mlp", (3, 128, 128), "too big"),
        ("gan9000", (2,), "choose one of: .*dcgan"),
    ],
)
def test_unsupported_shapes_fail_at_build(name, shape, message):
    with pytest.raises(ModelError, match=message):
        build_models(small(name), shape)


def test_noise_distributions():
    g = torch.Generator().manual_seed(0)
    u = sample_noise(10_000, 100, "uniform", generator=g)
    assert u.min() >= -1 and u.max() <= 1 and abs(u.mean()) < 0.01
    n = sample_noise(10_000, 100, "normal", generator=g)
    assert abs(n.std() - 1) < 0.01
