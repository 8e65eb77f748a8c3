"""Resumable training state: one ``torch.save`` file written atomically, read back with ``weights_only=True``."""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path

import torch

from irad.data.datasets import same_settings
from irad.errors import IradError
from irad.utils.checkpoint import atomic_path


def save_state(path: str | os.PathLike, state: dict) -> None:
    """Write ``state`` (tensors, state dicts, numbers, strings) to ``path`` via a temporary file and a rename."""
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_state(path: str | os.PathLike, config: dict) -> dict | None:
    """The state saved at ``path`` (None if absent); refuses one saved under a different ``config``. Fields added
    to a config since the state was saved count as equal while they are unset (None) or off (False)."""
    p = Path(path)
    if not p.exists():
        return None
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # corrupt or foreign file
        raise IradError(f"cannot resume from {p}: {e}; delete it to start over") from None
    saved = state.get("config") or {}
    if not same_settings({k: v for k, v in config.items() if k in saved or v not in (None, False)}, saved):
        raise IradError(f"{p} was written with a different configuration; use another --out or delete it")
    return state


def config_dict(cfg: object) -> dict:
    """A dataclass config as the JSON-comparable dict stored with the state (tuples become lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(cfg).items()}
