"""``irad train implicit``: the implicit representation (encoder + decoder) learns one task of Table 7 with L1."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from irad.models.implicit import ImplicitConfig, ImplicitResampler
from irad.training.loop import fit
from irad.training.state import config_dict
from irad.training.pairs import load_pairs
from irad.training.tasks import TASKS, degrade, dihedral


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


PRESETS: dict[str, dict] = {
    "cpu": dict(n_resblocks=4, n_feats=32, hidden=[128, 128], epochs=10, batch_size=32, lr=5e-4),
    "paper": dict(n_resblocks=16, n_feats=64, hidden=[256, 256, 256, 256], epochs=40, batch_size=128, lr=1e-4),
}


def train_implicit(cfg: ImplicitTrainConfig, out: str | Path, device: str = "cpu", progress: bool = True) -> dict:
    """Train and write ``out/model.safetensors`` + ``config.json`` (no SampleNet yet); resumable."""
    if cfg.task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}")
    out = Path(out)
    pairs = load_pairs(cfg.pairs)
    clean, adv = pairs["clean"], pairs["adv"]
    if cfg.limit:
        clean, adv = clean[:cfg.limit], adv[:cfg.limit]
    torch.manual_seed(cfg.seed)
    model = ImplicitResampler(ImplicitConfig(cfg.n_resblocks, cfg.n_feats, list(cfg.hidden), None)).to(device)

    def step(idx: torch.Tensor, gen: torch.Generator):
        c = clean[idx].to(device).float() / 255
        a = adv[idx].to(device).float() / 255
        c, a = dihedral(c, a, generator=gen)
        inp = degrade(cfg.task, c, a, generator=gen if device == "cpu" else None)
        pred = model.render(model.features(inp), size=c.shape[-2:])
        return F.l1_loss(pred, c), {}

    history = fit(model, list(model.parameters()), step, len(clean), config_dict(cfg), out, epochs=cfg.epochs,
                  batch_size=cfg.batch_size, lr=cfg.lr, betas=tuple(cfg.betas), seed=cfg.seed,
                  save=lambda: model.save(out), progress=progress)
    return {"epochs": len(history), "loss": history[-1]["loss"] if history else None, "out": str(out)}
