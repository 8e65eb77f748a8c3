"""irad audit: a masking toy defense is caught, the bare classifier passes, missing EOT is flagged, JSON schema."""

from __future__ import annotations

import json

import pytest
import torch
from torch.utils.data import TensorDataset

import irad
from irad.auditing import format_audit
from irad.defenses import create_defense
from irad.defenses.base import Defense
from irad.models import create_classifier

TINY = dict(n=20, steps=(2, 4), restarts=(1, 2), eot=(1, 2), square_queries=20, autoattack=False)


class HardRounding(Defense):
    """Rounds to 4 levels: a true zero gradient, yet declared differentiable (the masking it must catch)."""

    differentiable = True

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        return torch.round(x * 3) / 3


@pytest.fixture(scope="module")
def setup(samples):
    model = create_classifier("resnet20", "irad-cifar10").eval()
    return model, TensorDataset(*samples)


def _status(report) -> dict:
    return {c.name: c.status for c in report.checks}


def test_bare_classifier_passes_the_gradient_monotonicity_and_blackbox_checks(setup):
    model, data = setup
    report = irad.audit(model, create_defense("none"), data, preset=TINY, progress=False)
    status = _status(report)
    assert [c.name for c in report.checks] == ["randomness", "gradient-health", "scenario-ordering",
                                               "attack-monotonicity", "blackbox-and-transfer", "binarization"]
    assert status["gradient-health"] == status["attack-monotonicity"] == status["blackbox-and-transfer"] == "PASS"
    assert status["binarization"] == "PASS"
    assert status["randomness"] == "PASS"
    mono = next(c for c in report.checks if c.name == "attack-monotonicity").evidence
    assert list(mono["ra_by_eps"].values())[-1] <= 5.0  # near 0% at eps 64/255


def test_masking_defense_is_flagged_by_name(setup):
    model, data = setup
    report = irad.audit(model, HardRounding(), data, "round4", preset=TINY, progress=False)
    status = _status(report)
    assert status["gradient-health"] == "WARN"
    grad = next(c for c in report.checks if c.name == "gradient-health")
    assert grad.evidence["zero_fraction"] == 1.0 and "bpda" in grad.advice
    assert "gradient-health" in format_audit(report) and "-> gradient-health:" in format_audit(report)
    # the adaptive attack cannot reach a region known to be adversarial; with BPDA's identity backward it can
    binar = next(c for c in report.checks if c.name == "binarization")
    assert binar.status == "FAIL" and report.status == "FAIL" and "adaptive" in binar.advice
    assert binar.evidence["adaptive"]["status"] == "FAIL"
    # measured on these 20 images: success 0.65 under BPDA-PGD-2 (0.83 with 10 steps), 0.37 adaptive
    assert binar.evidence["bpda"]["attack_success_rate"] > binar.evidence["adaptive"]["attack_success_rate"] + 0.15


class Linear(torch.nn.Module):
    def __init__(self, zero_gradient: bool = False):
        super().__init__()
        torch.manual_seed(0)
        self.fc = torch.nn.Linear(3 * 8 * 8, 10)
        self.zero_gradient = zero_gradient

    def forward(self, x):
        if self.zero_gradient:  # the same function, but no gradient reaches the input
            x = x + (x.detach() - x)
        return self.fc(x.flatten(1))


def test_binarization_passes_a_linear_model_with_working_pgd_and_fails_a_zero_gradient_one():
    from irad.auditing.binarization import binarization_test

    x = torch.rand(32, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    ok = binarization_test(Linear(), x, "pgd:steps=10", "Linf", 8 / 255)
    assert bool(ok.valid.all()) and ok.success_rate == 1.0 and ok.status() == "PASS"
    masked = binarization_test(Linear(zero_gradient=True), x, "pgd:steps=10", "Linf", 8 / 255)
    assert bool(masked.valid.all())  # the readout exists: the forward function is the same
    assert masked.success_rate < 0.5 and masked.status() == "FAIL"
    l2 = binarization_test(Linear(), x, "pgd:steps=10", "L2", 0.5)
    assert l2.status() == "PASS"


def test_randomized_defense_without_eot_gets_the_randomness_warning(setup):
    model, data = setup
    defense = create_defense("resample:recon=bilinear,sampler=sv,shift=1.5")
    report = irad.audit(model, defense, data, preset=TINY, eot_samples=1, progress=False)
    check = next(c for c in report.checks if c.name == "randomness")
    assert check.status == "WARN" and "EOT" in check.advice and check.evidence["varies_between_calls"]


def test_cli_writes_the_documented_json(tmp_path):
    from irad.cli.main import main

    out = tmp_path / "audit.json"
    assert main(["audit", "--dataset", "foolbox-cifar10", "--n", "4", "--defense", "none", "--preset", "cpu",
                 "--square-queries", "7", "--no-progress", "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert set(data) == {"config", "environment", "defenses"} and data["config"]["n"] == 4
    assert data["config"]["preset"] == "cpu" and data["config"]["square_queries"] == 7  # the override, recorded
    (entry,) = data["defenses"]
    assert entry["defense"] == "none" and {"name", "status", "evidence", "advice"} <= set(entry["checks"][0])
    assert all(c["status"] in ("PASS", "WARN", "FAIL") for c in entry["checks"])
    blackbox = next(c for c in entry["checks"] if c["name"] == "blackbox-and-transfer")
    assert blackbox["evidence"]["square_queries"] == 7


def test_eval_audit_attaches_the_reports(tmp_path):
    from irad.cli.main import main

    out = tmp_path / "eval.json"
    assert main(["eval", "--dataset", "foolbox-cifar10", "--n", "4", "--defense", "none", "--attack", "fgsm",
                 "--audit", "--no-progress", "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert len(data["results"]) == 1 and [a["defense"] for a in data["audit"]] == ["none"]
    assert {c["name"] for c in data["audit"][0]["checks"]} >= {"randomness", "gradient-health"}


def test_a_resumed_eval_keeps_its_audit_and_does_not_redo_it(tmp_path):
    from dataclasses import replace

    from irad.evaluation.experiment import EvalConfig, run_eval

    out = tmp_path / "eval.json"
    cfg = EvalConfig(dataset="foolbox-cifar10", n=4, attacks=["fgsm"], out=str(out), audit="cpu")
    reports = []
    run_eval(cfg, progress=False, on_audit=reports.append)
    first = json.loads(out.read_text())["audit"]
    assert [r.defense for r in reports] == ["none"] and len(first) == 1
    assert first[0]["setup"] == {"preset": "cpu", "norm": "Linf", "eps": 8 / 255, "n": 4}
    rows = run_eval(replace(cfg, attacks=["fgsm", "bim:steps=2"], audit=None), progress=False)  # resumed, no audit
    assert len(rows) == 2 and json.loads(out.read_text())["audit"] == first
    reports.clear()
    run_eval(cfg, progress=False, on_audit=reports.append)  # resumed with the audit: nothing left to do
    assert reports == [] and json.loads(out.read_text())["audit"] == first


def test_audits_of_a_cifar100_setup_use_a_100_class_classifier(tmp_path):
    from irad.cli.main import main

    out = tmp_path / "eval.json"
    # the stratified 4 of foolbox's CIFAR-100 samples have labels up to 23: a 10-class head cannot score them
    args = ["--dataset", "foolbox-cifar100", "--n", "4", "--weights", "none", "--defense", "none", "--no-progress"]
    assert main(["eval", *args, "--attack", "fgsm", "--audit", "--out", str(out)]) == 0
    assert [a["defense"] for a in json.loads(out.read_text())["audit"]] == ["none"]
    assert main(["audit", *args]) == 0


def test_an_audit_with_adv_cache_resumes_without_attacking_again(setup, tmp_path, monkeypatch):
    import irad.evaluation.runner as runner

    model, data = setup
    data = TensorDataset(*data[:8])
    defense = create_defense("resample:recon=bilinear,sampler=sv,shift=1.5")  # randomized: EOT keys the cache
    first = irad.audit(model, defense, data, preset=TINY, progress=False, adv_cache=tmp_path / "adv")
    assert len(list((tmp_path / "adv").glob("eps*/*.safetensors"))) >= 8  # every measurement, under its eps
    monkeypatch.setattr(runner, "create_attack", lambda *a, **k: pytest.fail("cached measurements must not attack"))
    again = irad.audit(model, defense, data, preset=TINY, progress=False, adv_cache=tmp_path / "adv")
    assert again.to_dict() == first.to_dict()
