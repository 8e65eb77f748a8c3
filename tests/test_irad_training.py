"""The IRAD training pipeline end to end on a few images: pairs -> implicit representation -> SampleNet -> defense."""

from __future__ import annotations

import json

import pytest
import torch

from irad.cli.main import main
from irad.defenses import create_defense
from irad.training.pairs import load_pairs
from irad.training.tasks import TASKS, degrade

TINY = ["--n-resblocks", "1", "--n-feats", "8", "--hidden", "16", "16", "--epochs", "1", "--batch-size", "4"]


@pytest.fixture(scope="module")
def pairs_dir(tmp_path_factory, shared_data, shared_models):
    out = tmp_path_factory.mktemp("pairs")
    assert main(["make-pairs", "--data-root", str(shared_data), "--n", "10", "--shard-size", "4",
                 "--weights", str(shared_models / "resnet20-12fca82f.th"), "--attack", "pgd:steps=3", "--out", str(out)]) == 0
    return out


def test_pairs_are_stored_compactly_within_budget(pairs_dir):
    meta = json.loads((pairs_dir / "meta.json").read_text())
    assert meta["complete"] and meta["count"] == 10 and meta["shards"] == 3
    p = load_pairs(pairs_dir)
    assert p["clean"].dtype == torch.uint8 and p["adv"].shape == (10, 3, 32, 32)
    delta = (p["adv"].float() - p["clean"].float()).abs().max().item()
    assert 0 < delta <= 8.5  # eps 8/255 plus uint8 rounding
    assert torch.bincount(p["labels"], minlength=10).tolist() == [1] * 10


def test_pairs_resume_and_refuse_other_configs(pairs_dir, shared_data, shared_models, capsys):
    (pairs_dir / "shard-00001.safetensors").unlink()
    args = ["make-pairs", "--data-root", str(shared_data), "--n", "10", "--shard-size", "4",
            "--weights", str(shared_models / "resnet20-12fca82f.th"), "--attack", "pgd:steps=3", "--out", str(pairs_dir)]
    assert main(args) == 0 and (pairs_dir / "shard-00001.safetensors").exists()
    assert main([*args[:-2], "--eps", "4/255", "--out", str(pairs_dir)]) == 2
    assert "different configuration" in capsys.readouterr().err


@pytest.mark.parametrize("task", TASKS)
def test_degradations(task):
    clean = torch.rand(2, 3, 32, 32)
    adv = (clean + 0.03).clamp(0, 1)
    x = degrade(task, clean, adv, torch.Generator().manual_seed(0))
    assert 0 <= x.min() and x.max() <= 1
    assert x.shape == ((2, 3, 16, 16) if task == "sr" else clean.shape)
    if task == "pgd":
        assert torch.equal(x, adv)
    if task == "clean2clean":
        assert torch.equal(x, clean)


@pytest.mark.parametrize("task", TASKS)
def test_train_implicit_one_epoch_each_task(task, pairs_dir, tmp_path):
    out = tmp_path / task
    assert main(["train", "implicit", "--pairs", str(pairs_dir), "--task", task, *TINY, "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["history"]) == 1 and metrics["history"][0]["loss"] > 0
    d = create_defense(f"disco:weights={out}")
    assert d(torch.rand(2, 3, 32, 32)).shape == (2, 3, 32, 32)


def test_train_samplenet_then_irad_defense(pairs_dir, tmp_path):
    implicit_dir, sn_dir = tmp_path / "implicit", tmp_path / "samplenet"
    assert main(["train", "implicit", "--pairs", str(pairs_dir), *TINY, "--out", str(implicit_dir)]) == 0
    assert main(["train", "samplenet", "--pairs", str(pairs_dir), "--implicit", str(implicit_dir), "--hidden", "8",
                 "--epochs", "1", "--batch-size", "5", "--out", str(sn_dir)]) == 0
    h = json.loads((sn_dir / "metrics.json").read_text())["history"][0]
    assert {"loss", "acc_clean", "acc_adv", "mean_shift_px"} <= set(h)
    irad, disco = create_defense(f"irad:weights={sn_dir}"), create_defense(f"disco:weights={implicit_dir}")
    x = torch.rand(2, 3, 32, 32)
    assert irad(x).shape == x.shape
    # the encoder and decoder were frozen: without SampleNet the two models agree
    assert torch.allclose(create_defense(f"disco:weights={sn_dir}")(x), disco(x), atol=1e-6)
    # rerunning resumes: nothing left to train
    assert main(["train", "samplenet", "--pairs", str(pairs_dir), "--implicit", str(implicit_dir), "--hidden", "8",
                 "--epochs", "1", "--batch-size", "5", "--out", str(sn_dir)]) == 0
    assert len(json.loads((sn_dir / "metrics.json").read_text())["history"]) == 1
