"""Reading and writing single image files as tensors in [0, 1]."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from irad.errors import IradError


def open_rgb(path: str | os.PathLike) -> Image.Image:
    """Open an image file as RGB, with a clear error for missing, corrupt or non-image files."""
    p = Path(path)
    if not p.is_file():
        raise IradError(f"image not found: {p}")
    try:
        with Image.open(p) as im:
            im.load()
            return im.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise IradError(f"cannot read {p} as an image ({type(e).__name__}: {e})") from None


def to_tensor(im: Image.Image) -> torch.Tensor:
    """PIL RGB image -> float tensor ``(3, H, W)`` in [0, 1]."""
    return torch.from_numpy(np.asarray(im, dtype=np.uint8).copy()).permute(2, 0, 1).float().div_(255)


def load_image(path: str | os.PathLike) -> torch.Tensor:
    """Read an image file as a batch of one, ``(1, 3, H, W)`` float in [0, 1]."""
    return to_tensor(open_rgb(path)).unsqueeze(0)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """``(3, H, W)`` tensor in [0, 1] -> ``(H, W, 3)`` uint8 array, rounding to nearest."""
    return x.detach().clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().numpy()


def save_image(x: torch.Tensor, path: str | os.PathLike) -> None:
    """Write a ``(3, H, W)`` or ``(1, 3, H, W)`` tensor in [0, 1] to an image file (format from the suffix)."""
    if x.dim() == 4:
        if x.shape[0] != 1:
            raise IradError(f"save_image takes one image, got a batch of {x.shape[0]}")
        x = x[0]
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    try:
        Image.fromarray(to_uint8(x)).save(p)
    except (ValueError, OSError) as e:
        raise IradError(f"cannot write {p}: {e}") from None
