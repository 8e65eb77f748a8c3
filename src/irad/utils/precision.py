"""Mixed precision for training and attacks: bf16 autocast (CPUs with AVX-512 BF16, GPUs) plus channels_last.

Measured on 2 EPYC cores (``python benchmarks/run.py --only training-speed``): each IRAD training stage runs 2.3-2.7x
faster than fp32 with both on.
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn

from irad.utils.validation import check_choice

PRECISIONS = ("fp32", "bf16")


def autocast(device: str | torch.device, precision: str) -> contextlib.AbstractContextManager:
    """``torch.autocast`` in bf16 for ``precision="bf16"``, a no-op context for ``"fp32"``."""
    check_choice("precision", precision, PRECISIONS)
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)


class FastForward(nn.Module):
    """``model`` run in ``precision`` on channels_last input, returning float32 (so attacks and losses see fp32).

    The wrapped model is converted to channels_last in place; its parameters stay float32; the wrapper starts in the
    model's train / eval mode. (``torch.compile`` on
    top was slower for PGD on ResNet-20 on the 2-core CPU, so it is not offered.)
    """

    def __init__(self, model: nn.Module, precision: str = "bf16"):
        super().__init__()
        check_choice("precision", precision, PRECISIONS)
        self.model = model.to(memory_format=torch.channels_last)
        self.precision = precision
        # in the wrapped model's mode: torchattacks restores the mode its target had before each attack, and a
        # wrapper left in nn.Module's default train mode would put an eval-mode victim into train mode after it
        # (BatchNorm on batch statistics, running statistics overwritten)
        self.train(model.training)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with autocast(x.device, self.precision):
            out = self.model(x.contiguous(memory_format=torch.channels_last))
        return out.float()
