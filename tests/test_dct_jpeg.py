"""Block-DCT JPEG in torch: DCT basis and round trip, zigzag bands, exactness with unit steps, Pillow's JPEG-75."""

from __future__ import annotations

import io

import numpy as np
import pytest
import scipy.fft
import torch
from PIL import Image

from irad.defenses import create_defense
from irad.defenses.dct_jpeg import (CHROMA_TABLE, LUMA_TABLE, block_dct, diagonal_mask, jpeg_rgb, jpeg_ycbcr,
                                    jpeg_quality, quality_table, soft_round, two_band_table)


def test_block_dct_is_scipys_orthonormal_dct_and_inverts():
    x = torch.rand(2, 3, 16, 24, dtype=torch.float64)
    coeffs = block_dct(x)
    ref = scipy.fft.dctn(x[0, 1, 8:16, 16:24].numpy(), norm="ortho")
    np.testing.assert_allclose(coeffs[0, 1, 8:16, 16:24].numpy(), ref, atol=1e-12)
    x32 = torch.rand(2, 3, 16, 24) * 255
    assert float((block_dct(block_dct(x32), inverse=True) - x32).abs().max()) < 1e-5 * 255


def test_zigzag_diagonal_bands():
    k1 = np.zeros((8, 8), bool)
    k1[0, 0] = True
    k3 = np.zeros((8, 8), bool)
    k3[0, :3] = k3[1, :2] = k3[2, 0] = True  # diagonals 0, 1, 2: (0,0); (0,1) (1,0); (0,2) (1,1) (2,0)
    np.testing.assert_array_equal(diagonal_mask(1).numpy(), k1)
    np.testing.assert_array_equal(diagonal_mask(3).numpy(), k3)
    assert diagonal_mask(15).all()
    table = two_band_table(3, qs_af=50, qs_of=16)
    assert table[0, 2] == 16 and table[1, 2] == 50 and table[7, 7] == 50
    with pytest.raises(ValueError):
        diagonal_mask(16)


def test_unit_steps_change_no_pixel_by_more_than_one_level(samples):
    x = samples[0][:8]
    y = jpeg_rgb(x, torch.ones(8, 8))
    assert float((y - x).abs().max()) <= 1 / 255 + 1e-6
    odd = torch.rand(2, 3, 13, 21)  # padded to multiples of 8 and cropped back
    assert jpeg_rgb(odd, torch.ones(8, 8)).shape == odd.shape


def _pillow_jpeg(x: torch.Tensor, quality: int) -> torch.Tensor:
    out = []
    for im in x:
        buf = io.BytesIO()
        Image.fromarray((im.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(buf, "JPEG", quality=quality)
        out.append(torch.from_numpy(np.array(Image.open(buf))).permute(2, 0, 1).float() / 255)
    return torch.stack(out)


def test_ycbcr_path_with_standard_tables_is_close_to_pillow(samples):
    from irad.data import load_foolbox_samples

    luma, chroma = quality_table(LUMA_TABLE, 75), quality_table(CHROMA_TABLE, 75)
    assert luma[0, 0] == 8 and chroma[7, 7] == 50  # libjpeg's quality-75 tables
    for x in (samples[0][:10], load_foolbox_samples("imagenet").tensors[0][:3]):
        ours, pillow = jpeg_ycbcr(x, luma, chroma), _pillow_jpeg(x, 75)
        per_image = (ours - pillow).abs().mean((1, 2, 3))
        assert float(per_image.max()) < 2 / 255
        assert float((pillow - x).abs().mean()) > float(per_image.mean())  # closer to Pillow than to the input


@pytest.mark.parametrize("spec, soft", [
    ("dct-jpeg:k=6,qs_af=50", lambda v: jpeg_rgb(v, two_band_table(6, 50.0), soft_round)),
    ("jpeg:quality=50", lambda v: jpeg_quality(v, 50, soft_round)),
])
def test_value_is_the_exact_compression_and_gradient_the_soft_rounding_jpegs(samples, spec, soft):
    x = samples[0][:2].clone().requires_grad_(True)
    d = create_defense(spec)
    y = d(x)
    with torch.no_grad():
        assert torch.allclose(y, d(x), atol=1e-6) and float((y - soft(x)).abs().max()) > 1e-3  # exact, not soft
    inside = (y > 0) & (y < 1)  # saturated outputs: the defense's final [0, 1] clamp may zero their gradient
    assert float(inside.float().mean()) > 0.9
    w = torch.randn_like(x) * inside  # gradient of a random linear functional of the unsaturated outputs
    (got,) = torch.autograd.grad((y * w).sum(), x)
    (want,) = torch.autograd.grad((soft(x) * w).sum(), x)
    assert torch.allclose(got, want, atol=1e-6) and not torch.allclose(got, w, atol=1e-2)  # not the identity
    assert not d.differentiable and y.shape == x.shape


def test_standard_table_spec_compresses(samples):
    x = samples[0][:2]
    std = create_defense("dct-jpeg:table=standard,quality=75,colour=ycbcr")
    assert float((std(x) - x).abs().mean()) > 0
