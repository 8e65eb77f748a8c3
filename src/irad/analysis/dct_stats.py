"""Block-DCT statistics of images and perturbations per colour channel (the NN-favoured JPEG paper's Sec. 3.1):
the standard deviation of each of the 64 coefficients of 8x8 blocks, for R, G, B, Y, Cb and Cr."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from irad.defenses.dct_jpeg import BLOCK, _YCBCR, block_dct

CHANNELS = ("R", "G", "B", "Y", "Cb", "Cr")


def zigzag_order() -> list[tuple[int, int]]:
    """The 64 (row, col) positions of an 8x8 block in JPEG's zigzag scan order."""
    cells = [(i, j) for i in range(BLOCK) for j in range(BLOCK)]
    return sorted(cells, key=lambda c: (c[0] + c[1], c[0] if (c[0] + c[1]) % 2 else -c[0]))


def colour_planes(x: torch.Tensor) -> torch.Tensor:
    """``(N, 3, H, W)`` RGB on the 0-255 scale -> ``(N, 6, H, W)``: R, G, B and JFIF Y, Cb, Cr (without offsets:
    linear, so it applies to perturbations too)."""
    return torch.cat([x, torch.einsum("dc,nchw->ndhw", _YCBCR.to(x), x)], 1)


def coefficient_std(x: torch.Tensor) -> torch.Tensor:
    """Standard deviation over all blocks of ``x`` ``(N, 3, H, W)`` (0-255 scale) of each DCT coefficient per colour
    plane: ``(6, 8, 8)``. Sides are edge-padded to multiples of 8."""
    h, w = x.shape[-2:]
    planes = F.pad(colour_planes(x), (0, -w % BLOCK, 0, -h % BLOCK), mode="replicate")
    coeffs = block_dct(planes.double())
    n, c, hh, ww = coeffs.shape
    blocks = coeffs.reshape(n, c, hh // BLOCK, BLOCK, ww // BLOCK, BLOCK).permute(1, 3, 5, 0, 2, 4)
    return blocks.reshape(c, BLOCK, BLOCK, -1).std(-1)


def frequency_analysis(benign: torch.Tensor, adversarial: torch.Tensor) -> dict:
    """DCT coefficient std of benign images and of the perturbations ``adversarial - benign`` (both ``(N, 3, H, W)``
    in [0, 1]), and their ratio delta' per coefficient; each as ``{channel: 8x8 nested list}``."""
    b = coefficient_std(benign * 255)
    p = coefficient_std((adversarial - benign) * 255)
    ratio = p / b.clamp_min(1e-12)
    as_dict = lambda t: {ch: t[i].tolist() for i, ch in enumerate(CHANNELS)}  # noqa: E731
    return {"channels": list(CHANNELS), "benign_std": as_dict(b), "perturbation_std": as_dict(p),
            "ratio": as_dict(ratio), "n": len(benign)}
