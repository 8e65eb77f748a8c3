"""Naive image resampling (IRAD paper Sec. 3.2, Eq. 2-8): reconstruct with nearest or bilinear interpolation,
then sample at shifted coordinates U = G + SAMPLER.

Coordinates follow the paper: ``G[i, j] = [i, j]`` (row, column) in pixel units, pixel centres at integers.
SI(d) shifts every pixel by ``[d, d]``; SV(gamma) shifts each pixel by independent ``U(0, gamma)`` offsets
per axis. Borders: a coordinate outside ``[0, H-1] x [0, W-1]`` is clamped to the edge (``padding="border"``,
replicating edge pixels), or mirrored (``"reflection"``), or reads zeros (``"zeros"``).
Nearest rounds half up (``floor(u + 0.5)``), so SI(1.5) moves every pixel by exactly 2.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from irad.defenses.base import RandomizedDefense
from irad.defenses.registry import register_defense
from irad.utils.validation import check_choice, check_range

RECONS = ("nearest", "bilinear")
SAMPLERS = ("none", "si", "sv")
PADDINGS = ("border", "reflection", "zeros")


def pixel_grid(h: int, w: int, device: torch.device | None = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """G: ``(H, W, 2)`` with ``G[i, j] = [i, j]``."""
    i = torch.arange(h, device=device, dtype=dtype)
    j = torch.arange(w, device=device, dtype=dtype)
    return torch.stack(torch.meshgrid(i, j, indexing="ij"), dim=-1)


def sample_at(x: torch.Tensor, coords: torch.Tensor, recon: str = "bilinear", padding: str = "border") -> torch.Tensor:
    """Read image ``x`` ``(N, C, H, W)`` at continuous pixel coordinates ``coords`` ``(N, H', W', 2)`` = ``[row, col]``.

    Returns ``(N, C, H', W')``; differentiable w.r.t. ``x`` (and w.r.t. ``coords`` for bilinear).
    """
    check_choice("recon", recon, RECONS)
    check_choice("padding", padding, PADDINGS)
    h, w = x.shape[-2:]
    if recon == "nearest":
        coords = torch.floor(coords + 0.5)
    # grid_sample wants (x=col, y=row) in [-1, 1]; with align_corners=True, -1 and 1 are the outer pixel centres.
    scale = torch.tensor([2.0 / max(w - 1, 1), 2.0 / max(h - 1, 1)], device=x.device, dtype=coords.dtype)
    grid = coords.flip(-1) * scale - 1
    return F.grid_sample(x, grid.to(x.dtype), mode=recon, padding_mode=padding, align_corners=True)


def resample(x: torch.Tensor, offsets: torch.Tensor, recon: str = "bilinear", padding: str = "border") -> torch.Tensor:
    """``I_hat[i, j] = phi(G[i, j] + offsets[..., i, j, :])`` for ``x`` ``(N, C, H, W)``, ``offsets`` ``(N or 1, H, W, 2)``."""
    g = pixel_grid(x.shape[-2], x.shape[-1], x.device, offsets.dtype)
    coords = (g + offsets).expand(x.shape[0], -1, -1, -1)
    return sample_at(x, coords, recon, padding)


def sampler_offsets(
    sampler: str, shift: float, n: int, h: int, w: int, device: torch.device,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Offsets ``(N or 1, H, W, 2)``: zeros (none), constant ``[d, d]`` (si) or i.i.d. ``U(0, gamma)`` (sv)."""
    check_choice("sampler", sampler, SAMPLERS)
    if sampler == "none":
        return torch.zeros(1, h, w, 2, device=device)
    if sampler == "si":
        return torch.full((1, h, w, 2), float(shift), device=device)
    return torch.rand(n, h, w, 2, device=device, generator=generator) * shift


@register_defense("resample")
class Resample(RandomizedDefense):
    """Naive image resampling: nearest/bilinear reconstruction, sampled with no shift, SI(d) or SV(gamma) (IRAD Sec. 3.2).

    Args:
        recon: ``nearest`` or ``bilinear``.
        sampler: ``none``, ``si`` (every pixel shifted by [shift, shift]) or ``sv`` (U(0, shift) per pixel and axis).
        shift: d for SI, gamma for SV, in pixels.
        padding: ``border``, ``reflection`` or ``zeros`` for coordinates outside the image.
        seed: fixes SV's random offsets (then the defense is deterministic).

    Differentiable (w.r.t. the image); randomized for ``sv`` without a seed.
    """

    def __init__(self, recon: str = "bilinear", sampler: str = "si", shift: float = 1.5, padding: str = "border",
                 seed: int | None = None):
        super().__init__(seed)
        check_choice("recon", recon, RECONS)
        check_choice("sampler", sampler, SAMPLERS)
        check_choice("padding", padding, PADDINGS)
        check_range("", "shift", shift, lo=0)
        self.recon, self.sampler, self.shift, self.padding = recon, sampler, shift, padding
        self.randomized = sampler == "sv" and seed is None
        # a fixed shift reads pixels within it (+1 for bilinear); SV's draws would repeat from tile to tile
        self.local = None if sampler == "sv" else math.ceil(shift) + 2

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        offsets = sampler_offsets(self.sampler, self.shift, n, h, w, x.device, self.generator(x.device))
        return resample(x, offsets, self.recon, self.padding)
