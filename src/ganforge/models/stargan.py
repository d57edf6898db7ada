"""StarGAN's networks (Choi et al. 2018), after the reference ``yunjey/stargan`` ``model.py``.

G translates an image into the domains named by a target label vector ``c`` (one-hot for
single-label domains, multi-hot for attributes). ``c`` is tiled over the image and
concatenated to it as extra input channels; then a 7x7 convolution, two stride-2
down-samplings, ``res_blocks`` residual blocks, two stride-2 up-samplings and a 7x7
convolution to the image channels, with tanh. Instance norm (with its affine scale and shift)
after every hidden convolution, ReLU, no biases (the norm cancels them).

D has no normalisation and LeakyReLU(0.01): stride-2 4x4 convolutions doubling the width from
``d_width``, then two heads on the last feature map: a 3x3 PatchGAN head (one real/fake score
per patch) and a classification head whose kernel covers the whole map (one logit per domain).

**D's depth rule.** The reference fixes 6 down-samplings (128 px -> a 2x2 map) and so
crashes below 64 px. Here the depth is the largest number of halvings, at most 6, that leaves
a map of at least 2x2: ``n = min(6, max{k : floor(S / 2^k) >= 2})``, and the classification
kernel is that map's side. 128 and 256 px get the reference's 6 layers (2x2 and 4x4 maps),
64 px 5 (2x2), 32 px 4 (2x2), 28 px 3 (28 -> 14 -> 7 -> 3: a 3x3 map).

One departure from the reference: its instance norms track running statistics, which
``.eval()`` would then use in place of the image's own; here they never do, so G translates
alike in training and in inference (the reference never calls ``.eval()`` on G either).

**Two generators** (``model.generator``; ``generator`` in the saved metadata, absent = resnet):

- ``resnet`` (``StarGenerator``, the default): the reference's G, above.
- ``skip`` (``SkipStarGenerator``, not in the paper): the reference's G with U-Net skips. The
  first stage's features (full size) and the first down-sampling's (half size) are
  concatenated to the up-sampling path at the same size, and a 3x3 convolution with a bias and
  ReLU (no norm) mixes the full-size ones with the label planes again before the last 7x7
  convolution, so the garment's shape need not pass through the bottleneck (7x7 at 28 px)
  and the label reaches it at full strength. Measured (docs/stargan.md, "Phase 4"): taught
  the truth directly, this G names 2x as many garments after 300 updates as the reference's,
  which dropping the first instance norm alone did not change.
- ``pixel`` (``SkipStarGenerator`` with ``phase`` and ``affine``, not in the paper): the
  ``skip`` G whose output is a per-pixel affine transform of its raw input,
  ``clamp(base + A x + b, -1, 1)``, with the C x C matrix ``A`` and the offset ``b`` of every
  pixel computed by 1x1 convolutions from G's last features, the label planes and two
  **phase planes** (the row and column phase ``(i // 2) % 2`` as +-1, a CoordConv-like
  positional input of period 4 px: fmnist-styles' stripe period, so it is tuned to that
  benchmark's stripes). Why: a re-tint, an inversion or a de-striping gain is one exact
  per-pixel operation on the input, which the instance-normed decoder can only approximate
  (docs/stargan.md, "Phase 5").

**A coarse grid** (``model.pixel_grid: K``, ``pixel_grid`` in the metadata, absent = 0 = per
pixel; ``pixel`` only): the head's coefficients are computed on a K x K grid (G's features
averaged over each cell) and bilinearly upsampled to the image, as HDRNet's (Gharbi et al.
2017) coarse coefficients are, and the head has no base: the output is the input's affine map
alone. So G cannot repaint the background without the garment beside it (a pixel's map is
its cell's, blended with its neighbours'), and the exact global operations (an inversion, a
re-tint) are the easy way. Its cues also hold the raw input (a cell's mean of ``ReLU(w x +
v)`` reads the levels that name the source's style, which G's instance-normed features
blur), and its coefficients are scaled by ``COARSE_GAIN`` (with no base, A must grow from 0
to about 1). The stripes stay exact: every coefficient is a smooth map times
one of three planes, 1 and the two phase planes (``A = A_0 + A_row p_row + A_col p_col``, the
same for ``b``), so a gain of its own on the dark rows is smooth in space (docs/stargan.md,
"Phase 9").
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from ganforge.errors import GanforgeError

MAX_DOWNSAMPLINGS = 6  # the reference's D depth (repeat_num) at 128 px
GENERATORS = ("resnet", "skip", "pixel")  # model.generator for stargan; auto is resnet (the paper's)
PHASE_PERIOD = 4  # px: the period of the phase planes (module docstring, ``pixel``)
# The coarse head's coefficients are its last convolution's output times this: with no base, G
# must grow A from 0 to about +-1, and Adam moves each weight about lr a step; taught the truth
# directly, 1 left it at 0.11 of MAE after 150 updates where 4 reached 0.05 (docs/stargan.md, "Phase 9")
COARSE_GAIN = 4.0


class StarGANShapeError(GanforgeError, ValueError):
    """An image size StarGAN's networks cannot take."""


class StarGANConfigError(GanforgeError, ValueError):
    """A StarGAN generator setting that names no generator this module builds."""


def _norm(channels: int) -> nn.InstanceNorm2d:
    return nn.InstanceNorm2d(channels, affine=True, track_running_stats=False)


class ResidualBlock(nn.Module):
    """``x + (conv3x3 -> IN -> ReLU -> conv3x3 -> IN)(x)``, shape kept ``[N, C, H, W]``."""

    def __init__(self, channels: int):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False),
            _norm(channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False),
            _norm(channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.main(x)


def check_image_size(image_size: int) -> None:
    """G halves the image twice and doubles it back: the side must be a multiple of 4."""
    if image_size < 8 or image_size % 4:
        raise StarGANShapeError(
            f"StarGAN needs an image side that is a multiple of 4 and at least 8, got "
            f"{image_size}; set data.image_size to e.g. {max(8, image_size // 4 * 4)}"
        )


class StarGenerator(nn.Module):
    """``G(x, c)``: images ``[N, C, S, S]`` in [-1, 1] and target labels ``[N, K]`` (float, 0/1)
    -> translated images ``[N, C, S, S]`` in [-1, 1]."""

    def __init__(
        self, channels: int, num_domains: int, image_size: int, width: int = 64, res_blocks: int = 6
    ):
        super().__init__()
        check_image_size(image_size)
        self.num_domains = num_domains
        layers: list[nn.Module] = [
            nn.Conv2d(channels + num_domains, width, 7, 1, 3, bias=False),
            _norm(width),
            nn.ReLU(inplace=True),
        ]
        current = width
        for _ in range(2):  # down-sampling
            layers += [nn.Conv2d(current, current * 2, 4, 2, 1, bias=False), _norm(current * 2)]
            layers.append(nn.ReLU(inplace=True))
            current *= 2
        layers += [ResidualBlock(current) for _ in range(res_blocks)]
        for _ in range(2):  # up-sampling
            layers += [nn.ConvTranspose2d(current, current // 2, 4, 2, 1, bias=False), _norm(current // 2)]
            layers.append(nn.ReLU(inplace=True))
            current //= 2
        layers += [nn.Conv2d(current, channels, 7, 1, 3, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        return self.main(with_label_planes(x, c))


def with_label_planes(x: Tensor, c: Tensor) -> Tensor:
    """``[N, C, H, W]`` and ``[N, K]`` -> ``[N, C + K, H, W]``: the label as K constant planes
    beside the image's channels (the reference's conditioning)."""
    planes = c.to(x.dtype)[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])
    return torch.cat([x, planes], dim=1)


def _down(inputs: int, outputs: int) -> nn.Sequential:
    """Stride-2 4x4 convolution, instance norm, ReLU: half the side."""
    conv = nn.Conv2d(inputs, outputs, 4, 2, 1, bias=False)
    return nn.Sequential(conv, _norm(outputs), nn.ReLU(inplace=True))


def _up(inputs: int, outputs: int) -> nn.Sequential:
    """Stride-2 4x4 transposed convolution, instance norm, ReLU: twice the side."""
    conv = nn.ConvTranspose2d(inputs, outputs, 4, 2, 1, bias=False)
    return nn.Sequential(conv, _norm(outputs), nn.ReLU(inplace=True))


def phase_planes(x: Tensor) -> Tensor:
    """``[N, C, H, W]`` -> ``[N, 2, H, W]`` in {-1, 1}: the row phase ``(y // 2) % 2`` and the
    column phase ``(x // 2) % 2`` (-1 where 1): positional inputs of period ``PHASE_PERIOD``.
    Built from ``x``'s shape with plain arithmetic, so an exported graph keeps H and W dynamic."""
    ones = torch.ones_like(x[:, :1], dtype=torch.float32)
    planes = []
    for index in (ones.cumsum(2) - 1, ones.cumsum(3) - 1):  # row, column index
        half = PHASE_PERIOD // 2
        phase = torch.floor(index / half) - 2 * torch.floor(index / PHASE_PERIOD)  # (i // 2) % 2
        planes.append(1 - 2 * phase)
    return torch.cat(planes, dim=1).to(x.dtype)


def grid_operators(line: Tensor, grid: int) -> tuple[Tensor, Tensor]:
    """For a side of ``L`` pixels (``line [L]``, any values: only its length is used) and a grid
    of ``grid`` cells: the mean over each cell ``[grid, L]`` (pixel i in cell ``i * grid // L``;
    ``F.adaptive_avg_pool2d``'s cells where ``grid`` divides ``L``) and the bilinear up-sampling
    ``[L, grid]`` (``F.interpolate``'s with ``align_corners=False``). Matrices made with plain
    arithmetic from the length, so an exported graph keeps H and W dynamic (those two functions
    export with the traced size fixed)."""
    index = torch.ones_like(line, dtype=torch.float32).cumsum(0) - 1  # [L]: 0 .. L - 1
    length = index[-1:] + 1
    cells = torch.arange(grid, dtype=torch.float32, device=line.device)[:, None]  # [grid, 1]
    members = (torch.floor(index * grid / length) == cells).float()  # [grid, L]
    source = torch.clamp((index + 0.5) * grid / length - 0.5, min=0)  # the pixel's place on the grid
    lower = torch.floor(source)
    upper = torch.clamp(lower + 1, max=grid - 1)
    weight = source - lower
    up = (lower == cells) * (1 - weight) + (upper == cells) * weight  # [grid, L]
    dtype = line.dtype
    return (members / members.sum(1, keepdim=True)).to(dtype), up.T.to(dtype)


class PixelAffineHead(nn.Module):
    """The ``pixel`` G's output: ``clamp(base + b + A x, -1, 1)`` per pixel, where the raw input
    ``x [N, C, S, S]`` gets a C x C matrix ``A`` and an offset ``b`` of its own at every pixel,
    computed by two 1x1 convolutions from ``cues`` ``[N, F, S, S]`` (G's features, the label
    planes, the phase planes). Local affine colour transforms (Gharbi et al. 2017's HDRNet):
    a re-tint, an inversion ``1 - g`` or a row's gain (de-striping) is exact here, where G's
    instance-normed decoder loses absolute brightness. Starts as ``clamp(base)`` (A = 0, b = 0).

    ``grid`` K > 0 (module docstring, "A coarse grid"): ``clamp(A x + b, -1, 1)`` without the
    base, the hidden features averaged over a K x K grid, the coefficients bilinearly upsampled
    and combined with the planes 1, row phase, column phase. Starts at 0 (A = 0, b = 0)."""

    def __init__(self, channels: int, cues: int, hidden: int, grid: int = 0):
        super().__init__()
        self.channels, self.grid = channels, grid
        self.hidden = nn.Sequential(nn.Conv2d(cues, hidden, 1), nn.ReLU(inplace=True))
        sets = 3 if grid else 1  # with a grid: a coefficient map per plane (1, row, column phase)
        self.coefficients = nn.Conv2d(hidden, (channels * channels + channels) * sets, 1)
        # A = 0, b = 0: G starts as the skip G's clamped base. Not as a copy of its input
        # (A = identity): that G kept copying and fooled D's classifier with faint marks
        # (docs/stargan.md, "Phase 5").
        nn.init.zeros_(self.coefficients.weight)
        nn.init.zeros_(self.coefficients.bias)

    def forward(self, base: Tensor | None, x: Tensor, cues: Tensor) -> Tensor:
        if self.grid:
            return self._coarse(x, cues)
        coefficients = self.coefficients(self.hidden(cues))
        return torch.clamp(base + self._affine_map(coefficients, x), -1.0, 1.0)

    def _coarse(self, x: Tensor, cues: Tensor) -> Tensor:
        """``clamp(A x + b)`` with coefficients smooth in space (the class docstring)."""
        pool_rows, up_rows = grid_operators(x[0, 0, :, 0], self.grid)  # [K, H], [H, K]
        pool_cols, up_cols = grid_operators(x[0, 0, 0], self.grid)  # [K, W], [W, K]
        cells = pool_rows @ self.hidden(cues) @ pool_cols.T  # [N, hidden, K, K]
        smooth = COARSE_GAIN * (up_rows @ self.coefficients(cells) @ up_cols.T)  # [N, 3 (C*C + C), H, W]
        planes = torch.cat([torch.ones_like(x[:, :1]), phase_planes(x)], dim=1)  # [N, 3, S, S]
        coefficients = (smooth.unflatten(1, (3, -1)) * planes[:, :, None]).sum(1)  # [N, C*C + C, S, S]
        return torch.clamp(self._affine_map(coefficients, x), -1.0, 1.0)

    def _affine_map(self, coefficients: Tensor, x: Tensor) -> Tensor:
        """``A x + b`` per pixel: ``coefficients [N, C*C + C, S, S]`` (A row by row, then b)."""
        C = self.channels
        gains = coefficients[:, : C * C].unflatten(1, (C, C))  # [N, C_out, C_in, S, S]
        return (gains * x[:, None]).sum(2) + coefficients[:, C * C :]


class SkipStarGenerator(nn.Module):
    """``model.generator: skip`` (module docstring): ``G(x, c)`` with the same inputs and outputs
    as ``StarGenerator`` (``[N, C, S, S]`` in [-1, 1], ``[N, K]``) and U-Net skips at the full
    and the half size. ``model.generator: pixel`` turns on both of: ``phase`` (the phase
    planes beside the input and the label planes) and ``affine`` (a ``PixelAffineHead`` in
    place of the last convolution's tanh); each alone is for ablations only. ``grid`` K > 0
    (``model.pixel_grid``, with ``affine`` only): the head's coefficients on a K x K grid and no
    last convolution (the module docstring, "A coarse grid")."""

    def __init__(
        self,
        channels: int,
        num_domains: int,
        image_size: int,
        width: int = 64,
        res_blocks: int = 6,
        phase: bool = False,
        affine: bool = False,
        grid: int = 0,
    ):
        super().__init__()
        check_image_size(image_size)
        check_pixel_grid(grid, image_size, affine)
        self.num_domains, self.phase = num_domains, phase
        extra = 2 if phase else 0  # phase planes
        stem = nn.Conv2d(channels + num_domains + extra, width, 7, 1, 3, bias=False)
        self.stem = nn.Sequential(stem, _norm(width), nn.ReLU(inplace=True))  # the reference's
        self.down1, self.down2 = _down(width, width * 2), _down(width * 2, width * 4)
        self.blocks = nn.Sequential(*[ResidualBlock(width * 4) for _ in range(res_blocks)])
        self.up1 = _up(width * 4, width * 2)
        self.up2 = _up(width * 4, width)  # [up1's output, down1's] -> full size
        # [up2's output, the stem's, the label planes]: a nonlinear mix without a norm, so the
        # label reaches the full-size detail at full strength and the detail can be re-styled
        self.fuse = nn.Sequential(nn.Conv2d(width * 2 + num_domains, width, 3, 1, 1), nn.ReLU(inplace=True))
        last = nn.Conv2d(width, channels, 7, 1, 3, bias=False)
        # with the affine head, the last convolution's output is its base (no tanh: it clamps);
        # a coarse head has no base (``last`` is still built: it keeps the seeded initialisation
        # of the layers after it as it was)
        self.head = None if grid else nn.Sequential(last) if affine else nn.Sequential(last, nn.Tanh())
        # a coarse head also reads the raw input: its cell means of ReLU(w x + v) are the levels
        # that name the source's style (G's features are instance-normed; docs/stargan.md, "Phase 9")
        self.grid = grid
        cues = width + num_domains + extra + (channels if grid else 0)
        self.affine = PixelAffineHead(channels, cues, width, grid) if affine else None

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        inputs = with_label_planes(x, c)  # [N, C + K, S, S]
        planes = [phase_planes(x)] if self.phase else []  # [N, 2, S, S]
        full = self.stem(torch.cat([inputs, *planes], dim=1) if planes else inputs)  # [N, w, S, S]
        half = self.down1(full)  # [N, 2w, S/2, S/2]
        h = self.up1(self.blocks(self.down2(half)))  # [N, 2w, S/2, S/2]
        h = self.up2(torch.cat([h, half], dim=1))
        fused = self.fuse(with_label_planes(torch.cat([h, full], dim=1), c))  # [N, w, S, S]
        if self.affine is None:
            return self.head(fused)
        raw = [x] if self.grid else []  # [N, C, S, S]
        cues = torch.cat([with_label_planes(fused, c), *planes, *raw], dim=1)
        return self.affine(None if self.head is None else self.head(fused), x, cues)


def discriminator_depth(image_size: int) -> tuple[int, int]:
    """``(down-samplings, side of the last feature map)`` by the rule in the module docstring."""
    depth, side = 0, image_size
    while depth < MAX_DOWNSAMPLINGS and side // 2 >= 2:
        depth, side = depth + 1, side // 2
    return depth, side


def discriminator_trunk(channels: int, width: int, depth: int) -> nn.Sequential:
    """D's shared layers: ``depth`` stride-2 4x4 convolutions from ``width``, doubling, LeakyReLU."""
    layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.01)]
    current = width
    for _ in range(depth - 1):
        layers += [nn.Conv2d(current, current * 2, 4, 2, 1), nn.LeakyReLU(0.01)]
        current *= 2
    return nn.Sequential(*layers)


class StarDiscriminator(nn.Module):
    """``D(x)``: images ``[N, C, S, S]`` -> (PatchGAN scores ``[N, P]``, domain logits ``[N, K]``),
    ``P`` = patches of the last feature map (its side squared).

    ``split`` (``model.d_split``, not in the paper): the class head gets a trunk of its own, of
    the same shape, so the classification loss cannot shape the features the realism head
    reads (twice D's cost; docs/stargan.md, "Phase 8"). Its parameters are ``class_trunk.*``.

    ``conditional`` (``model.d_conditional``, not in the paper): ``D(x, labels)`` adds to each
    patch's score the inner product of its features with an embedding of the label vector
    ``[N, K]`` (the projection discriminator of Miyato & Koyama 2018, per patch; a sum of
    attribute embeddings for multi-label domains). The paper's realism head is blind to the
    domain and leaves that to the class head, which may read a cue that does not decide
    realism (docs/stargan.md, "Phase 6"). The embedding starts at zero, so an untrained
    conditional D scores as the plain one. Its parameter is ``embed.weight``.

    Without either option the state dict is the reference's."""

    def __init__(
        self,
        channels: int,
        num_domains: int,
        image_size: int,
        width: int = 64,
        split: bool = False,
        conditional: bool = False,
    ):
        super().__init__()
        check_image_size(image_size)
        depth, side = discriminator_depth(image_size)
        current = width * 2 ** (depth - 1)
        self.main = discriminator_trunk(channels, width, depth)
        self.patch_head = nn.Conv2d(current, 1, 3, 1, 1, bias=False)
        self.class_head = nn.Conv2d(current, num_domains, side, bias=False)
        # created last, so a plain D draws the same initial weights as before the options
        self.class_trunk = discriminator_trunk(channels, width, depth) if split else None
        self.embed = nn.Linear(num_domains, current, bias=False) if conditional else None
        if self.embed is not None:
            nn.init.zeros_(self.embed.weight)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``labels`` (float ``[N, K]``): the domains to judge realism for, required exactly
        when the D is conditional."""
        if (labels is None) != (self.embed is None):
            need = "needs" if self.embed is not None else "takes no"
            raise ValueError(f"this StarGAN discriminator {need} domain labels for its realism head")
        h = self.main(x)
        h_class = h if self.class_trunk is None else self.class_trunk(x)
        scores = self.patch_head(h)
        if self.embed is not None:
            scores = scores + (self.embed(labels)[:, :, None, None] * h).sum(1, keepdim=True)
        return scores.flatten(1), self.class_head(h_class).flatten(1)


def generator_meta(
    channels: int,
    num_domains: int,
    image_size: int,
    width: int,
    res_blocks: int,
    kind: str = "resnet",
    pixel_grid: int = 0,
) -> dict:
    """What ``build_generator`` needs to rebuild G (stored beside exported weights); ``kind``
    is ``model.generator`` (``GENERATORS``), ``pixel_grid`` ``model.pixel_grid`` (recorded for
    ``pixel`` only, so the other generators' metadata is as before the option)."""
    check_generator(kind)
    check_pixel_grid(pixel_grid, image_size, kind == "pixel")
    grid = {"pixel_grid": pixel_grid} if kind == "pixel" else {}
    return {
        "family": "stargan",
        "generator": kind,
        "channels": channels,
        "num_domains": num_domains,
        "image_size": image_size,
        "g_width": width,
        "res_blocks": res_blocks,
        **grid,
    }


def check_generator(kind: str) -> None:
    if kind not in GENERATORS:
        raise StarGANConfigError(
            f"model.generator={kind!r} is not a StarGAN generator; "
            f"choose one of: auto, {', '.join(GENERATORS)}"
        )


def check_pixel_grid(grid: Any, image_size: int, affine: bool) -> None:
    """``model.pixel_grid``: 0 (per pixel) or a grid side from 1 to half the image side, and
    only for the ``pixel`` G (whose head it shapes)."""
    if isinstance(grid, bool) or not isinstance(grid, int) or not 0 <= grid <= image_size // 2:
        raise StarGANConfigError(
            f"model.pixel_grid={grid!r} must be 0 (per-pixel coefficients) or a grid side from 1 "
            f"to {image_size // 2} (half the image side); e.g. model.pixel_grid=4"
        )
    if grid and not affine:
        raise StarGANConfigError(
            f"model.pixel_grid={grid} shapes the pixel G's head; set model.generator=pixel "
            "or model.pixel_grid=0"
        )


def build_generator(meta: dict[str, Any]) -> StarGenerator | SkipStarGenerator:
    """An untrained G of the shape ``meta`` (from ``generator_meta``) describes; metadata
    written before ``generator`` was recorded is the reference's G."""
    kind = meta.get("generator", "resnet")
    check_generator(kind)
    shape = (meta["channels"], meta["num_domains"], meta["image_size"], meta["g_width"], meta["res_blocks"])
    if kind == "resnet":
        return StarGenerator(*shape)
    pixel = kind == "pixel"  # metadata written before model.pixel_grid: per pixel
    return SkipStarGenerator(
        *shape, phase=pixel, affine=pixel, grid=meta.get("pixel_grid", 0) if pixel else 0
    )
