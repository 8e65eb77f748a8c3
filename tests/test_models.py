from __future__ import annotations

import shutil

import pytest
import torch

from irad.data import load_dataset, load_into_memory, stratified_subset
from irad.errors import IradError
from irad.models import create_classifier, list_classifiers
from irad.utils.checkpoint import save_safetensors

SHARED_FILES = {20: "resnet20-12fca82f.th", 32: "resnet32-d509ac18.th", 44: "resnet44-014dd654.th", 56: "resnet56-4bfd9763.th"}


@pytest.mark.parametrize("depth", [20, 32, 44, 56])
def test_shared_resnets_load_as_they_are(depth, shared_models, samples):
    model = create_classifier(f"resnet{depth}", shared_models / SHARED_FILES[depth])
    x, y = samples
    with torch.no_grad():
        acc = (model(x).argmax(1) == y).float().mean().item()
    assert acc >= 0.75  # lossless samples; these models score ~92% on lossless CIFAR-10


def test_resnet56_accuracy_on_first_1000_shared_test_images(shared_models, shared_data):
    model = create_classifier("resnet56", shared_models / SHARED_FILES[56])
    x, y = load_into_memory(stratified_subset(load_dataset("cifar10", shared_data, "test"), 1000), progress=False)
    correct = 0
    with torch.inference_mode():
        for i in range(0, 1000, 250):
            correct += (model(x[i:i + 250].float() / 255).argmax(1) == y[i:i + 250]).sum().item()
    assert correct / 10 >= 82.0


def test_every_architecture_builds_and_classifies():
    for info in list_classifiers():
        if info.name == "wrn28-10":
            continue  # 36M parameters; covered by the shape test below with a smaller width
        model = create_classifier(info.name)
        size = info.input_size
        out = model(torch.rand(2, 3, size, size))
        assert out.shape == (2, info.num_classes), info.name
    from irad.models.wideresnet import WideResNet

    assert WideResNet(10, 2, 10)(torch.rand(2, 3, 32, 32)).shape == (2, 10)
    assert create_classifier("resnet20", num_classes=100)(torch.rand(1, 3, 32, 32)).shape == (1, 100)


def test_normalisation_is_owned_by_the_model(shared_models):
    model = create_classifier("resnet20", shared_models / SHARED_FILES[20])
    assert torch.allclose(model.mean.flatten(), torch.tensor([0.485, 0.456, 0.406]))
    x = torch.rand(2, 3, 32, 32)
    direct = model.net((x - model.mean) / model.std)
    assert torch.allclose(model(x), direct)


def test_safetensors_roundtrip(tmp_path):
    a = create_classifier("resnet20")
    save_safetensors(tmp_path / "w.safetensors", a.net.state_dict())
    b = create_classifier("resnet20", tmp_path / "w.safetensors")
    x = torch.rand(2, 3, 32, 32)
    assert torch.equal(a(x), b(x))


def test_mismatched_checkpoint_lists_keys(shared_models):
    with pytest.raises(IradError) as e:
        create_classifier("resnet32", shared_models / SHARED_FILES[20])
    assert "missing keys" in str(e.value) and "layer1.3" in str(e.value)


def test_truncated_checkpoint_is_a_clear_error(shared_models, tmp_path):
    data = (shared_models / SHARED_FILES[20]).read_bytes()
    (tmp_path / "cut.th").write_bytes(data[: len(data) // 2])
    with pytest.raises(IradError, match="cannot load checkpoint"):
        create_classifier("resnet20", tmp_path / "cut.th")
    (tmp_path / "cut.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{}")
    with pytest.raises(IradError, match="corrupt or truncated"):
        create_classifier("resnet20", tmp_path / "cut.safetensors")


def test_load_classifier_sizes_the_head_for_the_dataset():
    from irad.models import load_classifier

    heads = {d: load_classifier("resnet20", dataset=d).net.linear.out_features for d in ("cifar100", "foolbox-cifar100")}
    assert heads == {"cifar100": 100, "foolbox-cifar100": 100}
    assert load_classifier("resnet20").net.linear.out_features == 10  # no dataset: the architecture's own


def test_unknown_names_and_weights():
    with pytest.raises(IradError, match="unknown classifier"):
        create_classifier("resnet9000")
    with pytest.raises(IradError, match="neither an existing file nor a known tag"):
        create_classifier("resnet20", "no-such-tag")


def test_download_tag_uses_the_hub_cache(shared_models, tmp_path, monkeypatch):
    """The 'idelbayev' tag goes through torch.hub; with the file already in the cache no network is touched."""
    cache = tmp_path / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    shutil.copy(shared_models / SHARED_FILES[20], cache / SHARED_FILES[20])
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    a = create_classifier("resnet20", "idelbayev")
    b = create_classifier("resnet20", shared_models / SHARED_FILES[20])
    x = torch.rand(2, 3, 32, 32)
    assert torch.equal(a(x), b(x))
