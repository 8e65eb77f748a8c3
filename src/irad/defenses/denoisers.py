"""Classic image denoisers as defenses (Prakash et al. 2018, Table 9), through scikit-image, one image at a time.

Not differentiable: they run in NumPy, so ``forward`` passes the gradient straight through (BPDA). scikit-image is
needed only for these (``pip install scikit-image``).
"""

from __future__ import annotations

import numpy as np
import torch

from irad.defenses.base import Defense, straight_through
from irad.defenses.registry import register_defense
from irad.errors import IradError
from irad.utils.validation import check_range


def _skimage_restoration():
    try:
        from skimage import restoration
    except ImportError:
        raise IradError("the tv, bilateral and nl-means defenses need scikit-image: pip install scikit-image") from None
    return restoration


class SkimageDenoiser(Defense):
    """Apply ``skimage.restoration.<function>(image, channel_axis=-1, **kwargs)`` to each image."""

    differentiable = False

    def __init__(self, function: str, **kwargs: object):
        super().__init__()
        self.function, self.kwargs = function, kwargs
        getattr(_skimage_restoration(), function)  # fail early when scikit-image is missing

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        fn = getattr(_skimage_restoration(), self.function)
        imgs = x.detach().permute(0, 2, 3, 1).cpu().double().numpy()
        out = np.stack([fn(img, channel_axis=-1, **self.kwargs) for img in imgs])
        y = torch.from_numpy(out).permute(0, 3, 1, 2).to(device=x.device, dtype=x.dtype)
        return straight_through(x, y)

    def extra_repr(self) -> str:
        return f"{self.function}, {self.kwargs}, " + super().extra_repr()


@register_defense("tv")
def tv(weight: float = 0.1) -> SkimageDenoiser:
    """Total-variation denoising (Chambolle) with ``weight``; not differentiable (straight-through gradient)."""
    check_range("", "weight", weight, lo=0, lo_open=True)
    return SkimageDenoiser("denoise_tv_chambolle", weight=weight)


@register_defense("bilateral")
def bilateral(sigma_color: float = 0.05, sigma_spatial: float = 1.0) -> SkimageDenoiser:
    """Bilateral filter; not differentiable (straight-through gradient)."""
    for name, value in (("sigma_color", sigma_color), ("sigma_spatial", sigma_spatial)):
        check_range("", name, value, lo=0, lo_open=True)
    return SkimageDenoiser("denoise_bilateral", sigma_color=sigma_color, sigma_spatial=sigma_spatial)


@register_defense("nl-means")
def nl_means(h: float = 0.05, patch_size: int = 3, patch_distance: int = 5) -> SkimageDenoiser:
    """Non-local means; not differentiable (straight-through gradient)."""
    check_range("", "h", h, lo=0, lo_open=True)
    for name, value in (("patch_size", patch_size), ("patch_distance", patch_distance)):
        check_range("", name, value, lo=1, integer=True)
    return SkimageDenoiser("denoise_nl_means", h=h, patch_size=patch_size, patch_distance=patch_distance)
