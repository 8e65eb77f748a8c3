"""``irad train ddpm``: a DDPM (diffusers ``UNet2DModel`` + ``DDPMScheduler``) for DiffPure, trained on CIFAR-style
images with the noise-prediction loss (Ho et al. 2020); the EMA of the weights is what gets saved.

Outputs in ``out_dir``: ``unet/`` and ``scheduler/`` (diffusers layout, safetensors; ``diffpure:weights=OUT`` loads
them), ``samples.png`` (a grid drawn with the full reverse process), ``metrics.json`` and ``last.pt`` (resume).
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
from irad.defenses.diffpure import reverse_process
from irad.training.augment import random_crop_flip
from irad.training.loop import fit
from irad.training.state import config_dict


@dataclass
class DDPMTrainConfig:
    dataset: str = "cifar10"
    data_root: str | None = None
    channels: list[int] = field(default_factory=lambda: [128, 256, 256, 256])  # UNet block widths
    layers_per_block: int = 2
    attention: bool = True  # self-attention in the second resolution level (16x16 for 32x32 images)
    timesteps: int = 1000
    epochs: int = 200
    batch_size: int = 128
    lr: float = 2e-4
    ema_decay: float = 0.9999
    train_limit: int | None = None
    samples: int = 64  # images in samples.png
    seed: int = 0


PRESETS: dict[str, dict] = {
    # Proves the loop on a 2-core CPU in minutes; it does not learn to generate images.
    "cpu": dict(channels=[32, 64], layers_per_block=1, attention=False, epochs=1, batch_size=64, train_limit=2000,
                ema_decay=0.99, samples=16),
    # The google/ddpm-cifar10-32 architecture (35.7M parameters); that model trained 800k steps at batch 128,
    # these 200 epochs are 78k steps.
    "gpu": dict(channels=[128, 256, 256, 256], layers_per_block=2, attention=True, epochs=200, batch_size=128),
}


def build_unet(cfg: DDPMTrainConfig, size: int) -> nn.Module:
    from diffusers import UNet2DModel

    down = ["AttnDownBlock2D" if cfg.attention and i == 1 else "DownBlock2D" for i in range(len(cfg.channels))]
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
    unet = build_unet(cfg, size).to(device)
    ema = AveragedModel(unet, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema_decay))
    scheduler = DDPMScheduler(num_train_timesteps=cfg.timesteps)
    abar = scheduler.alphas_cumprod.to(device)

    def step(idx: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, dict[str, float]]:
        x = random_crop_flip(images[idx], pad=0, generator=gen).to(device).float().div_(127.5).sub_(1)
        t = torch.randint(0, cfg.timesteps, (len(idx),), generator=gen).to(device)
        noise = torch.randn(x.shape, generator=gen).to(device)
        a = abar[t].view(-1, 1, 1, 1)
        return F.mse_loss(unet(a.sqrt() * x + (1 - a).sqrt() * noise, t).sample, noise), {}

    def save() -> None:
        ema.module.save_pretrained(out / "unet", safe_serialization=True)
        scheduler.save_pretrained(out / "scheduler")

    history = fit(nn.ModuleDict({"unet": unet, "ema": ema}), list(unet.parameters()), step, len(images),
                  config_dict(cfg), out, epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, betas=(0.9, 0.999),
                  seed=cfg.seed, save=save, progress=progress, after_step=lambda: ema.update_parameters(unet))
    grid = sample_images(ema.module.eval(), scheduler, cfg.samples, size, torch.Generator().manual_seed(cfg.seed))
    save_image(grid, out / "samples.png", nrow=int(cfg.samples**0.5))
    return {"epochs": len(history), "loss": history[-1]["loss"] if history else None, "out": str(out)}
