"""Threat scenarios: what the attacker differentiates through. Never mixed in one number.

- ``oblivious``: adversarial examples are crafted on the classifier alone; the defense is applied afterwards.
- ``bpda``: the attack runs through defense + classifier with the defense's backward pass replaced by the
  identity (Athalye et al. 2018); EOT over ``eot_samples`` draws for randomized defenses.
- ``adaptive``: the attack runs end to end through the defense's own autograd graph; EOT for randomized
  defenses. For defenses declared non-differentiable this gradient is whatever their forward provides
  (straight-through, a soft surrogate such as soft-rounding JPEG, or zero), which the results flag with
  ``"gradient": "defense-declared-non-differentiable"``.
"""

from __future__ import annotations

import torch
from torch import nn

from irad.defenses.base import Defense, as_defense
from irad.errors import IradError
from irad.utils.validation import check_choice

SCENARIOS = ("oblivious", "bpda", "adaptive")


class EOT(nn.Module):
    """Expectation over transformation: the mean of the logits over ``samples`` stochastic forward passes.

    The batch is tiled ``samples`` times and run in one pass, so the attack's gradient is the gradient of
    the averaged logits.
    """

    def __init__(self, model: nn.Module, samples: int):
        super().__init__()
        if samples < 1:
            raise IradError(f"EOT samples must be >= 1, got {samples}")
        self.model, self.samples = model, samples

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        logits = self.model(x.repeat(self.samples, *[1] * (x.dim() - 1)))
        return logits.view(self.samples, n, -1).mean(0)


def attack_target(classifier: nn.Module, defense: nn.Module, scenario: str, eot_samples: int = 10) -> nn.Module:
    """The model the attacker differentiates in ``scenario`` (inputs in [0, 1], logits out): the classifier alone
    (oblivious), else the defense's :meth:`~irad.defenses.Defense.attack_model`, under EOT if it is randomized."""
    check_choice("scenario", scenario, SCENARIOS)
    if scenario == "oblivious":
        return classifier
    defense = as_defense(defense)
    target = defense.attack_model(classifier, scenario)
    if defense.randomized and eot_samples > 1:
        target = EOT(target, eot_samples)
    return target.eval()


def uses_eot(defense: Defense, scenario: str, eot_samples: int) -> int:
    """EOT samples the scenario applies to this defense (1 = none)."""
    return eot_samples if scenario != "oblivious" and defense.randomized else 1
