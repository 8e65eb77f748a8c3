"""``irad analyze dct``: block-DCT statistics of benign images and of adversarial perturbations per colour channel."""

from __future__ import annotations

import argparse

import torch
from tqdm.auto import tqdm

from irad.analysis.dct_stats import frequency_analysis
from irad.analysis.plots import plot_dct_statistics
from irad.attacks import create_attack
from irad.cli.common import add_classifier_args, add_data_args, fraction, positive_int, weights_arg
from irad.data import load_into_memory
from irad.evaluation.experiment import load_eval_data
from irad.evaluation.results import environment
from irad.models import create_classifier
from irad.utils.checkpoint import atomic_write_json


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("analyze", help="analyses of images and perturbations")
    asub = p.add_subparsers(dest="analysis", required=True)
    d = asub.add_parser("dct", help="std of the 64 block-DCT coefficients per channel (R G B Y Cb Cr), benign vs "
                                    "perturbation, and their ratio")
    add_data_args(d)
    add_classifier_args(d)
    d.add_argument("--attack", default="pgd", help="attack spec crafting the perturbations (default: pgd)")
    d.add_argument("--norm", default="Linf", choices=["Linf", "L2"])
    d.add_argument("--eps", type=fraction, default=8 / 255)
    d.add_argument("--batch-size", type=positive_int, default=128)
    d.add_argument("--device", default="cpu")
    d.add_argument("--out", default=None, help="JSON: {benign_std, perturbation_std, ratio: {channel: 8x8}}")
    d.add_argument("--plot", default=None, help="figure: std per coefficient (zigzag order), benign vs perturbation")
    d.set_defaults(func=run_dct)


def run_dct(args: argparse.Namespace) -> int:
    data = load_eval_data(args.dataset, args.data_root, args.split, args.n, args.offset)
    x, y = load_into_memory(data, desc="loading images")
    x = x.float().div_(255)
    model = create_classifier(args.classifier, weights_arg(args.weights)).to(args.device).eval()
    attack = create_attack(args.attack, model, args.norm, args.eps)
    adv = torch.cat([attack(xb.to(args.device), yb.to(args.device)).cpu()
                     for xb, yb in tqdm(list(zip(x.split(args.batch_size), y.split(args.batch_size))), desc=args.attack)])
    result = frequency_analysis(x, adv)
    result.update(attack=args.attack, norm=args.norm, eps=args.eps, classifier=args.classifier, weights=args.weights,
                  dataset=args.dataset, environment=environment(args.device))
    for ch in result["channels"]:
        ratio = result["ratio"][ch]
        print(f"{ch:2s}  benign std DC {result['benign_std'][ch][0][0]:8.2f}  highest-frequency "
              f"{result['benign_std'][ch][7][7]:6.2f}   perturbation/benign ratio DC {ratio[0][0]:.3f}  "
              f"highest {ratio[7][7]:.3f}")
    if args.out:
        atomic_write_json(args.out, result)
        print(f"results written to {args.out}")
    if args.plot:
        plot_dct_statistics(result, args.plot)
        print(f"plot written to {args.plot}")
    return 0
