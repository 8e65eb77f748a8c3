"""``irad train samplenet``: SampleNet learns per-pixel shifts with the frozen source classifier's cross-entropy on
resampled clean and adversarial images; the encoder and decoder stay frozen (IRAD Sec. 4.3, App. A.1)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from irad.errors import IradError
from irad.models import create_classifier
from irad.models.implicit import ImplicitConfig, ImplicitResampler
from irad.training.loop import fit
from irad.training.state import config_dict
from irad.training.pairs import load_pairs, pairs_source
from irad.training.tasks import dihedral


@dataclass
class SampleNetTrainConfig:
    pairs: str = ""
    implicit: str = ""  # directory of a trained implicit representation
    hidden: list[int] = field(default_factory=lambda: [256, 256, 256, 256])
    epochs: int = 20
    batch_size: int = 400
    lr: float = 2e-4
    betas: tuple[float, float] = (0.0, 0.9)
    limit: int | None = None
    seed: int = 0


PRESETS: dict[str, dict] = {
    "cpu": dict(hidden=[64, 64], epochs=5, batch_size=64, lr=5e-4),
    "paper": dict(hidden=[256, 256, 256, 256], epochs=20, batch_size=400, lr=2e-4),
}


def with_samplenet(base: ImplicitResampler, hidden: list[int]) -> ImplicitResampler:
    """A copy of ``base`` with a fresh SampleNet whose last layer is zero: it starts as the DISCO-style query."""
    cfg = ImplicitConfig(base.cfg.n_resblocks, base.cfg.n_feats, list(base.cfg.hidden), list(hidden))
    model = ImplicitResampler(cfg)
    model.encoder.load_state_dict(base.encoder.state_dict())
    model.decoder.load_state_dict(base.decoder.state_dict())
    last = model.samplenet.layers[-1]
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)
    return model


def train_samplenet(cfg: SampleNetTrainConfig, out: str | Path, device: str = "cpu", progress: bool = True) -> dict:
    out = Path(out)
    pairs = load_pairs(cfg.pairs)
    source = pairs_source(cfg.pairs)
    if not source.get("weights"):
        raise IradError(f"{cfg.pairs} was crafted on a randomly initialised classifier; SampleNet needs a trained one")
    classifier = create_classifier(source["classifier"], source["weights"]).to(device).eval()
    for p in classifier.parameters():
        p.requires_grad_(False)
    clean, adv, labels = pairs["clean"], pairs["adv"], pairs["labels"]
    if cfg.limit:
        clean, adv, labels = clean[:cfg.limit], adv[:cfg.limit], labels[:cfg.limit]
    torch.manual_seed(cfg.seed)
    model = with_samplenet(ImplicitResampler.load(cfg.implicit), cfg.hidden).to(device)
    for p in list(model.encoder.parameters()) + list(model.decoder.parameters()):
        p.requires_grad_(False)

    def step(idx: torch.Tensor, gen: torch.Generator):
        c = clean[idx].to(device).float() / 255
        a = adv[idx].to(device).float() / 255
        c, a = dihedral(c, a, generator=gen, upright=True)  # the classifier is not rotation invariant
        x = torch.cat([c, a])
        y = labels[idx].to(device).repeat(2)
        with torch.no_grad():
            feat = model.features(x)
        offsets = model.samplenet_offsets(x, feat)
        logits = classifier(model.render(feat, offsets).clamp(0, 1))
        loss = F.cross_entropy(logits, y)
        n = len(idx)
        correct = (logits.argmax(1) == y).float()
        shift_px = offsets.detach().abs().mean().item() * x.shape[-1] / 2
        return loss, {"acc_clean": correct[:n].mean().item(), "acc_adv": correct[n:].mean().item(), "mean_shift_px": shift_px}

    history = fit(model, list(model.samplenet.parameters()), step, len(clean), config_dict(cfg), out,
                  epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, betas=tuple(cfg.betas), seed=cfg.seed,
                  save=lambda: model.save(out), progress=progress)
    return {"epochs": len(history), "last": history[-1] if history else None, "out": str(out)}
