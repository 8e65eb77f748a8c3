"""The MLP of LIIF (``layers.{0,2,4,...}`` Linear, ReLU between, none on the output)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class MLP(nn.Module):
    def __init__(self, in_dim: int, out_dim: int, hidden: Sequence[int] = (256, 256, 256, 256)):
        super().__init__()
        layers: list[nn.Module] = []
        last = in_dim
        for width in hidden:
            layers += [nn.Linear(last, width), nn.ReLU()]
            last = width
        layers.append(nn.Linear(last, out_dim))
        self.layers = nn.Sequential(*layers)

    @property
    def first(self) -> nn.Linear:
        return self.layers[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)

    def after_first(self, h: torch.Tensor) -> torch.Tensor:
        """The MLP from the first activation on: ``relu(h)`` through the remaining layers."""
        return self.layers[1:](h)
