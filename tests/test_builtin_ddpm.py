"""The DDPM shipped inside the package: the default weights of `diffpure` and `diffpure-irad`."""

from __future__ import annotations

import json
from importlib import resources

import pytest
import torch

from irad.analysis.denoising import denoising_psnr
from irad.defenses import create_defense
from irad.defenses.diffpure import load_ddpm, resolve_ddpm
from irad.errors import IradError

FOLDER = resources.files("irad.models") / "weights" / "ddpm_cifar10"


def test_builtin_ddpm_loads_offline_and_reproduces_its_reference_output(samples):
    ref = json.loads((FOLDER / "reference.json").read_text())
    with torch.no_grad():
        out = create_defense(ref["defense"])(samples[0][:4])  # weights=builtin is the default
    assert torch.allclose(out.mean(dim=(2, 3)), torch.tensor(ref["channel_means"]), atol=1e-4)
    assert torch.allclose(out[:, :, 16, 16], torch.tensor(ref["centre_pixels"]), atol=1e-3)


def test_builtin_ddpm_size_range_and_provenance():
    files = list((FOLDER / "unet").iterdir())
    assert sum(len(p.read_bytes()) for p in files) < 20_000_000
    t_max = json.loads((FOLDER / "trained_range.json").read_text())["t_max"]
    assert t_max >= 100  # DiffPure's t* = 0.1 on CIFAR-10
    with pytest.raises(IradError, match="low-noise steps only"):
        create_defense(f"diffpure:t={t_max + 1}")
    meta = json.loads((FOLDER / "training.json").read_text())
    assert meta["training"]["cpu_hours"] > 0 and meta["training"]["epochs_run"] == meta["training"]["config"]["epochs"]


def test_builtin_ddpm_is_a_denoiser(samples):
    unet, scheduler = load_ddpm(resolve_ddpm("builtin"))
    rows, _ = denoising_psnr(unet, scheduler, samples[0][:16], [20, 100])
    for r in rows:  # its one-call x0 prediction and the t-step purification are both cleaner than the noisy input
        assert r["psnr_x0_prediction"] > r["psnr_noisy"] + 3 and r["psnr_purified"] > r["psnr_noisy"]
