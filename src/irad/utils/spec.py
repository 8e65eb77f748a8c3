"""The ``NAME[:key=value,...][+NAME...]`` spec grammar shared by defenses and attacks.

Values parse as booleans (true/false/yes/no/on/off), integers, floats, fractions (``8/255``) or strings.
"""

from __future__ import annotations

import inspect
from fractions import Fraction

from irad.errors import IradError
from irad.utils.validation import check_range


def parse_value(text: str) -> object:
    """``"true"`` -> True, ``"3"`` -> 3, ``"1.5"`` -> 1.5, ``"8/255"`` -> 0.0313..., ``"0.5/255"``, anything else stays a string."""
    low = text.strip().lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    for conv in (int, float):
        try:
            return conv(low)
        except ValueError:
            pass
    num, slash, den = low.partition("/")
    if slash:
        try:
            return float(Fraction(num) / Fraction(den))  # also decimal numerators: 0.5/255
        except (ValueError, ZeroDivisionError):
            pass
    return text.strip()


def parse_spec(spec: str) -> list[tuple[str, dict[str, object]]]:
    """``"a:k=v,k2=v2+b"`` -> ``[("a", {"k": v, "k2": v2}), ("b", {})]``."""
    if not spec or not spec.strip():
        raise IradError("empty spec")
    parts = []
    for chunk in spec.split("+"):
        name, _, args = chunk.strip().partition(":")
        if not name:
            raise IradError(f"spec {spec!r} has an empty name")
        kwargs: dict[str, object] = {}
        for item in filter(None, (a.strip() for a in args.split(","))):
            key, eq, value = item.partition("=")
            if not eq or not key.strip():
                raise IradError(f"spec {chunk!r}: expected key=value, got {item!r}")
            kwargs[key.strip().replace("-", "_")] = parse_value(value)
        parts.append((name.strip(), kwargs))
    return parts


def coerce_kwargs(what: str, params: dict[str, object], kwargs: dict[str, object]) -> dict[str, object]:
    """Check ``kwargs`` against ``params`` (name -> default) and coerce each value to its default's type; a default of
    None marks an optional number. Numbers must be finite."""
    unknown = sorted(set(kwargs) - set(params))
    if unknown:
        accepted = ", ".join(f"{k}={v!r}" if v is not inspect.Parameter.empty else k for k, v in params.items()) or "none"
        raise IradError(f"{what} has no parameter {', '.join(unknown)}; accepted: {accepted}")
    out = {}
    for k, v in kwargs.items():
        default = params[k]
        if isinstance(default, bool) and not isinstance(v, bool):
            raise IradError(f"{what}: {k} must be true or false, got {v!r}")
        if isinstance(default, float) and isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        if isinstance(default, int) and not isinstance(default, bool) and not isinstance(v, int):
            raise IradError(f"{what}: {k} must be an integer, got {v!r}")
        if isinstance(default, str) and not isinstance(v, str):
            v = str(v)
        if default is None and isinstance(v, (str, bool)):  # None marks an optional number (a seed, a step size)
            raise IradError(f"{what}: {k} must be a number (e.g. 3, 0.01 or 2/255), got {v!r}")
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            check_range(what, k, v)
        out[k] = v
    return out
