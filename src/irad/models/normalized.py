"""A classifier that owns its input normalisation, so every model in irad takes images in [0, 1]."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class NormalizedClassifier(nn.Module):
    """``net((x - mean) / std)`` for ``x`` of shape ``(N, 3, H, W)`` in [0, 1]; returns logits ``(N, classes)``."""

    def __init__(self, net: nn.Module, mean: Sequence[float], std: Sequence[float]):
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std)
