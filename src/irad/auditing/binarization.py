"""The binarization test (Zimmermann et al., NeurIPS 2022, "Increasing confidence in adversarial robustness
evaluations"): does the attack find an adversarial example where one is known to exist?

For each image ``x`` a binary classifier is built on the attacked model's logits ``F``: a linear readout
``g(z) = w . F(z) + b`` with ``w = F(x_b) - F(x)`` and ``b`` putting the boundary halfway, where ``x_b`` is a random
point on the surface of the eps-ball around ``x`` (a corner for Linf). So ``g(x) < 0`` (class 0, "correct") and
``g(x_b) > 0``: an adversarial region exists inside the budget by construction. The readout is valid for ``x`` when
``w != 0`` and ``inner`` random points of the ball of radius eps/4 around ``x`` stay on the negative side. The same
attack then runs on the binary classifier from ``x``; an attack that reaches ``g > 0`` on too few valid images
cannot be trusted to find adversarial examples against this model (masked or obfuscated gradients, a broken attack).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from irad.attacks import check_budget, create_attack

PASS_RATE, FAIL_RATE = 0.9, 0.5  # attack success among valid images: PASS at or above, FAIL below


class BinaryReadout(nn.Module):
    """``(N, 3, H, W)`` -> logits ``(N, 2)`` = ``[-g, g] / 2`` with one readout ``(w_i, b_i)`` per image of the batch it
    was built for (attacks keep the batch order)."""

    def __init__(self, model: nn.Module, w: torch.Tensor, b: torch.Tensor):
        super().__init__()
        self.model, self.w, self.b = model, w, b

    def score(self, z: torch.Tensor) -> torch.Tensor:
        return (self.model(z).float() * self.w).sum(1) + self.b

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        g = self.score(z)
        return torch.stack([-g, g], 1) / 2


@dataclass
class BinarizationResult:
    valid: torch.Tensor  # (N,) bool: a readout with the known adversarial region could be built
    success: torch.Tensor  # (N,) bool: the attack reached g > 0 (only meaningful where valid)

    @property
    def success_rate(self) -> float | None:
        n = int(self.valid.sum())
        return None if n == 0 else float((self.success & self.valid).sum()) / n

    def status(self) -> str:
        rate = self.success_rate
        if rate is None or float(self.valid.float().mean()) < 0.5:
            return "WARN"  # too few readouts to judge
        return "PASS" if rate >= PASS_RATE else "FAIL" if rate < FAIL_RATE else "WARN"


def _ball_surface(x: torch.Tensor, norm: str, radius: float, generator: torch.Generator) -> torch.Tensor:
    d = torch.randn(x.shape, generator=generator).to(x.device)
    if norm == "Linf":
        step = radius * d.sign()
    else:
        step = radius * d / d.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)
    return (x + step).clamp(0, 1)  # clamping to the image range only moves a point closer to x


def binarization_test(model: nn.Module, x: torch.Tensor, attack_spec: str, norm: str, eps: float,
                      inner: int = 8, seed: int = 0) -> BinarizationResult:
    """Run the test of the module doc on ``model`` (what the attacker differentiates: images in [0, 1] -> logits)
    over the batch ``x``."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # a randomized model's draws, then the attack's random start
    with torch.no_grad():
        f0 = model(x).float()
        fb = model(_ball_surface(x, norm, eps, gen)).float()
        w = fb - f0
        b = -(w * (f0 + fb)).sum(1) / 2
        scale = w.norm(dim=1)
        valid = scale > 1e-8
        w, b = w / scale.clamp_min(1e-12)[:, None], b / scale.clamp_min(1e-12)
        readout = BinaryReadout(model, w, b).eval()  # attacks restore the mode they find: keep BatchNorm frozen
        for _ in range(inner):  # points inside the ball of radius eps/4: x + u * (a point of its surface - x)
            u = torch.rand(len(x), 1, 1, 1, generator=gen).to(x.device)
            valid &= readout.score(x + u * (_ball_surface(x, norm, eps / 4, gen) - x)) < 0
        valid &= readout.score(x) < 0
    zeros = torch.zeros(len(x), dtype=torch.long, device=x.device)
    x_adv = create_attack(attack_spec, readout, norm, eps)(x, zeros)
    check_budget(x, x_adv, norm, eps, attack_spec)
    with torch.no_grad():
        success = readout.score(x_adv) > 0
    return BinarizationResult(valid.cpu(), success.cpu())
