"""Robust-accuracy measurements an audit shares between its checks, each run once through the evaluation harness."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

from torch import nn
from torch.utils.data import Dataset

from irad.evaluation.adv_cache import AdvCache
from irad.evaluation.runner import evaluate
from irad.utils.checkpoint import state_fingerprint


class Measurements:
    """``ra(attack, scenario, eps, eot)``: robust accuracy (%) of ``defense`` (named ``name``) + ``classifier`` on
    ``data``, cached; with ``adv_cache`` (a directory) each measurement's adversarial examples are also stored per
    batch on disk (one cache per eps), so an interrupted audit resumes."""

    def __init__(self, classifier: nn.Module, defense: nn.Module, name: str, data: Dataset, norm: str,
                 batch_size: int, seed: int, progress: bool, adv_cache: str | Path | None = None):
        self.classifier, self.defense, self.name, self.data, self.norm = classifier, defense, name, data, norm
        self.batch_size, self.seed, self.progress, self.adv_cache = batch_size, seed, progress, adv_cache
        self._cache: dict[tuple, float] = {}
        self._identity: dict | None = None
        self._disks: dict[float, AdvCache] = {}
        self.notes: dict[tuple, list[str]] = {}

    @property
    def n(self) -> int:
        return len(self.data)

    def ra(self, attack: str, scenario: str, eps: float, eot: int = 1) -> float:
        key = (attack, scenario, round(eps, 8), eot)
        if key not in self._cache:
            (row,) = evaluate(self.classifier, {self.name: self.defense}, [attack], self.data, scenario, self.norm,
                              eps, self.batch_size, self.seed, eot, progress=self.progress, adv_cache=self._disk(eps))
            self._cache[key], self.notes[key] = row.ra, row.notes
        return self._cache[key]

    def _disk(self, eps: float) -> AdvCache | None:
        """The on-disk cache for ``eps`` (made once per eps), or None without ``adv_cache``."""
        if self.adv_cache is None:
            return None
        if eps not in self._disks:
            if self._identity is None:  # the classifier's weights and the images and labels themselves
                h = hashlib.sha256()
                for x, y in self.data:
                    h.update(x.numpy().tobytes() + int(y).to_bytes(4, "little"))
                self._identity = {"classifier_sha256": state_fingerprint(self.classifier),
                                  "data_sha256": h.hexdigest()[:16], "n": self.n, "norm": self.norm,
                                  "batch_size": self.batch_size, "seed": self.seed}
            self._disks[eps] = AdvCache(Path(self.adv_cache) / f"eps{eps:.6f}",
                                        {**self._identity, "eps": round(eps, 8)})
        return self._disks[eps]

    def tolerance(self, *ras: float) -> float:
        """Sampling noise allowed between two RAs (percentage points): two binomial standard errors at the larger
        RA, and at least two images."""
        p = max(ras) / 100
        return 100 * max(2 / self.n, 2 * math.sqrt(p * (1 - p) / self.n))
