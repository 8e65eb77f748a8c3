"""Is a DDPM a real denoiser at the noise levels DiffPure uses? PSNR against the clean image, per step t, of the
noisy input, of the model's one-step x0 prediction, and of the full DiffPure reverse process from t."""

from __future__ import annotations

import torch
from torch import nn

from irad.defenses.diffpure import reverse_process


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR (dB) of images ``(N, C, H, W)`` in [0, 1]."""
    mse = ((a - b) ** 2).flatten(1).mean(1).clamp_min(1e-12)
    return 10 * torch.log10(1 / mse)


@torch.no_grad()
def denoising_psnr(unet: nn.Module, scheduler, x: torch.Tensor, steps: list[int], seed: int = 0,
                   batch_size: int = 100) -> tuple[list[dict], dict[int, torch.Tensor]]:
    """For each DDPM step t in ``steps`` (the state after t noising steps, as DiffPure's t*): mean PSNR over ``x``
    ``(N, 3, H, W)`` in [0, 1] of ``noisy`` (x_t / sqrt(abar_t), the input rescaled), ``x0_prediction`` (one UNet
    call) and ``purified`` (t reverse steps). Returns the rows and, per t, the first images' ``noisy`` and
    ``purified`` versions ``(min(N, 8), 3, H, W)`` for a picture grid."""
    gen = torch.Generator(device=x.device).manual_seed(seed)
    rows, pictures = [], {}
    for t in steps:
        sums = {"noisy": 0.0, "x0_prediction": 0.0, "purified": 0.0}
        abar = scheduler.alphas_cumprod[t - 1].to(x)
        for k, xb in enumerate(x.split(batch_size)):
            clean = 2 * xb - 1
            noise = torch.randn(xb.shape, generator=gen, device=x.device)
            z = abar.sqrt() * clean + (1 - abar).sqrt() * noise
            eps = unet(z, torch.full((len(xb),), t - 1, device=x.device)).sample
            versions = {"noisy": z / abar.sqrt(), "x0_prediction": (z - (1 - abar).sqrt() * eps) / abar.sqrt(),
                        "purified": reverse_process(z, unet, scheduler, t, gen)}
            versions = {name: ((v + 1) / 2).clamp(0, 1) for name, v in versions.items()}
            for name, v in versions.items():
                sums[name] += psnr(v, xb).sum().item()
            if k == 0:
                pictures[t] = torch.stack([versions["noisy"][:8], versions["purified"][:8]])
        rows.append({"t": t, **{f"psnr_{name}": v / len(x) for name, v in sums.items()}})
    return rows, pictures
