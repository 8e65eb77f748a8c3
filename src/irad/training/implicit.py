"""``irad train implicit``: the implicit representation (encoder + decoder) learns one task of Table 7 with L1."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from irad.errors import IradError
from irad.models.implicit import ImplicitConfig, ImplicitResampler
from irad.training.loop import fit
from irad.training.pairs import load_pairs
from irad.training.state import config_dict
from irad.defenses.implicit import resolve_weights
from irad.training.tasks import TASKS, degrade, dihedral, random_crops
from irad.training.validation import load_validation, purifier_metrics
from irad.utils.precision import autocast
from irad.utils.validation import check_choice


@dataclass
class ImplicitTrainConfig:
    pairs: str = ""
    task: str = "pgd"
    n_resblocks: int = 16
    n_feats: int = 64
    hidden: list[int] = field(default_factory=lambda: [256, 256, 256, 256])
    epochs: int = 40
    batch_size: int = 128
    lr: float = 1e-4
    betas: tuple[float, float] = (0.0, 0.9)
    limit: int | None = None  # use the first N pairs
    seed: int = 0
    precision: str = "fp32"  # bf16: autocast (AVX-512 BF16 CPUs, GPUs)
    channels_last: bool = False
    schedule: str = "constant"  # or cosine (to 0 over all epochs)
    val_pairs: str | None = None  # validation pairs: per-epoch L1 and the source classifier's SA / RA; keeps best/
    keep_epochs: bool = False  # also write every epoch's weights (float16) to epochs/ for learning curves
    init: str | None = None  # start from these weights (a directory written by save, same architecture, or a
    # built-in name: builtin/cifar10, imagenet) with a fresh optimizer and schedule: a warm restart or a fine-tune
    crop: int | None = None  # train on random crop x crop patches of the pairs (LIIF-style), not whole images
    crops_per_image: int = 1  # patches per pair per epoch (with crop)
    patience: int | None = None  # with val_pairs: stop once validation (SA + RA) / 2 has not improved for this many epochs


PRESETS: dict[str, dict] = {
    "cpu": dict(n_resblocks=4, n_feats=32, hidden=[128, 128], epochs=10, batch_size=32, lr=5e-4),
    # all 50,000 pairs of `irad make-pairs --preset cpu-long`, bf16, cosine; the built-in weights
    "cpu-long": dict(n_resblocks=6, n_feats=48, hidden=[192, 192, 192], epochs=20, batch_size=32, lr=5e-4,
                     precision="bf16", channels_last=True, schedule="cosine", keep_epochs=True),
    # the built-in fine-tuned on pairs that span the budget (`irad make-pairs --preset cpu-budgets`, 150,000 pairs),
    # kept by the worst budget's validation (SA + RA) / 2 (`--preset cpu-budgets-val` pairs), early stop
    "cpu-budgets": dict(n_resblocks=6, n_feats=48, hidden=[192, 192, 192], epochs=3, batch_size=32, lr=2e-4,
                        precision="bf16", channels_last=True, schedule="cosine", keep_epochs=True, init="builtin",
                        patience=2),
    "paper": dict(n_resblocks=16, n_feats=64, hidden=[256, 256, 256, 256], epochs=40, batch_size=128, lr=1e-4),
    # ImageNet (`irad make-pairs --preset imagenet`): the CIFAR-10 built-in fine-tuned on 48 px random crops of
    # the 800 training pairs at 224 px, 8 crops per pair per epoch, bf16; the built-in ImageNet weights
    "imagenet": dict(n_resblocks=6, n_feats=48, hidden=[192, 192, 192], epochs=16, batch_size=32, lr=2e-4,
                     precision="bf16", channels_last=True, schedule="cosine", init="builtin", crop=48,
                     crops_per_image=8),
}


def train_implicit(cfg: ImplicitTrainConfig, out: str | Path, device: str = "cpu", progress: bool = True) -> dict:
    """Train and write ``out/model.safetensors`` + ``config.json`` (no SampleNet yet); resumable. With
    ``val_pairs``, ``out/best/`` holds the epoch with the highest validation (SA + RA) / 2."""
    check_choice("task", cfg.task, TASKS)
    out = Path(out)
    pairs = load_pairs(cfg.pairs)
    clean, adv = pairs["clean"], pairs["adv"]
    if cfg.limit:
        clean, adv = clean[:cfg.limit], adv[:cfg.limit]
    torch.manual_seed(cfg.seed)
    model = ImplicitResampler(ImplicitConfig(cfg.n_resblocks, cfg.n_feats, list(cfg.hidden), None))
    if cfg.init:
        start = ImplicitResampler.load(resolve_weights(cfg.init, "implicit"))
        if start.cfg != model.cfg:
            raise IradError(f"--init {cfg.init} holds a {start.cfg} model; this run builds {model.cfg}")
        model.load_state_dict(start.state_dict())
    model.to(device)
    memory = torch.channels_last if cfg.channels_last else torch.contiguous_format
    model.to(memory_format=memory)

    size = len(clean) * (cfg.crops_per_image if cfg.crop else 1)

    def step(idx: torch.Tensor, gen: torch.Generator):
        idx = idx % len(clean)
        if cfg.crop:
            c, a = random_crops(cfg.crop, clean[idx], adv[idx], generator=gen)
        else:
            c, a = clean[idx], adv[idx]
        c = c.to(device).float() / 255
        a = a.to(device).float() / 255
        c, a = dihedral(c, a, generator=gen)
        inp = degrade(cfg.task, c, a, generator=gen if device == "cpu" else None).contiguous(memory_format=memory)
        with autocast(device, cfg.precision):
            pred = model.render(model.features(inp), size=c.shape[-2:])
        return F.l1_loss(pred.float(), c), {}

    validate = select = None
    if cfg.val_pairs:
        val, judge, combos = load_validation(cfg.val_pairs, device)
        select = "val_worst"  # (SA + RA) / 2 of the hardest attack x eps of the validation pairs

        def validate() -> dict[str, float]:
            return purifier_metrics(lambda x: model(x.contiguous(memory_format=memory)), val, judge,
                                    device=device, precision=cfg.precision, combos=combos)

    def snapshot(epoch: int) -> None:
        model.save(out / "epochs" / f"epoch-{epoch:03d}", dtype=torch.float16)

    history = fit(model, list(model.parameters()), step, size, config_dict(cfg), out, epochs=cfg.epochs,
                  batch_size=cfg.batch_size, lr=cfg.lr, betas=tuple(cfg.betas), seed=cfg.seed,
                  save=lambda: model.save(out), progress=progress, schedule=cfg.schedule, validate=validate,
                  select=select, save_best=lambda: model.save(out / "best"),
                  snapshot=snapshot if cfg.keep_epochs else None, patience=cfg.patience)
    return {"epochs": len(history), "loss": history[-1]["loss"] if history else None, "out": str(out)}
