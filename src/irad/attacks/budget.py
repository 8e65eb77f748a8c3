"""Threat-model checks: every adversarial example must lie in the eps-ball around its clean image and in [0, 1]."""

from __future__ import annotations

import torch

from irad.errors import IradError
from irad.utils.validation import check_choice

NORMS = ("Linf", "L2")
TOLERANCE = 1e-5


class BudgetViolation(IradError):
    """An attack returned examples outside the threat model."""


def perturbation_norms(x: torch.Tensor, x_adv: torch.Tensor, norm: str) -> torch.Tensor:
    """Per-example norm of ``x_adv - x``: shape ``(N,)``."""
    check_choice("norm", norm, NORMS)
    d = (x_adv - x).flatten(1)
    return d.abs().amax(1) if norm == "Linf" else d.norm(p=2, dim=1)


def project(x: torch.Tensor, x_adv: torch.Tensor, norm: str, eps: float) -> torch.Tensor:
    """Project ``x_adv`` onto the eps-ball around ``x`` and onto [0, 1] (used for minimal-norm attacks)."""
    d = x_adv - x
    if norm == "Linf":
        d = d.clamp(-eps, eps)
    else:
        n = d.flatten(1).norm(p=2, dim=1).clamp_min(1e-12).view(-1, *[1] * (d.dim() - 1))
        d = d * torch.clamp(eps / n, max=1.0)
    return (x + d).clamp(0, 1)


def check_budget(x: torch.Tensor, x_adv: torch.Tensor, norm: str, eps: float, attack: str = "attack") -> None:
    """Raise :class:`BudgetViolation` unless ``x_adv`` is finite, in [0, 1] and within ``eps`` of ``x``."""
    if x_adv.shape != x.shape:
        raise BudgetViolation(f"{attack} changed the shape: {tuple(x.shape)} -> {tuple(x_adv.shape)}")
    if not bool(torch.isfinite(x_adv).all()):
        raise BudgetViolation(f"{attack} returned NaN or infinite values")
    lo, hi = float(x_adv.min()), float(x_adv.max())
    if lo < -TOLERANCE or hi > 1 + TOLERANCE:
        raise BudgetViolation(f"{attack} left [0, 1]: values in [{lo:.6f}, {hi:.6f}]")
    worst = float(perturbation_norms(x, x_adv, norm).max())
    if worst > eps * (1 + 1e-4) + TOLERANCE:
        raise BudgetViolation(f"{attack} exceeded the {norm} budget: max perturbation {worst:.6f} > eps {eps:.6f}")
