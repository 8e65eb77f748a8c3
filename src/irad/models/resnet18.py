"""ResNet-18 for 32x32 inputs (3x3 stem, no max-pool, 1x1 projection shortcuts), the CIFAR variant used in most robustness papers."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from irad.models.cifar_resnet import BasicBlock


class ResNet18(nn.Module):
    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        widths, strides, in_planes, layers = (64, 128, 256, 512), (1, 2, 2, 2), 64, []
        for w, s in zip(widths, strides):
            layers.append(nn.Sequential(BasicBlock(in_planes, w, s), BasicBlock(w, w, 1)))
            in_planes = w
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.linear = nn.Linear(512, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        return self.linear(F.adaptive_avg_pool2d(out, 1).flatten(1))
