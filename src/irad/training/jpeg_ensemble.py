"""``irad train jpeg-ensemble``: the NN-favoured JPEG paper's model set. Starting from a classifier M, noisy training
(:data:`irad.training.classifier.NOISY_XI`) at each JPEG quality in turn, each model initialised from the previous
one (M -> M90 -> M80 -> ... -> M30); the members kept form the ``jpeg-ensemble`` defense.

Outputs in ``out_dir``: ``M{q}/`` per quality (a classifier run each: weights, metrics, resume state),
``ensemble.json`` (what ``jpeg-ensemble:weights=OUT`` loads) and ``quality_accuracy.json`` / ``.png`` (each
model's clean accuracy on test images compressed at each quality: the seed's Figure 6).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from irad.analysis.plots import plot_quality_accuracy
from irad.data import load_dataset, load_into_memory, stratified_subset
from irad.defenses.dct_jpeg import jpeg_quality
from irad.errors import IradError
from irad.models import create_classifier, input_geometry
from irad.training.classifier import ClassifierTrainConfig, train_classifier
from irad.training.jpeg_table import accuracy
from irad.training.state import config_dict
from irad.utils.checkpoint import atomic_write_json


@dataclass
class JpegEnsembleTrainConfig:
    classifier: str = "resnet20"
    weights: str = "irad-cifar10"  # M, the starting model (also a member)
    dataset: str = "cifar10"
    data_root: str | None = None
    qualities: list[int] = field(default_factory=lambda: [90, 80, 70, 60, 50, 40, 30])  # the fine-tuning chain
    members: list[int] = field(default_factory=lambda: [90, 70, 50, 30])  # kept for the ensemble, with M
    epochs: int = 14
    batch_size: int = 128
    lr: float = 0.005
    train_limit: int | None = None
    test_limit: int | None = 1000  # images for the accuracy-per-quality table
    seed: int = 0
    freeze_bn: bool = False  # BatchNorm statistics fixed while fine-tuning (few training images)


PRESETS: dict[str, dict] = {
    # ResNet-20 on 2 CPU cores: one epoch on 10,000 images per quality, four qualities (~1-2 min each).
    "cpu": dict(qualities=[90, 70, 50, 30], members=[90, 70, 50, 30], epochs=1, train_limit=10000),
    # The seed's schedule: 14 epochs at each of the seven qualities.
    "paper": dict(qualities=[90, 80, 70, 60, 50, 40, 30], members=[90, 70, 50, 30], epochs=14),
    # ImageNet: EfficientNet-Lite0 (the source, never a victim) fine-tuned on the 1,000 training-side images (random
    # 224 px crops of a 256 px canvas, flips), BatchNorm frozen, two epochs per quality; quality table on 200 val
    "imagenet": dict(classifier="efficientnet-lite0", weights="imagenet", dataset="imagenet",
                     qualities=[90, 70, 50, 30], members=[90, 70, 50, 30], epochs=2, batch_size=32, lr=0.001,
                     test_limit=200, freeze_bn=True),
}

EVAL_QUALITIES = (None, 90, 80, 70, 60, 50, 40, 30)  # None: uncompressed


def train_jpeg_ensemble(cfg: JpegEnsembleTrainConfig, out_dir: str | Path, device: str = "cpu",
                        progress: bool = True) -> dict:
    """Run (or resume) the chain; returns the members and the accuracy table."""
    missing = sorted(set(cfg.members) - set(cfg.qualities))
    if missing:
        raise IradError(f"members {missing} are not in the trained qualities {cfg.qualities}")
    out = Path(out_dir)
    previous, weights = cfg.weights, {}
    for q in cfg.qualities:
        run = ClassifierTrainConfig(arch=cfg.classifier, dataset=cfg.dataset, data_root=cfg.data_root,
                                    epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, seed=cfg.seed,
                                    train_limit=cfg.train_limit, test_limit=cfg.test_limit, init=previous,
                                    noisy_jpeg=q, freeze_bn=cfg.freeze_bn)
        train_classifier(run, out / f"M{q}", device, progress)
        previous = weights[q] = str((out / f"M{q}" / "model.safetensors").resolve())
    m_weights = str(Path(cfg.weights).resolve()) if Path(cfg.weights).exists() else cfg.weights  # a path or a tag
    members = [{"quality": None, "weights": m_weights}]
    members += [{"quality": q, "weights": f"M{q}/model.safetensors"} for q in cfg.members]
    atomic_write_json(out / "ensemble.json", {"classifier": cfg.classifier, "members": members,
                                              "training": config_dict(cfg)})
    test = stratified_subset(load_dataset(cfg.dataset, cfg.data_root, "test", **input_geometry(cfg.classifier)),
                             cfg.test_limit)
    x, y = load_into_memory(test, progress, "decoding test set")
    x = x.float().div_(255)
    compressed = {q: x if q is None else jpeg_quality(x, q) for q in EVAL_QUALITIES}
    table = {}
    for name, w in [("M", cfg.weights), *[(f"M{q}", weights[q]) for q in cfg.qualities]]:
        model = create_classifier(cfg.classifier, w).to(device).eval()
        table[name] = {str(q or "none"): accuracy(model, xq, y) for q, xq in compressed.items()}
    result = {"n": len(x), "accuracy": table}
    atomic_write_json(out / "quality_accuracy.json", result)
    plot_quality_accuracy(result, out / "quality_accuracy.png")
    return {"members": members, "accuracy": table}
