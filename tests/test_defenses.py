from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import ndimage

from irad.defenses import DefendedClassifier, bpda, create_defense, list_defenses, parse_spec
from irad.defenses.resample import pixel_grid, resample, sample_at
from irad.errors import IradError

# Image-to-image defenses; a defended classifier (jpeg-ensemble) has no image output and its own tests.
ALL = [info.name for info in list_defenses()
       if not (isinstance(info.factory, type) and issubclass(info.factory, DefendedClassifier))]


@pytest.fixture
def build(tiny_ddpm_dir):
    """Each registered defense with its defaults (the IRAD family with its built-in weights; DiffPure with a tiny
    random DDPM, since none ships)."""
    return lambda name: create_defense(f"{name}:weights={tiny_ddpm_dir},t=3" if name.startswith("diffpure") else name)


@pytest.mark.parametrize("name", ALL)
def test_contract_shape_range_dtype(name, samples, build):
    x = samples[0][:4]
    d = build(name)
    with torch.no_grad():
        y = d(x)
    assert y.shape == x.shape and y.dtype == x.dtype
    assert float(y.min()) >= 0 and float(y.max()) <= 1
    assert isinstance(d.differentiable, bool) and isinstance(d.randomized, bool)


@pytest.mark.parametrize("name", ALL)
def test_determinism_matches_the_randomized_flag(name, samples, build):
    x = samples[0][:4]
    d = build(name)
    same = torch.equal(d(x), d(x))
    assert same != d.randomized


@pytest.mark.parametrize("spec", ["resample:sampler=sv,seed=3", "randomization:seed=3"])
def test_seed_makes_randomized_defenses_reproducible(spec, samples):
    d = create_defense(spec)
    assert d.randomized is False
    x = samples[0][:4]
    assert torch.equal(d(x), d(x))
    assert not torch.equal(d(x), create_defense(spec.replace("seed=3", "seed=4"))(x))


@pytest.mark.parametrize("bad, match", [
    (torch.rand(3, 32, 32), "shape"),
    (torch.rand(1, 1, 32, 32), "3 channels"),
    (torch.rand(1, 3, 8, 8) * 2, r"\[0, 1\]"),
    (torch.full((1, 3, 8, 8), float("nan")), "NaN"),
    (torch.zeros(1, 3, 8, 8, dtype=torch.uint8), "floating-point"),
    ([[0.5]], "torch.Tensor"),
])
def test_bad_input_is_a_clear_error(bad, match):
    with pytest.raises(IradError, match=match):
        create_defense("resample")(bad)


def test_spec_parsing_and_errors():
    assert parse_spec("resample:recon=nearest,shift=1.5,seed=2+jpeg:quality=50") == [
        ("resample", {"recon": "nearest", "shift": 1.5, "seed": 2}), ("jpeg", {"quality": 50})]
    assert parse_spec("x:eps=8/255")[0][1]["eps"] == pytest.approx(8 / 255)
    assert parse_spec("x:alpha=0.5/255")[0][1]["alpha"] == pytest.approx(0.5 / 255)
    assert parse_spec("x:name=a/b,z=1/0")[0][1] == {"name": "a/b", "z": "1/0"}
    with pytest.raises(IradError, match="seed must be a number"):
        create_defense("randomization:seed=abc")
    chain = create_defense("bit-depth:bits=3+median")
    assert chain.spec == "bit-depth:bits=3+median" and chain.differentiable is False
    assert create_defense("resample", recon="nearest", shift=2).recon == "nearest"
    with pytest.raises(IradError, match="unknown defense 'nope'"):
        create_defense("nope")
    with pytest.raises(IradError, match="no parameter bogus; accepted: recon="):
        create_defense("resample:bogus=1")
    with pytest.raises(IradError, match="recon must be one of"):
        create_defense("resample:recon=cubic")
    with pytest.raises(IradError, match="key=value"):
        create_defense("jpeg:75")
    with pytest.raises(IradError, match="must be an integer"):
        create_defense("jpeg:quality=high")


def test_resample_none_is_identity(samples):
    x = samples[0][:2]
    for recon in ("nearest", "bilinear"):
        assert torch.allclose(create_defense(f"resample:recon={recon},sampler=none")(x), x, atol=1e-6)


def test_si_integer_shift_moves_pixels_with_border_replication():
    x = torch.rand(1, 3, 6, 7)
    y = create_defense("resample:recon=bilinear,sampler=si,shift=1")(x)
    rows = torch.clamp(torch.arange(6) + 1, max=5)
    cols = torch.clamp(torch.arange(7) + 1, max=6)
    assert torch.allclose(y, x[:, :, rows][:, :, :, cols], atol=1e-6)


def test_nearest_rounds_half_up():
    x = torch.rand(1, 3, 8, 8)
    y = create_defense("resample:recon=nearest,sampler=si,shift=1.5")(x)
    idx = torch.clamp(torch.arange(8) + 2, max=7)
    assert torch.equal(y, x[:, :, idx][:, :, :, idx])


def test_bilinear_matches_scipy_map_coordinates():
    """Eq. 5 against scipy's order-1 interpolation at random sub-pixel coordinates (edge mode = border)."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 9, 11, generator=g, dtype=torch.float64)
    offsets = torch.rand(2, 9, 11, 2, generator=g, dtype=torch.float64) * 2.5
    y = resample(x, offsets, "bilinear")
    coords = (pixel_grid(9, 11, dtype=torch.float64) + offsets).numpy()
    for n in range(2):
        for c in range(3):
            ref = ndimage.map_coordinates(x[n, c].numpy(), [coords[n, ..., 0], coords[n, ..., 1]], order=1, mode="nearest")
            np.testing.assert_allclose(y[n, c].numpy(), ref, atol=1e-10)


def test_sv_offsets_stay_in_range():
    x = torch.arange(16.0).view(1, 1, 4, 4).expand(1, 3, 4, 4) / 15
    y = create_defense("resample:recon=nearest,sampler=sv,shift=0.49,seed=0")(x)
    assert torch.equal(y, x)  # offsets < 0.5 never reach the next pixel under round-half-up


def test_bilinear_quarter_pixel_weights():
    """Eq. 5 by hand: at offset [0.25, 0.25] the weights are (3/4)^2, 3/16, 3/16, (1/4)^2."""
    x = torch.rand(1, 3, 4, 4)
    y = sample_at(x, pixel_grid(4, 4)[None] + 0.25, "bilinear")[..., :3, :3]
    a, b, c, d = x[..., :3, :3], x[..., 1:, :3], x[..., :3, 1:], x[..., 1:, 1:]
    assert torch.allclose(y, 0.5625 * a + 0.1875 * b + 0.1875 * c + 0.0625 * d, atol=1e-6)


def test_bit_depth_formula():
    x = torch.rand(2, 3, 5, 5)
    y = create_defense("bit-depth:bits=3")(x)
    assert torch.allclose(y, torch.round(x * 7) / 7)
    assert len(torch.unique(y)) <= 8


def test_jpeg_equals_pillow(samples):
    x = samples[0][:3]
    y = create_defense("jpeg:quality=60")(x)
    for i in range(3):
        buf = io.BytesIO()
        Image.fromarray((x[i].permute(1, 2, 0) * 255).round().byte().numpy()).save(buf, "JPEG", quality=60)
        ref = np.asarray(Image.open(buf), dtype=np.float32) / 255
        np.testing.assert_allclose(y[i].permute(1, 2, 0).numpy(), ref, atol=1e-6)


def test_median_matches_scipy():
    x = torch.rand(2, 3, 10, 12, dtype=torch.float64)
    y = create_defense("median:size=3")(x)
    ref = ndimage.median_filter(x.numpy(), size=(1, 1, 3, 3), mode="mirror")
    np.testing.assert_allclose(y.numpy(), ref)


def test_randomization_pads_with_zeros_and_keeps_size():
    x = torch.ones(4, 3, 32, 32)
    y = create_defense("randomization")(x)
    assert y.shape == x.shape
    # the zero canvas shows at some border unless the random size filled it
    assert float(y.min()) < 1


def test_bpda_backward_is_identity_and_gradients_flow(samples):
    x = samples[0][:2].clone().requires_grad_(True)
    bpda(create_defense("jpeg"))(x).sum().backward()
    assert torch.allclose(x.grad, torch.ones_like(x))
    x.grad = None
    create_defense("bit-depth")(x).sum().backward()
    assert float(x.grad.abs().sum()) == 0  # rounding: zero true gradient, hence differentiable=False
    x.grad = None
    create_defense("resample:recon=bilinear,sampler=si,shift=0.5")(x).sum().backward()
    assert float(x.grad.abs().sum()) > 0
