"""``irad analyze dct``: block-DCT statistics of benign images and of adversarial perturbations per colour channel."""

from __future__ import annotations

import argparse

from irad.analysis.dct_stats import frequency_analysis
from irad.analysis.plots import plot_dct_statistics
from irad.cli.common import (add_classifier_args, add_crafting_args, add_data_args, adversarial_examples, load_images,
                             weights_arg, write_outputs)
from irad.evaluation.results import environment
from irad.models import create_classifier


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("analyze", help="analyses of images and perturbations")
    asub = p.add_subparsers(dest="analysis", required=True)
    d = asub.add_parser("dct", help="std of the 64 block-DCT coefficients per channel (R G B Y Cb Cr), benign vs "
                                    "perturbation, and their ratio")
    add_data_args(d)
    add_classifier_args(d)
    add_crafting_args(d, "attack spec crafting the perturbations (default: pgd)")
    d.add_argument("--norm", default="Linf", choices=["Linf", "L2"])
    d.add_argument("--out", default=None, help="JSON: {benign_std, perturbation_std, ratio: {channel: 8x8}}")
    d.add_argument("--plot", default=None, help="figure: std per coefficient (zigzag order), benign vs perturbation")
    d.set_defaults(func=run_dct)


def run_dct(args: argparse.Namespace) -> int:
    _, x, y = load_images(args)
    model = create_classifier(args.classifier, weights_arg(args.weights)).to(args.device).eval()
    adv = adversarial_examples(args, model, x, y)
    result = frequency_analysis(x, adv)
    result.update(attack=args.attack, norm=args.norm, eps=args.eps, classifier=args.classifier, weights=args.weights,
                  dataset=args.dataset, environment=environment(args.device))
    for ch in result["channels"]:
        ratio = result["ratio"][ch]
        print(f"{ch:2s}  benign std DC {result['benign_std'][ch][0][0]:8.2f}  highest-frequency "
              f"{result['benign_std'][ch][7][7]:6.2f}   perturbation/benign ratio DC {ratio[0][0]:.3f}  "
              f"highest {ratio[7][7]:.3f}")
    write_outputs(args, result, plot_dct_statistics)
    return 0
