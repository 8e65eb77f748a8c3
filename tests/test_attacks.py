from __future__ import annotations

import pytest
import torch

from irad.attacks import ATTACKS, BudgetViolation, check_budget, create_attack, perturbation_norms, project
from irad.errors import IradError

FAST = {"deepfool": "deepfool:steps=3", "cw": "cw:steps=5", "square": "square:n_queries=20"}


@pytest.mark.parametrize("name", sorted(ATTACKS))
@pytest.mark.parametrize("norm, eps", [("Linf", 8 / 255), ("L2", 0.5)])
def test_every_attack_stays_in_budget(name, norm, eps, tiny_model, samples, shared_models):
    if name == "autoattack":  # a trained model falls to APGD at once, so the remaining attacks have nothing left to do
        from irad.models import create_classifier

        tiny_model = create_classifier("resnet20", shared_models / "resnet20-12fca82f.th")
    if norm not in ATTACKS[name].norms:
        with pytest.raises(IradError, match=f"no {norm} version"):
            create_attack(name, tiny_model, norm, eps)
        return
    x = samples[0][:2] if name == "autoattack" else samples[0][:4]
    with torch.no_grad():
        y = tiny_model(x).argmax(1)  # start from correct predictions so the attack really runs
    torch.manual_seed(0)
    x_adv = create_attack(FAST.get(name, name), tiny_model, norm, eps)(x, y)
    check_budget(x, x_adv, norm, eps, name)


def test_pgd_breaks_the_undefended_model(samples):
    from irad.models import create_classifier

    torch.manual_seed(0)
    model = create_classifier("resnet20")
    x, y = samples[0][:8], samples[1][:8]
    with torch.no_grad():
        y = model(x).argmax(1)  # attack the model's own predictions so every image starts correct
    x_adv = create_attack("pgd", model, "Linf", 8 / 255)(x, y)
    with torch.no_grad():
        assert (model(x_adv).argmax(1) == y).float().mean() < 0.5


def test_budget_check_catches_violations(samples):
    x = samples[0][:2]
    with pytest.raises(BudgetViolation, match="exceeded the Linf budget"):
        check_budget(x, (x + 0.1).clamp(0, 1), "Linf", 8 / 255)
    with pytest.raises(BudgetViolation, match=r"left \[0, 1\]"):
        check_budget(x, x + 1.5, "Linf", 2.0)
    with pytest.raises(BudgetViolation, match="NaN"):
        check_budget(x, x * float("nan"), "Linf", 1.0)
    # one kind of error: the CLI reports a violation like any bad input, and bad arguments stay ValueErrors
    assert issubclass(BudgetViolation, IradError) and issubclass(IradError, ValueError)


def test_projection_lands_in_both_balls():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(4, 3, 8, 8, generator=g)
    far = torch.rand(4, 3, 8, 8, generator=g)
    for norm, eps in (("Linf", 0.03), ("L2", 0.5)):
        p = project(x, far, norm, eps)
        assert float(perturbation_norms(x, p, norm).max()) <= eps + 1e-6
        assert 0 <= float(p.min()) and float(p.max()) <= 1
        check_budget(x, p, norm, eps)


def test_attack_spec_errors(tiny_model):
    with pytest.raises(IradError, match="unknown attack"):
        create_attack("pgdd", tiny_model)
    with pytest.raises(IradError, match="no parameter"):
        create_attack("pgd:stepz=3", tiny_model)
    with pytest.raises(IradError, match="norm must be one of Linf, L2"):
        create_attack("pgd", tiny_model, "L1")
    with pytest.raises(IradError, match="eps must be positive"):
        create_attack("pgd", tiny_model, "Linf", 0.0)
    with pytest.raises(IradError, match="alpha must be a number"):
        create_attack("pgd:alpha=half", tiny_model)
    assert create_attack("pgd:steps=3,alpha=1/255", tiny_model).impl.alpha == pytest.approx(1 / 255)
    assert create_attack("pgd:alpha=0.5/255", tiny_model).impl.alpha == pytest.approx(0.5 / 255)
    assert create_attack("pgd", tiny_model, eps=8 / 255).impl.alpha == pytest.approx(2 / 255)


def test_autoattack_reports_the_randomness_flag(tiny_model, samples):
    from irad.defenses import create_defense

    model = torch.nn.Sequential(create_defense("resample:sampler=sv,shift=3"), tiny_model)
    x = samples[0][:4]
    with torch.no_grad():
        y = (tiny_model(x).argmax(1) + 1) % 10  # all misclassified: the checks run, the attacks are skipped
    attack = create_attack("autoattack", model, "Linf", 8 / 255)
    check_budget(x, attack(x, y), "Linf", 8 / 255)
    assert any("randomized" in f for f in attack.flags)
