"""Argument types shared by the subcommands."""

from __future__ import annotations

import argparse

from irad.utils.spec import parse_value


def fraction(text: str) -> float:
    """``8/255`` or ``0.03`` -> float (for --eps)."""
    v = parse_value(text)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise argparse.ArgumentTypeError(f"expected a number or fraction like 8/255, got {text!r}")
    return float(v)


def positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return v


def add_data_args(p: argparse.ArgumentParser, n_default: int | None = 500) -> None:
    p.add_argument("--dataset", default="cifar10",
                   help="cifar10, cifar100, imagenet, folder, or foolbox-cifar10/foolbox-cifar100/foolbox-imagenet "
                        "(the 20 samples shipped in the foolbox wheel)")
    p.add_argument("--data-root", default=None, help="data directory (default: $IRAD_DATA, else ~/.cache/irad/data)")
    p.add_argument("--split", default="test", choices=["train", "test", "val"])
    p.add_argument("--n", "--num-images", dest="n", type=positive_int, default=n_default,
                   help="stratified subset size: the first n/C images of each class (default: %(default)s); "
                        "under torchrun spell it --num-images (torchrun's own parser claims --n)")
    p.add_argument("--offset", type=int, default=0,
                   help="leave out the images --n OFFSET would take: a validation slice disjoint from them")


def add_classifier_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--classifier", default="resnet20", help="classifier name (`irad list classifiers`)")
    p.add_argument("--weights", default="irad-cifar10",
                   help="checkpoint path or weights tag; 'none' for random init (default: %(default)s)")


def weights_arg(value: str | None) -> str | None:
    return None if value in (None, "", "none") else value
