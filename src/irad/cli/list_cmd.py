"""``irad list``: what the registries hold."""

from __future__ import annotations

import argparse
import inspect

from irad.attacks import list_attacks
from irad.defenses import create_defense, list_defenses
from irad.errors import IradError
from irad.models import list_classifiers


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list", help="list defenses, attacks or classifiers")
    p.add_argument("what", choices=["defenses", "attacks", "classifiers"])
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.what == "defenses":
        for info in list_defenses():
            try:
                d = create_defense(info.name)
                flags = f"differentiable={d.differentiable!s:5s} randomized={d.randomized!s:5s}"
            except IradError:
                flags = f"{'(needs weights=...)':38s}"
            params = ", ".join(f"{k}={v!r}" if v is not inspect.Parameter.empty else k for k, v in info.parameters().items())
            print(f"{info.name:16s} {flags}  {info.summary}")
            if params:
                print(f"{'':16s} parameters: {params}")
        print("\nSpecs chain with A+B; ens-N(SPEC) predicts by majority vote over N runs of a randomized SPEC.")
    elif args.what == "attacks":
        for a in list_attacks():
            params = ", ".join(f"{k}={v!r}" for k, v in a.defaults.items())
            print(f"{a.name:12s} norms={'/'.join(a.norms):8s} {a.summary}" + (f"\n{'':12s} parameters: {params}" if params else ""))
    else:
        for c in list_classifiers():
            tags = ", ".join(c.weights) or "-"
            print(f"{c.name:10s} classes={c.num_classes:<5d} input={c.input_size:<4d} weights tags: {tags:24s} {c.description}")
    return 0
