"""On-disk cache of oblivious adversarial examples, one safetensors file per (attack, batch).

Oblivious examples depend only on the classifier, the data and the attack, not on the defense: with a cache,
adding a defense to a table (or resuming an interrupted AutoAttack) reuses every finished batch. A cache
directory belongs to one setup (``identity``: classifier, weights, data, eps, batch size, ...) and refuses others.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import torch
from safetensors import safe_open

from irad.errors import IradError
from irad.utils import distributed as D
from irad.utils.checkpoint import atomic_write_json, save_safetensors


class AdvCache:
    def __init__(self, root: str | Path, identity: dict):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        meta = self.root / "meta.json"
        identity = json.loads(json.dumps(identity))  # JSON-normalised, comparable with what is on disk
        if meta.exists():
            old = json.loads(meta.read_text())
            changed = sorted(k for k in set(old) | set(identity) if old.get(k) != identity.get(k))
            if changed:
                raise IradError(f"adversarial-example cache {self.root} belongs to another setup "
                                f"({', '.join(changed)} differ); use another --adv-cache")
        elif D.is_main():
            atomic_write_json(meta, identity)

    def _path(self, attack: str, batch: int) -> Path:
        slug = re.sub(r"[^A-Za-z0-9._=-]+", "_", attack)[:60] + "-" + hashlib.sha1(attack.encode()).hexdigest()[:8]
        return self.root / f"{slug}-rank{D.rank()}of{D.world_size()}-batch{batch:05d}.safetensors"

    def load(self, attack: str, batch: int, like: torch.Tensor) -> tuple[torch.Tensor, list[str], float | None] | None:
        """The cached examples of ``batch`` (checked against ``like``'s shape), the attack's flags and the seconds it
        took to craft them (None in files from before they were recorded), or None."""
        path = self._path(attack, batch)
        if not path.exists():
            return None
        try:
            with safe_open(str(path), "pt") as f:
                meta = f.metadata()
                x_adv, flags = f.get_tensor("x_adv"), json.loads(meta["flags"])
                seconds = float(meta["seconds"]) if "seconds" in meta else None
        except Exception as e:
            raise IradError(f"corrupt cache file {path} ({e}); delete it to recompute that batch") from None
        if x_adv.shape != like.shape:
            raise IradError(f"cache file {path} holds shape {tuple(x_adv.shape)}, expected {tuple(like.shape)}")
        return x_adv.to(like.device, like.dtype), flags, seconds

    def save(self, attack: str, batch: int, x_adv: torch.Tensor, flags: list[str], seconds: float) -> None:
        save_safetensors(self._path(attack, batch), {"x_adv": x_adv.detach().cpu().contiguous()},
                         metadata={"flags": json.dumps(sorted(set(flags))), "seconds": repr(float(seconds))})
