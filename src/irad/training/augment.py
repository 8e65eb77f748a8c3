"""Batched augmentation on uint8 tensors: random crop (CIFAR: of the zero-padded image; ImageNet: a smaller window of
a larger canvas) and horizontal flip."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def random_crop_flip(x: torch.Tensor, pad: int = 4, generator: torch.Generator | None = None,
                     size: int | None = None) -> torch.Tensor:
    """``x`` ``(N, C, H, W)`` -> ``(N, C, size, size)`` (default: the same shape): each image padded by ``pad`` zeros,
    cropped at a random offset, flipped with p=0.5."""
    n, _, h0, w0 = x.shape
    h, w = (size, size) if size is not None else (h0, w0)
    padded = F.pad(x, (pad, pad, pad, pad))
    oy = torch.randint(0, h0 + 2 * pad - h + 1, (n,), generator=generator)
    ox = torch.randint(0, w0 + 2 * pad - w + 1, (n,), generator=generator)
    flip = torch.rand(n, generator=generator) < 0.5
    rows = oy[:, None] + torch.arange(h)[None]
    cols = ox[:, None] + torch.arange(w)[None]
    cols = torch.where(flip[:, None], cols.flip(1), cols)
    b = torch.arange(n)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[b, rows[:, :, None], cols[:, None, :]]
    return out.permute(0, 3, 1, 2).contiguous()
