"""``irad train ddpm``: a DDPM (diffusers ``UNet2DModel`` + ``DDPMScheduler``) for DiffPure, trained on CIFAR-style
images with the noise-prediction loss (Ho et al. 2020); the EMA of the weights is what gets saved.

Outputs in ``out_dir``: ``unet/`` and ``scheduler/`` (diffusers layout, safetensors; ``diffpure:weights=OUT`` loads
them), ``trained_range.json`` (the steps it learned), ``samples.png`` (a grid drawn with the full reverse process),
``metrics.json`` and ``last.pt`` (resume).
``t_max`` trains a purifier-only model on the low-noise steps DiffPure uses (t < t_max); ``val_n`` logs the EMA
model's loss per timestep band on held-out test images after every epoch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from irad.data import load_dataset, load_into_memory, stratified_subset
from irad.defenses.diffpure import TRAINED_RANGE_FILE, reverse_process
from irad.training.augment import random_crop_flip
from irad.training.loop import fit
from irad.training.state import config_dict
from irad.utils.checkpoint import atomic_write_json
from irad.utils.precision import autocast


@dataclass
class DDPMTrainConfig:
    dataset: str = "cifar10"
    data_root: str | None = None
    channels: list[int] = field(default_factory=lambda: [128, 256, 256, 256])  # UNet block widths
    layers_per_block: int = 2
    attention: bool = True  # self-attention in one resolution level
    attention_level: int = 1  # which: 0 = full size, 1 = half (16x16 for 32x32 images), ...
    timesteps: int = 1000
    t_max: int | None = None  # train on steps t < t_max only (DiffPure diffuses to t* <= 100): a low-noise model
    epochs: int = 200
    batch_size: int = 128
    lr: float = 2e-4
    ema_decay: float = 0.9999
    train_limit: int | None = None
    samples: int = 64  # images in samples.png
    seed: int = 0
    precision: str = "fp32"  # bf16: autocast (AVX-512 BF16 CPUs, GPUs)
    channels_last: bool = False
    val_n: int = 0  # held-out test images: per-epoch loss per timestep band (fixed noise and steps)


PRESETS: dict[str, dict] = {
    # Proves the loop on a 2-core CPU in minutes; it does not learn to generate images.
    "cpu": dict(channels=[32, 64], layers_per_block=1, attention=False, epochs=1, batch_size=64, train_limit=2000,
                ema_decay=0.99, samples=16),
    # The google/ddpm-cifar10-32 architecture (35.7M parameters); that model trained 800k steps at batch 128,
    # these 200 epochs are 78k steps.
    "gpu": dict(channels=[128, 256, 256, 256], layers_per_block=2, attention=True, epochs=200, batch_size=128),
    # A purifier-only DDPM for a 2-core CPU, sized by what DiffPure costs to attack (every adaptive PGD step
    # backpropagates through t* UNet calls per EOT draw). Measured on 2 idle cores, bf16, batch 64: 2.4M parameters
    # (48/96/96, one layer per block, no attention) 0.62 s per training step and 2.8 ms per image and reverse step,
    # against 7.9 ms for 6.5M (64/128/128, two layers per block, attention at 8x8). Trained on steps t < 120 only
    # (DiffPure's t* <= 100 with margin), 20 epochs = 15.6k steps, ~2.7 h on 2 cores, a checkpoint every ~8 min.
    "cpu-lownoise": dict(channels=[48, 96, 96], layers_per_block=1, attention=False, t_max=120,
                         epochs=20, batch_size=64, lr=2e-4, ema_decay=0.999, precision="bf16", channels_last=True,
                         val_n=500, samples=0),
}

BANDS = (0, 10, 25, 50, 100, 200, 400, 1000)  # timestep bands of the per-epoch validation loss


def build_unet(cfg: DDPMTrainConfig, size: int) -> nn.Module:
    from diffusers import UNet2DModel

    down = ["AttnDownBlock2D" if cfg.attention and i == cfg.attention_level else "DownBlock2D"
            for i in range(len(cfg.channels))]
    up = ["AttnUpBlock2D" if b == "AttnDownBlock2D" else "UpBlock2D" for b in reversed(down)]
    return UNet2DModel(sample_size=size, in_channels=3, out_channels=3, block_out_channels=tuple(cfg.channels),
                       layers_per_block=cfg.layers_per_block, down_block_types=tuple(down), up_block_types=tuple(up),
                       norm_num_groups=math.gcd(32, *cfg.channels))


@torch.no_grad()
def sample_images(unet: nn.Module, scheduler, n: int, size: int, generator: torch.Generator) -> torch.Tensor:
    """``n`` images ``(n, 3, size, size)`` in [0, 1] drawn with the full reverse process from pure noise."""
    z = torch.randn(n, 3, size, size, generator=generator).to(next(unet.parameters()).device)
    steps = len(scheduler.alphas_cumprod)
    return ((reverse_process(z, unet, scheduler, steps, generator) + 1) / 2).clamp(0, 1).cpu()


def train_ddpm(cfg: DDPMTrainConfig, out_dir: str | Path, device: str = "cpu", progress: bool = True) -> dict:
    """Train (or resume) a DDPM on ``cfg.dataset``; returns the final metrics."""
    from diffusers import DDPMScheduler
    from torchvision.utils import save_image

    out = Path(out_dir)
    torch.manual_seed(cfg.seed)
    train = stratified_subset(load_dataset(cfg.dataset, cfg.data_root, "train"), cfg.train_limit)
    images, _ = load_into_memory(train, progress, "decoding train set")
    size = images.shape[-1]
    memory = torch.channels_last if cfg.channels_last else torch.contiguous_format
    unet = build_unet(cfg, size).to(device).to(memory_format=memory)
    ema = AveragedModel(unet, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema_decay))
    scheduler = DDPMScheduler(num_train_timesteps=cfg.timesteps)
    abar = scheduler.alphas_cumprod.to(device)

    t_max = min(cfg.t_max or cfg.timesteps, cfg.timesteps)

    def predict_noise(model: nn.Module, x: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        a = abar[t].view(-1, 1, 1, 1)
        with autocast(device, cfg.precision):
            return model((a.sqrt() * x + (1 - a).sqrt() * noise).contiguous(memory_format=memory), t).sample.float()

    def step(idx: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, dict[str, float]]:
        x = random_crop_flip(images[idx], pad=0, generator=gen).to(device).float().div_(127.5).sub_(1)
        t = torch.randint(0, t_max, (len(idx),), generator=gen).to(device)
        noise = torch.randn(x.shape, generator=gen).to(device)
        return F.mse_loss(predict_noise(unet, x, t, noise), noise), {}

    validate = None
    if cfg.val_n:
        # images 101-150 of each test class (disjoint from `--n 1000` evaluations), fixed noise and steps
        val = stratified_subset(load_dataset(cfg.dataset, cfg.data_root, "test"), cfg.val_n, offset=1000)
        val_x = load_into_memory(val, progress, "decoding validation images")[0].to(device).float().div_(127.5).sub_(1)
        val_noise = torch.randn(val_x.shape, generator=torch.Generator().manual_seed(cfg.seed)).to(device)
        bands = [(lo, min(hi, t_max)) for lo, hi in zip(BANDS, BANDS[1:]) if lo < t_max]

        def validate() -> dict[str, float]:
            out = {}
            for lo, hi in bands:
                t = torch.linspace(lo, hi - 1, len(val_x), device=device).round().long()
                mse = ((predict_noise(ema.module, val_x, t, val_noise) - val_noise) ** 2).mean(dim=(1, 2, 3))
                out[f"val_loss_t{lo}-{hi - 1}"] = mse.mean().item()
            return out

    def save() -> None:
        ema.module.save_pretrained(out / "unet", safe_serialization=True)
        scheduler.save_pretrained(out / "scheduler")
        atomic_write_json(out / TRAINED_RANGE_FILE, {"t_max": t_max})  # diffpure refuses t* beyond it

    history = fit(nn.ModuleDict({"unet": unet, "ema": ema}), list(unet.parameters()), step, len(images),
                  config_dict(cfg), out, epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, betas=(0.9, 0.999),
                  seed=cfg.seed, save=save, progress=progress, after_step=lambda: ema.update_parameters(unet),
                  validate=validate)
    if cfg.samples:  # a low-noise model cannot generate from pure noise: its presets draw none
        grid = sample_images(ema.module.eval(), scheduler, cfg.samples, size, torch.Generator().manual_seed(cfg.seed))
        save_image(grid, out / "samples.png", nrow=int(cfg.samples**0.5))
    return {"epochs": len(history), "loss": history[-1]["loss"] if history else None, "out": str(out)}
