"""Held-out metrics of a purifier during training: L1 to the clean image and a classifier's SA / RA on
validation pairs (crafted on that classifier, images disjoint from the evaluation set)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from irad.models import create_classifier
from irad.training.pairs import load_pairs, pairs_combos, pairs_source
from irad.utils.precision import autocast


def load_validation(directory: str, device: str = "cpu") -> tuple[dict[str, torch.Tensor], nn.Module, list[dict]]:
    """Validation pairs from ``irad make-pairs``, in eval mode the classifier they were crafted on (the judge of the
    validation SA / RA), and their attack x eps combinations."""
    source = pairs_source(directory)
    judge = create_classifier(source["classifier"], source["weights"]).to(device).eval()
    return load_pairs(directory), judge, pairs_combos(directory)


@torch.no_grad()
def purifier_metrics(purify: Callable[[torch.Tensor], torch.Tensor], pairs: dict[str, torch.Tensor],
                     classifier: nn.Module | None = None, batch_size: int = 250, device: str = "cpu",
                     precision: str = "fp32", combos: list[dict] | None = None) -> dict[str, float]:
    """``val_l1`` (purified adversarial vs clean, mean absolute error in [0, 1] units) and, with a classifier,
    ``val_sa`` / ``val_ra`` (% correct on purified clean / adversarial images), their mean ``val_avg`` and
    ``val_worst``: the lowest (SA + RA) / 2 over the attack x eps combinations ``combos`` of the pairs (their
    ``combo`` index; clean pairs left out), each also reported as ``val_ra[attack eps]``. A clean image shared by
    several pairs is purified once."""
    n = len(pairs["labels"])
    first, reference, shared = _shared_clean(pairs)
    clean_rows = first if shared else torch.arange(n)
    pc_right = _classified(purify, pairs["clean"], pairs["labels"], clean_rows, classifier, batch_size, device,
                           precision)
    pa_right, l1 = _classified(purify, pairs["adv"], pairs["labels"], torch.arange(n), classifier, batch_size,
                               device, precision, target=pairs["clean"])
    if shared and classifier is not None:  # back to one entry per pair
        pc_right = pc_right[torch.searchsorted(first, reference)]
    out = {"val_l1": l1.mean().item()}
    if classifier is None:
        return out
    sa, ra = 100 * pc_right.double().mean().item(), 100 * pa_right.double().mean().item()
    out.update(val_sa=sa, val_ra=ra, val_avg=(sa + ra) / 2)
    combo = pairs.get("combo", torch.zeros(n, dtype=torch.int64))
    worst = []
    for c, info in enumerate(combos or []):
        rows = combo == c
        if info["attack"] == "none" or not rows.any():
            continue
        sa_c, ra_c = 100 * pc_right[rows].double().mean().item(), 100 * pa_right[rows].double().mean().item()
        out[f"val_ra[{info['attack']} {info['eps'] * 255:.3g}/255]"] = ra_c
        worst.append((sa_c + ra_c) / 2)
    out["val_worst"] = min(worst) if len(worst) > 1 else out["val_avg"]
    return out


def _shared_clean(pairs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """The first pair of each dataset index (sorted), each pair's first pair, and whether every pair's clean image
    equals its first pair's (no augmentation, several pairs per image): then clean images are purified once."""
    first_of: dict[int, int] = {}
    for k, i in enumerate(pairs["indices"].tolist()):
        first_of.setdefault(i, k)
    reference = torch.tensor([first_of[i] for i in pairs["indices"].tolist()], dtype=torch.int64)
    first = torch.tensor(sorted(first_of.values()), dtype=torch.int64)
    shared = len(first) < len(reference) and torch.equal(pairs["clean"], pairs["clean"][reference])
    return first, reference, shared


def _classified(purify, images: torch.Tensor, labels: torch.Tensor, rows: torch.Tensor, classifier, batch_size: int,
                device: str, precision: str, target: torch.Tensor | None = None):
    """Per row: whether the classifier gets the purified image right (None without a classifier); with ``target``
    also the purified image's mean absolute error to it."""
    right, errors = [], []
    for b in rows.split(batch_size):
        x = images[b].to(device).float() / 255
        with autocast(device, precision):
            p = purify(x).float().clamp(0, 1)
        if target is not None:
            errors.append((p - target[b].to(device).float() / 255).abs().mean(dim=(1, 2, 3)).cpu())
        if classifier is not None:
            right.append((classifier(p).argmax(1) == labels[b].to(device)).cpu())
    hits = torch.cat(right) if right else None
    return (hits, torch.cat(errors)) if target is not None else hits
