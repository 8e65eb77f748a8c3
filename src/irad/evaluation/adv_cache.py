"""On-disk cache of adversarial examples, one safetensors file per (attack key, batch).

Oblivious examples depend only on the classifier, the data and the attack, not on the defense: with a cache,
adding a defense to a table (or resuming an interrupted AutoAttack) reuses every finished batch. A cache
directory belongs to one setup (``identity``: classifier, weights, data, eps, batch size, ...) and refuses others.

Every entry also records, in its safetensors metadata, the key it was written for (``entry``: the attack key, batch
index and size, a hash of that batch's clean images and labels, the classifier's fingerprint, ...) and a SHA-256 of
its tensor. On read, an entry whose key or digest does not match is not ours: one line says which file and field,
and the batch is recomputed (or, with ``strict``, the run stops). Entries written before keys were recorded are
read as before (checked by shape and, by the caller, the budget) after one notice.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

import torch
from safetensors import safe_open

from irad.data.datasets import same_setting
from irad.errors import IradError
from irad.utils import distributed as D
from irad.utils.checkpoint import atomic_write_json, save_safetensors

ENTRY_FORMAT = 2  # 1: no recorded key (before entries were bound to what made them)


def batch_digest(*tensors: torch.Tensor) -> str:
    """First 16 hex digits of the SHA-256 of the tensors' dtypes, shapes and bytes."""
    h = hashlib.sha256()
    for t in tensors:
        t = t.detach().cpu().contiguous()
        h.update(f"{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


class AdvCache:
    def __init__(self, root: str | Path, identity: dict, strict: bool = False):
        self.root = Path(root)
        self.strict = strict
        self._told_old = False
        self.root.mkdir(parents=True, exist_ok=True)
        meta = self.root / "meta.json"
        identity = json.loads(json.dumps(identity))  # JSON-normalised, comparable with what is on disk
        if meta.exists():
            try:
                old = json.loads(meta.read_text())
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
                raise IradError(f"adversarial-example cache {meta} is unreadable ({type(e).__name__}); delete "
                                f"{self.root} to recompute it") from None
            if not isinstance(old, dict):
                raise IradError(f"adversarial-example cache {meta} is not a cache description; delete {self.root}")
            changed = sorted(k for k in set(old) | set(identity) if not same_setting(k, old.get(k), identity.get(k)))
            if changed:
                raise IradError(f"adversarial-example cache {self.root} belongs to another setup "
                                f"({', '.join(changed)} differ); use another --adv-cache")
        elif D.is_main():
            atomic_write_json(meta, identity)
        self.identity = identity

    def _path(self, attack: str, batch: int) -> Path:
        slug = re.sub(r"[^A-Za-z0-9._=-]+", "_", attack)[:60] + "-" + hashlib.sha1(attack.encode()).hexdigest()[:8]
        return self.root / f"{slug}-rank{D.rank()}of{D.world_size()}-batch{batch:05d}.safetensors"

    def load(self, attack: str, batch: int, like: torch.Tensor,
             entry: dict | None = None) -> tuple[torch.Tensor, list[str], float | None] | None:
        """The cached examples of ``batch`` (checked against ``like``'s shape and, for entries that record one,
        against the key ``entry`` and their digest), the attack's flags and the seconds it took to craft them (None
        in files from before they were recorded), or None (absent, or not ours and recomputed)."""
        path = self._path(attack, batch)
        if not path.exists():
            return None
        try:
            with safe_open(str(path), "pt") as f:
                meta = f.metadata() or {}
                x_adv, flags = f.get_tensor("x_adv"), json.loads(meta["flags"])
                seconds = float(meta["seconds"]) if "seconds" in meta else None
                recorded = json.loads(meta["entry"]) if "entry" in meta else None
        except Exception as e:  # truncated or damaged: safetensors, JSON and key errors alike
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            return self._reject(path, f"unreadable: {first}")
        if x_adv.shape != like.shape:
            return self._reject(path, f"shape differs: {tuple(x_adv.shape)} recorded, {tuple(like.shape)} expected")
        if recorded is not None:
            expected = self._entry(attack, batch, entry)
            wrong = next((k for k in sorted(set(recorded) | set(expected)) if recorded.get(k) != expected.get(k)), None)
            if wrong is not None:
                return self._reject(path, f"{wrong} differs: {recorded.get(wrong)!r} recorded, "
                                          f"{expected.get(wrong)!r} expected")
            if meta.get("digest") != batch_digest(x_adv):
                return self._reject(path, "its tensor does not match its recorded digest")
        elif not self._told_old:
            self._told_old = True
            print(f"irad: note: {self.root} holds entries from an older irad that record no key; they are checked "
                  "by shape and budget only", file=sys.stderr)
        return x_adv.to(like.device, like.dtype), flags, seconds

    def save(self, attack: str, batch: int, x_adv: torch.Tensor, flags: list[str], seconds: float,
             entry: dict | None = None) -> None:
        """Store ``batch``'s examples with the key they were made for (``entry`` plus the attack key and batch)."""
        x_adv = x_adv.detach().cpu().contiguous()
        save_safetensors(self._path(attack, batch), {"x_adv": x_adv},
                         metadata={"flags": json.dumps(sorted(set(flags))), "seconds": repr(float(seconds)),
                                   "entry": json.dumps(self._entry(attack, batch, entry), sort_keys=True),
                                   "digest": batch_digest(x_adv)})

    def _entry(self, attack: str, batch: int, entry: dict | None) -> dict:
        setup = hashlib.sha256(json.dumps(self.identity, sort_keys=True).encode()).hexdigest()[:16]
        return json.loads(json.dumps({"format": ENTRY_FORMAT, "attack": attack, "batch": batch, "setup": setup,
                                      **(entry or {})}))

    def _reject(self, path: Path, why: str) -> None:
        message = f"{path} is not this run's cache entry ({why})"
        if self.strict:
            raise IradError(message + "; without --adv-cache-strict it is recomputed")
        print(f"irad: {message}; recomputing that batch", file=sys.stderr)
