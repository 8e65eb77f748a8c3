"""``ens-N(SPEC)``: the majority vote of N randomized runs of a defense (Prakash et al. 2018, Ens-10)."""

from __future__ import annotations

import torch
from torch import nn

from irad.defenses.base import Defense
from irad.errors import IradError


class MajorityVote(Defense):
    """Wraps a randomized defense. As an image transform it is one run of the inner defense (what an attacker
    differentiates, with EOT); :meth:`predict` is the ensemble's decision: the most frequent class over ``votes``
    runs (ties to the lowest class index). The evaluation harness predicts through :meth:`predict`."""

    def __init__(self, defense: nn.Module, votes: int):
        super().__init__()
        if votes < 1:
            raise IradError(f"ens-N needs N >= 1, got {votes}")
        if votes > 1 and not getattr(defense, "randomized", False):
            raise IradError("ens-N votes over randomized runs; this defense is deterministic (or seeded)")
        self.defense, self.votes = defense, votes
        self.differentiable = getattr(defense, "differentiable", True)
        self.randomized = getattr(defense, "randomized", False)

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        return self.defense(x)

    @torch.no_grad()
    def predict(self, classifier: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Labels ``(N,)``: the majority over ``votes`` runs of ``classifier(defense(x))``."""
        preds = torch.stack([classifier(self(x)).argmax(1) for _ in range(self.votes)])
        return torch.mode(preds, dim=0).values
