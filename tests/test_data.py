from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from irad.data import (CIFAR10_CLASSES, dataset_classes, dataset_targets, load_dataset, load_eval_data,
                       load_foolbox_samples, load_image, parse_dataset, resolve_data_root, stratified_indices,
                       stratified_subset)
from irad.errors import IradError


def test_shared_cifar10_loads_with_standard_label_ids(shared_data):
    ds = load_dataset("cifar10", shared_data, "test")
    assert len(ds) == 10000
    assert tuple(ds.classes) == CIFAR10_CLASSES
    assert ds.class_to_idx["airplane"] == 0 and ds.class_to_idx["truck"] == 9
    x, y = ds[0]
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1
    assert y == 0


def test_data_root_from_environment(shared_data, monkeypatch):
    monkeypatch.setenv("IRAD_DATA", str(shared_data))
    assert resolve_data_root(None) == shared_data
    assert len(load_dataset("cifar10", None, "test")) == 10000
    monkeypatch.delenv("IRAD_DATA")
    assert resolve_data_root(None) == Path.home() / ".cache" / "irad" / "data"


def test_stratified_subset_is_balanced_and_deterministic(shared_data):
    ds = load_dataset("cifar10", shared_data, "test")
    a, b = stratified_subset(ds, 500), stratified_subset(ds, 500)
    assert a.indices == b.indices
    labels = torch.tensor(dataset_targets(a))
    assert labels.bincount().tolist() == [50] * 10
    # the first 50 files of each class, in order
    first_airplanes = [i for i, t in enumerate(ds.targets) if t == 0][:50]
    assert a.indices[:50] == first_airplanes


def test_offset_gives_a_disjoint_balanced_validation_slice(shared_data):
    ds = load_dataset("cifar10", shared_data, "test")
    val, test = stratified_subset(ds, 200, offset=1000), stratified_subset(ds, 1000)
    assert not set(val.indices) & set(test.indices)
    assert torch.tensor(dataset_targets(val)).bincount().tolist() == [20] * 10


def test_stratified_indices_remainder_and_bounds():
    targets = [0, 1, 2] * 5
    picked = stratified_indices(targets, 7)
    assert len(picked) == 7
    assert torch.tensor([targets[i] for i in picked]).bincount().tolist() == [3, 2, 2]
    assert stratified_indices(targets, None) == list(range(15))
    with pytest.raises(IradError):
        stratified_indices(targets, 0)


def test_missing_dataset_says_where_and_how(tmp_path):
    with pytest.raises(IradError) as e:
        load_dataset("cifar10", tmp_path, "test")
    msg = str(e.value)
    assert str(tmp_path / "cifar10" / "test") in msg and "irad data fetch cifar10" in msg


def test_unknown_dataset_is_an_error(tmp_path):
    with pytest.raises(IradError, match="dataset must be one of cifar10"):
        load_dataset("mnist", tmp_path)
    with pytest.raises(IradError, match="dataset must be one of cifar10"):
        load_eval_data("mnist", tmp_path)


def test_dataset_names_are_parsed_in_one_place():
    assert parse_dataset("foolbox-cifar100") == ("cifar100", True) and parse_dataset("cifar10") == ("cifar10", False)
    assert [dataset_classes(d) for d in ("cifar10", "foolbox-cifar100", "imagenet", "folder")] == [10, 100, 1000, None]
    data = load_eval_data("foolbox-cifar10", n=10)
    assert len(data) == 10 and data[0][0].shape == (3, 32, 32)


def test_folder_with_wrong_classes_is_rejected(tmp_path):
    for c in ["cat", "dog"]:
        (tmp_path / "cifar10" / "test" / c).mkdir(parents=True)
        Image.new("RGB", (32, 32)).save(tmp_path / "cifar10" / "test" / c / "0.png")
    with pytest.raises(IradError, match="class folders"):
        load_dataset("cifar10", tmp_path, "test")
    ds = load_dataset("folder", tmp_path / "cifar10", "test")
    assert len(ds) == 2 and ds.classes == ["cat", "dog"]


def test_corrupt_image_in_folder_names_the_file(tmp_path):
    d = tmp_path / "test" / "a"
    d.mkdir(parents=True)
    (d / "broken.png").write_bytes(b"not a png at all")
    ds = load_dataset("folder", tmp_path, "test")
    with pytest.raises(IradError, match="broken.png"):
        ds[0]


def test_foolbox_samples_are_lossless_cifar10():
    ds = load_foolbox_samples("cifar10")
    x, y = ds.tensors
    assert x.shape == (20, 3, 32, 32) and y.shape == (20,)
    assert int(y.min()) >= 0 and int(y.max()) <= 9
    # lossless 8-bit: every value is an exact multiple of 1/255
    assert torch.allclose(x * 255, (x * 255).round(), atol=1e-4)


def test_foolbox_imagenet_samples_are_cropped_to_224():
    x, y = load_foolbox_samples("imagenet").tensors
    assert x.shape == (20, 3, 224, 224) and int(y.max()) < 1000 and 0 <= float(x.min()) and float(x.max()) <= 1


def test_load_image_roundtrip_and_errors(tmp_path):
    arr = (torch.arange(48).view(4, 4, 3) * 5).byte().numpy()
    Image.fromarray(arr).save(tmp_path / "a.png")
    x = load_image(tmp_path / "a.png")
    assert x.shape == (1, 3, 4, 4)
    assert torch.equal((x[0].permute(1, 2, 0) * 255).round().byte(), torch.from_numpy(arr))
    (tmp_path / "b.png").write_text("hello")
    with pytest.raises(IradError, match="cannot read"):
        load_image(tmp_path / "b.png")
    with pytest.raises(IradError, match="not found"):
        load_image(tmp_path / "missing.png")


def test_installation_leaves_no_stray_robustbench():
    """torchattacks' wheel ships a stale top-level robustbench; scripts/install.sh removes it unless the real one is there."""
    import importlib.metadata as md
    import importlib.util

    spec = importlib.util.find_spec("robustbench")
    if spec is not None:
        md.version("robustbench")  # importable only as the real RobustBench distribution
