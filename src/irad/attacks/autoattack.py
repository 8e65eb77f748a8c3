"""AutoAttack through the authors' reference implementation (PyPI ``pyautoattack``).

Chosen over torchattacks' reimplementation because it is the code RobustBench numbers come from and it
runs the authors' automatic checks (randomness, zero gradients, output range, Square success); their
warnings are captured and returned with the result.
"""

from __future__ import annotations

import logging

import torch
from torch import nn


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


class AutoAttack:
    """Standard AutoAttack (APGD-CE, APGD-T, FAB-T, Square), or ``version="rand"`` (APGD-CE/DLR with EOT 20)."""

    def __init__(self, model: nn.Module, norm: str = "Linf", eps: float = 8 / 255, version: str = "standard",
                 seed: int = 0, batch_size: int = 250):
        from pyautoattack import AutoAttack as ReferenceAutoAttack

        device = next(model.parameters()).device
        self.attack = ReferenceAutoAttack(model, norm=norm, eps=eps, version=version, seed=seed, device=device)
        self.batch_size = batch_size
        self.flags: list[str] = []

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        log = logging.getLogger("auto-attack")
        handler = _Collect()
        log.addHandler(handler)
        old = log.propagate
        log.propagate = False
        try:
            x_adv, _ = self.attack.run_standard_evaluation(x, y, batch_size=self.batch_size)
        finally:
            log.removeHandler(handler)
            log.propagate = old
        self.flags.extend(m for m in handler.messages if m not in self.flags)
        return x_adv.detach()
