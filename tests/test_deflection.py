"""Pixel deflection, R-CAM, wavelet denoising (scikit-image as the oracle) and the ens-N majority vote."""

from __future__ import annotations

import numpy as np
import ptwt
import pytest
import pywt
import torch
from skimage.color import rgb2ycbcr
from skimage.restoration import denoise_wavelet
from torch import nn

from irad.defenses import Defense, create_defense
from irad.defenses.deflection import deflect
from irad.defenses.wavelet import (
    _denoise_planes,
    _median_nonzero,
    _skimage_planes,
    _wavedec,
    _waverec,
    default_levels,
    estimate_sigma,
    wavelet_denoise,
)
from irad.errors import IradError
from irad.models import create_classifier
from irad.models.cam import robust_activation_map


def _skimage(imgs: torch.Tensor, method="BayesShrink", mode="soft", wavelet="db1", ycbcr=True, sigma=None) -> np.ndarray:
    return np.stack([np.clip(denoise_wavelet(im.permute(1, 2, 0).numpy(), method=method, mode=mode, wavelet=wavelet,
                                             convert2ycbcr=ycbcr, sigma=sigma, channel_axis=-1, rescale_sigma=True), 0, 1)
                     for im in imgs])


@pytest.fixture(scope="module")
def imagenet_samples() -> torch.Tensor:
    from irad.data import load_foolbox_samples

    return load_foolbox_samples("imagenet").tensors[0][:3]  # (3, 3, 224, 224)


@pytest.fixture(scope="module")
def images(samples, imagenet_samples):
    torch.manual_seed(0)
    return {"natural": samples[0][:8].double(), "natural-float32": samples[0][8:16], "imagenet-224": imagenet_samples,
            "random": torch.rand(4, 3, 32, 32, dtype=torch.float64), "odd-size": torch.rand(2, 3, 37, 29, dtype=torch.float64)}


@pytest.mark.parametrize("kind", ["natural", "natural-float32", "imagenet-224", "random", "odd-size"])
@pytest.mark.parametrize("ours, theirs", [
    ({}, {}),  # the acceptance call: BayesShrink, soft, db1, YCbCr, sigma estimated
    ({"method": "visu"}, {"method": "VisuShrink"}),
    ({"mode": "hard"}, {"mode": "hard"}),
    ({"wavelet": "db2"}, {"wavelet": "db2"}),
    ({"ycbcr": False}, {"ycbcr": False}),
    ({"sigma": 0.04}, {"sigma": 0.04}),
])
def test_wavelet_denoise_matches_skimage(kind, ours, theirs, images):
    x = images[kind]
    got = wavelet_denoise(x, **ours).clamp(0, 1).permute(0, 2, 3, 1).double().numpy()
    ref = _skimage(x, **theirs)
    err = np.abs(got - ref)
    if ours.get("mode") == "hard":  # a coefficient within rounding of the threshold may flip: one coefficient's worth
        assert err.mean() < 1e-6
    else:  # Haar: skimage's arithmetic up to the last steps' rounding; other wavelets: ptwt's transform
        assert err.max() < ((1e-6 if "wavelet" not in ours else 4e-6) if x.dtype == torch.float32 else 1e-12)
    assert np.abs(ref - x.permute(0, 2, 3, 1).numpy()).mean() > 5e-4  # the denoiser did change the images (5x the tolerance)


def _skimage_sigma(img: np.ndarray, wavelet: str) -> list[float]:
    """Noise sigma per YCbCr channel as denoise_wavelet computes it (its private steps, spelled out)."""
    out = rgb2ycbcr(img)
    sigmas = []
    for i in range(3):
        channel = out[..., i] - out[..., i].min()
        channel /= out[..., i].max() - out[..., i].min()
        dd = pywt.wavedecn(channel, wavelet, level=1)[-1]["dd"]
        sigmas.append(np.median(np.abs(dd[np.nonzero(dd)])) / 0.6744897501960817)
    return sigmas


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("wavelet", ["db1", "db2"])
def test_noise_estimate_is_skimages_to_the_last_bits(samples, imagenet_samples, dtype, wavelet):
    # The finest coefficients that are exactly zero are left out of the median; which ones depends on rounding, and
    # an estimate off by one such coefficient can move sigma by several percent on quantised (8-bit) images.
    for x in (samples[0][:8].to(dtype), imagenet_samples[:2].to(dtype)):
        ref = np.array([_skimage_sigma(im.permute(1, 2, 0).numpy(), wavelet) for im in x]).ravel()
        np.testing.assert_allclose(estimate_sigma(x, wavelet).numpy(), ref, rtol=1e-6)
        # the denoiser's own estimate comes from the transform it thresholds: the same values
        planes = _skimage_planes(x, ycbcr=True)[0]
        used = _denoise_planes(planes, wavelet, "bayes", "soft", default_levels(*x.shape[2:], wavelet), None)[1]
        np.testing.assert_allclose(used.numpy(), ref, rtol=1e-6)


@pytest.mark.parametrize("options", [{}, {"ycbcr": False}, {"wavelet": "db2"}, {"method": "visu"}])
def test_wavelet_gradient_is_exact(options):
    # sigma given (an estimated sigma is a median: piecewise constant in the selection, not differentiated). The
    # YCbCr normalisation's min and max carry no gradient; gradcheck confirms the exact derivative through them is 0.
    x = torch.rand(2, 3, 16, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(0)).requires_grad_()
    assert torch.autograd.gradcheck(lambda z: wavelet_denoise(z, sigma=0.04, **options), (x,), eps=1e-7, atol=1e-6,
                                    fast_mode=True)


def test_median_of_nonzero_entries_matches_numpy():
    g = torch.Generator().manual_seed(0)
    for length in (1, 2, 7, 10, 101):
        d = torch.rand(64, length, generator=g, dtype=torch.float64)
        d[torch.rand(64, length, generator=g) < 0.4] = 0
        d[0] = 0  # an all-zero row gives 0
        want = [np.median(r[r != 0]) if r.any() else 0.0 for r in d.numpy()]
        np.testing.assert_array_equal(_median_nonzero(d).numpy(), want)


@pytest.mark.parametrize("shape, levels", [((6, 32, 32), 2), ((4, 64, 48), 3), ((3, 37, 29), 2)])
@pytest.mark.parametrize("wavelet", ["db1", "haar", "db2"])
def test_dwt_matches_ptwt_and_inverts(shape, levels, wavelet):
    x = torch.rand(*shape, dtype=torch.float64)
    approx, details = _wavedec(x, wavelet, levels)
    ref = ptwt.wavedec2(x, wavelet, mode="symmetric", level=levels)
    x = x.clone()  # _waverec overwrites its inputs
    torch.testing.assert_close(approx, ref[0])
    for ours, theirs in zip(details, ref[1:], strict=True):  # coarsest first; bands in ptwt's order
        torch.testing.assert_close(torch.stack(ours, 1), torch.stack(tuple(theirs), 1))
    torch.testing.assert_close(_waverec(approx, details, wavelet, shape[1:]), x)


def test_wavelet_defense_defaults_are_the_skimage_call(samples):
    x = samples[0][:4]
    y = create_defense("wavelet")(x)
    assert np.abs(y.permute(0, 2, 3, 1).numpy() - _skimage(x)).mean((1, 2, 3)).max() < 1e-4


def test_deflection_changes_at_most_k_positions(samples):
    x = samples[0][:6]
    g = torch.Generator().manual_seed(0)
    y = deflect(x, 100, 3, generator=g)
    assert int((y != x).any(1).flatten(1).sum(1).max()) <= 100
    z = deflect(x, 100, 3, per_channel=True, generator=g)
    assert int((z != x).flatten(1).sum(1).max()) <= 300
    assert int((z != x).any(1).flatten(1).sum(1).max()) > 100  # per-channel picks its pixels per channel


def test_one_deflection_copies_a_pixel_from_its_window():
    torch.manual_seed(1)
    x = torch.rand(400, 3, 12, 12, dtype=torch.float64)  # distinct values: a copy identifies its source
    y = deflect(x, 1, 2, generator=torch.Generator().manual_seed(0))
    seen = set()
    for img, out in zip(x, y):
        diff = (out != img).any(0).nonzero()
        assert len(diff) <= 1
        if len(diff):
            r, c = diff[0].tolist()
            src = ((img == out[:, r, c, None, None]).all(0)).nonzero()[0].tolist()
            dr, dc = src[0] - r, src[1] - c
            assert max(abs(dr), abs(dc)) <= 2
            seen.add((dr, dc))
    assert len(seen) >= 20  # most of the 24 non-zero offsets of a 5x5 window occur


def test_deflection_seed_protection_and_gradient(samples):
    x = samples[0][:2]
    a, b = create_defense("pixel-deflection:seed=3"), create_defense("pixel-deflection:seed=4")
    assert torch.equal(a(x), a(x)) and not torch.equal(a(x), b(x)) and not a.randomized
    d = create_defense("pixel-deflection")
    assert d.randomized and d.differentiable and not torch.equal(d(x), d(x))
    shielded = deflect(x, 200, 3, protect=torch.ones(2, 32, 32), generator=torch.Generator().manual_seed(0))
    assert torch.equal(shielded, x)
    xg = x.clone().requires_grad_(True)
    d(xg).sum().backward()
    assert torch.isfinite(xg.grad).all() and float(xg.grad.abs().sum()) > 0


def test_rcam_range_shape_and_errors(samples):
    model = create_classifier("resnet20", "irad-cifar10").eval()
    m = robust_activation_map(model, samples[0][:4], top_k=3)
    assert m.shape == (4, 32, 32) and float(m.min()) >= 0 and torch.allclose(m.flatten(1).amax(1), torch.ones(4))
    resnet50 = create_classifier("resnet50", None, num_classes=1000).eval()
    assert robust_activation_map(resnet50, torch.rand(1, 3, 64, 64)).shape == (1, 64, 64)
    with pytest.raises(IradError, match="no nn.Linear head"):
        robust_activation_map(nn.Sequential(nn.Conv2d(3, 4, 3)), samples[0][:1])
    with pytest.raises(IradError, match="needs a classifier"):
        create_defense("pixel-deflection:rcam=true")(samples[0][:1])


def test_ens_votes_and_refuses_deterministic_defenses():
    class Coin(Defense):
        randomized = True

        def __init__(self):
            super().__init__()
            self.calls = 0

        def transform(self, x):
            self.calls += 1
            return x * 0 + (1.0 if self.calls % 3 else 0.0)  # two of every three runs say "bright"

    from irad.defenses.vote import MajorityVote

    vote = MajorityVote(Coin(), 3)
    brightness = lambda z: torch.stack([z.mean((1, 2, 3)), 1 - z.mean((1, 2, 3))], 1)  # noqa: E731
    assert vote.predict(brightness, torch.rand(5, 3, 4, 4)).tolist() == [0] * 5
    assert create_defense("ens-4(pixel-deflection:deflections=5)").votes == 4
    with pytest.raises(IradError, match="deterministic"):
        create_defense("ens-3(median)")


def test_median_of_nonzero_entries_with_ties_matches_numpy():
    g = torch.Generator().manual_seed(1)
    for length in (2, 3, 8, 9, 50):
        d = torch.randint(0, 4, (200, length), generator=g).double()  # many ties and zeros
        want = [np.median(r[r != 0]) if r.any() else 0.0 for r in d.numpy()]
        np.testing.assert_array_equal(_median_nonzero(d).numpy(), want)


def test_paper_deflection_and_denoise_at_224_px_match_the_per_image_reference(imagenet_samples):
    """The paper's setting on ImageNet-size images (K = 100, r = 10, BayesShrink db1 YCbCr): the batched defense is
    deflection then, per image, scikit-image's denoise_wavelet; every deflected pixel is a copy from its window."""
    x = imagenet_samples.double()
    y = create_defense("pixel-deflection:deflections=100,window=10,seed=7")(x)
    deflected = deflect(x, 100, 10, generator=torch.Generator().manual_seed(7))  # the defense's own draws
    np.testing.assert_allclose(y.permute(0, 2, 3, 1).numpy(), _skimage(deflected), atol=1e-10)
    for img, out in zip(x, deflected):
        moved = (out != img).any(0).nonzero().tolist()
        assert 0 < len(moved) <= 100
        for r, c in moved:  # the source lies in the (2r+1)^2 window (of the image as deflected so far)
            window = out[:, max(r - 10, 0):r + 11, max(c - 10, 0):c + 11].reshape(3, -1)
            original = img[:, max(r - 10, 0):r + 11, max(c - 10, 0):c + 11].reshape(3, -1)
            pool = torch.cat([window, original], 1)
            assert bool((pool == out[:, r, c, None]).all(0).any())


def test_deflection_and_wavelet_run_in_fp32_under_an_attacks_bf16_autocast(samples):
    """--attack-precision bf16 runs the bpda / adaptive target (defense + classifier) under bf16 autocast; the
    wavelet denoiser (ptwt takes no bf16) must give its fp32 output and gradient there."""
    x = samples[0][:2].clone().requires_grad_(True)
    defense = create_defense("pixel-deflection:deflections=50,window=5,denoiser=wavelet:sigma=0.04").eval()
    torch.manual_seed(0)
    ref = defense(x)
    torch.manual_seed(0)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = defense(x)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, ref)
    out.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
