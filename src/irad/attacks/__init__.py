"""Attacks by name (torchattacks + reference AutoAttack) and threat-model checks."""

from irad.attacks.budget import NORMS, BudgetViolation, check_budget, perturbation_norms, project
from irad.attacks.registry import ATTACKS, Attack, AttackInfo, create_attack, list_attacks

__all__ = ["ATTACKS", "NORMS", "Attack", "AttackInfo", "BudgetViolation", "check_budget", "create_attack",
           "list_attacks", "perturbation_norms", "project"]
