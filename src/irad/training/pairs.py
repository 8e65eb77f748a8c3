"""Adversarial/clean training pairs: crafted once on a source classifier, stored as uint8 safetensors shards.

A run crafts ``variants`` adversarial versions of every image, each from one *combination* of an attack of
``attack`` and a budget of ``eps`` (their cartesian product; the attack ``none`` gives a clean -> clean pair, once).
With ``variants`` equal to the number of combinations every image gets each one; with fewer, each image draws a
seeded random subset, so combinations spread evenly over classes. ``augment`` (``flip``, ``crop``, ``rescale``)
transforms the clean image before it is attacked, so each pair stays aligned and each variant is a new example.

Layout of ``out``: ``meta.json`` (the configuration, the combinations, counts, the source's error rate per
combination) and ``shard-00000.safetensors``, ... each holding, per pair, ``clean`` and ``adv`` ``(n, 3, H, W)``
uint8, ``labels`` and dataset ``indices`` int64, ``eps`` float32 and ``combo`` int64 (its index in
``meta["combos"]``). A shard holds ``shard_size`` images' pairs and is written atomically; an interrupted run resumes
at the first missing shard. Storing uint8 rounds each adversarial value to the nearest 1/255 (at most 0.5/255 beyond
the eps-ball; augmented clean images are put on the 1/255 grid before they are attacked), as image-file pair
datasets do.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import asdict, dataclass, field as dc_field, fields
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch.utils.data import DataLoader, Subset
from tqdm.auto import tqdm

from irad.attacks import check_budget, create_attack
from irad.data import load_dataset, stratified_subset
from irad.data.datasets import same_settings
from irad.errors import IradError
from irad.models import create_classifier, input_geometry
from irad.utils.checkpoint import atomic_write_json, save_safetensors
from irad.utils.files import field, read_json
from irad.utils.precision import FastForward
from irad.utils.validation import check_choice

AUGMENTS = ("flip", "crop", "rescale")
MAX_ZOOM = 1.25  # rescale: a random zoom in [1, MAX_ZOOM] (then a window of the original size)


@dataclass
class PairsConfig:
    dataset: str = "cifar10"
    data_root: str | None = None
    split: str = "train"
    n: int | None = None  # stratified subset; None = the whole split
    offset: int = 0  # leave out the images n=offset would take (validation pairs disjoint from an evaluation set)
    classifier: str = "resnet20"
    weights: str | None = "irad-cifar10"
    # the paper's pairs: PGD, eps 8/255, step 2/255, 100 steps; several attacks and budgets: every combination
    attack: list[str] = dc_field(default_factory=lambda: ["pgd:steps=100,alpha=2/255"])
    norm: str = "Linf"
    eps: list[float] = dc_field(default_factory=lambda: [8 / 255])
    variants: int = 1  # adversarial versions per image (each one combination of attack and eps)
    augment: list[str] = dc_field(default_factory=list)  # aligned augmentation before the attack: flip crop rescale
    shard_size: int = 1000  # images per shard
    batch_size: int = 250
    seed: int = 0
    precision: str = "fp32"  # bf16: the attack's forward/backward under bf16 autocast, channels_last (2.3x on 2 CPU cores)

    def __post_init__(self) -> None:
        if isinstance(self.attack, str):
            self.attack = [self.attack]
        if isinstance(self.eps, (int, float)):
            self.eps = [float(self.eps)]
        self.eps = [float(e) for e in self.eps]
        if not self.attack or not self.eps:
            raise IradError("make-pairs needs at least one --attack and one --eps")
        for e in self.eps:
            if not (math.isfinite(e) and 0 < e <= 1):
                raise IradError(f"--eps must be in (0, 1], got {e}")
        if self.variants < 1:
            raise IradError(f"--variants must be at least 1, got {self.variants}")
        for a in self.augment:
            check_choice("augment", a, AUGMENTS)
        if self.variants > len(self.combos()):
            raise IradError(f"--variants {self.variants} exceeds the {len(self.combos())} attack x eps combinations")

    def combos(self) -> list[dict]:
        """Every (attack, eps) combination, in order; the attack ``none`` (a clean pair) appears once, with eps 0."""
        out = [{"attack": a, "eps": 0.0} if a == "none" else {"attack": a, "eps": e}
               for a, e in itertools.product(self.attack, self.eps)]
        return [c for i, c in enumerate(out) if c not in out[:i]]

    @classmethod
    def from_dict(cls, d: dict) -> PairsConfig:
        """A recorded configuration, including those from before lists of attacks and budgets (one of each)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


PRESETS: dict[str, dict] = {
    "cpu": dict(n=5000, attack="pgd:steps=20,alpha=2/255"),
    # all 50,000 training images, PGD-20 under bf16 autocast: about 10 min on 2 CPU cores
    "cpu-long": dict(n=None, attack="pgd:steps=20,alpha=2/255", precision="bf16"),
    # validation pairs: 100 test images per class after the first 100 (disjoint from `--n 1000` evaluations)
    "cpu-long-val": dict(split="test", n=1000, offset=1000, attack="pgd:steps=20,alpha=2/255", precision="bf16"),
    # pairs that span the budget: PGD-10 (random start, step eps/4) and APGD-DLR-10 (each image's highest-loss
    # point) at 1, 2, 4 and 8 /255, plus a clean pair: 3 of these 9 per training image (150,000 pairs); validation:
    # all 8 attacks on test images 101-150 of each class (4,000 pairs, disjoint from `--n 1000` evaluations)
    "cpu-budgets": dict(n=None, attack=["pgd:steps=10", "apgd:loss=dlr,steps=10,best_loss=true", "none"],
                        eps=[1 / 255, 2 / 255, 4 / 255, 8 / 255], variants=3, precision="bf16"),
    "cpu-budgets-val": dict(split="test", n=500, offset=1000, attack=["pgd:steps=10", "apgd:loss=dlr,steps=10,best_loss=true"],
                            eps=[1 / 255, 2 / 255, 4 / 255, 8 / 255], variants=8, precision="bf16"),
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


def aligned_view(x: torch.Tensor, augment: list[str], generator: torch.Generator) -> torch.Tensor:
    """One random view per image of ``x`` ``(N, 3, H, W)`` in [0, 1], same shape, on the 1/255 grid: ``rescale``
    zooms by U(1, 1.25) (bicubic, antialiased), ``crop`` takes a random H x W window (of the zoomed image, else of
    the image reflection-padded by H/8), otherwise the centre; ``flip`` mirrors with p=0.5."""
    n, _, h, w = x.shape
    out = []
    for img in x:
        v = img.unsqueeze(0)
        if "rescale" in augment:
            s = 1 + (MAX_ZOOM - 1) * torch.rand(1, generator=generator).item()
            v = F.interpolate(v, size=(round(h * s), round(w * s)), mode="bicubic", antialias=True,
                              align_corners=False).clamp(0, 1)
        elif "crop" in augment:
            v = F.pad(v, (w // 8, w // 8, h // 8, h // 8), mode="reflect")
        H, W = v.shape[-2:]
        if "crop" in augment:
            top = torch.randint(0, H - h + 1, (1,), generator=generator).item()
            left = torch.randint(0, W - w + 1, (1,), generator=generator).item()
        else:
            top, left = (H - h) // 2, (W - w) // 2
        v = v[..., top:top + h, left:left + w]
        if "flip" in augment and torch.rand(1, generator=generator).item() < 0.5:
            v = v.flip(-1)
        out.append(v)
    return torch.cat(out).mul(255).round().div(255)


def variant_combos(cfg: PairsConfig, image_positions: range) -> list[list[int]]:
    """For each image (its position in the subset), the combinations its ``variants`` pairs use: all of them in
    order, or a subset drawn with a generator seeded by the image's position (the same on every resume)."""
    count = len(cfg.combos())
    if cfg.variants == count:
        return [list(range(count)) for _ in image_positions]
    return [sorted(torch.randperm(count, generator=torch.Generator().manual_seed(cfg.seed * 1_000_003 + i))
                   [:cfg.variants].tolist()) for i in image_positions]


def make_pairs(cfg: PairsConfig, out: str | Path, device: str = "cpu", progress: bool = True) -> dict:
    """Craft (or finish crafting) the pairs of ``cfg`` into ``out``; returns the metadata."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    meta_path = out / "meta.json"
    config = asdict(cfg)
    if meta_path.exists():
        done = read_pairs_meta(out)
        if not same_settings(asdict(PairsConfig.from_dict(done["config"])), config):
            raise IradError(f"{out} holds pairs made with a different configuration; use another --out")
        shards_present = all((out / f"shard-{k:05d}.safetensors").exists() for k in range(done.get("shards", 0)))
        if done.get("complete") and shards_present:
            return done  # nothing left to craft; keep the record of the run that made them
    images = load_dataset(cfg.dataset, cfg.data_root, cfg.split, **input_geometry(cfg.classifier))
    data = stratified_subset(images, cfg.n, cfg.offset)
    model = create_classifier(cfg.classifier, cfg.weights).to(device).eval()
    attacked = FastForward(model, cfg.precision) if cfg.precision != "fp32" else model
    combos = cfg.combos()
    attacks = [None if c["attack"] == "none" else create_attack(c["attack"], attacked, cfg.norm, c["eps"])
               for c in combos]
    shards = [range(s, min(s + cfg.shard_size, len(data))) for s in range(0, len(data), cfg.shard_size)]
    meta = {"config": config, "combos": combos, "images": len(data), "count": len(data) * cfg.variants,
            "shards": len(shards), "complete": False}
    atomic_write_json(meta_path, meta)
    fooled = [0] * len(combos)
    total = [0] * len(combos)
    t0, c0 = time.time(), time.process_time()
    for k, span in enumerate(tqdm(shards, desc="crafting pairs", unit="shard", disable=not progress)):
        path = out / f"shard-{k:05d}.safetensors"
        if path.exists():
            continue
        torch.manual_seed(cfg.seed + k)
        gen = torch.Generator().manual_seed(cfg.seed + k)
        x, y = next(iter(DataLoader(Subset(data, list(span)), batch_size=len(span), shuffle=False)))
        plan = [(j, c) for j, cs in enumerate(variant_combos(cfg, span)) for c in cs]  # (image in shard, combo)
        order = torch.tensor([j for j, _ in plan])
        combo = torch.tensor([c for _, c in plan], dtype=torch.int64)
        clean = aligned_view(x[order], cfg.augment, gen) if cfg.augment else x[order]
        adv = clean.clone()
        labels = y[order].long()
        for c, attack in enumerate(attacks):
            rows = (combo == c).nonzero().flatten()
            if attack is None or not len(rows):
                continue  # a clean pair (adv = clean), or no image of this shard drew the combination
            for b in rows.split(cfg.batch_size):
                xb, yb = clean[b].to(device), labels[b].to(device)
                xa = attack(xb, yb)
                check_budget(xb, xa, cfg.norm, combos[c]["eps"], combos[c]["attack"])
                with torch.no_grad():
                    fooled[c] += (model(xa).argmax(1) != yb).sum().item()
                total[c] += len(b)
                adv[b] = xa.cpu()
        idx = torch.tensor([data.indices[span[j]] for j in order.tolist()], dtype=torch.int64)
        eps = torch.tensor([combos[c]["eps"] for c in combo.tolist()], dtype=torch.float32)
        save_safetensors(path, {"clean": _to_uint8(clean), "adv": _to_uint8(adv), "labels": labels, "indices": idx,
                                "eps": eps, "combo": combo})
    meta.update(complete=True, wall_seconds_this_run=round(time.time() - t0, 1),
                cpu_seconds_this_run=round(time.process_time() - c0, 1))
    if any(total):
        meta["source_error_rate_this_run"] = {f"{c['attack']} eps {c['eps']:.5f}": round(100.0 * f / t, 2)
                                              for c, f, t in zip(combos, fooled, total) if t}
    atomic_write_json(meta_path, meta)
    return meta


def load_pairs(directory: str | Path) -> dict[str, torch.Tensor]:
    """All shards of a finished pairs directory, concatenated: ``clean``, ``adv`` uint8, ``labels``, ``indices``,
    ``eps`` and ``combo`` (for pairs from before several budgets: the run's one budget, combination 0)."""
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
    out = {key: torch.cat([p[key] for p in parts]) for key in SHARD_KEYS}
    if all("combo" in p for p in parts):
        out.update({key: torch.cat([p[key] for p in parts]) for key in ("eps", "combo")})
    else:  # one attack at one budget
        out["eps"] = torch.full((len(out["labels"]),), pairs_combos(d)[0]["eps"], dtype=torch.float32)
        out["combo"] = torch.zeros(len(out["labels"]), dtype=torch.int64)
    return out


SHARD_KEYS = ("clean", "adv", "labels", "indices")


def pairs_combos(directory: str | Path) -> list[dict]:
    """The (attack, eps) combinations of a pairs directory, in the order of its ``combo`` index."""
    meta = read_pairs_meta(directory)
    try:
        return PairsConfig.from_dict(meta["config"]).combos()
    except (IradError, TypeError, ValueError):
        raise IradError(f"{Path(directory) / 'meta.json'}: its configuration is damaged; delete {directory} and "
                        "rerun `irad make-pairs`") from None


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
