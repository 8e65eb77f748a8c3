"""Class activation maps and the robust activation map (R-CAM) of Prakash et al. (2018, Sec. 6.1).

Works for any classifier whose last spatial conv features reach a single linear head through global average (or
max) pooling: the registry's CIFAR ResNets / WRN, torchvision ResNets. The feature map and head are found by
running the model once with hooks and checking ``head(pool(features)) == logits``; otherwise a clear error.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from irad.errors import IradError


def _features_and_head(classifier: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, nn.Linear, torch.Tensor]:
    """``(features (N, K, h, w), head, logits)`` for the last spatial map with K channels feeding the last Linear."""
    linears = [m for m in classifier.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise IradError(f"{type(classifier).__name__} has no nn.Linear head; class activation maps need one")
    head = linears[-1]
    seen: list[torch.Tensor] = []
    done = [False]

    def record(module: nn.Module, args: tuple, out: object) -> None:
        if module is head:
            done[0] = True
        elif not done[0] and isinstance(out, torch.Tensor) and out.dim() == 4 and out.shape[1] == head.in_features \
                and out.shape[-1] * out.shape[-2] > 1:
            seen.append(out)

    handles = [m.register_forward_hook(record) for m in classifier.modules() if m is not classifier]
    try:
        logits = classifier(x)
    finally:
        for h in handles:
            h.remove()
    if seen:
        for feats in (seen[-1], torch.relu(seen[-1])):  # the last ReLU may be functional, invisible to hooks
            for pool in (lambda f: f.mean((2, 3)), lambda f: f.amax((2, 3))):
                if torch.allclose(head(pool(feats)), logits, rtol=1e-3, atol=1e-4):
                    return feats, head, logits
    raise IradError(f"cannot find the conv features of {type(classifier).__name__} that reach its linear head by "
                    "global pooling; R-CAM needs a CNN with a single linear classifier after global pooling")


def class_activation_maps(classifier: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """CAMs ``M_c(i, j) = sum_k w_ck f_k(i, j)`` for every class at feature resolution ``(N, classes, h, w)``, and
    the logits ``(N, classes)``."""
    feats, head, logits = _features_and_head(classifier, x)
    return torch.einsum("nkhw,ck->nchw", feats, head.weight), logits


@torch.no_grad()
def robust_activation_map(classifier: nn.Module, x: torch.Tensor, top_k: int = 5) -> torch.Tensor:
    """R-CAM ``(N, H, W)`` in [0, 1]: the CAMs of the top-k predicted classes weighted by 1/2^i (i = 1..k), summed,
    negative values cut, upsampled bilinearly to the input size and divided by their maximum."""
    if top_k < 1:
        raise IradError(f"top_k must be >= 1, got {top_k}")
    cams, logits = class_activation_maps(classifier, x)
    k = min(top_k, cams.shape[1])
    top = logits.topk(k, dim=1).indices
    picked = cams.gather(1, top[:, :, None, None].expand(-1, -1, *cams.shape[-2:]))
    weights = 0.5 ** torch.arange(1, k + 1, device=x.device, dtype=cams.dtype)
    m = torch.relu((picked * weights.view(1, k, 1, 1)).sum(1, keepdim=True))
    m = F.interpolate(m, size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    peak = m.flatten(1).amax(1).clamp_min(torch.finfo(m.dtype).tiny)
    return (m / peak.view(-1, 1, 1)).clamp(0, 1)
