"""Training tasks for the implicit representation (IRAD paper Sec. 4.2, Table 7): what the input is, given
clean images (and their adversarial partners). The target is always the clean image; the loss is L1."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from irad.utils.validation import check_choice

TASKS = ("clean2clean", "sr", "inpaint", "gaussian", "pgd")


def degrade(task: str, clean: torch.Tensor, adv: torch.Tensor, generator: torch.Generator | None = None,
            noise_std: float = 8 / 255, mask_ratio: float = 0.25) -> torch.Tensor:
    """The model input for ``task`` from ``clean``/``adv`` ``(N, 3, H, W)`` in [0, 1].

    - ``clean2clean``: the clean image; ``pgd``: its adversarial partner (adversarial denoising);
    - ``sr``: the clean image downsampled 2x (bicubic, antialiased); the output is rendered at full size;
    - ``inpaint``: a random ``mask_ratio`` of pixels set to 0 (restoration);
    - ``gaussian``: clean + N(0, ``noise_std``^2), clipped.
    """
    check_choice("task", task, TASKS)
    if task == "clean2clean":
        return clean
    if task == "pgd":
        return adv
    if task == "sr":
        return F.interpolate(clean, scale_factor=0.5, mode="bicubic", antialias=True, align_corners=False).clamp(0, 1)
    if task == "inpaint":
        n, _, h, w = clean.shape
        keep = torch.rand(n, 1, h, w, generator=generator, device=clean.device) >= mask_ratio
        return clean * keep
    noise = torch.randn(clean.shape, generator=generator, device=clean.device) * noise_std  # gaussian
    return (clean + noise).clamp(0, 1)


def dihedral(*images: torch.Tensor, generator: torch.Generator | None = None,
             upright: bool = False) -> tuple[torch.Tensor, ...]:
    """The same random flip / transpose (one of 8 symmetries of the square) applied to every tensor of a batch;
    ``upright``: horizontal flips only (what a classifier trained with flip augmentation is invariant to)."""
    hflip, vflip, transpose = (torch.rand(3, generator=generator) < 0.5).tolist()
    if upright:
        vflip = transpose = False
    out = []
    for x in images:
        if hflip:
            x = x.flip(-1)
        if vflip:
            x = x.flip(-2)
        if transpose and x.shape[-1] == x.shape[-2]:
            x = x.transpose(-1, -2)
        out.append(x)
    return tuple(out)


def random_crops(size: int, *images: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, ...]:
    """One random ``size x size`` window per item, the same window in every tensor: ``(N, C, H, W)`` ->
    ``(N, C, size, size)`` each."""
    n, _, h, w = images[0].shape
    if size > min(h, w):
        raise ValueError(f"crop {size} is larger than the {h}x{w} images")
    top = torch.randint(0, h - size + 1, (n,), generator=generator).tolist()
    left = torch.randint(0, w - size + 1, (n,), generator=generator).tolist()
    return tuple(torch.stack([x[i, :, t:t + size, l:l + size] for i, (t, l) in enumerate(zip(top, left))])
                 for x in images)
