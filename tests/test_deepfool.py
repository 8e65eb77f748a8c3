"""Batched DeepFool against torchattacks' per-image reference."""

from __future__ import annotations

import torch
import torchattacks

from irad.attacks import create_attack
from irad.attacks.deepfool import DeepFool
from irad.models import create_classifier


def test_batched_deepfool_matches_torchattacks(samples):
    torch.manual_seed(0)
    model = create_classifier("resnet20", "irad-cifar10").eval().double()
    x, y = samples[0][:12].double(), samples[1][:12]
    ours = DeepFool(model, steps=50, overshoot=0.02)(x, y)
    ref = torchattacks.DeepFool(model, steps=50, overshoot=0.02)(x, y)
    torch.testing.assert_close(ours, ref, atol=1e-6, rtol=0)
    with torch.no_grad():
        fooled = model(ours).argmax(1) != y
    assert int(fooled.sum()) >= 10  # DeepFool almost always crosses the boundary


def test_deepfool_spec_projects_onto_the_budget(samples):
    model = create_classifier("resnet20", "irad-cifar10").eval()
    x, y = samples[0][:6], samples[1][:6]
    adv = create_attack("deepfool:candidates=3", model, "Linf", 2 / 255)(x, y)
    assert float((adv - x).abs().max()) <= 2 / 255 + 1e-6 and float(adv.min()) >= 0 and float(adv.max()) <= 1
