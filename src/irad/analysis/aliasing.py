"""Aliasing metric of Grabinski et al., "Aliasing coincides with CNNs vulnerability towards adversarial attacks".

For every downsampling operation of a CNN (strided convolution, strided pooling, subsampling shortcut), the same
operation without stride gives ``f_s1`` (sN x sN) and the real one ``f_s2`` (N x N). Their spectra, normalised by
the map sizes (Eq. 3-4), are compared after removing from ``f_s1``'s all frequencies above the new Nyquist limit
(the four low-frequency corners, Eq. 5-6): AM = mean over feature maps and images of the L1 distance (Eq. 7).
A band-limited map gives AM = 0; whatever folds back into the low band on subsampling adds to it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from irad.errors import IradError

_POOLS = {nn.MaxPool2d: "maxpool", nn.AvgPool2d: "avgpool"}


@dataclass
class LayerAliasing:
    """AM of one downsampling operation; ``input_size`` (H, W) of the map it subsamples."""

    name: str
    kind: str  # conv, maxpool, avgpool or subsample
    input_size: tuple[int, int]
    stride: tuple[int, int]
    am: float

    def to_dict(self) -> dict:
        return asdict(self)


def _low_band(n: int, stride: int, device: torch.device) -> torch.Tensor:
    """Indices of the ``n`` lowest frequencies in a length ``stride * n`` FFT: the non-negative ones first, then the
    negative ones from the far end (Eq. 6, per axis; the Nyquist bin of an even ``n`` comes from the negative side)."""
    half = (n + 1) // 2
    idx = torch.arange(n, device=device)
    return torch.where(idx < half, idx, idx + (stride - 1) * n)


def alias_free_spectrum(f_s1: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Spectrum of ``f_s1`` ``(..., sH, sW)`` low-passed to the new Nyquist limit and cropped to ``size`` (H, W):
    the four corners of its size-normalised FFT (Eq. 4-6). Complex ``(..., H, W)``."""
    (h, w), (H, W) = size, f_s1.shape[-2:]
    spec = torch.fft.fft2(f_s1.double(), norm="forward")
    spec = spec.index_select(-2, _low_band(h, H // h, spec.device))
    return spec.index_select(-1, _low_band(w, W // w, spec.device))


def aliasing_distance(f_s1: torch.Tensor, f_s2: torch.Tensor) -> torch.Tensor:
    """Per-map L1 distance between the spectrum of ``f_s2`` ``(..., H, W)`` and the alias-free spectrum of ``f_s1``
    ``(..., sH, sW)`` (Eq. 7 before averaging). ``(...)``."""
    size = tuple(f_s2.shape[-2:])
    if any(a % b for a, b in zip(f_s1.shape[-2:], size)):
        raise IradError(f"unstrided map {tuple(f_s1.shape[-2:])} is not an integer multiple of the strided map {size}")
    diff = alias_free_spectrum(f_s1, size) - torch.fft.fft2(f_s2.double(), norm="forward")
    return diff.abs().sum((-2, -1))


def _pair(v: int | tuple[int, ...]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def downsampling_operations(model: nn.Module) -> list[tuple[str, nn.Module, str, tuple[int, int]]]:
    """``(name, module, kind, stride)`` for every downsampling operation: ``nn.Conv2d`` and max/avg pooling with a
    stride > 1, and any module declaring ``subsample = s`` (it computes ``x[..., ::s, ::s]`` of its input, like
    irad's option-A shortcut). Raises :class:`IradError` when there is none."""
    ops = []
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d):
            kind, stride = "conv", _pair(m.stride)
        elif type(m) in _POOLS:
            kind, stride = _POOLS[type(m)], _pair(m.stride)
        elif getattr(m, "subsample", None):
            kind, stride = "subsample", _pair(m.subsample)
        else:
            continue
        if max(stride) > 1:
            ops.append((name, m, kind, stride))
    if not ops:
        raise IradError(f"{type(model).__name__} has no downsampling operation (a strided nn.Conv2d, strided "
                        "max/avg pooling, or a module declaring `subsample`)")
    return ops


def _tf_same_before(size: int, kernel: int, stride: int, dilation: int) -> int:
    """The leading pad TF "SAME" padding (timm's ``pad_same``) gives an axis of ``size`` for a strided conv."""
    total = max((math.ceil(size / stride) - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2


def unstrided(module: nn.Module, kind: str, x: torch.Tensor) -> torch.Tensor:
    """``module`` applied to ``x`` with stride 1 and otherwise the same settings (weights, padding, dilation), aligned
    so that the strided output is this one's ``[::s, ::s]``. timm's ``Conv2dSame`` (TF "SAME" padding computed per
    input, EfficientNet-Lite's strided convolutions) keeps the strided conv's leading pad and pads the rest after."""
    if kind == "conv" and type(module).__name__ == "Conv2dSame":
        (kh, kw), (sh, sw), (dh, dw) = module.kernel_size, _pair(module.stride), _pair(module.dilation)
        top = _tf_same_before(x.shape[-2], kh, sh, dh)
        left = _tf_same_before(x.shape[-1], kw, sw, dw)
        x = F.pad(x, (left, (kw - 1) * dw - left, top, (kh - 1) * dh - top))
        return F.conv2d(x, module.weight, module.bias, 1, 0, module.dilation, module.groups)
    if kind == "conv":
        if module.padding_mode != "zeros":
            x = F.pad(x, module._reversed_padding_repeated_twice, mode=module.padding_mode)
            return F.conv2d(x, module.weight, module.bias, 1, 0, module.dilation, module.groups)
        return F.conv2d(x, module.weight, module.bias, 1, module.padding, module.dilation, module.groups)
    if kind == "maxpool":
        return F.max_pool2d(x, module.kernel_size, 1, module.padding, module.dilation, module.ceil_mode)
    if kind == "avgpool":
        return F.avg_pool2d(x, module.kernel_size, 1, module.padding, module.ceil_mode, module.count_include_pad,
                            module.divisor_override)
    return x  # subsample: the operation is pure subsampling of its input


@torch.no_grad()
def aliasing(model: nn.Module, images: torch.Tensor | torch.utils.data.DataLoader, batch_size: int = 64,
             progress: bool = False) -> list[LayerAliasing]:
    """The aliasing metric (AM, Grabinski et al., Eq. 3-7) of every downsampling operation of ``model``.

    Args:
        model: a CNN; its strided convolutions, strided max/avg pooling and modules declaring ``subsample = s`` are
            measured (:func:`downsampling_operations`). It runs in eval mode.
        images: ``(N, C, H, W)`` floats in the model's input range, or a loader of ``(images, labels)``; sides must
            divide by the model's total stride.
        batch_size: for a tensor of images.
        progress: a progress bar.

    Returns:
        One :class:`LayerAliasing` (name, kind, input size, stride, AM) per operation, in forward order.

    Example::

        >>> layers = aliasing(create_classifier("resnet20", "irad-cifar10"), torch.rand(64, 3, 32, 32))
        >>> [(l.name, round(l.am, 3)) for l in layers]
    """
    if isinstance(images, torch.Tensor) and not images.is_floating_point():
        raise IradError(f"images must be a floating-point tensor (N, C, H, W), got dtype {images.dtype}")
    ops = downsampling_operations(model)
    totals = {name: [0.0, 0, None] for name, *_ in ops}  # sum of per-map distances, map count, input size
    order: list[str] = []

    def hook(name: str, module: nn.Module, kind: str, stride: tuple[int, int]):
        def fn(_m, inputs, output):
            x = inputs[0]
            f_s1 = unstrided(module, kind, x)
            f_s2 = x[..., :: stride[0], :: stride[1]] if kind == "subsample" else output
            if f_s1.shape[-2:] != (f_s2.shape[-2] * stride[0], f_s2.shape[-1] * stride[1]):
                raise IradError(f"{name}: the unstrided map is {tuple(f_s1.shape[-2:])}, not stride {stride} x the "
                                f"strided map {tuple(f_s2.shape[-2:])}; use inputs whose sides divide by the "
                                "model's total stride")
            d = aliasing_distance(f_s1, f_s2)
            t = totals[name]
            t[0] += float(d.sum())
            t[1] += d.numel()
            t[2] = tuple(x.shape[-2:])
            if name not in order:
                order.append(name)
        return fn

    was_training = model.training
    model.eval()
    handles = [m.register_forward_hook(hook(name, m, kind, stride)) for name, m, kind, stride in ops]
    try:
        batches = images if isinstance(images, torch.utils.data.DataLoader) else images.split(batch_size)
        device = next(model.parameters()).device
        for batch in tqdm(batches, desc="aliasing", unit="batch", disable=not progress):
            x = batch[0] if isinstance(batch, (list, tuple)) else batch
            model(x.to(device))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    info = {name: (kind, stride) for name, _, kind, stride in ops}
    missing = [name for name, *_ in ops if name not in order]
    if missing:
        raise IradError(f"downsampling operations never ran in the forward pass: {', '.join(missing)}")
    return [LayerAliasing(name, info[name][0], totals[name][2], info[name][1], totals[name][0] / totals[name][1])
            for name in order]
