"""``irad aliasing``: the aliasing metric of every downsampling layer of one model, or several compared."""

from __future__ import annotations

import argparse

import torch

from irad.analysis import aliasing
from irad.analysis.plots import plot_aliasing_vs_robustness
from irad.cli.common import (add_classifier_args, add_data_args, budget, check_threat_model, load_images, percent,
                             positive_int, weights_arg, write_outputs)
from irad.errors import IradError
from irad.models import load_classifier
from irad.utils.provenance import environment


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("aliasing", help="aliasing metric of a CNN's downsampling layers (Grabinski et al.)",
                       description="Aliasing metric (AM) of every strided convolution, strided pooling and "
                                   "subsampling shortcut, on real images.")
    add_data_args(p, n_default=256)
    add_classifier_args(p)
    p.add_argument("--compare", nargs="+", metavar="CLASSIFIER:WEIGHTS",
                   help="compare several models instead (e.g. resnet20:irad-cifar10 resnet20:runs/adv/model.safetensors)")
    p.add_argument("--ra", nargs="+", type=percent, metavar="PERCENT",
                   help="robust accuracy of each --compare model, in order, for the plot")
    p.add_argument("--measure-ra", action="store_true",
                   help="measure each model's robust accuracy with PGD-10 (Linf, --eps) on the same images")
    p.add_argument("--eps", type=budget, default=8 / 255, help="PGD budget for --measure-ra (default: 8/255)")
    p.add_argument("--plot", default=None, help="with --compare: robust accuracy vs AM per layer (PNG/PDF)")
    p.add_argument("--batch-size", type=positive_int, default=64)
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", default=None, help="results JSON")
    p.set_defaults(func=run)


def _robust_accuracy(model: torch.nn.Module, data, eps: float, batch_size: int) -> float:
    from irad.defenses import create_defense
    from irad.evaluation.runner import evaluate

    (row,) = evaluate(model, {"none": create_defense("none")}, ["pgd"], data, "oblivious", eps=eps,
                      batch_size=batch_size, progress=True)
    return row.ra


def _table(label: str, layers: list, ra: float | None) -> str:
    lines = [f"{label}" + (f"  (robust accuracy {ra:.2f}%)" if ra is not None else ""),
             f"  {'layer':32s} {'kind':10s} {'input':>9s} {'AM':>10s}"]
    lines += [f"  {l.name:32s} {l.kind:10s} {'x'.join(map(str, l.input_size)):>9s} {l.am:10.4f}" for l in layers]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    check_threat_model(args.eps, "Linf", ["pgd"])
    specs = args.compare or [f"{args.classifier}:{weights_arg(args.weights, args.classifier) or 'none'}"]
    if args.ra and (not args.compare or len(args.ra) != len(specs)):
        raise IradError(f"--ra needs one value per --compare model ({len(specs)}), got {len(args.ra)}")
    if args.plot and not args.compare:
        raise IradError("--plot needs --compare")
    if args.plot and not (args.ra or args.measure_ra):
        raise IradError("--plot needs robust accuracies: pass --ra or --measure-ra")
    data, images, _ = load_images(args)
    results = []
    for i, spec in enumerate(specs):
        name, _, weights = spec.partition(":")
        model = load_classifier(name, weights_arg(weights, name), args.dataset, args.device)
        layers = aliasing(model, images, args.batch_size, progress=True)
        ra = args.ra[i] if args.ra else _robust_accuracy(model, data, args.eps, args.batch_size) if args.measure_ra else None
        results.append({"model": spec, "robust_accuracy": ra, "layers": [l.to_dict() for l in layers]})
        print(_table(spec, layers, ra))
    meta = {"dataset": args.dataset, "split": args.split, "n": len(images), "offset": args.offset}
    if args.measure_ra:
        meta["robust_accuracy"] = f"PGD-10 Linf eps={args.eps:.6g}, no defense, same images"
    out = {**results[0], "data": meta} if not args.compare else {"models": results, "data": meta}
    out["environment"] = environment(args.device)
    write_outputs(args, out, lambda _, path: plot_aliasing_vs_robustness(results, path))
    return 0
