"""Supervised classifier training with in-memory data, one-cycle SGD, per-epoch resumable checkpoints.

Outputs in ``out_dir``: ``model.safetensors`` (backbone weights, the format ``create_classifier`` loads),
``config.json``, ``metrics.json`` (per-epoch loss and test accuracy) and ``last.pt`` (resume state,
read back with ``weights_only=True``).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from irad.attacks import create_attack
from irad.data import NUM_CLASSES, load_dataset, load_into_memory, stratified_subset
from irad.defenses.dct_jpeg import jpeg_quality
from irad.models import classifier_info, create_classifier, input_geometry
from irad.training.augment import random_crop_flip
from irad.training.state import load_state, save_state
from irad.utils import distributed as D
from irad.utils.checkpoint import atomic_write_json, save_safetensors


@dataclass
class ClassifierTrainConfig:
    arch: str = "resnet20"
    dataset: str = "cifar10"
    data_root: str | None = None
    epochs: int = 30
    batch_size: int = 128
    lr: float = 0.2
    momentum: float = 0.9
    weight_decay: float = 5e-4
    seed: int = 0
    train_limit: int | None = None  # a stratified subset of N training images (smoke tests)
    test_limit: int | None = None
    init: str | None = None  # start from these weights (fine-tuning)
    adversarial: str | None = None  # attack spec (e.g. "pgd:steps=3"): train on its examples (Madry et al. 2018)
    adversarial_eps: float | None = None  # its Linf budget (default 8/255)
    noisy_jpeg: int | None = None  # JPEG quality q: noisy training, loss 0.9 J(x) + 0.1 J(jpeg_q(x) + noise)
    freeze_bn: bool = False  # keep BatchNorm statistics fixed (fine-tuning on few images, e.g. ImageNet's 1,000)


NOISY_XI = 0.9  # weight of the clean loss in noisy training (the seed's xi)
NOISY_STD = 8 / 255  # std of the Gaussian noise added to the compressed image (the seed gives no value)

PRESETS: dict[str, dict] = {
    # ResNet-20 on 2 CPU cores: about 2.5 min per epoch; 88.4% on CIFAR-10 (JPEG-75) test (the built-in weights).
    "cpu": dict(arch="resnet20", epochs=60, batch_size=128, lr=0.2),
    # The standard 200-epoch recipe for larger models on a GPU.
    "gpu": dict(arch="wrn28-10", epochs=200, batch_size=128, lr=0.1),
    # PGD adversarial fine-tuning of the built-in ResNet-20: 3 steps of 6/255 (about 2.5 eps / steps), 3 epochs on
    # 20,000 images (~4x the cost of clean epochs: ~12 min on 2 CPU cores).
    "cpu-adversarial": dict(arch="resnet20", init="irad-cifar10", epochs=3, lr=0.05, train_limit=20000,
                            adversarial="pgd:steps=3,alpha=6/255"),
    # A short PGD fine-tune of EfficientNet-Lite0 on the 1,000 ImageNet training-side images (224 px crops, BatchNorm
    # statistics frozen), for the aliasing study's robust / standard pair; monitored on the first 200 val images.
    # At 1/255: the same two epochs at 4/255 left it at 0.8% PGD-10 robust accuracy on val (1 of 128 images).
    "imagenet-adversarial": dict(arch="efficientnet-lite0", dataset="imagenet", init="imagenet", epochs=2,
                                 batch_size=32, lr=0.001, weight_decay=1e-5, freeze_bn=True, test_limit=200,
                                 adversarial="pgd:steps=3,alpha=0.5/255", adversarial_eps=1 / 255),
    # Madry et al.: PGD-10 (step 2/255) adversarial training from scratch.
    "gpu-adversarial": dict(arch="wrn28-10", epochs=100, batch_size=128, lr=0.1, adversarial="pgd:steps=10"),
}


def _freeze_batchnorm(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()


def _evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, device: str, batch: int = 500) -> float:
    model.eval()
    correct = 0
    with torch.inference_mode():
        for i in range(0, len(x), batch):
            xb = x[i:i + batch].to(device).float().div_(255).contiguous(memory_format=torch.channels_last)
            correct += (model(xb).argmax(1).cpu() == y[i:i + batch]).sum().item()
    return 100.0 * correct / len(x)


def train_classifier(cfg: ClassifierTrainConfig, out_dir: str | Path, device: str = "cpu", progress: bool = True) -> dict:
    """Train ``cfg.arch`` on ``cfg.dataset``; resumes from ``out_dir/last.pt`` if present. Returns final metrics."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    D.init_from_env(device)
    device = D.local_device(device)
    torch.manual_seed(cfg.seed)
    size = classifier_info(cfg.arch).input_size
    if cfg.dataset == "imagenet":  # train on random crops of a canvas 1 / crop_pct larger; test as evaluated
        canvas = round(size / classifier_info(cfg.arch).crop_pct)
        train = load_dataset(cfg.dataset, cfg.data_root, "train", image_size=canvas, crop_pct=1.0)
        test = load_dataset(cfg.dataset, cfg.data_root, "val", **input_geometry(cfg.arch))
        crop = dict(pad=0, size=size)
    else:
        train = load_dataset(cfg.dataset, cfg.data_root, "train")
        test = load_dataset(cfg.dataset, cfg.data_root, "test")
        crop = {}
    num_classes = NUM_CLASSES.get(cfg.dataset, len(getattr(train, "classes", [])))
    train, test = stratified_subset(train, cfg.train_limit), stratified_subset(test, cfg.test_limit)
    xtr, ytr = load_into_memory(train, progress and D.is_main(), "decoding train set")
    xte, yte = load_into_memory(test, progress and D.is_main(), "decoding test set")

    classifier = create_classifier(cfg.arch, cfg.init, num_classes=num_classes)
    classifier = classifier.to(device).to(memory_format=torch.channels_last)
    model: nn.Module = classifier
    if D.is_distributed():
        model = nn.parallel.DistributedDataParallel(classifier)
    attack = create_attack(cfg.adversarial, classifier, "Linf", cfg.adversarial_eps or 8 / 255) if cfg.adversarial else None
    per_rank = math.ceil(len(xtr) / D.world_size())
    steps = math.ceil(per_rank / cfg.batch_size)
    decay, no_decay = [], []
    for name, p in classifier.named_parameters():
        (no_decay if p.dim() == 1 else decay).append(p)
    opt = torch.optim.SGD([{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
                          lr=cfg.lr, momentum=cfg.momentum, nesterov=True)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.epochs * steps, pct_start=0.25)
    gen = torch.Generator().manual_seed(cfg.seed + D.rank())
    history: list[dict] = []
    start_epoch = 0
    last = out / "last.pt"
    state = load_state(last, asdict(cfg))
    if state is not None:
        classifier.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        gen.set_state(state["generator"])
        history, start_epoch = json.loads(state["history"]), state["epoch"]
    if D.is_main():
        atomic_write_json(out / "config.json", asdict(cfg))

    for epoch in range(start_epoch, cfg.epochs):
        model.train()
        perm = torch.randperm(len(xtr), generator=gen)[D.rank()::D.world_size()]
        t0, total, seen = time.time(), 0.0, 0
        bar = tqdm(range(steps), desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=not (progress and D.is_main()), leave=False)
        for s in bar:
            idx = perm[s * cfg.batch_size:(s + 1) * cfg.batch_size]
            if cfg.freeze_bn:
                _freeze_batchnorm(classifier)
            xb = random_crop_flip(xtr[idx], generator=gen, **crop).to(device).float().div_(255)
            xb = xb.contiguous(memory_format=torch.channels_last)
            yb = ytr[idx].to(device)
            if attack is not None:  # the attack's examples against the current weights replace the clean batch
                classifier.eval()
                xb = attack(xb, yb)
                model.train()
            loss = F.cross_entropy(model(xb), yb)
            if cfg.noisy_jpeg:  # the NN-favoured JPEG paper's Eq. 9
                noise = torch.randn(xb.shape, generator=gen).to(device) * NOISY_STD
                xq = (jpeg_quality(xb, cfg.noisy_jpeg) + noise).clamp(0, 1)
                loss = NOISY_XI * loss + (1 - NOISY_XI) * F.cross_entropy(model(xq), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
            seen += len(idx)
            bar.set_postfix(loss=f"{total / seen:.3f}")
        acc = _evaluate(classifier, xte, yte, device)
        history.append({"epoch": epoch + 1, "train_loss": total / seen, "test_acc": acc, "seconds": time.time() - t0})
        if D.is_main():
            print(f"epoch {epoch + 1}/{cfg.epochs}: loss {total / seen:.4f}, test acc {acc:.2f}%, {time.time() - t0:.0f}s", flush=True)
            save_state(last, {"config": asdict(cfg), "model": classifier.state_dict(), "optimizer": opt.state_dict(),
                              "scheduler": sched.state_dict(), "generator": gen.get_state(), "epoch": epoch + 1,
                              "history": json.dumps(history)})
            atomic_write_json(out / "metrics.json", {"history": history, "test_acc": acc, "test_images": len(xte)})
        D.barrier()
    final = history[-1] if history else {}
    if D.is_main():
        save_safetensors(out / "model.safetensors", classifier.net.state_dict(),
                         metadata={"arch": cfg.arch, "dataset": cfg.dataset, "test_acc": f"{final.get('test_acc', float('nan')):.2f}",
                                   "adversarial": cfg.adversarial or "none"})
    return {"test_acc": final.get("test_acc"), "epochs": len(history), "out": str(out)}
