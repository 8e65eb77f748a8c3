"""What SampleNet does: statistics of its per-pixel shifts on clean vs adversarial images (IRAD Sec. 4.3)."""

from __future__ import annotations

import torch

from irad.models.implicit import ImplicitResampler
from irad.utils.precision import autocast


def offsets_in_pixels(model: ImplicitResampler, x: torch.Tensor, chunk: int | None = None) -> torch.Tensor:
    """SampleNet's shift of every pixel of ``x`` ``(N, 3, H, W)`` in [0, 1], in pixels: ``(N, H, W, 2)`` as
    ``(dy, dx)``; differentiable (used in training) and float32 under autocast. ``chunk``: query points per MLP
    pass (bounded memory for large images)."""
    n, _, h, w = x.shape
    coord_units = model.samplenet_offsets(x, model.features(x), chunk).float()
    return (coord_units * torch.tensor([h / 2, w / 2], device=x.device)).view(n, h, w, 2)


@torch.no_grad()
def offset_statistics(model: ImplicitResampler, images: dict[str, torch.Tensor], batch_size: int = 250,
                      precision: str = "fp32") -> dict[str, dict]:
    """Per named image set (e.g. ``{"clean": x, "adversarial": x_adv}``, each ``(N, 3, H, W)`` in [0, 1]):
    ``mean_abs_px`` (mean |offset| over pixels, both axes, and images), ``spread_px`` (std over images of each
    image's mean |offset|), ``pixel_std_px`` (mean over images of the std of |offset| within the image),
    ``mean_px`` (the mean (dy, dx): a global shift shows here) and ``per_image_mean_abs_px``."""
    device = next(model.parameters()).device
    out = {}
    for name, x in images.items():
        per_image, pixel_std, mean = [], [], torch.zeros(2)
        for xb in x.split(batch_size):
            with autocast(device, precision):  # as many images per pass as the model's query budget holds
                off = model.in_passes(xb.to(device), lambda part, _: offsets_in_pixels(
                    model, part, model.query_budget)).cpu()
            mag = off.abs().mean(dim=-1).flatten(1)  # (N, H*W): mean of |dy| and |dx| per pixel
            per_image.append(mag.mean(1))
            pixel_std.append(mag.std(1))
            mean += off.sum(dim=(0, 1, 2))
        v = torch.cat(per_image)
        pixels = len(v) * x.shape[-2] * x.shape[-1]
        out[name] = {"mean_abs_px": v.mean().item(), "spread_px": v.std().item(),
                     "pixel_std_px": torch.cat(pixel_std).mean().item(), "mean_px": (mean / pixels).tolist(),
                     "per_image_mean_abs_px": v.tolist()}
    return out
