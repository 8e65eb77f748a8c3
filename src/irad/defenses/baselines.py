"""Classic input-transformation baselines of the IRAD paper's Table 2: bit-depth reduction, JPEG, randomization, median filter."""

from __future__ import annotations

import io

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from irad.data.images import to_uint8
from irad.defenses.base import Defense, RandomizedDefense
from irad.defenses.dct_jpeg import jpeg_quality, soft_gradient, soft_round
from irad.defenses.registry import register_defense
from irad.errors import IradError
from irad.utils.validation import check_choice, check_range


@register_defense("bit-depth")
class BitDepth(Defense):
    """Bit-depth reduction (Xu et al. 2018, feature squeezing): round each value to ``bits`` bits.

    Not differentiable: the rounding has zero gradient almost everywhere (use the bpda scenario).
    """

    differentiable = False

    def __init__(self, bits: int = 5):
        super().__init__()
        if not 1 <= bits <= 8:
            raise IradError(f"bits must be in 1..8, got {bits}")
        self.bits = bits

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        levels = 2**self.bits - 1
        return torch.round(x * levels) / levels


@register_defense("jpeg")
class Jpeg(Defense):
    """JPEG compression with the real codec (Pillow) at ``quality`` (1-95); the output is the decoded image.

    Not differentiable: the codec runs outside autograd; the gradient is that of baseline JPEG in torch at the same
    quality with soft rounding (Shin & Song 2017; 4:2:0 unless ``subsampling`` is 0). ``subsampling``: -1 keeps
    Pillow's default (4:2:0), else 0 (4:4:4), 1 (4:2:2), 2 (4:2:0).
    """

    differentiable = False

    def __init__(self, quality: int = 75, subsampling: int = -1):
        super().__init__()
        if not 1 <= quality <= 100:
            raise IradError(f"quality must be in 1..100, got {quality}")
        check_choice("subsampling", subsampling, (-1, 0, 1, 2))
        self.quality, self.subsampling = quality, subsampling

    def _codec(self, img: torch.Tensor) -> torch.Tensor:
        buf = io.BytesIO()
        Image.fromarray(to_uint8(img)).save(buf, format="JPEG", quality=self.quality, subsampling=self.subsampling)
        buf.seek(0)
        arr = np.asarray(Image.open(buf).convert("RGB"), dtype=np.float32) / 255.0
        return torch.from_numpy(arr).permute(2, 0, 1)

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.stack([self._codec(img) for img in x]).to(device=x.device, dtype=x.dtype)
        return soft_gradient(x, y, lambda v: jpeg_quality(v, self.quality, soft_round, self.subsampling != 0))


@register_defense("randomization")
class Randomization(RandomizedDefense):
    """Random resizing and padding (Xie et al. 2018), resized back to the input size.

    Each image is resized (nearest) to a random side r in [H, S), S = round(H * ``max_scale``), placed at a
    random offset in an S x S zero canvas, and the canvas is resized (bilinear) back to H x W. The paper's
    299 -> [299, 331) setting is ``max_scale = 331/299``. Square inputs only. Differentiable; randomized.
    """

    def __init__(self, max_scale: float = 331 / 299, seed: int | None = None):
        super().__init__(seed)
        self.max_scale = check_range("", "max_scale", max_scale, lo=1, lo_open=True)

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        if h != w:
            raise IradError(f"randomization expects square images, got {h}x{w}")
        big = max(round(h * self.max_scale), h + 1)
        gen = self.generator(torch.device("cpu"))
        sizes = torch.randint(h, big, (n,), generator=gen).tolist()
        out = []
        for img, r in zip(x, sizes):
            small = F.interpolate(img[None], size=(r, r), mode="nearest")
            top, left = torch.randint(0, big - r + 1, (2,), generator=gen).tolist()
            canvas = F.pad(small, (left, big - r - left, top, big - r - top))
            out.append(F.interpolate(canvas, size=(h, w), mode="bilinear", align_corners=False))
        return torch.cat(out)


@register_defense("median")
class Median(Defense):
    """Median filter over a ``size`` x ``size`` window (odd), mirrored borders (scipy's ``mode="mirror"``).

    Hand-written with unfold because kornia's ``median_blur`` zero-pads the borders, darkening edges.
    Differentiable (the gradient flows to each window's median pixel).
    """

    def __init__(self, size: int = 3):
        super().__init__()
        if size < 1 or size % 2 == 0:
            raise IradError(f"size must be a positive odd number, got {size}")
        self.size = size

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        k, p = self.size, self.size // 2
        n, c, h, w = x.shape
        padded = F.pad(x, (p, p, p, p), mode="reflect") if p else x
        patches = F.unfold(padded, k).view(n, c, k * k, h * w)
        return patches.median(dim=2).values.view(n, c, h, w)
