"""The IRAD / DISCO weights shipped inside the package: provenance, size, and that they defend a different victim."""

from __future__ import annotations

import json
from importlib import resources

import pytest
import torch
from safetensors.torch import load_file

from irad.attacks import create_attack
from irad.data import load_dataset, load_into_memory, stratified_subset
from irad.defenses import create_defense
from irad.models import create_classifier


def test_builtin_irad_is_a_samplenet_over_the_builtin_implicit_representation():
    weights = resources.files("irad.models") / "weights"
    folder = weights / "irad_cifar10"
    assert len((folder / "model.safetensors").read_bytes()) < 4_000_000
    meta = json.loads((folder / "training.json").read_text())
    assert meta["training"]["history"] and meta["chosen_epoch"] <= meta["training"]["epochs_run"]
    irad_state = load_file(str(folder / "model.safetensors"))
    base_state = load_file(str(weights / "implicit_cifar10" / "model.safetensors"))
    assert set(base_state) < set(irad_state)  # the reconstruction's tensors plus SampleNet's
    assert all(torch.equal(irad_state[k], v) for k, v in base_state.items())  # frozen while SampleNet trained
    d = create_defense("irad")
    assert d.sampler == "samplenet" and not d.randomized and create_defense("disco").sampler == "none"


def test_builtin_irad_defends_a_victim_it_was_not_trained_on(shared_data, shared_models):
    victim = create_classifier("resnet56", str(shared_models / "resnet56-4bfd9763.th")).eval()
    x, y = load_into_memory(stratified_subset(load_dataset("cifar10", shared_data, "test"), 100), progress=False)
    x = x.float() / 255
    torch.manual_seed(0)
    x_adv = create_attack("pgd", victim, "Linf", 8 / 255)(x, y)  # oblivious: crafted on the bare victim

    def acc(defense, images):
        with torch.inference_mode():
            return 100 * (victim(defense(images)).argmax(1) == y).float().mean().item()

    none, irad, disco = (create_defense(s) for s in ("none", "irad", "disco"))
    # measured when the weights were committed (this set, SA / RA): none 84 / 0, irad 90 / 74, disco 79 / 53
    assert acc(none, x_adv) <= 5
    assert acc(irad, x) >= acc(none, x) - 3  # SampleNet gives back the clean accuracy the reconstruction costs ...
    assert acc(irad, x_adv) >= 65
    assert acc(disco, x) >= acc(none, x) - 10
    assert acc(disco, x_adv) >= 40  # ... which alone removes much of a perturbation crafted for another model
    assert acc(irad, x_adv) > acc(disco, x_adv) + 10

    from irad.analysis.offsets import offsets_in_pixels

    with torch.no_grad():  # the mechanism: larger shifts on adversarial images than on their clean originals
        clean, adv = (offsets_in_pixels(irad.model, i).norm(dim=-1).mean(dim=(1, 2)) for i in (x, x_adv))
    # measured: mean 0.14 vs 0.34 px, larger on all 100 adversarial images
    assert adv.mean() > 1.3 * clean.mean() and (adv > clean).float().mean() >= 0.9


@pytest.mark.parametrize("defense,folder", [("disco", "implicit_cifar10"), ("irad", "irad_cifar10")])
def test_builtin_weights_reproduce_their_reference_output(samples, defense, folder):
    """The packaged weights load offline and purify like the training run they were copied from."""
    folder = resources.files("irad.models") / "weights" / folder
    ref = json.loads((folder / "reference.json").read_text())
    with torch.no_grad():
        out = create_defense(defense)(samples[0][:4])
    assert torch.allclose(out.mean(dim=(2, 3)), torch.tensor(ref["channel_means"]), atol=1e-4)
    assert torch.allclose(out[:, :, 16, 16], torch.tensor(ref["centre_pixels"]), atol=1e-4)
    meta = json.loads((folder / "training.json").read_text())
    assert meta["training"]["cpu_hours"] > 0 and meta["chosen_epoch"] <= meta["training"]["epochs_run"]
    if defense == "disco":
        assert meta["pairs"]["config"]["weights"] == "irad-cifar10"  # never the third-party victims in ../shared


def test_samplenet_offsets_depend_on_the_input(samples):
    from irad.analysis.offsets import offsets_in_pixels

    model = create_defense("irad").model
    with torch.no_grad():
        off = offsets_in_pixels(model, samples[0][:2])
    assert off.shape == (2, 32, 32, 2)
    assert (off[0] - off[1]).abs().mean() > 1e-3  # two images, two shift fields
    assert off[0].std(dim=(0, 1)).min() > 1e-3  # and not one global shift within an image


@pytest.mark.parametrize("name", ["irad", "disco"])
def test_bf16_output_is_close_to_fp32(samples, name):
    x = samples[0][:8]
    with torch.inference_mode():
        full, half = create_defense(name)(x), create_defense(f"{name}:precision=bf16")(x)
    assert full.dtype == half.dtype == torch.float32
    diff = (full - half).abs()
    assert float(diff.max()) < 2e-2 and float(diff.mean()) < 2e-3  # bf16 keeps 8 bits of mantissa
    assert float(diff.max()) > 0  # bf16 did run
