"""VGG-16 with batch norm for 32x32 inputs (one linear classifier on the 512-d pooled feature)."""

from __future__ import annotations

import torch
from torch import nn

_CFG16 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


class VGG16BN(nn.Module):
    def __init__(self, num_classes: int = 10):
        super().__init__()
        layers: list[nn.Module] = []
        in_ch = 3
        for v in _CFG16:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(in_ch, v, 3, padding=1), nn.BatchNorm2d(v), nn.ReLU(inplace=True)]
                in_ch = v
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(512, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = nn.functional.adaptive_avg_pool2d(self.features(x), 1).flatten(1)
        return self.classifier(out)
