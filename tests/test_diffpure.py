"""DiffPure and IRAD + DiffPure with a tiny randomly initialised UNet; the DDPM training loop end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from irad.defenses import create_defense
from irad.defenses.base import Chain
from irad.defenses.diffpure import diffuse, diffuse_and_denoise, load_ddpm
from irad.errors import IradError
from irad.training.ddpm import DDPMTrainConfig, train_ddpm


def test_shapes_range_seed_and_identity_at_t0(tiny_ddpm_dir, samples):
    x = samples[0][:3]
    seeded = create_defense(f"diffpure:weights={tiny_ddpm_dir},t=4,seed=3")
    y = seeded(x)
    assert y.shape == x.shape and float(y.min()) >= 0 and float(y.max()) <= 1
    assert torch.equal(y, seeded(x)) and not seeded.randomized
    assert not torch.equal(y, create_defense(f"diffpure:weights={tiny_ddpm_dir},t=4,seed=4")(x))
    free = create_defense(f"diffpure:weights={tiny_ddpm_dir},t=4")
    assert free.randomized and free.differentiable and not torch.equal(free(x), free(x))
    assert torch.equal(create_defense(f"diffpure:weights={tiny_ddpm_dir},t=0")(x), x)


def test_forward_diffusion_matches_the_closed_form(tiny_ddpm_dir):
    _, scheduler = load_ddpm(tiny_ddpm_dir)
    betas = np.linspace(1e-4, 0.02, 1000)  # DDPM's linear schedule, written out independently of diffusers
    x = torch.full((4000, 3, 2, 2), 0.75, dtype=torch.float64)  # 2x - 1 = 0.5
    g = torch.Generator().manual_seed(0)
    for t in (1, 20, 100, 500):
        abar = float(np.prod(1 - betas[:t]))
        z = diffuse(x, scheduler, t, g)
        assert float(z.mean()) == pytest.approx(0.5 * abar**0.5, abs=4 * (1 - abar) ** 0.5 / 48000**0.5)
        assert float(z.std()) == pytest.approx((1 - abar) ** 0.5, rel=0.02)


def test_one_reverse_step_with_a_zero_noise_prediction_returns_the_scaled_state(tiny_ddpm_dir):
    _, scheduler = load_ddpm(tiny_ddpm_dir)
    x = torch.full((2000, 3, 2, 2), 0.75)
    # from t=1 the reverse step returns its x0 estimate x_1 / sqrt(abar_1) (clipped to [-1, 1]) exactly
    zero = lambda z, t: type("Out", (), {"sample": torch.zeros_like(z)})()  # noqa: E731
    y = diffuse_and_denoise(x, zero, scheduler, 1, torch.Generator().manual_seed(0)) * 2 - 1
    z = diffuse(x, scheduler, 1, torch.Generator().manual_seed(0))
    torch.testing.assert_close(y, z / scheduler.alphas_cumprod[0].sqrt())


def test_gradients_flow_and_checkpointing_gives_the_same_gradient(tiny_ddpm_dir, samples):
    x = samples[0][:2]
    grads = []
    for ckpt in ("false", "true"):
        d = create_defense(f"diffpure:weights={tiny_ddpm_dir},t=3,seed=0,checkpoint={ckpt}")
        xg = x.clone().requires_grad_(True)
        d(xg).square().sum().backward()
        grads.append(xg.grad)
    assert torch.isfinite(grads[0]).all() and float(grads[0].abs().sum()) > 0
    torch.testing.assert_close(grads[0], grads[1])


def test_chain_specs_compose(tiny_ddpm_dir, samples, tiny_implicit_dir):
    x = samples[0][:2]
    chain = create_defense(f"diffpure:weights={tiny_ddpm_dir},t=3,seed=1+median")
    manual = create_defense("median")(create_defense(f"diffpure:weights={tiny_ddpm_dir},t=3,seed=1")(x))
    torch.testing.assert_close(chain(x), manual)
    combo = create_defense(f"diffpure-irad:weights={tiny_ddpm_dir},t=2,irad={tiny_implicit_dir}")
    assert isinstance(combo, Chain) and combo.randomized and combo.differentiable
    assert combo(x).shape == x.shape


def test_a_directory_without_a_ddpm_names_the_fix(tmp_path):
    with pytest.raises(IradError, match="not a diffusers DDPM directory.*irad train ddpm"):
        create_defense(f"diffpure:weights={tmp_path}")


def test_training_loop_writes_a_loadable_ddpm_and_samples(tmp_path, shared_data):
    cfg = DDPMTrainConfig(data_root=str(shared_data), channels=[8, 16], layers_per_block=1, attention=False,
                          timesteps=20, epochs=1, batch_size=16, train_limit=20, samples=4)
    result = train_ddpm(cfg, tmp_path, progress=False)
    assert result["epochs"] == 1 and result["loss"] > 0
    assert (tmp_path / "unet" / "diffusion_pytorch_model.safetensors").is_file() and (tmp_path / "samples.png").is_file()
    d = create_defense(f"diffpure:weights={tmp_path},t=20,seed=0")
    assert d(torch.rand(1, 3, 32, 32)).shape == (1, 3, 32, 32)
    with pytest.raises(IradError, match=r"t must be in \[0, 20\]"):
        create_defense(f"diffpure:weights={tmp_path},t=21")


def test_low_noise_training_logs_the_loss_of_each_band_it_trains_on(tmp_path, shared_data):
    cfg = DDPMTrainConfig(data_root=str(shared_data), channels=[8, 16, 16], layers_per_block=1, attention=True,
                          attention_level=2, t_max=30, epochs=3, batch_size=8, lr=2e-3, train_limit=40, samples=0,
                          precision="bf16", channels_last=True, val_n=10, ema_decay=0.5)
    assert train_ddpm(cfg, tmp_path, progress=False)["epochs"] == 3
    history = json.loads((tmp_path / "metrics.json").read_text())["history"]
    bands = [k for k in history[0] if k.startswith("val_loss_")]
    assert bands == ["val_loss_t0-9", "val_loss_t10-24", "val_loss_t25-29"]  # only steps below t_max
    assert history[-1]["loss"] < history[0]["loss"]
    assert not (tmp_path / "samples.png").exists()  # a low-noise model draws no samples from pure noise
    assert create_defense(f"diffpure:weights={tmp_path},t=20,seed=0")(torch.rand(1, 3, 32, 32)).shape == (1, 3, 32, 32)
    create_defense(f"diffpure:weights={tmp_path},t=30")
    with pytest.raises(IradError, match=r"t must be in \[0, 30\].*low-noise steps only"):
        create_defense(f"diffpure:weights={tmp_path},t=31")  # beyond the steps it learned


def test_psnr_matches_scikit_image(samples):
    from skimage.metrics import peak_signal_noise_ratio

    from irad.analysis.denoising import psnr

    clean = samples[0][:2]
    noisy = (clean + 0.05 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    ours = psnr(noisy, clean)
    for i in range(2):
        ref = peak_signal_noise_ratio(clean[i].double().numpy(), noisy[i].double().numpy(), data_range=1.0)
        assert ours[i].item() == pytest.approx(ref, abs=1e-3)


def test_analyze_ddpm_reports_psnr_per_step_and_writes_a_grid(tiny_ddpm_dir, tmp_path):
    from irad.cli.main import main

    out, grid = tmp_path / "psnr.json", tmp_path / "grid.png"
    assert main(["analyze", "ddpm", "--weights", str(tiny_ddpm_dir), "--dataset", "foolbox-cifar10", "--n", "4",
                 "--t", "2", "50", "--out", str(out), "--grid", str(grid)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [r["t"] for r in rows] == [2, 50]
    assert rows[0]["psnr_noisy"] > rows[1]["psnr_noisy"] + 5  # more diffusion, more noise in the rescaled input
    from PIL import Image

    assert Image.open(grid).size[1] > Image.open(grid).size[0] / 4 * 5  # 2 panels x 3 rows of 4 images
    assert main(["analyze", "ddpm", "--weights", str(tiny_ddpm_dir), "--dataset", "foolbox-cifar10", "--t", "0"]) == 2
