"""Input checks shared by defenses, classifiers and the CLI."""

from __future__ import annotations

import math

import torch

from irad.errors import IradError

RANGE_TOLERANCE = 1e-5


def check_images(x: object, name: str = "images", channels: int | None = 3) -> torch.Tensor:
    """Check that ``x`` is a float batch ``(N, C, H, W)`` with finite values in [0, 1].

    Returns ``x`` unchanged; raises :class:`IradError` naming the first problem found.
    """
    if not isinstance(x, torch.Tensor):
        raise IradError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 4:
        raise IradError(f"{name} must have shape (N, C, H, W), got {tuple(x.shape)}")
    if channels is not None and x.shape[1] != channels:
        raise IradError(f"{name} must have {channels} channels (N, {channels}, H, W), got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise IradError(f"{name} must be a floating-point tensor in [0, 1], got dtype {x.dtype}")
    if x.numel() == 0:
        raise IradError(f"{name} is empty: shape {tuple(x.shape)}")
    with torch.no_grad():
        lo, hi = (float(v) for v in torch.aminmax(x))  # one pass; NaN propagates into both
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise IradError(f"{name} contain NaN or infinite values")
    if lo < -RANGE_TOLERANCE or hi > 1 + RANGE_TOLERANCE:
        raise IradError(f"{name} must lie in [0, 1], got values in [{lo:.4g}, {hi:.4g}] (scale 0-255 images by 1/255)")
    return x


def check_choice(name: str, value: object, choices: tuple | list) -> None:
    """Raise :class:`IradError` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise IradError(f"{name} must be one of {', '.join(map(str, choices))}, got {value!r}")
