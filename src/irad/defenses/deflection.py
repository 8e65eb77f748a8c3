"""Pixel deflection (Prakash et al. 2018, Algorithm 1), optionally guided by a robust activation map, then a denoiser.

Batched over images; the K deflections of an image are applied in order (a later one may copy an already
deflected pixel), exactly as the per-pixel loop of the reference implementation does.
"""

from __future__ import annotations

import torch
from torch import nn

from irad.defenses.base import RandomizedDefense, trusted_inputs
from irad.defenses.registry import create_defense, register_defense
from irad.errors import IradError
from irad.models.cam import robust_activation_map
from irad.utils.validation import check_range


def _source_in_window(pos: torch.Tensor, size: int, window: int, u: torch.Tensor) -> torch.Tensor:
    """Source coordinate drawn uniformly from ``[pos - window, pos + window]`` clipped to the image: uniform over
    the valid part of the window, as the reference's rejection sampling gives (but source row/col 0 included)."""
    lo = (pos - window).clamp_min(0)
    hi = (pos + window).clamp_max(size - 1)
    return lo + (u * (hi - lo + 1)).long().clamp_max(hi - lo)


def deflect(x: torch.Tensor, deflections: int, window: int, per_channel: bool = False,
            protect: torch.Tensor | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """Pixel deflection of images ``(N, C, H, W)``.

    ``deflections`` times per image: pick a pixel uniformly; unless a uniform draw falls below ``protect`` there
    (``(N, H, W)`` in [0, 1], e.g. an R-CAM; the draw is skipped but still counts), replace it with a pixel drawn
    uniformly from the square window of apothem ``window`` around it inside the image. ``per_channel``: each
    channel draws its own pixels (the reference code's variant); default: whole pixels. Differentiable (copies).
    """
    if deflections < 0 or window < 0:
        raise IradError(f"deflections and window must be >= 0, got {deflections} and {window}")
    n, c, h, w = x.shape
    planes = c if per_channel else 1
    shape = (deflections, n, planes)
    draw = lambda: torch.rand(shape, generator=generator, device=x.device)  # noqa: E731
    rows = (draw() * h).long().clamp_max(h - 1)
    cols = (draw() * w).long().clamp_max(w - 1)
    src_rows = _source_in_window(rows, h, window, draw())
    src_cols = _source_in_window(cols, w, window, draw())
    dst, src = rows * w + cols, src_rows * w + src_cols
    if protect is not None:
        if protect.shape != (n, h, w):
            raise IradError(f"protect map must have shape {(n, h, w)}, got {tuple(protect.shape)}")
        value = protect.reshape(1, n, h * w).expand(deflections, -1, -1).gather(2, dst)
        src = torch.where(draw() < value, dst, src)  # protected: a copy onto itself
    out = x.clone()
    flat = out.view(n, c, h * w)
    img = torch.arange(n, device=x.device)[:, None]
    chans = torch.arange(c, device=x.device)[None, :] if per_channel else slice(None)
    for k in range(deflections):  # in order: a later deflection may copy an already deflected pixel
        flat[img, chans, dst[k]] = flat[img, chans, src[k]]
    return out


@register_defense("pixel-deflection")
class PixelDeflection(RandomizedDefense):
    """Pixel deflection, optionally R-CAM guided, followed by a denoiser (default: BayesShrink wavelet, db1, YCbCr).

    ``denoiser``: any defense name (wavelet, none, median, ...). ``rcam=true`` protects object regions using the
    classifier the evaluation harness attaches (:meth:`set_classifier`). Differentiable; randomized unless seeded.
    """

    def __init__(self, deflections: int = 100, window: int = 10, denoiser: str = "wavelet", rcam: bool = False,
                 top_k: int = 5, per_channel: bool = False, seed: int | None = None):
        super().__init__(seed)
        for name, value in (("deflections", deflections), ("window", window), ("top_k", top_k)):
            check_range("", name, value, lo=1, integer=True)
        self.deflections, self.window, self.per_channel = deflections, window, per_channel
        self.rcam, self.top_k = rcam, top_k
        self.denoiser = create_defense(denoiser)
        self.differentiable = self.denoiser.differentiable
        self.needs_classifier = rcam or self.denoiser.needs_classifier
        self._classifier: list[nn.Module] = []  # held outside the module tree: not this defense's parameters

    def set_classifier(self, classifier: nn.Module) -> None:
        """The model whose R-CAM guides deflection (the harness passes the victim with
        :func:`~irad.defenses.base.attach_classifier`)."""
        self._classifier[:] = [classifier]

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        protect = None
        if self.rcam:
            if not self._classifier:
                raise IradError("pixel-deflection with rcam=true needs a classifier: call set_classifier(model) "
                                "(irad eval and irad purify --classifier do this)")
            protect = robust_activation_map(self._classifier[0], x.detach(), self.top_k)
        y = deflect(x, self.deflections, self.window, self.per_channel, protect, self.generator(x.device))
        with trusted_inputs():  # copies of checked pixels: no second pass over the batch to check them
            return self.denoiser(y)
