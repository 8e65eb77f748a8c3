"""DiffPure (Nie et al. 2022), DDPM form, and IRAD + DiffPure (IRAD paper Sec. 5).

Diffuse the input to step t* (x_t = sqrt(abar_t) x + sqrt(1 - abar_t) noise, on [-1, 1] images), then run the
DDPM reverse process back to step 0 with a pretrained noise-prediction UNet (diffusers ``UNet2DModel`` +
``DDPMScheduler``). The sampler is plain tensor arithmetic, so adaptive attacks backpropagate through it;
``checkpoint=true`` recomputes each UNet call in the backward pass to keep memory bounded in t*.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint as grad_checkpoint

from irad.defenses.base import Chain, RandomizedDefense
from irad.defenses.domain import DomainCheck
from irad.defenses.registry import create_defense, register_defense
from irad.errors import IradError
from irad.models.registry import packaged_weights
from irad.utils.files import field, read_json
from irad.utils.progress import steps

_HOW_TO_GET = ("train one with `irad train ddpm`, or pass a diffusers hub id such as google/ddpm-cifar10-32 on a "
               "machine with internet access")
BUILTIN = "ddpm_cifar10"  # the package's low-noise CIFAR-10 DDPM (weights=builtin)
TRAINED_RANGE_FILE = "trained_range.json"  # {"t_max": T}: a purifier-only DDPM learned the steps t < T


def resolve_ddpm(weights: str | Path) -> str | Path:
    """``builtin`` -> the DDPM shipped in the package; anything else (a directory or hub id) as given."""
    if str(weights) == "builtin":
        return packaged_weights(BUILTIN, _HOW_TO_GET + ", and pass weights=DIR")
    if not str(weights):
        raise IradError("diffpure needs weights=DIR (a diffusers DDPM) or weights=builtin: " + _HOW_TO_GET)
    return weights


def trained_t_max(weights: str | Path) -> int | None:
    """The number of low-noise steps a purifier-only DDPM directory was trained on (None: all of them)."""
    path = Path(weights) / TRAINED_RANGE_FILE
    if not path.is_file():
        return None
    fix = f"restore it from the `irad train ddpm` run that wrote {weights}"
    return field(read_json(path, fix), "t_max", int, path, fix)


def check_steps(weights: str | Path, scheduler, steps: list[int], lowest: int, name: str) -> None:
    """Raise unless every DDPM step in ``steps`` lies in ``[lowest, T]``, T the trained range of the DDPM at
    ``weights`` (a purifier-only one) or else all its scheduler's steps; ``name`` says whose steps they are."""
    t_max = trained_t_max(weights)
    top = t_max or len(scheduler.alphas_cumprod)
    if not all(lowest <= t <= top for t in steps):
        got = steps[0] if len(steps) == 1 else steps
        raise IradError(f"{name} must be in [{lowest}, {top}] for {weights}, got {got}"
                        + (" (a purifier-only DDPM trained on low-noise steps only)" if t_max else ""))


def load_ddpm(weights: str | Path) -> tuple[nn.Module, object]:
    """The UNet (frozen, eval mode) and DDPM scheduler of a diffusers directory (``unet/`` + ``scheduler/``
    subfolders, or both configs at the top level) or hub id, its weights channels_last. Weights load from
    safetensors, or from ``.bin`` with ``weights_only=True`` (diffusers' loader); never unpickled code."""
    from diffusers import DDPMScheduler, UNet2DModel

    path = Path(weights)
    sub = {"unet": None, "scheduler": None}
    if path.exists():
        sub = {k: k if (path / k).is_dir() else None for k in sub}
        if not (path / (sub["unet"] or "") / "config.json").is_file():
            raise IradError(f"{path} is not a diffusers DDPM directory (no unet/config.json or config.json); "
                            + _HOW_TO_GET)
    try:
        # low_cpu_mem_usage=False: the small UNet loads directly (without it diffusers asks for `accelerate`)
        unet = UNet2DModel.from_pretrained(str(weights), subfolder=sub["unet"], low_cpu_mem_usage=False)
        scheduler = DDPMScheduler.from_pretrained(str(weights), subfolder=sub["scheduler"])
    except (OSError, ValueError) as e:  # missing files, corrupt weights, no network
        raise IradError(f"cannot load a DDPM from {weights}: {e}; " + _HOW_TO_GET) from None
    # channels_last: oneDNN's fast layout (the cpu-lownoise UNet's forward 15% faster on 2 EPYC cores)
    return unet.eval().requires_grad_(False).to(memory_format=torch.channels_last), scheduler


def reverse_process(z: torch.Tensor, unet: nn.Module, scheduler, t_start: int,
                    generator: torch.Generator | None = None, checkpoint: bool = False) -> torch.Tensor:
    """Run ``t_start`` reverse DDPM steps from the state ``z`` at DDPM step ``t_start`` (diffusers timestep
    ``t_start - 1``) down to step 0. ``z`` on the [-1, 1] scale."""
    for t in steps(range(t_start - 1, -1, -1), "diffpure reverse steps"):
        if z.device.type == "cpu":  # see load_ddpm
            z = z.contiguous(memory_format=torch.channels_last)
        step = torch.tensor(t, device=z.device)
        if checkpoint and torch.is_grad_enabled():
            eps = grad_checkpoint(lambda z_, s_: unet(z_, s_).sample, z, step, use_reentrant=False)
        else:
            eps = unet(z, step).sample
        z = scheduler.step(eps, t, z, generator=generator).prev_sample
    return z


def diffuse_and_denoise(x: torch.Tensor, unet: nn.Module, scheduler, t_star: int,
                        generator: torch.Generator | None = None, checkpoint: bool = False) -> torch.Tensor:
    """DiffPure of images ``(N, 3, H, W)`` in [0, 1]: forward diffusion to step ``t_star`` (the state after
    ``t_star`` noising steps), then ``t_star`` reverse DDPM steps. ``t_star = 0`` returns ``x``. Output mapped
    back from [-1, 1] to [0, 1] (not clamped)."""
    if t_star == 0:
        return x
    z = diffuse(x, scheduler, t_star, generator)
    return ((reverse_process(z, unet, scheduler, t_star, generator, checkpoint) + 1) / 2).contiguous()


def diffuse(x: torch.Tensor, scheduler, t_star: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """A draw of q(x_t | x_0) at DDPM step ``t_star >= 1`` for images ``x`` in [0, 1]: ``sqrt(abar) (2x - 1) +
    sqrt(1 - abar) noise`` on the [-1, 1] scale, ``abar`` the scheduler's cumulative product at that step."""
    abar = scheduler.alphas_cumprod[t_star - 1].to(x)
    noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return abar.sqrt() * (2 * x - 1) + (1 - abar).sqrt() * noise


@register_defense("diffpure")
class DiffPure(RandomizedDefense):
    """DiffPure: diffuse to step ``t`` (of the scheduler's 1000; paper: 100 for CIFAR-10), reverse DDPM back.

    ``weights``: ``builtin`` (the package's low-noise CIFAR-10 DDPM), a diffusers DDPM directory or a hub id.
    Differentiable (``checkpoint=true``: gradient checkpointing); randomized unless seeded.
    """

    def __init__(self, weights: str = "builtin", t: int = 100, checkpoint: bool = False, seed: int | None = None):
        super().__init__(seed)
        self.domain = DomainCheck("diffpure", BUILTIN) if str(weights) == "builtin" else None
        weights = resolve_ddpm(weights)
        self.unet, self.scheduler = load_ddpm(weights)
        check_steps(weights, self.scheduler, [t], 0, "diffpure: t")
        self.t, self.checkpoint = t, checkpoint

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        if self.domain is not None:
            self.domain(x)
        return diffuse_and_denoise(x, self.unet, self.scheduler, self.t, self.generator(x.device), self.checkpoint)


@register_defense("diffpure-irad")
def diffpure_irad(weights: str = "builtin", t: int = 30, irad: str = "builtin", checkpoint: bool = False,
                  seed: int | None = None) -> Chain:
    """IRAD + DiffPure: DiffPure with few steps (``t``, paper: 20-40), then IRAD (``irad``: its weights)."""
    return Chain([DiffPure(weights, t, checkpoint, seed), create_defense(f"irad:weights={irad}")])
