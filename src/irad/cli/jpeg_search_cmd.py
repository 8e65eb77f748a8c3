"""``irad jpeg-search``: find the NN-favoured JPEG's two-band quantisation table (k, QS_AF) on a classifier."""

from __future__ import annotations

import argparse

import torch

from irad.analysis.plots import plot_table_search
from irad.cli.common import (add_classifier_args, add_crafting_args, add_data_args, adversarial_examples,
                             batch_size_for, check_threat_model, classifier_from_args, load_images, number,
                             percent, positive_int)
from irad.errors import IradError
from irad.training.jpeg_table import GRID_K, GRID_QS_AF, search_table
from irad.utils.precision import PRECISIONS, FastForward


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("jpeg-search", help="search the two-band JPEG quantisation table (k, QS_AF)",
                       description="Algorithm 1 of the NN-favoured JPEG defense: every k in 1..15 and QS_AF in 1..121 "
                                   "(steps --k-step, --qs-af-step); the table with the best accuracy on adversarial "
                                   "examples after compression whose benign accuracy drops less than --max-drop "
                                   "points. Resumable.")
    add_data_args(p, n_default=1000)
    add_classifier_args(p)
    p.add_argument("--n-adv", type=positive_int, default=200,
                   help="adversarial examples, from the first correctly classified images (default: %(default)s)")
    add_crafting_args(p, "attack spec crafting the adversarial examples (default: pgd)")
    p.add_argument("--qs-of", type=number(lo=0, lo_open=True), default=16.0,
                   help="fine step, 16 * 255 * eps_design (default: 16)")
    p.add_argument("--max-drop", type=percent, default=1.0, help="allowed benign-accuracy drop, points (default: 1)")
    p.add_argument("--k-step", type=positive_int, default=1, help="grid step of k over 1..15 (default: %(default)s)")
    p.add_argument("--qs-af-step", type=positive_int, default=GRID_QS_AF.step,
                   help="grid step of QS_AF over 1..121 (default: %(default)s)")
    p.add_argument("--precision", default="fp32", choices=PRECISIONS,
                   help="the classifier's forward passes (crafting and the grid) in fp32 or bf16 autocast; bf16 is "
                        "several times faster on CPUs with AVX-512 BF16 (default: %(default)s)")
    p.add_argument("--out", required=True, help="result JSON (grid + choice; reused to resume)")
    p.add_argument("--plot", default=None, help="heat map of the grid")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    check_threat_model(args.eps, "Linf", [args.attack])
    _, x, y = load_images(args)
    model = classifier_from_args(args)
    if args.precision != "fp32":
        model = FastForward(model, args.precision)
    size = batch_size_for(args, x)
    with torch.no_grad():
        correct = torch.cat([model(xb.to(args.device)).argmax(1).cpu() == yb
                             for xb, yb in zip(x.split(size), y.split(size))])
    pick = correct.nonzero()[:, 0][: args.n_adv]
    if len(pick) == 0:
        raise IradError("the classifier gets none of the images right: nothing to attack")
    adv = adversarial_examples(args, model, x[pick], y[pick])
    result = search_table(model, x, y, adv, y[pick], args.qs_of, args.max_drop, ks=GRID_K[::args.k_step],
                          qs_afs=range(GRID_QS_AF.start, GRID_QS_AF.stop, args.qs_af_step), out=args.out,
                          precision=args.precision)
    c = result["choice"]
    print(f"benign accuracy without compression: {result['base_benign_acc']:.2f}% (n={len(x)}); "
          f"adversarial examples: {len(adv)} ({args.attack}, Linf {args.eps:.5g})")
    print("no table keeps the benign drop under the budget" if c is None else
          f"choice: k={c['k']} QS_AF={c['qs_af']} (QS_OF={args.qs_of}): benign {c['benign_acc']:.2f}%, "
          f"adversarial {c['adv_acc']:.2f}%  ->  --defense dct-jpeg:k={c['k']},qs_af={c['qs_af']},qs_of={args.qs_of:g}")
    if args.plot:
        plot_table_search(result, args.plot)
        print(f"plot written to {args.plot}")
    return 0
