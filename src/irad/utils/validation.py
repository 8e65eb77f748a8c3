"""Input checks shared by defenses, classifiers and the CLI."""

from __future__ import annotations

import math
import numbers
from typing import TypeVar

import torch

from irad.errors import IradError

RANGE_TOLERANCE = 1e-5
T = TypeVar("T")


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


def check_range(what: str, name: str, value: T, lo: float | None = None, hi: float | None = None,
                lo_open: bool = False, hi_open: bool = False, integer: bool = False) -> T:
    """Return ``value`` if it is a finite number (an integer when ``integer``) within ``lo``/``hi`` (either None:
    unbounded; ``*_open``: the bound itself excluded); else raise :class:`IradError`
    ``"WHAT: NAME must be REQUIREMENT, got VALUE"`` (``WHAT: `` left out when empty, ``NAME`` too)."""
    kind = numbers.Integral if integer else numbers.Real
    ok = (isinstance(value, kind) and not isinstance(value, bool) and math.isfinite(value)
          and (lo is None or (value > lo if lo_open else value >= lo))
          and (hi is None or (value < hi if hi_open else value <= hi)))
    if not ok:
        subject = f"{what}: {name}" if what else name
        raise IradError(f"{subject} must be {_requirement(lo, hi, lo_open, hi_open, integer)}, got {value!r}".lstrip())
    return value


def _requirement(lo: float | None, hi: float | None, lo_open: bool, hi_open: bool, integer: bool) -> str:
    """``"an integer >= 1"``, ``"a number in (0, 1]"``, ``"positive and finite"``, ... for :func:`check_range`."""
    if lo is not None and hi is not None:
        brackets = ("(" if lo_open else "[", ")" if hi_open else "]")
        return f"{'an integer' if integer else 'a number'} in {brackets[0]}{lo:g}, {hi:g}{brackets[1]}"
    if lo == 0 and lo_open and not integer:
        return "positive and finite"
    kind = "an integer" if integer else "a finite number"
    if lo is not None:
        return f"{kind} {'>' if lo_open else '>='} {lo:g}"
    if hi is not None:
        return f"{kind} {'<' if hi_open else '<='} {hi:g}"
    return kind
