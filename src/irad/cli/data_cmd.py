"""``irad data fetch``: download a dataset through torchvision (needs internet)."""

from __future__ import annotations

import argparse

from irad.data import load_dataset, resolve_data_root


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="download datasets")
    dsub = p.add_subparsers(dest="data_command", required=True)
    f = dsub.add_parser("fetch", help="download CIFAR-10 or CIFAR-100 through torchvision")
    f.add_argument("name", choices=["cifar10", "cifar100"])
    f.add_argument("--data-root", default=None)
    f.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    root = resolve_data_root(args.data_root)
    for split in ("train", "test"):
        ds = load_dataset(args.name, root, split, download=True)
        print(f"{args.name} {split}: {len(ds)} images under {root / args.name}")
    return 0
