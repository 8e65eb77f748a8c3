"""Wavelet-shrinkage denoising (Prakash et al. 2018, Sec. 7), batched in torch.

Functional core :func:`wavelet_denoise` reproduces ``skimage.restoration.denoise_wavelet`` (BayesShrink or
VisuShrink, soft or hard thresholding, noise sigma from the finest diagonal sub-band, optional YCbCr) for a whole
batch at once; the DWT is ptwt's (PyWavelets-compatible, symmetric padding) and the colour conversion kornia's.
skimage min-max normalises each YCbCr channel first; the shrinkage is equivariant to that affine map (the detail
filters sum to zero, the thresholds scale with the coefficients), so only the noise estimate needs it: that one
small step runs in NumPy/PyWavelets with skimage's own arithmetic, because which finest-scale coefficients are
exactly zero (and so left out of its median) depends on rounding.
"""

from __future__ import annotations

import math

import numpy as np
import ptwt
import pywt
import torch
from kornia.color import rgb_to_ycbcr, ycbcr_to_rgb

from irad.defenses.base import Defense
from irad.defenses.registry import register_defense

METHODS = ("bayes", "visu")
MODES = ("soft", "hard")
_MAD_TO_SIGMA = 0.6744897501960817  # 75th percentile of the standard normal: sigma = median|d| / this
# ITU-R BT.601 RGB -> YCbCr (Y in [16, 235]), the matrix of scikit-image's rgb2ycbcr.
_YCBCR_FROM_RGB = np.array([[65.481, 128.553, 24.966], [-37.797, -74.203, 112.0], [112.0, -93.786, -18.214]])


def default_levels(height: int, width: int, wavelet: str) -> int:
    """skimage's default: three fewer than the maximum decomposition depth, at least one."""
    return max(pywt.dwtn_max_level((height, width), wavelet) - 3, 1)


def estimate_sigma(planes: np.ndarray, wavelet: str) -> np.ndarray:
    """Noise sigma of each plane ``(B, H, W)``: the median absolute non-zero finest diagonal DWT coefficient / 0.6745
    (Donoho & Johnstone 1994), computed with PyWavelets in the planes' dtype exactly as scikit-image does, so that
    the same coefficients count as zero (its rounding residues included). ``(B,)``; 0 where all are zero."""
    detail_rows = pywt.dwt(planes, wavelet, axis=1)[1]  # the first step of wavedecn, detail branch only
    dd = np.abs(pywt.dwt(detail_rows, wavelet, axis=2)[1]).reshape(len(planes), -1)
    return np.array([np.median(d[d != 0]) / _MAD_TO_SIGMA if d.any() else 0.0 for d in dd])


def _skimage_planes(x: torch.Tensor, ycbcr: bool) -> np.ndarray:
    """The planes scikit-image estimates noise on: each YCbCr channel min-max normalised (or the RGB channels),
    with its arithmetic (BT.601 matrix product in the input's dtype). ``(N*C, H, W)``."""
    a = x.detach().cpu().numpy()
    if ycbcr:
        y = a.transpose(0, 2, 3, 1) @ _YCBCR_FROM_RGB.T.astype(a.dtype)  # the product skimage forms, bit for bit
        a = np.ascontiguousarray(y.transpose(0, 3, 1, 2))
        a[:, 0] += 16
        a[:, 1:] += 128
        flat = a.reshape(*a.shape[:2], -1)
        lo, hi = flat.min(2)[..., None, None], flat.max(2)[..., None, None]
        a = (a - lo) / np.where(hi > lo, hi - lo, 1)
    return a.reshape(-1, *a.shape[2:])


def _check_options(wavelet: str, method: str, mode: str) -> None:
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if wavelet not in pywt.wavelist(kind="discrete"):
        raise ValueError(f"unknown discrete wavelet {wavelet!r} (e.g. db1, db2, haar)")


def _shrink(d: torch.Tensor, t: torch.Tensor, mode: str) -> torch.Tensor:
    if mode == "soft":
        return torch.sign(d) * torch.relu(d.abs() - t)
    return d * (d.abs() >= t)


def _denoise_planes(x: torch.Tensor, wavelet: str, method: str, mode: str, levels: int,
                    sigma: torch.Tensor) -> torch.Tensor:
    """Threshold each plane of ``x`` ``(B, H, W)`` with noise std ``sigma`` ``(B,)``."""
    b, h, w = x.shape
    # A two-tap filter on sides divisible by 2^levels never reads padding: skip ptwt's (slow) symmetric padding.
    exact_fit = pywt.Wavelet(wavelet).dec_len == 2 and h % 2**levels == 0 and w % 2**levels == 0
    coeffs = ptwt.wavedec2(x, wavelet, mode="zero" if exact_fit else "symmetric", level=levels)
    var = (sigma**2).view(b, 1, 1)
    eps = torch.finfo(x.dtype).eps
    if method == "visu":
        t_visu = sigma.view(b, 1, 1) * math.sqrt(2 * math.log(h * w))
    details = []
    for level in coeffs[1:]:
        bands = []
        for d in level:
            if method == "bayes":
                t = var / torch.sqrt((d.square().mean((1, 2), keepdim=True) - var).clamp_min(eps))
            else:
                t = t_visu
            bands.append(_shrink(d, t, mode))
        details.append(type(level)(*bands))
    return ptwt.waverec2((coeffs[0], *details), wavelet)[:, :h, :w]


def _ycbcr_sigma(sigma: float, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Per-channel YCbCr noise sigma for i.i.d. RGB noise ``sigma``: the rows' norms of kornia's conversion."""
    basis = torch.eye(3, dtype=dtype, device=device).view(3, 3, 1, 1)
    rows = (rgb_to_ycbcr(basis) - rgb_to_ycbcr(torch.zeros_like(basis[:1]))).flatten(1).T  # (out, in)
    return sigma * rows.norm(dim=1)


def wavelet_denoise(x: torch.Tensor, wavelet: str = "db1", method: str = "bayes", mode: str = "soft",
                    levels: int | None = None, sigma: float | None = None, ycbcr: bool = True) -> torch.Tensor:
    """Denoise images ``(N, C, H, W)`` by wavelet shrinkage, per image and channel.

    ``method``: bayes (BayesShrink, a threshold per sub-band) or visu (VisuShrink, one universal threshold);
    ``mode``: soft or hard; ``levels``: DWT depth (default: skimage's); ``sigma``: the noise std in the input's
    units (default: estimated per channel); ``ycbcr``: denoise in YCbCr (needs C=3). Output is not clamped.
    """
    _check_options(wavelet, method, mode)
    n, c, h, w = x.shape
    if ycbcr and c != 3:
        raise ValueError(f"ycbcr=True needs 3 channels, got {c}")
    levels = levels or default_levels(h, w, wavelet)
    if sigma is None:
        s = torch.from_numpy(estimate_sigma(_skimage_planes(x, ycbcr), wavelet)).to(x)
    elif ycbcr:
        s = _ycbcr_sigma(sigma, x.dtype, x.device).repeat(n)
    else:
        s = torch.full((n * c,), float(sigma), dtype=x.dtype, device=x.device)
    if ycbcr:
        x = rgb_to_ycbcr(x)
        if sigma is None:  # estimated on the normalised channel: back to this channel's scale
            span = x.detach().flatten(2).amax(2) - x.detach().flatten(2).amin(2)
            s = s * span.flatten()
    out = _denoise_planes(x.reshape(n * c, h, w), wavelet, method, mode, levels, s).view(n, c, h, w)
    return ycbcr_to_rgb(out) if ycbcr else out


@register_defense("wavelet")
class WaveletDenoise(Defense):
    """Wavelet denoising (BayesShrink, soft, db1, in YCbCr by default): skimage's denoise_wavelet, batched.

    Differentiable (shrinkage is piecewise linear); deterministic.
    """

    def __init__(self, wavelet: str = "db1", method: str = "bayes", mode: str = "soft", levels: int = 0,
                 sigma: float = 0.0, ycbcr: bool = True):
        super().__init__()
        _check_options(wavelet, method, mode)
        self.wavelet, self.method, self.mode, self.ycbcr = wavelet, method, mode, ycbcr
        self.levels = levels or None  # 0 = skimage's default depth
        self.sigma = sigma or None  # 0 = estimate

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        return wavelet_denoise(x, self.wavelet, self.method, self.mode, self.levels, self.sigma, self.ycbcr)
