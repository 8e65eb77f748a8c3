"""Shared fixtures: paths into ../shared (CI has it beside the clone), tiny models, a few real images.

The shared folder (CIFAR-10 test images, Idelbayev's CIFAR ResNets) is ``$IRAD_SHARED`` if set, else ``../shared``
beside the repository; tests that need it are skipped, with the reason, where it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("IRAD_SHARED", ROOT.parent / "shared"))
SHARED_DATA = SHARED / "data"
SHARED_MODELS = SHARED / "models" / "cifar10-resnet-idelbayev"

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


def _require(path: Path, what: str) -> None:
    if not path.is_dir():
        pytest.skip(f"needs {what} in {path} (set IRAD_SHARED to the shared folder)")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    _require(SHARED_DATA / "cifar10" / "test", "the shared CIFAR-10 test set")
    return SHARED_DATA


@pytest.fixture(scope="session")
def shared_models() -> Path:
    _require(SHARED_MODELS, "the shared CIFAR ResNets")
    return SHARED_MODELS


class TinyNet(nn.Module):
    """A small CNN on [0, 1] images for fast attack and scenario tests."""

    def __init__(self, classes: int = 10):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.fc = nn.Linear(8, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.conv(x)).mean((2, 3)))


@pytest.fixture
def tiny_model() -> nn.Module:
    torch.manual_seed(0)
    return TinyNet().eval()


@pytest.fixture(scope="session")
def samples() -> tuple[torch.Tensor, torch.Tensor]:
    """The 20 lossless CIFAR-10 samples shipped in the foolbox wheel: ``(20, 3, 32, 32)`` in [0, 1] and labels."""
    from irad.data import load_foolbox_samples

    return tuple(load_foolbox_samples("cifar10").tensors)


@pytest.fixture(scope="session")
def tiny_implicit_dir(tmp_path_factory) -> Path:
    """A randomly initialised tiny IRAD model (implicit representation + SampleNet) in irad's format."""
    from irad.models.implicit import ImplicitConfig, ImplicitResampler

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("implicit") / "tiny"
    ImplicitResampler(ImplicitConfig(n_resblocks=1, n_feats=8, hidden=[32, 32], samplenet_hidden=[16, 16])).save(path)
    return path


@pytest.fixture(scope="session")
def tiny_ddpm_dir(tmp_path_factory) -> Path:
    """A randomly initialised tiny DDPM (diffusers UNet + 1000-step scheduler) in the layout diffpure loads."""
    from diffusers import DDPMScheduler

    from irad.training.ddpm import DDPMTrainConfig, build_unet

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ddpm")
    build_unet(DDPMTrainConfig(channels=[8, 16], layers_per_block=1, attention=False), 32).save_pretrained(
        path / "unet", safe_serialization=True)
    DDPMScheduler(num_train_timesteps=1000).save_pretrained(path / "scheduler")
    return path
