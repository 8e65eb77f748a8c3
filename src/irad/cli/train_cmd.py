"""``irad train classifier``: supervised training with cpu/gpu presets, resumable."""

from __future__ import annotations

import argparse
from dataclasses import fields

from irad.cli.common import positive_int
from irad.training.classifier import PRESETS, ClassifierTrainConfig, train_classifier


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train models")
    tsub = p.add_subparsers(dest="train_command", required=True)
    c = tsub.add_parser("classifier", help="train a classifier (resumes from OUT/last.pt)",
                        description="Train a classifier. Presets: " + "; ".join(f"{k}: {v}" for k, v in PRESETS.items()))
    c.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    c.add_argument("--arch", default=None, help="classifier name (overrides the preset)")
    c.add_argument("--dataset", default="cifar10")
    c.add_argument("--data-root", default=None)
    c.add_argument("--epochs", type=positive_int, default=None)
    c.add_argument("--batch-size", type=positive_int, default=None)
    c.add_argument("--lr", type=float, default=None)
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--train-limit", type=positive_int, default=None, help="stratified subset of the training set")
    c.add_argument("--test-limit", type=positive_int, default=None, help="stratified subset of the test set")
    c.add_argument("--device", default="cpu")
    c.add_argument("--out", required=True, help="output directory (model.safetensors, metrics.json, last.pt)")
    c.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    values = dict(PRESETS[args.preset])
    for f in fields(ClassifierTrainConfig):
        v = getattr(args, f.name, None)
        if v is not None:
            values[f.name] = v
    result = train_classifier(ClassifierTrainConfig(**values), args.out, device=args.device)
    print(f"trained {values.get('arch')}: test accuracy {result['test_acc']:.2f}% after {result['epochs']} epochs -> {args.out}")
    return 0
