"""IRAD (implicit representation + SampleNet), DISCO-style purification, and their sampler ablations.

All share one :class:`ImplicitResampling` defense over an :class:`~irad.models.implicit.ImplicitResampler`:
``recon`` implicit (the learned decoder) or bilinear/nearest (IRAD Table 15), ``sampler`` samplenet, none
(DISCO: the decoder queried at the pixel grid), si or sv (Table 8). Differentiable; randomized only for sv.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch

from irad.defenses.base import RandomizedDefense
from irad.defenses.domain import DomainCheck
from irad.defenses.registry import register_defense
from irad.defenses.tiling import tiled
from irad.defenses.resample import RECONS, resample, sampler_offsets
from irad.errors import IradError
from irad.models.implicit import ImplicitResampler
from irad.models.implicit.query import pixels_to_coord_offsets
from irad.models.registry import packaged_weights
from irad.utils.precision import PRECISIONS, autocast
from irad.utils.validation import check_choice, check_range

SAMPLERS = ("samplenet", "none", "si", "sv")
# built-in weights by (name, kind): IRAD's (implicit representation + SampleNet) and the implicit representation
# alone (DISCO-style query and the naive samplers). On ImageNet both are one file: SampleNet was trained over that
# implicit representation frozen, so DISCO reads the same weights and leaves SampleNet unused.
BUILTIN = {("cifar10", "samplenet"): "irad_cifar10", ("cifar10", "implicit"): "implicit_cifar10",
           ("imagenet", "samplenet"): "irad_imagenet", ("imagenet", "implicit"): "irad_imagenet"}
BUILTIN_ALIASES = {"builtin": "cifar10"}  # the default: the CIFAR-10 built-ins


def resolve_weights(weights: str | os.PathLike, kind: str = "samplenet") -> Path:
    """A built-in name -> the weights shipped in the package: ``builtin`` or ``cifar10`` (trained on CIFAR-10) or
    ``imagenet`` (``kind``: ``samplenet`` for IRAD's, ``implicit`` for the implicit representation alone);
    anything else is a path; an empty value is an error (not the current directory)."""
    if not str(weights):
        raise IradError("weights= is empty; it takes builtin, cifar10 or imagenet (the packaged weights) or a "
                        "directory with model.safetensors and config.json (`irad train implicit` output)")
    folder = builtin_folder(weights, kind)
    if folder is not None:
        return packaged_weights(folder, "train them with `irad train implicit` / `irad train samplenet`, or convert "
                                        "the released ones with `irad convert official`, and pass weights=DIR")
    return Path(weights)


def builtin_folder(weights: str | os.PathLike, kind: str = "samplenet") -> str | None:
    """The packaged folder a built-in name selects, or None for a path."""
    return BUILTIN.get((BUILTIN_ALIASES.get(str(weights), str(weights)), kind))


def _domain(name: str, weights: str | os.PathLike, kind: str) -> DomainCheck | None:
    folder = builtin_folder(weights, kind)
    return DomainCheck(name, folder) if folder else None


class ImplicitResampling(RandomizedDefense):
    """Resample an image through a learned implicit representation (IRAD Sec. 4)."""

    def __init__(self, model: ImplicitResampler, sampler: str = "samplenet", recon: str = "implicit",
                 shift: float = 1.5, seed: int | None = None, precision: str = "fp32",
                 domain: DomainCheck | None = None):
        super().__init__(seed)
        check_choice("precision", precision, PRECISIONS)
        check_choice("sampler", sampler, SAMPLERS)
        check_choice("recon", recon, ("implicit", *RECONS))
        check_range("", "shift", shift, lo=0)
        if recon != "implicit" and sampler != "samplenet":
            raise IradError("recon=bilinear/nearest pairs with sampler=samplenet (for naive samplers use `resample`)")
        if sampler == "samplenet" and not model.has_samplenet:
            raise IradError("these weights hold no SampleNet; use sampler=none (DISCO-style) or train one")
        self.model = model.eval()
        self.sampler, self.recon, self.shift, self.precision = sampler, recon, shift, precision
        self.randomized = sampler == "sv" and seed is None
        self.domain = domain  # built-in weights: warns once on images far from their training size

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        if self.domain is not None:
            self.domain(x)
        run = self._tiled if x.shape[-2] * x.shape[-1] > self.tile_pixels else self._resample
        if self.precision == "fp32":
            return run(x)
        with autocast(x.device, self.precision):
            return run(x).to(x.dtype)

    def _reach(self) -> int:
        """How far (px) the features of a pixel read the image: the encoder's 3x3 convolutions, the first MLP
        layer's 3x3 unfold and the query's neighbouring cell."""
        return 2 * self.model.cfg.n_resblocks + 4

    def _tiled(self, x: torch.Tensor) -> torch.Tensor:
        """:meth:`_resample` in tiles (:mod:`~irad.defenses.tiling`): first every pixel's offset (SampleNet's, in
        pixels of the whole image, or the sampler's draw), then the rendering with a margin that covers the largest
        offset: equal to the one-pass result to float rounding."""
        n, _, h, w = x.shape
        if self.sampler == "samplenet":
            to_px = torch.tensor([h / 2, w / 2], device=x.device)  # SampleNet's offsets are in units of the whole image
            px = tiled(lambda part, _: (self.model.samplenet_offsets(part, self.model.features(part),
                                                                    self.model.query_budget).float() * to_px)
                       .view(n, *part.shape[-2:], 2).permute(0, 3, 1, 2), x, self._reach(), self.tile_pixels,
                       "SampleNet tiles")
        else:
            px = sampler_offsets(self.sampler, self.shift, n, h, w, x.device, self.generator(x.device)).permute(0, 3, 1, 2)
        margin = self._reach() + math.ceil(float(px.detach().abs().amax())) + 1

        def render(part: torch.Tensor, box: tuple[slice, slice]) -> torch.Tensor:
            p = px[..., box[0], box[1]].permute(0, 2, 3, 1)
            th, tw = part.shape[-2:]
            if self.recon != "implicit":
                return resample(part, p.to(part.dtype), self.recon)
            offsets = None if self.sampler == "none" else pixels_to_coord_offsets(p, th, tw).reshape(-1, th * tw, 2)
            return self.model.render(self.model.features(part), offsets, chunk=self.model.query_budget)

        return tiled(render, x, margin, self.tile_pixels)

    def _resample(self, x: torch.Tensor) -> torch.Tensor:
        """Offsets of a fixed or random sampler are drawn for the whole batch; the networks then run on as many
        images at a time as the model's query budget holds (the same result, smaller temporaries)."""
        n, _, h, w = x.shape
        drawn = None
        if self.sampler != "samplenet":
            px = sampler_offsets(self.sampler, self.shift, n, h, w, x.device, self.generator(x.device))
            drawn = pixels_to_coord_offsets(px.to(x.dtype), h, w).view(px.shape[0], h * w, 2)
        return self.model.in_passes(
            x, lambda part, idx: self._resample_part(part, drawn if drawn is None or len(drawn) == 1 else drawn[idx]))

    def _resample_part(self, x: torch.Tensor, offsets: torch.Tensor | None) -> torch.Tensor:
        n, _, h, w = x.shape
        budget = self.model.query_budget
        feat = self.model.features(x)
        if offsets is None:
            offsets = self.model.samplenet_offsets(x, feat, budget)
        if self.recon == "implicit":
            return self.model.render(feat, offsets, chunk=budget)
        px = offsets.view(n, h, w, 2) * torch.tensor([h / 2, w / 2], device=x.device, dtype=x.dtype)
        return resample(x, px, self.recon)


@register_defense("irad")
def irad(weights: str = "builtin", recon: str = "implicit", precision: str = "fp32") -> ImplicitResampling:
    """IRAD: implicit representation + SampleNet (``recon=bilinear|nearest``: SampleNet over naive reconstruction;
    ``precision=bf16``: bf16 autocast, for CPUs with AVX-512 BF16 and GPUs)."""
    return ImplicitResampling(ImplicitResampler.load(resolve_weights(weights)), "samplenet", recon,
                              precision=precision, domain=_domain("irad", weights, "samplenet"))


@register_defense("disco")
def disco(weights: str = "builtin", precision: str = "fp32") -> ImplicitResampling:
    """DISCO-style purification: the implicit representation queried at the pixel grid, no SampleNet."""
    return ImplicitResampling(ImplicitResampler.load(resolve_weights(weights, "implicit")), "none",
                              precision=precision, domain=_domain("disco", weights, "implicit"))


@register_defense("implicit")
def implicit(weights: str = "builtin", sampler: str = "none", shift: float = 1.5, seed: int | None = None,
             precision: str = "fp32") -> ImplicitResampling:
    """Implicit representation with any sampler: none, si(shift), sv(shift) or samplenet (IRAD Table 8)."""
    kind = "samplenet" if sampler == "samplenet" else "implicit"
    return ImplicitResampling(ImplicitResampler.load(resolve_weights(weights, kind)), sampler, "implicit", shift, seed,
                              precision, _domain("implicit", weights, kind))


def load_official(liif: str | os.PathLike, samplenet: str | os.PathLike | None = None) -> ImplicitResampling:
    """The released IRAD checkpoints as a defense: with ``samplenet`` it is IRAD, without it the DISCO-style
    query at the pixel grid. Reproduces the released forward pass (SampleNet's encoder sees the image in [0, 1],
    the implicit representation sees ``(x - 0.5) / 0.5``)."""
    from irad.models.implicit.official import load_official_model

    model = load_official_model(liif, samplenet)
    return ImplicitResampling(model, "samplenet" if samplenet is not None else "none")
