"""Large images in overlapping tiles, so memory stays bounded whatever the photo's size.

For a transform whose output pixel reads input pixels at most ``margin`` away ("local"), a tile's output is exact
except within ``margin`` of its interior edges. Each tile's weight is zero there and ramps up over ``BLEND`` pixels
beyond, and the weights at every pixel sum to one: each output pixel is a blend of tiles that saw all of its
neighbourhood, so the tiled output equals the one-pass output to float rounding (seams included). One exception: the learned
implicit decoder (LIIF's local ensemble) jumps where a query lands exactly on a cell boundary, and there the rounding
of the tile's own coordinates picks the side (2 of 21,120 pixels of a test image through ``irad``,
``tests/test_faults.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from irad.utils.progress import steps

TILE_PIXELS = 512 * 512  # images with more pixels than this run in tiles (about 0.7 GB for ImageNet's IRAD)
BLEND = 8  # pixels over which a tile's weight ramps from 0 to 1 beyond its margin


def axis_tiles(size: int, tile: int, margin: int, blend: int = BLEND) -> list[tuple[slice, torch.Tensor]]:
    """Tiles of length ``tile`` covering ``range(size)``, consecutive ones overlapping by at least
    ``2 * margin + blend``, each with its weight along the axis ``(length,)``; the weights sum to 1 everywhere."""
    if size <= tile:
        return [(slice(0, size), torch.ones(size))]
    stride = tile - 2 * margin - blend
    if stride < 1:
        raise ValueError(f"tiles of {tile} px cannot hold a margin of {margin} px on both sides")
    starts = [*range(0, size - tile, stride), size - tile]
    d = torch.arange(tile, dtype=torch.float64)
    ramp_in = ((d - margin + 0.5) / blend).clamp(0, 1)  # zero within `margin` of the tile's first pixel
    weights = [torch.minimum(ramp_in if s > 0 else torch.ones(tile, dtype=torch.float64),
                             ramp_in.flip(0) if s + tile < size else torch.ones(tile, dtype=torch.float64))
               for s in starts]
    total = torch.zeros(size, dtype=torch.float64)
    for s, w in zip(starts, weights):
        total[s:s + tile] += w
    return [(slice(s, s + tile), (w / total[s:s + tile]).float()) for s, w in zip(starts, weights)]


def tile_side(tile_pixels: int, margin: int, blend: int = BLEND) -> int:
    """The side of a square tile of about ``tile_pixels`` pixels (at least twice the overlap)."""
    return max(math.isqrt(tile_pixels), 2 * (2 * margin + blend))


def tiled(fn: Callable[[torch.Tensor, tuple[slice, slice]], torch.Tensor], x: torch.Tensor, margin: int,
          tile_pixels: int = TILE_PIXELS, desc: str = "tiles") -> torch.Tensor:
    """``fn(tile, (rows, cols))`` over overlapping tiles of ``x`` ``(N, C, H, W)``, blended: ``(N, C', H, W)``.

    ``fn`` maps an ``(N, C, h, w)`` tile (rows ``rows`` and columns ``cols`` of ``x``) to ``(N, C', h, w)`` and reads
    input pixels at most ``margin`` away; differentiable when ``fn`` is. A progress bar counts the tiles on a
    terminal inside :func:`~irad.utils.progress.purification_progress`."""
    h, w = x.shape[-2:]
    side = tile_side(tile_pixels, margin)
    grid = [(ys, wy, xs, wx) for ys, wy in axis_tiles(h, side, margin) for xs, wx in axis_tiles(w, side, margin)]
    out = None
    for ys, wy, xs, wx in steps(grid, desc, total=len(grid)):
        part = fn(x[..., ys, xs], (ys, xs))
        if out is None:
            out = part.new_zeros(*part.shape[:2], h, w)
        out[..., ys, xs] += part * (wy[:, None] * wx[None, :]).to(part.device, part.dtype)
    return out
