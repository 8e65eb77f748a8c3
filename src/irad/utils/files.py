"""Reading back the JSON files irad writes (pairs and cache descriptions, training metadata, configs): every
damaged or foreign content is one :class:`~irad.errors.IradError` naming the file, the field and the fix."""

from __future__ import annotations

import json
import os
from pathlib import Path

from irad.errors import IradError

_TYPES = {dict: "a mapping", list: "a list", str: "a string", int: "an integer", float: "a number", bool: "true/false"}


def read_json(path: str | os.PathLike, fix: str) -> dict:
    """The JSON object in ``path``; ``fix`` (e.g. "delete it to recompute") ends the error for unreadable, garbled,
    truncated or non-object content."""
    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except FileNotFoundError:
        raise IradError(f"{p} is missing; {fix}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise IradError(f"cannot read {p} ({type(e).__name__}: damaged or not JSON); {fix}") from None
    if not isinstance(data, dict):
        raise IradError(f"{p} holds {type(data).__name__}, not a JSON object; {fix}")
    return data


def field(data: dict, name: str, kind: type | tuple[type, ...], path: str | os.PathLike, fix: str):
    """``data[name]`` if present and of ``kind`` (int counts as a number), else the one-line error."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if float in kinds:
        kinds = (*kinds, int)
    value = data.get(name)
    if name not in data or not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        want = " or ".join(_TYPES.get(k, k.__name__) for k in (kind if isinstance(kind, tuple) else (kind,)))
        got = "missing" if name not in data else type(value).__name__
        raise IradError(f"{path}: field '{name}' should be {want}, is {got}; {fix}")
    return value
