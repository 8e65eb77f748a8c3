"""Reading and writing single image files as tensors in [0, 1].

Every Pillow mode is read as RGB scaled to [0, 1] (see :func:`rgb_array`); what cannot be scaled without guessing is
refused in one line. Pillow itself reduces 16-bit-per-channel colour (48/64-bit PNG and TIFF) to 8 bits when it opens
the file (keeping the high byte), so those arrive with 8-bit precision; 16-bit grayscale keeps its 16 bits.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from irad.errors import IradError

DEFAULT_MAX_PIXELS = 200_000_000  # a 14k x 14k photo; larger files are refused unless --max-pixels says otherwise
_INT_TOP = 65535  # integer modes (I;16*, I) are read on a 16-bit scale
_PILLOW_LIMIT = threading.Lock()


def rgb_array(im: Image.Image, source: str = "image") -> np.ndarray:
    """A decoded Pillow image of any mode -> ``(H, W, 3)`` RGB: uint8 for 8-bit modes, float32 in [0, 1] for others.

    - 8-bit modes (1, L, P, LA, PA, RGB, RGBA, RGBX, CMYK, YCbCr, LAB, HSV) go through Pillow's own conversion, with
      the palette applied. Alpha is ignored: the colour under it is kept, as torchvision's loader and most tools do.
    - Integer modes (I;16, I;16B, I;16L, I;16N, and I, which 16-bit files give in older Pillow) are divided by 65535;
      values outside [0, 65535] (a 32-bit or signed image) are refused, since their scale is unknown.
    - Float mode F is taken as is when it lies in [0, 1], and refused otherwise.
    ``source`` names the image in those refusals.
    """
    if im.mode.startswith("I"):
        return _gray(np.asarray(im), _INT_TOP, source, im.mode)
    if im.mode == "F":
        return _gray(np.asarray(im), 1, source, im.mode)
    if im.mode == "P":  # via RGBA, which reads palette transparency without Pillow's warning about it
        im = im.convert("RGBA")
    return np.array(im.convert("RGB"))


def _gray(a: np.ndarray, top: int, source: str, mode: str) -> np.ndarray:
    """``(H, W)`` values in [0, ``top``] -> ``(H, W, 3)`` float32 in [0, 1]; other ranges are an :class:`IradError`."""
    lo, hi = float(a.min()), float(a.max())
    if not (0 <= lo and hi <= top):  # also refuses NaN
        raise IradError(f"{source} is a mode-{mode} image with values in [{lo:g}, {hi:g}]; only [0, {top}] can be "
                        f"read as an image (rescale it first)")
    return np.repeat((a.astype(np.float32) / np.float32(top))[..., None], 3, axis=2)


@contextmanager
def _without_pillow_limit() -> Iterator[None]:
    """Lift Pillow's own pixel limit (``Image.MAX_IMAGE_PIXELS``, a traceback at 179 Mpixel) while one file is opened
    and decoded, so that ``max_pixels`` is the only limit; it is restored afterwards. The lock stops threads from
    restoring it under each other (it serialises decoding across threads; DataLoader workers are processes)."""
    with _PILLOW_LIMIT:
        saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def _decode(path: str | os.PathLike, max_pixels: int | None) -> Image.Image:
    """Open and decode the first frame of an image file, checking its size from the header before decoding.

    Missing files, directories, files over ``max_pixels`` pixels (``None``: no limit) and corrupt or non-image files
    are one-line :class:`IradError` s; more than one frame is a warning.
    """
    p = Path(path)
    if p.is_dir():
        raise IradError(f"{p} is a directory; give one image file")
    if not p.is_file():
        raise IradError(f"image not found: {p}")
    try:
        with _without_pillow_limit(), Image.open(p) as im:
            w, h = im.size
            if max_pixels is not None and w * h > max_pixels:
                raise IradError(f"{p} is {w}x{h} ({w * h / 1e6:g} Mpixel), over the limit of {max_pixels / 1e6:g} "
                                f"Mpixel; raise it with --max-pixels N if you trust the file")
            frames = getattr(im, "n_frames", 1)
            if frames > 1:
                warnings.warn(f"{p} has {frames} frames; using the first", stacklevel=3)
            im.load()
            return im
    except IradError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as e:
        raise IradError(f"cannot read {p} as an image ({type(e).__name__}: {e})") from None


def open_rgb(path: str | os.PathLike, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Read an image file of any mode as an 8-bit RGB PIL image (deeper sources rounded to the nearest level).

    Errors as :func:`load_image`.
    """
    a = rgb_array(_decode(path, max_pixels), str(path))
    return Image.fromarray(a if a.dtype == np.uint8 else (a * 255).round().astype(np.uint8))


def to_tensor(im: Image.Image) -> torch.Tensor:
    """PIL RGB image -> float tensor ``(3, H, W)`` in [0, 1]."""
    return torch.from_numpy(np.asarray(im, dtype=np.uint8).copy()).permute(2, 0, 1).float().div_(255)


def load_image(path: str | os.PathLike, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> torch.Tensor:
    """Read an image file of any mode as a batch of one, ``(1, 3, H, W)`` float32 in [0, 1], at the file's precision.

    The first frame of an animated or multi-page file is used (with a warning). A missing file, a directory, a file of
    more than ``max_pixels`` pixels (checked before decoding; ``None``: no limit), a corrupt file and a mode-I/F image
    that cannot be scaled to [0, 1] are each a one-line :class:`IradError`.
    """
    a = rgb_array(_decode(path, max_pixels), str(path))
    x = torch.from_numpy(a).permute(2, 0, 1)
    return (x.float().div_(255) if a.dtype == np.uint8 else x).unsqueeze(0)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """``(3, H, W)`` tensor in [0, 1] -> ``(H, W, 3)`` uint8 array, rounding to nearest."""
    return x.detach().clamp(0, 1).mul_(255).round_().byte().permute(1, 2, 0).cpu().numpy()  # one float copy


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
