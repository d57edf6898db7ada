"""The translation networks: shapes at 28-256 px, gradients, init, rebuild from metadata."""

import pytest
import torch

from ganforge.models.patchgan import ModelConfigError, patch_grid, receptive_field
from ganforge.models.translation import (
    build_discriminator,
    build_generator,
    generator_meta,
    resolve_d_layers,
    set_requires_grad,
)


@pytest.mark.parametrize("size", [28, 32, 64])
@pytest.mark.parametrize("kind", ["resnet", "unet", "unet-full"])
def test_generator_keeps_the_size_and_range(size, kind):
    torch.manual_seed(0)
    full = kind == "unet-full"
    meta = generator_meta(kind.removesuffix("-full"), 1, 3, size, 4, res_blocks=1, full_res=full)
    G = build_generator(meta)
    out = G(torch.rand(2, 1, size, size) * 2 - 1)
    assert out.shape == (2, 3, size, size)
    assert out.abs().max() <= 1


def test_256_px_nets_build_and_run_once():
    torch.manual_seed(0)
    G = build_generator(generator_meta("resnet", 3, 3, 256, width=2))
    assert (
        sum(isinstance(m, torch.nn.Module) and m.__class__.__name__ == "ResidualBlock" for m in G.modules())
        == 9
    )
    U = build_generator(generator_meta("unet", 3, 3, 256, width=2, norm="batch", dropout=True))
    assert U.depth == 8 and sum(isinstance(m, torch.nn.Dropout) for m in U.modules()) == 3
    x = torch.rand(1, 3, 256, 256) * 2 - 1
    assert G(x).shape == U.eval()(x).shape == (1, 3, 256, 256)
    D = build_discriminator(3, 256, width=2, d_layers=None)
    assert D(x).shape == (1, 1, 30, 30)  # the 70x70 PatchGAN


def test_res_blocks_default_follows_the_reference():
    assert generator_meta("resnet", 3, 3, 128, 8)["res_blocks"] == 6
    assert generator_meta("resnet", 3, 3, 256, 8)["res_blocks"] == 9


def test_unet_on_28_px_is_the_padded_32_px_network():
    G = build_generator(generator_meta("unet", 1, 1, 28, width=4))
    assert G.depth == 5
    assert G(torch.zeros(1, 1, 28, 28)).shape == (1, 1, 28, 28)


def test_patch_grid_and_default_layers():
    assert receptive_field(3) == 70
    assert patch_grid(256, 3) == 30
    for size in (28, 32, 64, 128, 256):
        layers = resolve_d_layers(size, None)
        D = build_discriminator(1, size, width=4, d_layers=layers)
        grid = D(torch.zeros(1, 1, size, size)).shape[-1]
        assert grid == patch_grid(size, layers) >= 2


def test_too_many_d_layers_is_one_clear_error():
    with pytest.raises(
        ModelConfigError, match=r"model.d_layers=3 leaves a 1x1 patch grid at 28 px; use 1..2"
    ):
        resolve_d_layers(28, 3)


def test_conditional_discriminator_sees_both_images():
    D = build_discriminator(1 + 3, 32, width=4, d_layers=None, conditional=True)
    x, y = torch.zeros(2, 1, 32, 32), torch.zeros(2, 3, 32, 32)
    assert D(x, y).shape == (2, 1, 14, 14)


def test_init_is_normal_002_and_gradients_reach_every_weight():
    torch.manual_seed(0)
    G = build_generator(generator_meta("unet", 3, 3, 32, width=8, norm="batch"))
    D = build_discriminator(3, 32, width=8, d_layers=2)
    conv = next(m for m in G.modules() if isinstance(m, torch.nn.ConvTranspose2d))
    assert abs(conv.weight.std().item() - 0.02) < 0.003
    D(G(torch.rand(4, 3, 32, 32))).mean().backward()
    for net in (G, D):
        for name, parameter in net.named_parameters():
            assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_set_requires_grad_freezes():
    D = build_discriminator(1, 28, width=4, d_layers=1)
    set_requires_grad([D], False)
    assert not any(p.requires_grad for p in D.parameters())
    set_requires_grad([D], True)
    assert all(p.requires_grad for p in D.parameters())


def test_rebuild_from_meta_gives_the_same_function():
    meta = generator_meta("resnet", 1, 1, 28, width=4, res_blocks=2)
    G = build_generator(meta)
    H = build_generator(meta)
    H.load_state_dict(G.state_dict())
    x = torch.rand(1, 1, 28, 28)
    assert torch.equal(G(x), H(x))


def _dimmer(x: torch.Tensor, factor: float = 0.6) -> torch.Tensor:
    """``x`` in [-1, 1] with every gray level scaled by ``factor`` on [0, 1] (black stays black)."""
    return (x + 1) * factor - 1


def test_resnet_generator_cannot_see_absolute_gray_levels():
    # Instance norm right after the first (linear) convolution removes any positive scale and
    # offset of the input, so the reference's ResNet G gives the same output for a garment and a
    # dimmer copy: it cannot learn a map that depends on the gray level itself (fmnist-tint's
    # colour map, an edge threshold). docs/translation.md, "Results".
    torch.manual_seed(0)
    G = build_generator(generator_meta("resnet", 3, 3, 28, width=8, res_blocks=2))
    x = torch.rand(2, 3, 28, 28) * 2 - 1
    out = G(x)
    # equal up to the norm's epsilon (1e-5 against the small variances of an N(0, 0.02) init)
    assert (out - G(_dimmer(x))).abs().mean() < 0.01 * out.std()


@pytest.mark.parametrize("full_res", [False, True])
def test_unet_generator_sees_absolute_gray_levels(full_res):
    # The U-Net's outermost skip carries the first convolution's un-normalised output to the
    # last layer (full_res: the stem's, to the head), so the gray level survives.
    torch.manual_seed(0)
    G = build_generator(generator_meta("unet", 3, 3, 28, width=8, full_res=full_res))
    x = torch.rand(2, 3, 28, 28) * 2 - 1
    out = G(x)
    assert (out - G(_dimmer(x))).abs().mean() > 0.1 * out.std()


def test_patchgan_norm_none_and_a_bad_norm():
    from ganforge.models.patchgan import PatchDiscriminator

    D = PatchDiscriminator(3, 8, 1, norm="none")
    assert not any(isinstance(m, (torch.nn.InstanceNorm2d, torch.nn.BatchNorm2d)) for m in D.modules())
    assert D(torch.zeros(2, 3, 28, 28)).shape == (2, 1, 12, 12)
    with pytest.raises(ModelConfigError, match="unknown discriminator norm 'layer'"):
        PatchDiscriminator(3, 8, 1, norm="layer")


def _fit_sharp_map(G: torch.nn.Module, steps: int) -> float:
    """L1 of ``G`` after ``steps`` Adam updates on a per-pixel map of noise textures (held out)."""
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(72, 1, 28, 28, generator=gen) * 2 - 1  # every pixel differs from its neighbours

    def target(v):
        return torch.cat([-v, v / 2], 1)  # an inversion and a half-contrast copy, pixel by pixel

    opt = torch.optim.Adam(G.parameters(), 2e-3, betas=(0.5, 0.999))
    for step in range(steps):
        batch = x[(step % 8) * 8 : (step % 8) * 8 + 8]
        loss = (G(batch) - target(batch)).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return (G(x[64:]) - target(x[64:])).abs().mean().item()


def test_the_full_size_level_fits_a_sharp_per_pixel_map_the_plain_unet_blurs():
    # Why model.full_res exists: the plain U-Net draws every output pixel with a stride-2
    # transposed convolution of half-size features, so on textures that change every pixel it
    # stays far off; the full-size level fits the map several times closer in the same steps
    # (measured at 80 steps: L1 0.047 against 0.149).
    errors = {}
    for full_res in (False, True):
        torch.manual_seed(0)
        G = build_generator(generator_meta("unet", 1, 2, 28, width=8, full_res=full_res))
        errors[full_res] = _fit_sharp_map(G, steps=80)
    assert errors[True] < 0.5 * errors[False], errors


def test_full_res_is_a_unet_option_and_old_metadata_loads_without_it():
    with pytest.raises(ModelConfigError, match="model.full_res is a U-Net option"):
        generator_meta("resnet", 3, 3, 28, 8, full_res=True)
    meta = generator_meta("unet", 3, 3, 28, 8)
    assert meta["full_res"] is False
    del meta["full_res"]  # a run saved before the option existed
    plain = build_generator(generator_meta("unet", 3, 3, 28, 8))
    assert build_generator(meta).state_dict().keys() == plain.state_dict().keys()
