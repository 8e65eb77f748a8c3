"""What the built-in weights were trained on, and a warning when a defense is used far outside it (a 32 px CIFAR-10
model purifying a photo): the output is then no evidence of what the method does, and a DDPM is slow there."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch


class OutOfDomainWarning(UserWarning):
    """A built-in model purifies images far from the size it was trained on. Silence it with
    ``warnings.filterwarnings("ignore", category=irad.OutOfDomainWarning)``, or from the shell by its message's
    first word: ``PYTHONWARNINGS='ignore:out-of-domain' irad ...`` (``python -W 'ignore:out-of-domain'``)."""


@dataclass(frozen=True)
class Domain:
    dataset: str
    image_size: int  # px, the side of the training images (or crops)
    alternative: str  # what to use instead on other images


# packaged weights folder -> what it was trained on
BUILTIN_DOMAINS = {
    "implicit_cifar10": Domain("CIFAR-10", 32, "weights=imagenet for ImageNet-size images, or your own weights=DIR"),
    "irad_cifar10": Domain("CIFAR-10", 32, "weights=imagenet for ImageNet-size images, or your own weights=DIR"),
    "irad_imagenet": Domain("ImageNet", 224, "the CIFAR-10 built-ins (weights=builtin) for 32 px images"),
    "ddpm_cifar10": Domain("CIFAR-10", 32, "a DDPM trained at your image size (`irad train ddpm`, weights=DIR)"),
}
FAR = 2.0  # warn when the image side is more than FAR times larger or smaller than the training side


class DomainCheck:
    """Warns once (per defense) when images leave the domain of the built-in weights ``folder``."""

    def __init__(self, name: str, folder: str):
        self.name, self.domain, self.warned = name, BUILTIN_DOMAINS[folder], False

    def __call__(self, x: torch.Tensor) -> None:
        if self.warned:
            return
        side, trained = max(x.shape[-2:]), self.domain.image_size
        if side > FAR * trained or side * FAR < trained:
            self.warned = True
            warnings.warn(
                f"out-of-domain: {self.name}'s built-in weights were trained on {trained}x{trained} "
                f"{self.domain.dataset} images; these are {x.shape[-2]}x{x.shape[-1]}, so the result says little about "
                f"the method (use {self.domain.alternative}; silence with PYTHONWARNINGS='ignore:out-of-domain')",
                OutOfDomainWarning, stacklevel=3)
