"""Adversarial/clean training pairs: crafted once on a source classifier, stored as uint8 safetensors shards.

Layout of ``out``: ``meta.json`` (source model, attack, budget, dataset, count) and ``shard-00000.safetensors``,
... each holding ``clean`` and ``adv`` ``(n, 3, H, W)`` uint8, ``labels`` and dataset ``indices`` int64. Shards
are written atomically; an interrupted run resumes at the first missing shard. Storing uint8 rounds each
adversarial value to the nearest 1/255 (at most 0.5/255 beyond the eps-ball), as image-file pair datasets do.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch.utils.data import DataLoader, Subset
from tqdm.auto import tqdm

from irad.attacks import check_budget, create_attack
from irad.data import load_dataset, stratified_subset
from irad.errors import IradError
from irad.models import create_classifier, input_geometry
from irad.utils.checkpoint import atomic_write_json, save_safetensors
from irad.utils.files import field, read_json
from irad.utils.precision import FastForward


@dataclass
class PairsConfig:
    dataset: str = "cifar10"
    data_root: str | None = None
    split: str = "train"
    n: int | None = None  # stratified subset; None = the whole split
    offset: int = 0  # leave out the images n=offset would take (validation pairs disjoint from an evaluation set)
    classifier: str = "resnet20"
    weights: str | None = "irad-cifar10"
    attack: str = "pgd:steps=100,alpha=2/255"  # the paper's pairs: PGD, eps 8/255, step 2/255, 100 steps
    norm: str = "Linf"
    eps: float = 8 / 255
    shard_size: int = 1000
    batch_size: int = 250
    seed: int = 0
    precision: str = "fp32"  # bf16: the attack's forward/backward under bf16 autocast, channels_last (2.3x on 2 CPU cores)


PRESETS: dict[str, dict] = {
    "cpu": dict(n=5000, attack="pgd:steps=20,alpha=2/255"),
    # all 50,000 training images, PGD-20 under bf16 autocast: about 10 min on 2 CPU cores
    "cpu-long": dict(n=None, attack="pgd:steps=20,alpha=2/255", precision="bf16"),
    # validation pairs: 100 test images per class after the first 100 (disjoint from `--n 1000` evaluations)
    "cpu-long-val": dict(split="test", n=1000, offset=1000, attack="pgd:steps=20,alpha=2/255", precision="bf16"),
    "paper": dict(n=None, attack="pgd:steps=100,alpha=2/255"),
    # ImageNet: the 1,000 training-side images (one per class) at Lite0's 224 px; classes 0-799 train, 800-999
    # validate. PGD-20 in bf16 (its examples fool fp32 Lite0 as fp32 PGD's do): about 10 min on 2 CPU cores
    "imagenet": dict(dataset="imagenet", n=800, classifier="efficientnet-lite0", weights="imagenet",
                     attack="pgd:steps=20,alpha=2/255", batch_size=25, shard_size=200, precision="bf16"),
    "imagenet-val": dict(dataset="imagenet", n=200, offset=800, classifier="efficientnet-lite0", weights="imagenet",
                         attack="pgd:steps=20,alpha=2/255", batch_size=25, shard_size=200, precision="bf16"),
}


def _to_uint8(x: torch.Tensor) -> torch.Tensor:
    return x.mul(255).round().clamp(0, 255).to(torch.uint8).cpu()


def make_pairs(cfg: PairsConfig, out: str | Path, device: str = "cpu", progress: bool = True) -> dict:
    """Craft (or finish crafting) the pairs of ``cfg`` into ``out``; returns the metadata."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    meta_path = out / "meta.json"
    config = asdict(cfg)
    if meta_path.exists():
        done = read_pairs_meta(out)
        if done.get("config") != config:
            raise IradError(f"{out} holds pairs made with a different configuration; use another --out")
        shards_present = all((out / f"shard-{k:05d}.safetensors").exists() for k in range(done.get("shards", 0)))
        if done.get("complete") and shards_present:
            return done  # nothing left to craft; keep the record of the run that made them
    images = load_dataset(cfg.dataset, cfg.data_root, cfg.split, **input_geometry(cfg.classifier))
    data = stratified_subset(images, cfg.n, cfg.offset)
    model = create_classifier(cfg.classifier, cfg.weights).to(device).eval()
    attacked = FastForward(model, cfg.precision) if cfg.precision != "fp32" else model
    attack = create_attack(cfg.attack, attacked, cfg.norm, cfg.eps)
    shards = [range(s, min(s + cfg.shard_size, len(data))) for s in range(0, len(data), cfg.shard_size)]
    meta = {"config": config, "count": len(data), "shards": len(shards), "complete": False}
    atomic_write_json(meta_path, meta)
    fooled = total = 0
    t0, c0 = time.time(), time.process_time()
    for k, span in enumerate(tqdm(shards, desc="crafting pairs", unit="shard", disable=not progress)):
        path = out / f"shard-{k:05d}.safetensors"
        if path.exists():
            continue
        torch.manual_seed(cfg.seed + k)
        clean, adv, labels, idx = [], [], [], []
        loader = DataLoader(Subset(data, list(span)), batch_size=cfg.batch_size, shuffle=False)
        for i, (x, y) in enumerate(loader):
            x, y = x.to(device), y.to(device)
            x_adv = attack(x, y)
            check_budget(x, x_adv, cfg.norm, cfg.eps, cfg.attack)
            with torch.no_grad():
                fooled += (model(x_adv).argmax(1) != y).sum().item()
            total += len(y)
            clean.append(_to_uint8(x))
            adv.append(_to_uint8(x_adv))
            labels.append(y.cpu())
        idx = torch.tensor([data.indices[j] for j in span], dtype=torch.int64)
        save_safetensors(path, {"clean": torch.cat(clean), "adv": torch.cat(adv), "labels": torch.cat(labels).long(),
                                "indices": idx})
    meta.update(complete=True, wall_seconds_this_run=round(time.time() - t0, 1),
                cpu_seconds_this_run=round(time.process_time() - c0, 1))
    if total:
        meta["source_error_rate_this_run"] = round(100.0 * fooled / total, 2)
    atomic_write_json(meta_path, meta)
    return meta


def load_pairs(directory: str | Path) -> dict[str, torch.Tensor]:
    """All shards of a finished pairs directory, concatenated: ``clean``, ``adv`` uint8, ``labels``, ``indices``."""
    d = Path(directory)
    meta_path = d / "meta.json"
    if not meta_path.exists():
        raise IradError(f"no training pairs in {d}; make them with `irad make-pairs --out {d}`")
    meta = read_pairs_meta(d)
    if not meta.get("complete"):
        raise IradError(f"the pairs in {d} are incomplete; rerun the same `irad make-pairs` command to finish them")
    parts = []
    for k in range(meta["shards"]):
        shard = d / f"shard-{k:05d}.safetensors"
        try:
            parts.append(load_file(str(shard)))
        except Exception as e:  # missing, truncated or not safetensors
            raise IradError(f"cannot read pairs shard {shard} ({type(e).__name__}); delete it and rerun the same "
                            "`irad make-pairs` command to craft it again") from None
        missing = [key for key in SHARD_KEYS if key not in parts[-1]]
        if missing:
            raise IradError(f"pairs shard {shard} lacks {', '.join(missing)}; delete it and rerun `irad make-pairs`")
    return {key: torch.cat([p[key] for p in parts]) for key in SHARD_KEYS}


SHARD_KEYS = ("clean", "adv", "labels", "indices")


def read_pairs_meta(directory: str | Path) -> dict:
    """``meta.json`` of a pairs directory, checked field by field."""
    path = Path(directory) / "meta.json"
    fix = f"delete {directory} and rerun `irad make-pairs` to craft the pairs again"
    meta = read_json(path, fix)
    field(meta, "config", dict, path, fix)
    field(meta, "shards", int, path, fix)
    field(meta, "count", int, path, fix)
    field(meta, "complete", bool, path, fix)
    return meta


def pairs_source(directory: str | Path) -> dict:
    """The source classifier and attack the pairs were crafted with (from ``meta.json``)."""
    return read_pairs_meta(directory)["config"]
