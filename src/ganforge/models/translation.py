"""Builders for the image-to-image translation networks, in one place (the reference's
``define_G`` / ``define_D``): which generator, how deep, how it is initialised, and how a
trained generator is rebuilt from the metadata saved beside its weights.

These are not GAN model families (no noise input), so they are not in ``models.registry``;
the ``cyclegan`` and ``pix2pix`` games build them.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from ganforge.models.patchgan import (
    ConditionalPatchDiscriminator,
    ModelConfigError,
    PatchDiscriminator,
    check_d_layers,
    default_d_layers,
)
from ganforge.models.resnet_generator import ResnetGenerator, default_res_blocks
from ganforge.models.unet import UnetGenerator

GENERATORS = ("resnet", "unet")
INIT_STD = 0.02  # N(0, 0.02) for every conv weight (Isola et al. 2017, sec. 3.3; the reference's "normal")


def init_weights(net: nn.Module, std: float = INIT_STD) -> nn.Module:
    """Convolution weights ~ N(0, std), biases 0; batch-norm scales ~ N(1, std), shifts 0."""
    for module in net.modules():
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(module.weight, 0.0, std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.normal_(module.weight, 1.0, std)
            nn.init.zeros_(module.bias)
    return net


def generator_meta(
    kind: str,
    in_channels: int,
    out_channels: int,
    image_size: int,
    width: int,
    res_blocks: int | None = None,
    norm: str = "instance",
    dropout: bool = False,
    full_res: bool = False,
) -> dict[str, Any]:
    """Everything ``build_generator`` needs, as plain JSON-able values (``res_blocks`` resolved)."""
    if kind not in GENERATORS:
        raise ModelConfigError(f"model.generator={kind!r} is not a generator; choose one of: resnet, unet")
    if full_res and kind != "unet":
        raise ModelConfigError("model.full_res is a U-Net option; set model.generator=unet or full_res=false")
    if kind == "resnet" and res_blocks is None:
        res_blocks = default_res_blocks(image_size)
    if res_blocks is not None and res_blocks < 0:
        raise ModelConfigError(f"model.res_blocks must be >= 0, got {res_blocks}")
    return {
        "generator": kind,
        "in_channels": in_channels,
        "out_channels": out_channels,
        "image_size": image_size,
        "width": width,
        "res_blocks": res_blocks if kind == "resnet" else None,
        "norm": norm,
        "dropout": dropout,
        "full_res": full_res,
    }


def build_generator(meta: dict[str, Any]) -> nn.Module:
    """A freshly initialised generator from ``generator_meta(...)`` (what ``inference()`` returns).

    Load trained weights into it with ``load_state_dict``.
    """
    if meta["generator"] == "resnet":
        net = ResnetGenerator(meta["in_channels"], meta["out_channels"], meta["width"], meta["res_blocks"])
    elif meta["generator"] == "unet":
        net = UnetGenerator(
            meta["in_channels"],
            meta["out_channels"],
            meta["image_size"],
            meta["width"],
            norm=meta["norm"],
            dropout=meta["dropout"],
            full_res=meta.get("full_res", False),  # runs saved before the option have no key
        )
    else:
        raise ModelConfigError(f"unknown generator {meta['generator']!r} in the saved metadata")
    return init_weights(net)


def resolve_d_layers(image_size: int, d_layers: int | None) -> int:
    """``model.d_layers``, or the default for the size; checked against the size either way."""
    layers = default_d_layers(image_size) if d_layers is None else d_layers
    check_d_layers(image_size, layers)
    return layers


def build_discriminator(
    in_channels: int,
    image_size: int,
    width: int,
    d_layers: int | None,
    norm: str = "instance",
    conditional: bool = False,
) -> nn.Module:
    """A PatchGAN (``conditional``: pix2pix's D(x, y), ``in_channels`` = x's + y's)."""
    kind = ConditionalPatchDiscriminator if conditional else PatchDiscriminator
    return init_weights(kind(in_channels, width, resolve_d_layers(image_size, d_layers), norm))


def set_requires_grad(nets: list[nn.Module], requires_grad: bool) -> None:
    """Freeze (or unfreeze) ``nets``: during G's update no gradient is computed for the Ds."""
    for net in nets:
        for parameter in net.parameters():
            parameter.requires_grad_(requires_grad)
