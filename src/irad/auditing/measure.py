"""Robust-accuracy measurements an audit shares between its checks, each run once through the evaluation harness."""

from __future__ import annotations

import math

from torch import nn
from torch.utils.data import Dataset

from irad.evaluation.runner import evaluate


class Measurements:
    """``ra(attack, scenario, eps, eot)``: robust accuracy (%) of ``defense`` + ``classifier`` on ``data``, cached."""

    def __init__(self, classifier: nn.Module, defense: nn.Module, data: Dataset, norm: str, batch_size: int,
                 seed: int, progress: bool):
        self.classifier, self.defense, self.data, self.norm = classifier, defense, data, norm
        self.batch_size, self.seed, self.progress = batch_size, seed, progress
        self._cache: dict[tuple, float] = {}
        self.notes: dict[tuple, list[str]] = {}

    @property
    def n(self) -> int:
        return len(self.data)

    def ra(self, attack: str, scenario: str, eps: float, eot: int = 1) -> float:
        key = (attack, scenario, round(eps, 8), eot)
        if key not in self._cache:
            (row,) = evaluate(self.classifier, {"audited": self.defense}, [attack], self.data, scenario, self.norm,
                              eps, self.batch_size, self.seed, eot, progress=self.progress)
            self._cache[key], self.notes[key] = row.ra, row.notes
        return self._cache[key]

    def tolerance(self, *ras: float) -> float:
        """Sampling noise allowed between two RAs (percentage points): two binomial standard errors at the larger
        RA, and at least two images."""
        p = max(ras) / 100
        return 100 * max(2 / self.n, 2 * math.sqrt(p * (1 - p) / self.n))
