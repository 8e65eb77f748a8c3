"""The ResNet-20 shipped inside the package: the library's own offline victim/source model."""

from __future__ import annotations

import json
from importlib import resources

import torch

from irad.data import load_dataset, load_into_memory, stratified_subset
from irad.models import create_classifier


def test_builtin_resnet20_is_compact_and_accurate(shared_data):
    folder = resources.files("irad.models") / "weights"
    weights = folder / "resnet20_cifar10_jpeg75.safetensors"
    meta = json.loads((folder / "resnet20_cifar10_jpeg75.json").read_text())
    assert weights.is_file() and len(weights.read_bytes()) < 2_000_000
    assert meta["test_acc"] >= 88.0 and meta["test_images"] == 10000  # recorded by the training run
    model = create_classifier("resnet20", "irad-cifar10")
    x, y = load_into_memory(stratified_subset(load_dataset("cifar10", shared_data, "test"), 1000), progress=False)
    with torch.inference_mode():
        acc = sum((model(x[i:i + 500].float() / 255).argmax(1) == y[i:i + 500]).sum().item() for i in (0, 500)) / 10
    assert acc >= 85.0  # 1000-image subset of the same test set the recorded accuracy comes from


def test_demo_runs_offline_on_the_foolbox_samples(tmp_path, capsys):
    from PIL import Image

    from irad.cli.demo_cmd import DEMO_DEFENSES
    from irad.cli.main import main

    assert main(["demo", "--data-root", str(tmp_path / "no-data"), "--out-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "foolbox" in out and "SA" in out
    rows = json.loads((tmp_path / "results.json").read_text())["results"]
    assert [r["defense"] for r in rows] == DEMO_DEFENSES and all(r["n"] == 20 for r in rows)
    by = {r["defense"]: r for r in rows}
    assert by["none"]["sa"] >= 80 and by["none"]["ra"] <= 10
    with Image.open(tmp_path / "grid.png") as im:
        assert im.width > 400 and im.height > 400
