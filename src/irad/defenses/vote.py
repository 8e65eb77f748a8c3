"""``ens-N(SPEC)``: the majority vote of N randomized runs of a defense (Prakash et al. 2018, Ens-10)."""

from __future__ import annotations

import torch
from torch import nn

from irad.defenses.base import Defense, as_defense
from irad.errors import IradError


class MajorityVote(Defense):
    """Wraps a randomized defense. As an image transform it is one run of the inner defense (what an attacker
    differentiates, with EOT); it predicts by itself: :meth:`predict` is the ensemble's decision, the most frequent
    class over ``votes`` runs (ties to the lowest class index)."""

    predicts_itself = True

    def __init__(self, defense: nn.Module, votes: int):
        super().__init__()
        defense = as_defense(defense)
        if votes < 1:
            raise IradError(f"ens-N needs N >= 1, got {votes}")
        if votes > 1 and not defense.randomized:
            raise IradError("ens-N votes over randomized runs; this defense is deterministic (or seeded)")
        self.defense, self.votes = defense, votes
        self.differentiable, self.randomized = defense.differentiable, defense.randomized
        self.needs_classifier = defense.needs_classifier

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        return self.defense(x)

    @torch.no_grad()
    def predict(self, classifier: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Labels ``(N,)``: the majority over ``votes`` runs of ``classifier(defense(x))``."""
        preds = torch.stack([classifier(self(x)).argmax(1) for _ in range(self.votes)])
        return torch.mode(preds, dim=0).values
