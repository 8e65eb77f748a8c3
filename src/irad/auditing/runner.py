"""``audit()``: run every check on one defense in front of one classifier; ``run_audits()``: on several."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from irad.auditing.checks import CHECKS, AuditContext, autoattack_flags
from irad.auditing.measure import Measurements
from irad.auditing.report import DefenseAudit
from irad.defenses.base import as_defense, attach_classifier
from irad.utils.validation import check_choice

# cpu: minutes on 2 cores (small n, fewer iterations and queries, no AutoAttack); full: standard budgets.
PRESETS: dict[str, dict] = {
    "cpu": dict(n=100, steps=(10, 30), restarts=(1, 3), eot=(1, 4), square_queries=300, autoattack=False),
    "full": dict(n=1000, steps=(20, 100), restarts=(1, 5), eot=(1, 10), square_queries=5000, autoattack=True),
}


def audit(classifier: nn.Module, defense: nn.Module, data: Dataset | DataLoader, name: str | None = None,
          preset: str | dict = "cpu", eps: float = 8 / 255, norm: str = "Linf", eot_samples: int | None = None,
          batch_size: int = 128, seed: int = 0, progress: bool = True,
          adv_cache: str | Path | None = None) -> DefenseAudit:
    """Gradient-masking checks for ``defense`` in front of ``classifier``: randomness, gradient health, scenario
    ordering, attack-strength monotonicity, white box vs black box and transfer (and AutoAttack's flags in ``full``).

    Args:
        classifier: images in [0, 1] -> logits.
        defense: a :class:`~irad.defenses.Defense` (a plain ``nn.Module`` counts as deterministic and differentiable).
        data: ``(image, label)`` pairs (a dataset, or a loader of one); the preset's ``n`` is the intended size.
        name: the report's name (default: the defense's spec).
        preset: a name in :data:`PRESETS` (``"cpu"``: minutes on 2 cores; ``"full"``: standard budgets) or a dict
            like them.
        eps, norm: the threat model.
        eot_samples: EOT draws for a randomized defense (default: the preset's larger count).
        batch_size, seed, progress: as in :func:`~irad.evaluation.evaluate`.
        adv_cache: a directory keeping every measurement's adversarial examples per batch, so a rerun resumes.

    Returns:
        A :class:`DefenseAudit`: one PASS / WARN / FAIL per check with its evidence and advice.

    Example::

        >>> report = irad.audit(model, create_defense("bit-depth:bits=4"), data, preset="cpu")
        >>> print(format_audit(report))  # gradient-health WARNs: declare differentiable=False, attack with bpda
    """
    if isinstance(preset, str):
        check_choice("audit preset", preset, list(PRESETS))
    p = PRESETS[preset] if isinstance(preset, str) else preset
    data = data.dataset if isinstance(data, DataLoader) else data
    device = next(classifier.parameters()).device
    classifier.eval()
    defense = as_defense(defense).to(device).eval()
    attach_classifier(defense, classifier)
    torch.manual_seed(seed)
    x, y = next(iter(DataLoader(data, batch_size=min(batch_size, 64))))
    name = name or defense.spec
    ctx = AuditContext(classifier, defense, x.to(device), y.to(device),
                       Measurements(classifier, defense, name, data, norm, batch_size, seed, progress, adv_cache),
                       eps, norm, p["eot"][1] if eot_samples is None else eot_samples, p)
    checks = [*CHECKS, autoattack_flags] if p["autoattack"] else CHECKS
    return DefenseAudit(name, [check(ctx) for check in checks])


def run_audits(classifier: nn.Module, defenses: Mapping[str, nn.Module], data: Dataset, preset: str | dict = "cpu",
               eps: float = 8 / 255, norm: str = "Linf", eot_samples: int | None = None, batch_size: int = 128,
               seed: int = 0, progress: bool = True,
               on_report: Callable[[DefenseAudit], None] | None = None,
               adv_cache: str | Path | None = None) -> list[DefenseAudit]:
    """:func:`audit` of every defense in ``defenses`` (name -> defense) with the same settings; ``on_report`` is
    called with each report as it finishes."""
    reports = []
    for name, defense in defenses.items():
        reports.append(audit(classifier, defense, data, name, preset, eps, norm, eot_samples, batch_size, seed,
                             progress, adv_cache))
        if on_report is not None:
            on_report(reports[-1])
    return reports
