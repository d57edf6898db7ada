"""The frequency-domain view of an image that the spectrum detector reads.

Zhang, Karaman & Chang 2019 ("Detecting and simulating artifacts in GAN fake images") showed
that the up-sampling layers of GAN generators (transposed convolutions above all) leave
periodic patterns, a faint checkerboard, that stand out as peaks in the image's 2-D Fourier
spectrum even when the pixels look clean. The feature here is the log-magnitude spectrum of
the gray image, zero frequency in the centre.
"""

from __future__ import annotations

import torch

EPS = 1e-3  # floor under the magnitude before the log (pixels are in [-1, 1])


def log_spectrum(images: torch.Tensor) -> torch.Tensor:
    """``[N, C, H, W]`` in [-1, 1] -> log-magnitude spectra ``[N, H, W]`` (float32).

    Channels are averaged first (a gray image); the spectrum is ``log(|FFT2(x)| + EPS)``,
    shifted so the zero frequency sits at ``[H // 2, W // 2]``. A pattern that alternates
    sign from pixel to pixel (a checkerboard) lands at the corner ``[0, 0]``: the Nyquist
    frequency in both directions.
    """
    if images.dim() != 4:
        raise ValueError(f"expected images [N, C, H, W], got shape {tuple(images.shape)}")
    gray = images.float().mean(dim=1)
    spectrum = torch.fft.fftshift(torch.fft.fft2(gray, norm="ortho"), dim=(-2, -1))
    return torch.log(spectrum.abs() + EPS)


def dct_matrix(size: int) -> torch.Tensor:
    """The orthonormal DCT-II matrix ``[size, size]``: row k is the k-th cosine basis vector."""
    n = torch.arange(size, dtype=torch.float64)
    basis = torch.cos(torch.pi * (n[None, :] + 0.5) * n[:, None] / size) * (2.0 / size) ** 0.5
    basis[0] /= 2**0.5
    return basis.float()


def log_dct(images: torch.Tensor) -> torch.Tensor:
    """``[N, C, H, W]`` in [-1, 1] (H = W) -> log-magnitude 2-D DCT-II ``[N, H, W]`` (float32).

    Frank et al. 2020 ("Leveraging frequency analysis for deep fake image recognition") found
    the up-sampling artefacts of every GAN they tried as a grid of peaks in the log |DCT|, where
    a linear classifier separates them. Unlike the FFT the DCT has no wrap-around at the image
    border and puts the zero frequency at ``[0, 0]``, the highest at ``[H - 1, W - 1]``.
    """
    if images.dim() != 4 or images.shape[-1] != images.shape[-2]:
        raise ValueError(f"expected square images [N, C, H, W], got shape {tuple(images.shape)}")
    basis = dct_matrix(images.shape[-1]).to(images.device)
    gray = images.float().mean(dim=1)
    return torch.log((basis @ gray @ basis.T).abs() + EPS)
