from __future__ import annotations

import json
import subprocess
import sys

import torch

from irad.models import create_classifier
from irad.training.classifier import ClassifierTrainConfig, train_classifier

TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "irad"]


def test_train_one_epoch_writes_loadable_weights_and_resumes(tmp_path, shared_data):
    cfg = ClassifierTrainConfig(data_root=str(shared_data), epochs=1, batch_size=32, train_limit=64, test_limit=20)
    result = train_classifier(cfg, tmp_path, progress=False)
    assert result["epochs"] == 1 and 0 <= result["test_acc"] <= 100
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["test_images"] == 20 and len(metrics["history"]) == 1
    model = create_classifier("resnet20", tmp_path / "model.safetensors")
    assert model(torch.rand(2, 3, 32, 32)).shape == (2, 10)
    again = train_classifier(cfg, tmp_path, progress=False)  # resumes from last.pt: nothing left to do
    assert again["epochs"] == 1 and again["test_acc"] == result["test_acc"]


def test_eval_under_torchrun_matches_single_process(tmp_path, shared_models):
    args = ["eval", "--dataset", "foolbox-cifar10", "--num-images", "20", "--weights", str(shared_models / "resnet20-12fca82f.th"),
            "--defense", "none", "--defense", "median", "--attack", "fgsm", "--no-progress"]
    single = subprocess.run([sys.executable, "-m", "irad", *args, "--out", str(tmp_path / "one.json")],
                            capture_output=True, text=True, timeout=300)
    assert single.returncode == 0, single.stderr
    dist = subprocess.run([*TORCHRUN, *args, "--out", str(tmp_path / "two.json")], capture_output=True, text=True, timeout=300)
    assert dist.returncode == 0, dist.stderr
    one = json.loads((tmp_path / "one.json").read_text())["results"]
    two = json.loads((tmp_path / "two.json").read_text())["results"]
    assert [(r["defense"], r["n"], r["sa"], r["ra"]) for r in one] == [(r["defense"], r["n"], r["sa"], r["ra"]) for r in two]


def test_training_under_torchrun(tmp_path, shared_data):
    r = subprocess.run([*TORCHRUN, "train", "classifier", "--data-root", str(shared_data), "--epochs", "1",
                        "--batch-size", "16", "--train-limit", "64", "--test-limit", "20", "--out", str(tmp_path)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "model.safetensors").exists()
    assert json.loads((tmp_path / "metrics.json").read_text())["history"][0]["epoch"] == 1


def test_adversarial_training_trains_on_the_attacks_examples(tmp_path, shared_data, monkeypatch):
    import irad.training.classifier as training

    budgets = []
    build = training.create_attack

    def spy(spec, model, norm, eps):
        attack = build(spec, model, norm, eps)

        def run(x, y):
            adv = attack(x, y)
            budgets.append(float((adv - x).abs().amax()))
            return adv
        return run

    monkeypatch.setattr(training, "create_attack", spy)
    cfg = ClassifierTrainConfig(data_root=str(shared_data), epochs=1, batch_size=32, train_limit=64, test_limit=20,
                                adversarial="pgd:steps=1", adversarial_eps=4 / 255)
    train_classifier(cfg, tmp_path, progress=False)
    assert len(budgets) == 2 and all(0 < b <= 4 / 255 + 1e-6 for b in budgets)  # every batch, within budget


def test_resume_accepts_config_fields_added_since_while_unset(tmp_path):
    import pytest

    from irad.errors import IradError
    from irad.training.state import load_state, save_state

    save_state(tmp_path / "last.pt", {"config": {"epochs": 3}, "epoch": 2})
    assert load_state(tmp_path / "last.pt", {"epochs": 3, "adversarial": None})["epoch"] == 2
    with pytest.raises(IradError, match="different configuration"):
        load_state(tmp_path / "last.pt", {"epochs": 3, "adversarial": "pgd"})
