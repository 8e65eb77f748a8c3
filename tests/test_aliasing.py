"""Aliasing metric (Grabinski et al., Eq. 3-7): band-limited maps, white noise, a direct NumPy computation, hooks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

from irad.analysis import aliasing, downsampling_operations
from irad.analysis.aliasing import aliasing_distance
from irad.errors import IradError
from irad.models import create_classifier


def _band_limited(n_maps: int, size: int, gen: torch.Generator) -> torch.Tensor:
    """Real maps ``(n_maps, 2N, 2N)`` whose frequencies all lie strictly below the Nyquist limit of N samples."""
    coords = torch.arange(size, dtype=torch.float64)
    out = torch.zeros(n_maps, size, size, dtype=torch.float64)
    for i in range(n_maps):
        for _ in range(12):
            k, l = torch.randint(-(size // 4) + 1, size // 4, (2,), generator=gen).tolist()  # |k|, |l| < N/2
            phase = float(torch.rand(1, generator=gen, dtype=torch.float64)) * 2 * np.pi
            out[i] += torch.cos(2 * np.pi * (k * coords[:, None] + l * coords[None, :]) / size + phase)
    return out


def test_band_limited_map_has_no_aliasing_and_white_noise_has_plenty():
    gen = torch.Generator().manual_seed(0)
    smooth = _band_limited(6, 32, gen)
    ref = torch.fft.fft2(smooth[:, ::2, ::2], norm="forward").abs().sum((-2, -1))
    assert float((aliasing_distance(smooth, smooth[:, ::2, ::2]) / ref).max()) < 1e-6
    noise = torch.randn(6, 32, 32, generator=gen, dtype=torch.float64)
    ref = torch.fft.fft2(noise[:, ::2, ::2], norm="forward").abs().sum((-2, -1))
    assert float((aliasing_distance(noise, noise[:, ::2, ::2]) / ref).min()) > 0.3
    # the same through the hooks: a stride-2 1x1 identity convolution subsamples the maps
    conv = nn.Conv2d(1, 1, 1, stride=2, bias=False).double()
    conv.weight.data.fill_(1.0)
    band_limited, white = aliasing(conv, smooth[:, None])[0].am, aliasing(conv, noise[:, None])[0].am
    assert band_limited < 1e-6 * white


def _numpy_am(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> float:
    """Eq. 1-7 spelled out: 3x3 convolution (zero padding 1) with stride 1 and, separately, with stride 2; DFTs as
    sums over exp(-2 pi j ...) normalised by the map sizes; the four corners; L1 averaged over maps and images."""
    n_img, c_in, size, _ = x.shape
    c_out, half = weight.shape[0], size // 2
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))

    def conv(stride: int) -> np.ndarray:
        out = np.zeros((n_img, c_out, size // stride, size // stride))
        for i in range(size // stride):
            for j in range(size // stride):
                window = padded[:, :, i * stride:i * stride + 3, j * stride:j * stride + 3]
                out[:, :, i, j] = np.einsum("bchw,ochw->bo", window, weight) + bias
        return out

    def dft(f: np.ndarray) -> np.ndarray:
        m = f.shape[-1]
        e = np.exp(-2j * np.pi * np.outer(np.arange(m), np.arange(m)) / m)
        return e @ f @ e.T / m**2

    f_s1, f_s2 = conv(1), conv(2)
    total = 0.0
    for b in range(n_img):
        for c in range(c_out):
            up, down = dft(f_s1[b, c]), dft(f_s2[b, c])
            q = half // 2
            free = np.zeros((half, half), complex)
            free[:q, :q] = up[:q, :q]
            free[q:, :q] = up[q + half:, :q]
            free[:q, q:] = up[:q, q + half:]
            free[q:, q:] = up[q + half:, q + half:]
            total += np.abs(free - down).sum()
    return total / (n_img * c_out)


def test_strided_conv_matches_a_direct_numpy_computation():
    gen = torch.Generator().manual_seed(1)
    conv = nn.Conv2d(2, 3, 3, stride=2, padding=1).double()
    grid = torch.linspace(0, 1, 16, dtype=torch.float64)
    x = torch.stack([torch.sin(9 * grid[:, None] + 5 * grid[None, :]), (grid[:, None] * grid[None, :] > 0.3).double()])
    x = torch.stack([x, x + 0.1 * torch.randn(2, 16, 16, generator=gen, dtype=torch.float64)])  # (2, 2, 16, 16)
    want = _numpy_am(x.numpy(), conv.weight.detach().numpy(), conv.bias.detach().numpy())
    (got,) = aliasing(conv, x)
    assert got.kind == "conv" and got.input_size == (16, 16) and got.stride == (2, 2)
    assert got.am == pytest.approx(want, rel=1e-9)


def test_hooks_find_the_downsampling_operations():
    resnet20 = create_classifier("resnet20", None)
    found = [(name, kind) for name, _, kind, _ in downsampling_operations(resnet20)]
    assert found == [("net.layer2.0.conv1", "conv"), ("net.layer2.0.shortcut", "subsample"),
                     ("net.layer3.0.conv1", "conv"), ("net.layer3.0.shortcut", "subsample")]
    resnet50 = torchvision.models.resnet50()
    assert [name for name, *_ in downsampling_operations(resnet50)] == [
        "conv1", "maxpool", "layer2.0.conv2", "layer2.0.downsample.0", "layer3.0.conv2", "layer3.0.downsample.0",
        "layer4.0.conv2", "layer4.0.downsample.0"]
    layers = aliasing(resnet20, torch.rand(4, 3, 32, 32))
    assert [layer.input_size for layer in layers] == [(32, 32), (32, 32), (16, 16), (16, 16)]
    assert all(layer.am > 0 for layer in layers)
    with pytest.raises(IradError, match="no downsampling operation"):
        aliasing(nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.Flatten()), torch.rand(1, 3, 8, 8))
    with pytest.raises(IradError, match="divide by the model's total stride"):
        aliasing(nn.Conv2d(1, 1, 3, stride=2, padding=1), torch.rand(1, 1, 7, 7))


def test_cli_writes_the_table_json_and_the_comparison_plot(tmp_path, capsys):
    import json

    from irad.cli.main import main

    out = tmp_path / "am.json"
    assert main(["aliasing", "--dataset", "foolbox-cifar10", "--n", "10", "--out", str(out)]) == 0
    single = json.loads(out.read_text())
    assert single["model"] == "resnet20:irad-cifar10" and len(single["layers"]) == 4 and single["data"]["n"] == 10
    assert "net.layer2.0.shortcut" in capsys.readouterr().out
    plot = tmp_path / "am.png"
    assert main(["aliasing", "--dataset", "foolbox-cifar10", "--n", "10", "--compare", "resnet20:irad-cifar10",
                 "resnet20:none", "--ra", "0", "10", "--plot", str(plot), "--out", str(out)]) == 0
    both = json.loads(out.read_text())["models"]
    assert [m["robust_accuracy"] for m in both] == [0, 10] and plot.read_bytes()[:4] == b"\x89PNG"
    assert main(["aliasing", "--dataset", "foolbox-cifar10", "--compare", "resnet20:none", "--plot", str(plot)]) == 2
    assert "needs robust accuracies" in capsys.readouterr().err


def test_hooks_find_strided_depthwise_tf_same_convs_and_align_them():
    """EfficientNet-Lite's downsampling: depthwise stride-2 convs with TF "SAME" padding (timm's Conv2dSame), whose
    unstrided counterpart must keep the strided conv's leading pad so that f_s2 = f_s1[::2, ::2] exactly."""
    from timm.layers import Conv2dSame

    from irad.analysis.aliasing import aliasing, downsampling_operations, unstrided
    from irad.models.efficientnet_lite import build_lite

    ops = downsampling_operations(build_lite(0, num_classes=10))
    depthwise = [name for name, m, kind, stride in ops if m.groups == m.in_channels > 1]
    assert "blocks.1.0.conv_dw" in depthwise and len(depthwise) == 4 and ops[0][0] == "conv_stem"
    torch.manual_seed(0)
    for k, size in ((3, 32), (5, 32), (3, 31), (5, 29)):
        conv = Conv2dSame(4, 4, k, stride=2, groups=4, bias=False)
        x = torch.rand(2, 4, size, size)
        with torch.no_grad():
            torch.testing.assert_close(conv(x), unstrided(conv, "conv", x)[..., ::2, ::2])
    layer = aliasing(torch.nn.Sequential(Conv2dSame(3, 3, 3, stride=2, groups=3)), torch.rand(2, 3, 32, 32))[0]
    assert layer.kind == "conv" and layer.input_size == (32, 32) and layer.am > 0
