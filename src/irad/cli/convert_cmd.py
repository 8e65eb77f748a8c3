"""``irad convert official``: the paper's released checkpoints -> irad's safetensors format."""

from __future__ import annotations

import argparse

from irad.models.implicit.official import load_official_model


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("convert", help="convert checkpoints to irad's safetensors format")
    csub = p.add_subparsers(dest="convert_command", required=True)
    o = csub.add_parser("official", help="the released IRAD weights (read with weights_only=True)")
    o.add_argument("--liif", required=True, help="implicit-representation checkpoint (Reconstruction.pt)")
    o.add_argument("--samplenet", default=None, help="SampleNet checkpoint (SampleNet.pt); optional")
    o.add_argument("-o", "--output", required=True, help="output directory (model.safetensors + config.json)")
    o.set_defaults(func=run, output_is_dir=True)


def run(args: argparse.Namespace) -> int:
    model = load_official_model(args.liif, args.samplenet)
    model.save(args.output)
    kind = "IRAD (implicit representation + SampleNet)" if args.samplenet else "implicit representation (DISCO-style)"
    print(f"wrote {kind} to {args.output}; use it as --defense irad:weights={args.output} or disco:weights={args.output}")
    return 0
