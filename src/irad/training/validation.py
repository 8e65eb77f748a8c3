"""Held-out metrics of a purifier during training: L1 to the clean image and a classifier's SA / RA on
validation pairs (crafted on that classifier, images disjoint from the evaluation set)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from irad.models import create_classifier
from irad.training.pairs import load_pairs, pairs_source
from irad.utils.precision import autocast


def load_validation(directory: str, device: str = "cpu") -> tuple[dict[str, torch.Tensor], nn.Module]:
    """Validation pairs from ``irad make-pairs`` and, in eval mode, the classifier they were crafted on (the judge
    of the validation SA / RA)."""
    source = pairs_source(directory)
    return load_pairs(directory), create_classifier(source["classifier"], source["weights"]).to(device).eval()


@torch.no_grad()
def purifier_metrics(purify: Callable[[torch.Tensor], torch.Tensor], pairs: dict[str, torch.Tensor],
                     classifier: nn.Module | None = None, batch_size: int = 250, device: str = "cpu",
                     precision: str = "fp32") -> dict[str, float]:
    """``val_l1`` (purified adversarial vs clean, mean absolute error in [0, 1] units) and, with a classifier,
    ``val_sa`` / ``val_ra`` (% correct on purified clean / adversarial images) and their mean ``val_avg``."""
    l1 = sa = ra = 0.0
    n = len(pairs["labels"])
    for s in range(0, n, batch_size):
        c = pairs["clean"][s:s + batch_size].to(device).float() / 255
        a = pairs["adv"][s:s + batch_size].to(device).float() / 255
        y = pairs["labels"][s:s + batch_size].to(device)
        with autocast(device, precision):
            pc, pa = purify(torch.cat([c, a])).float().clamp(0, 1).chunk(2)
        l1 += (pa - c).abs().mean(dim=(1, 2, 3)).sum().item()
        if classifier is not None:
            pred = classifier(torch.cat([pc, pa])).argmax(1).view(2, -1)
            sa += (pred[0] == y).sum().item()
            ra += (pred[1] == y).sum().item()
    out = {"val_l1": l1 / n}
    if classifier is not None:
        out.update(val_sa=100 * sa / n, val_ra=100 * ra / n, val_avg=50 * (sa + ra) / n)
    return out
