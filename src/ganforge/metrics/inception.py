"""The FID Inception v3 network (pool3, 2048-d), as pytorch-fid uses it, in plain torch.

Standard FID compares Inception v3 features of TensorFlow's 2015-12-05 graph. pytorch-fid
ported those weights to ``pt_inception-2015-12-05-6726825d.pth``; its network is torchvision's
``Inception3`` (1008 classes, no auxiliary head) with four patched blocks. This module rebuilds
that network without torchvision, with the same parameter names and shapes, so the same
weights file loads. The patches (from pytorch-fid's ``inception.py``):

* the average pools inside InceptionA, InceptionC and the first InceptionE ignore padding
  (``count_include_pad=False``), as TensorFlow's pool does;
* the last InceptionE block (``Mixed_7c``) max-pools its pool branch instead of averaging.

Input: float images ``[N, 3, H, W]`` in [0, 1]; they are resized bilinearly to 299 x 299
(``F.interpolate(..., align_corners=False)``, no antialiasing) and scaled to [-1, 1], exactly as
pytorch-fid's ``InceptionV3(resize_input=True, normalize_input=True)``. Output: the final
average pool, ``[N, 2048]``.

The weights are looked for, in order, at ``--inception-weights``, ``$GANFORGE_INCEPTION_WEIGHTS``
and ``<cache>/pt_inception-2015-12-05-6726825d.pth`` (cache: ``$GANFORGE_CACHE`` or
``~/.cache/ganforge``); when none exists they are downloaded from pytorch-fid's release page
(checked against the sha256 prefix in the file name) if the network allows.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import urllib.request
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.files import cache_root
from ganforge.metrics.errors import MetricError

WEIGHTS_NAME = "pt_inception-2015-12-05-6726825d.pth"
WEIGHTS_URL = "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/" + WEIGHTS_NAME
WEIGHTS_SHA256_PREFIX = "6726825d"  # torch hub convention: the name carries the hash's start
WEIGHTS_ENV = "GANFORGE_INCEPTION_WEIGHTS"
INPUT_SIZE = 299  # pixels; every image is resized to this side
FEATURE_DIM = 2048

# Tests replace this to simulate a machine without network.
urlopen = urllib.request.urlopen


class BasicConv2d(nn.Module):
    """Convolution without bias, batch norm (eps 1e-3), ReLU: torchvision's Inception unit."""

    def __init__(self, in_channels: int, out_channels: int, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _avg_pool_same(x: torch.Tensor) -> torch.Tensor:
    # TensorFlow's average pool divides by the number of real (unpadded) pixels.
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class InceptionA(nn.Module):
    def __init__(self, in_channels: int, pool_features: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(in_channels, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(in_channels, pool_features, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch5x5 = self.branch5x5_2(self.branch5x5_1(x))
        branch3x3dbl = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        branch_pool = self.branch_pool(_avg_pool_same(x))
        return torch.cat([self.branch1x1(x), branch5x5, branch3x3dbl, branch_pool], 1)


class InceptionB(nn.Module):
    def __init__(self, in_channels: int):
        super().__init__()
        self.branch3x3 = BasicConv2d(in_channels, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch3x3dbl = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        branch_pool = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([self.branch3x3(x), branch3x3dbl, branch_pool], 1)


class InceptionC(nn.Module):
    def __init__(self, in_channels: int, channels_7x7: int):
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch7x7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        branch7x7dbl = x
        for layer in (
            self.branch7x7dbl_1,
            self.branch7x7dbl_2,
            self.branch7x7dbl_3,
            self.branch7x7dbl_4,
            self.branch7x7dbl_5,
        ):
            branch7x7dbl = layer(branch7x7dbl)
        branch_pool = self.branch_pool(_avg_pool_same(x))
        return torch.cat([self.branch1x1(x), branch7x7, branch7x7dbl, branch_pool], 1)


class InceptionD(nn.Module):
    def __init__(self, in_channels: int):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch3x3 = self.branch3x3_2(self.branch3x3_1(x))
        branch7x7x3 = x
        for layer in (self.branch7x7x3_1, self.branch7x7x3_2, self.branch7x7x3_3, self.branch7x7x3_4):
            branch7x7x3 = layer(branch7x7x3)
        branch_pool = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([branch3x3, branch7x7x3, branch_pool], 1)


class InceptionE(nn.Module):
    """``max_pool=False``: pytorch-fid's FIDInceptionE_1; ``True``: FIDInceptionE_2."""

    def __init__(self, in_channels: int, max_pool: bool):
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = BasicConv2d(in_channels, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(in_channels, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch3x3 = self.branch3x3_1(x)
        branch3x3 = torch.cat([self.branch3x3_2a(branch3x3), self.branch3x3_2b(branch3x3)], 1)
        branch3x3dbl = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        branch3x3dbl = torch.cat([self.branch3x3dbl_3a(branch3x3dbl), self.branch3x3dbl_3b(branch3x3dbl)], 1)
        # The FID graph max-pools in its last block (an oddity of that TF graph, kept for
        # comparable numbers); every other block averages.
        if self.max_pool:
            pooled = F.max_pool2d(x, kernel_size=3, stride=1, padding=1)
        else:
            pooled = _avg_pool_same(x)
        branch_pool = self.branch_pool(pooled)
        return torch.cat([self.branch1x1(x), branch3x3, branch3x3dbl, branch_pool], 1)


class FIDInceptionV3(nn.Module):
    """pytorch-fid's FID Inception v3; attribute names match ``pt_inception-2015-12-05``."""

    def __init__(self):
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, channels_7x7=128)
        self.Mixed_6c = InceptionC(768, channels_7x7=160)
        self.Mixed_6d = InceptionC(768, channels_7x7=160)
        self.Mixed_6e = InceptionC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280, max_pool=False)
        self.Mixed_7c = InceptionE(2048, max_pool=True)
        # The 1008-way classifier is unused for FID; it is kept so the weights file loads
        # with its exact key set.
        self.fc = nn.Linear(2048, 1008)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``images [N, 3, H, W]`` in [0, 1] -> pool3 features ``[N, 2048]``."""
        x = F.interpolate(images, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        x = 2 * x - 1
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        for block in (
            self.Mixed_5b,
            self.Mixed_5c,
            self.Mixed_5d,
            self.Mixed_6a,
            self.Mixed_6b,
            self.Mixed_6c,
            self.Mixed_6d,
            self.Mixed_6e,
            self.Mixed_7a,
            self.Mixed_7b,
            self.Mixed_7c,
        ):
            x = block(x)
        return F.adaptive_avg_pool2d(x, (1, 1)).flatten(1)


# --- the weights file -------------------------------------------------------------------


def _how_to_get(where: Path) -> str:
    return (
        f"download {WEIGHTS_URL} on a machine with network and put it at {where} (or pass "
        f"--inception-weights FILE, or set ${WEIGHTS_ENV}); Fashion-MNIST needs no download "
        "(its evaluator ships), MNIST and CIFAR-10 build theirs with `ganforge evaluator "
        "train`"
    )


def weights_path(explicit: str | Path | None = None, download: bool = True) -> Path:
    """The local FID Inception weights: ``explicit``, ``$GANFORGE_INCEPTION_WEIGHTS``, or the
    cache; downloaded into the cache when missing and ``download`` is allowed.

    Raises ``MetricError`` with the instructions when no file can be found or fetched.
    """
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise MetricError(
                f"--inception-weights {path} does not exist; " + _how_to_get(cache_root() / WEIGHTS_NAME)
            )
        return path
    env = os.environ.get(WEIGHTS_ENV)
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise MetricError(
                f"${WEIGHTS_ENV}={path} does not exist; " + _how_to_get(cache_root() / WEIGHTS_NAME)
            )
        return path
    path = cache_root() / WEIGHTS_NAME
    if path.is_file():
        return path
    if not download:
        raise MetricError(f"FID Inception weights not found at {path}; " + _how_to_get(path))
    _download(path)
    return path


def _download(path: Path) -> None:
    """Fetch the weights into ``path`` via a temporary file; check the sha256 prefix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    hasher = hashlib.sha256()
    print(f"downloading {WEIGHTS_URL} -> {path}", file=sys.stderr)
    try:
        with os.fdopen(handle, "wb") as out, urlopen(WEIGHTS_URL, timeout=60) as response:
            while chunk := response.read(1 << 20):
                hasher.update(chunk)
                out.write(chunk)
        if not hasher.hexdigest().startswith(WEIGHTS_SHA256_PREFIX):
            raise MetricError(
                f"downloaded {WEIGHTS_URL} has sha256 {hasher.hexdigest()}, "
                f"which does not start with {WEIGHTS_SHA256_PREFIX}; not used"
            )
        os.replace(temp_name, path)
    except OSError as error:  # no network, DNS failure, timeout, full disk
        raise MetricError(
            f"FID Inception weights not found at {path} and the download failed "
            f"({error}); " + _how_to_get(path)
        ) from None
    finally:
        if os.path.exists(temp_name):
            os.remove(temp_name)


def _without_counters(state: dict) -> dict:
    # Batch norm's num_batches_tracked is a training counter; old files lack it.
    return {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}


def load_fid_inception(path: str | Path) -> FIDInceptionV3:
    """Build the network and load ``path`` (read with ``weights_only=True``); eval mode.

    A file whose keys or shapes differ from pytorch-fid's is a ``MetricError`` naming them.
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # truncated file, foreign pickle, random bytes
        raise MetricError(
            f"cannot read FID Inception weights {path} ({type(error).__name__}); " + _how_to_get(Path(path))
        ) from None
    if not isinstance(state, dict):
        raise MetricError(f"{path} is not a state dict of the FID Inception network")
    with torch.random.fork_rng(devices=[]):  # layer init must not move the global stream
        model = FIDInceptionV3()
    wanted = _without_counters(model.state_dict())
    given = _without_counters(state)
    missing = sorted(set(wanted) - set(given))
    unexpected = sorted(set(given) - set(wanted))
    wrong = sorted(k for k in set(wanted) & set(given) if tuple(wanted[k].shape) != tuple(given[k].shape))
    if missing or unexpected or wrong:
        parts = [
            f"{label} {len(keys)} (e.g. {keys[0]})"
            for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong))
            if keys
        ]
        raise MetricError(f"{path} is not {WEIGHTS_NAME}: keys " + ", ".join(parts))
    model.load_state_dict(given, strict=False)
    return model.eval().requires_grad_(False)
