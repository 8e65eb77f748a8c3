"""Quantisation-table search of the NN-favoured JPEG defense (the seed's Algorithm 1): over the number k of
zigzag diagonals in the fine-step band and the coarse step QS_AF, the table with the highest accuracy on
adversarial examples after compression, subject to a benign-accuracy drop below ``max_drop`` points."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from irad.defenses.dct_jpeg import jpeg_rgb, two_band_table
from irad.utils.checkpoint import atomic_write_json

GRID_K = range(1, 16)
GRID_QS_AF = range(1, 122, 5)


@torch.no_grad()
def accuracy(classifier: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 500) -> float:
    """Top-1 accuracy (%) of ``classifier`` on ``x`` ``(N, 3, H, W)`` in [0, 1]."""
    device = next(classifier.parameters()).device
    hits = sum(int((classifier(xb.to(device)).argmax(1).cpu() == yb).sum())
               for xb, yb in zip(x.split(batch_size), y.split(batch_size)))
    return 100.0 * hits / len(x)


def choose(grid: list[dict], base_acc: float, max_drop: float) -> dict | None:
    """The grid row with the highest ``adv_acc`` among those whose ``benign_acc`` is less than ``max_drop`` points
    below ``base_acc`` (ties: higher ``benign_acc``, then smaller k and QS_AF); None if none qualifies."""
    feasible = [r for r in grid if base_acc - r["benign_acc"] < max_drop]
    if not feasible:
        return None
    return max(feasible, key=lambda r: (r["adv_acc"], r["benign_acc"], -r["k"], -r["qs_af"]))


def search_table(classifier: nn.Module, benign: torch.Tensor, labels: torch.Tensor, adversarial: torch.Tensor,
                 adv_labels: torch.Tensor, qs_of: float = 16.0, max_drop: float = 1.0, ks=GRID_K, qs_afs=GRID_QS_AF,
                 out: str | Path | None = None, progress: bool = True, precision: str = "fp32") -> dict:
    """Evaluate every (k, QS_AF) table on ``benign`` images and on ``adversarial`` examples (crafted from correctly
    classified ones); returns ``{"settings", "base_benign_acc", "grid": [{"k", "qs_af", "benign_acc", "adv_acc"}],
    "choice"}``. With ``out``, the result is written after every table and rows already there are reused (resume)
    when the settings match (``precision``: how ``classifier`` computes, recorded in them unless fp32)."""
    settings = {"qs_of": qs_of, "max_drop": max_drop, "n_benign": len(benign), "n_adv": len(adversarial),
                **({"precision": precision} if precision != "fp32" else {})}
    done: dict[tuple, dict] = {}
    if out is not None and Path(out).exists():
        import json

        previous = json.loads(Path(out).read_text())
        if previous.get("settings") == settings:
            done = {(r["k"], r["qs_af"]): r for r in previous["grid"]}
    base = accuracy(classifier, benign, labels)
    grid = []
    cells = [(k, q) for k in ks for q in qs_afs]
    for k, q in tqdm(cells, desc="table search", disable=not progress):
        if (k, q) not in done:
            table = two_band_table(k, q, qs_of)
            done[(k, q)] = {"k": k, "qs_af": q, "benign_acc": accuracy(classifier, jpeg_rgb(benign, table), labels),
                            "adv_acc": accuracy(classifier, jpeg_rgb(adversarial, table), adv_labels)}
        grid.append(done[(k, q)])
        if out is not None:
            atomic_write_json(out, {"settings": settings, "base_benign_acc": base, "grid": grid,
                                    "choice": choose(grid, base, max_drop)})
    return {"settings": settings, "base_benign_acc": base, "grid": grid, "choice": choose(grid, base, max_drop)}
