"""JPEG-style block-DCT quantisation in torch: the standard codec's arithmetic (YCbCr, 4:2:0, quality-scaled tables)
and the NN-favoured variant (RGB, no subsampling, a two-band table: a fine step on the low-frequency diagonals
that carry the image, a coarse one on the rest where perturbations live).

Batched on any device. The 8x8 DCT is a matrix product with the orthonormal DCT-II basis (torch has no DCT; the
basis is checked against scipy.fft in the tests). Images whose sides are not multiples of 8 (16 with 4:2:0) are
padded by edge replication, as JPEG encoders do, and cropped back.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from irad.defenses.base import Defense, straight_through
from irad.defenses.registry import register_defense
from irad.errors import IradError
from irad.utils.validation import check_choice, check_range

BLOCK = 8
# ITU-T T.81 Annex K tables (quality 50), rows = vertical frequency.
LUMA_TABLE = torch.tensor([
    [16, 11, 10, 16, 24, 40, 51, 61], [12, 12, 14, 19, 26, 58, 60, 55], [14, 13, 16, 24, 40, 57, 69, 56],
    [14, 17, 22, 29, 51, 87, 80, 62], [18, 22, 37, 56, 68, 109, 103, 77], [24, 35, 55, 64, 81, 104, 113, 92],
    [49, 64, 78, 87, 103, 121, 120, 101], [72, 92, 95, 98, 112, 100, 103, 99]], dtype=torch.float64)
CHROMA_TABLE = torch.tensor([
    [17, 18, 24, 47, 99, 99, 99, 99], [18, 21, 26, 66, 99, 99, 99, 99], [24, 26, 56, 99, 99, 99, 99, 99],
    [47, 66, 99, 99, 99, 99, 99, 99], *[[99] * 8] * 4], dtype=torch.float64)
# JFIF full-range YCbCr (what libjpeg, hence Pillow, uses); the offset 128 on Cb and Cr.
_YCBCR = torch.tensor([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]],
                      dtype=torch.float64)


def dct_basis(n: int = BLOCK, dtype: torch.dtype = torch.float32, device: torch.device | None = None) -> torch.Tensor:
    """Orthonormal DCT-II matrix ``(n, n)``: ``basis @ v`` is the DCT of ``v``, ``basis.T`` inverts it."""
    k = torch.arange(n, dtype=torch.float64)[:, None]
    i = torch.arange(n, dtype=torch.float64)[None, :]
    basis = torch.cos(math.pi * (2 * i + 1) * k / (2 * n)) * math.sqrt(2 / n)
    basis[0] /= math.sqrt(2)
    return basis.to(dtype=dtype, device=device)


def block_dct(x: torch.Tensor, inverse: bool = False) -> torch.Tensor:
    """2-D DCT (or its inverse) of every 8x8 block of ``x`` ``(..., H, W)``, H and W multiples of 8."""
    *lead, h, w = x.shape
    d = dct_basis(BLOCK, x.dtype, x.device)
    if inverse:
        d = d.T
    blocks = x.reshape(*lead, h // BLOCK, BLOCK, w // BLOCK, BLOCK).transpose(-3, -2)  # (..., h/8, w/8, 8, 8)
    return (d @ blocks @ d.T).transpose(-3, -2).reshape(*lead, h, w)


def diagonal_mask(k: int) -> torch.Tensor:
    """``(8, 8)`` bool: the coefficients on the first ``k`` anti-diagonals of the zigzag scan (i + j < k), the
    original-favoured band; k = 1 is the DC coefficient alone, k = 15 the whole block."""
    if not 1 <= k <= 2 * BLOCK - 1:
        raise IradError(f"k must be in 1..15, got {k}")
    idx = torch.arange(BLOCK)
    return (idx[:, None] + idx[None, :]) < k


def two_band_table(k: int, qs_af: float, qs_of: float = 16.0) -> torch.Tensor:
    """``(8, 8)`` quantisation steps: ``qs_of`` on the first ``k`` diagonals, ``qs_af`` on the rest."""
    return torch.where(diagonal_mask(k), torch.tensor(float(qs_of), dtype=torch.float64),
                       torch.tensor(float(qs_af), dtype=torch.float64))


def quality_table(base: torch.Tensor, quality: int) -> torch.Tensor:
    """The IJG scaling of a base table to ``quality`` in 1..100 (libjpeg's ``jpeg_quality_scaling``)."""
    if not 1 <= quality <= 100:
        raise IradError(f"quality must be in 1..100, got {quality}")
    scale = 5000 / quality if quality < 50 else 200 - 2 * quality
    return ((base * scale + 50) // 100).clamp(1, 255)


def _pad_to(x: torch.Tensor, multiple: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    return F.pad(x, (0, -w % multiple, 0, -h % multiple), mode="replicate")


def soft_round(v: torch.Tensor) -> torch.Tensor:
    """Differentiable stand-in for rounding (Shin & Song 2017): round(v) + (v - round(v))^3, gradient 3 r^2."""
    r = torch.round(v)
    return r + (v - r) ** 3


Rounding = Callable[[torch.Tensor], torch.Tensor]


def _quantise(planes: torch.Tensor, table: torch.Tensor, rounding: Rounding = torch.round) -> torch.Tensor:
    """Block DCT, quantise/dequantise with ``table`` ``(8, 8)``, inverse DCT, of planes ``(..., H, W)`` (0-255 scale)."""
    h, w = planes.shape[-2:]
    steps = table.to(planes).repeat(h // BLOCK, w // BLOCK)
    coeffs = block_dct(planes - 128)
    return block_dct(rounding(coeffs / steps) * steps, inverse=True) + 128


def jpeg_rgb(x: torch.Tensor, table: torch.Tensor, rounding: Rounding = torch.round) -> torch.Tensor:
    """Block-DCT quantisation of each RGB channel with one ``table`` ``(8, 8)``; ``x`` ``(N, C, H, W)`` in [0, 1],
    output rounded to 8 bits and clipped, in [0, 1]. ``rounding=soft_round`` gives a differentiable approximation."""
    h, w = x.shape[-2:]
    y = _quantise(_pad_to(x * 255, BLOCK), table, rounding)[..., :h, :w]
    return rounding(y).clamp(0, 255) / 255


def jpeg_ycbcr(x: torch.Tensor, luma: torch.Tensor, chroma: torch.Tensor, subsample: bool = True,
               rounding: Rounding = torch.round) -> torch.Tensor:
    """The baseline JPEG pipeline: JFIF YCbCr, optional 4:2:0 chroma subsampling (2x2 means, bilinear upsampling),
    block-DCT quantisation with the ``luma`` / ``chroma`` tables, back to RGB rounded to 8 bits. ``x`` ``(N, 3, H, W)``;
    ``rounding=soft_round`` gives a differentiable approximation."""
    h, w = x.shape[-2:]
    m = _YCBCR.to(x)
    ycc = torch.einsum("dc,nchw->ndhw", m, _pad_to(x * 255, 2 * BLOCK if subsample else BLOCK))
    ycc = ycc + torch.tensor([0.0, 128.0, 128.0]).to(x).view(1, 3, 1, 1)
    luma_out = _quantise(ycc[:, :1], luma, rounding)
    chroma_in = F.avg_pool2d(ycc[:, 1:], 2) if subsample else ycc[:, 1:]
    chroma_out = _quantise(chroma_in, chroma, rounding)
    if subsample:
        chroma_out = F.interpolate(chroma_out, scale_factor=2, mode="bilinear", align_corners=False)
    ycc = torch.cat([luma_out, chroma_out], 1) - torch.tensor([0.0, 128.0, 128.0]).to(x).view(1, 3, 1, 1)
    rgb = torch.einsum("dc,nchw->ndhw", torch.linalg.inv(m), ycc)[..., :h, :w]
    return rounding(rgb).clamp(0, 255) / 255


def jpeg_quality(x: torch.Tensor, quality: int, rounding: Rounding = torch.round, subsample: bool = True) -> torch.Tensor:
    """Baseline JPEG at ``quality`` (Annex K tables, YCbCr, 4:2:0 unless ``subsample`` is False) of ``x``
    ``(N, 3, H, W)`` in [0, 1]."""
    return jpeg_ycbcr(x, quality_table(LUMA_TABLE, quality).to(x), quality_table(CHROMA_TABLE, quality).to(x),
                      subsample, rounding)


def soft_gradient(x: torch.Tensor, y: torch.Tensor, soft: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """``y``, the exact compression of ``x``, carrying the gradient of ``soft(x)`` (the same compression with
    :func:`soft_round`) when autograd asks for one: the adaptive attacker's view of a JPEG (Shin & Song 2017)."""
    if not (torch.is_grad_enabled() and x.requires_grad):
        return y
    return straight_through(soft(x), y)


@register_defense("dct-jpeg")
class DCTJpeg(Defense):
    """Block-DCT JPEG quantisation in torch. ``table=two-band`` (default; RGB, no subsampling): ``qs_of`` on the first
    ``k`` zigzag diagonals, ``qs_af`` on the rest; ``table=standard``: the Annex K tables at ``quality``.
    ``colour``: rgb (default) or ycbcr (4:2:0, JFIF conversion, luma/chroma tables as baseline JPEG).

    Not differentiable (rounding): the gradient is that of the same pipeline with :func:`soft_round`; deterministic.
    """

    differentiable = False

    def __init__(self, table: str = "two-band", k: int = 6, qs_af: float = 50.0, qs_of: float = 16.0,
                 quality: int = 75, colour: str = "rgb"):
        super().__init__()
        check_choice("table", table, ("two-band", "standard"))
        check_choice("colour", colour, ("rgb", "ycbcr"))
        for name, step in (("qs_af", qs_af), ("qs_of", qs_of)):
            check_range("", name, step, lo=0, lo_open=True)
        if table == "two-band":
            luma = chroma = two_band_table(k, qs_af, qs_of)
        else:
            luma, chroma = quality_table(LUMA_TABLE, quality), quality_table(CHROMA_TABLE, quality)
        self.colour = colour
        self.register_buffer("luma", luma.float())
        self.register_buffer("chroma", chroma.float())

    def _compress(self, x: torch.Tensor, rounding: Rounding = torch.round) -> torch.Tensor:
        if self.colour == "rgb":
            return jpeg_rgb(x, self.luma, rounding)
        return jpeg_ycbcr(x, self.luma.to(x), self.chroma.to(x), rounding=rounding)

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            y = self._compress(x)
        return soft_gradient(x, y, lambda v: self._compress(v, soft_round))
