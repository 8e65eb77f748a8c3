"""``irad purify``: apply any defense to an image file."""

from __future__ import annotations

import argparse

import torch

from irad.cli.common import positive_int, weights_arg
from irad.data import load_image, save_image
from irad.data.images import DEFAULT_MAX_PIXELS
from irad.defenses import Defense, attach_classifier, create_defense
from irad.defenses.tiling import TILE_PIXELS
from irad.models import load_classifier
from irad.utils.progress import purification_progress


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("purify", help="apply a defense to an image file", description="Apply a defense spec to one image.")
    p.add_argument("input", help="input image (PNG, JPEG, ...)")
    p.add_argument("-o", "--output", required=True, help="output image; PNG keeps it lossless")
    p.add_argument("--defense", required=True, help="defense spec, e.g. resample:recon=bilinear,sampler=si,shift=1.5")
    p.add_argument("--seed", type=int, default=None, help="seed for randomized defenses")
    p.add_argument("--classifier", default="resnet20",
                   help="model for defenses that read one (R-CAM guided deflection; default: %(default)s)")
    p.add_argument("--weights", default="default", help="its weights (default: the classifier's default tag)")
    p.add_argument("--max-pixels", type=positive_int, default=DEFAULT_MAX_PIXELS,
                   help="refuse images of more pixels than this, before decoding them (default: %(default)s, a 14k x "
                        "14k photo; a guard against decompression bombs)")
    p.add_argument("--tile-pixels", type=positive_int, default=TILE_PIXELS,
                   help="images of more pixels run in overlapping tiles through the defenses that allow it (the "
                        "implicit ones, resample): the same result in bounded memory (default: %(default)s)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bar (one appears on a terminal when a purification runs longer than a few seconds)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    defense = create_defense(args.defense).eval().to(args.device)
    for m in defense.modules():
        if isinstance(m, Defense):
            m.tile_pixels = args.tile_pixels
    if defense.needs_classifier:
        classifier = load_classifier(args.classifier, weights_arg(args.weights, args.classifier), device=args.device)
        attach_classifier(defense, classifier)
    x = load_image(args.input, args.max_pixels).to(args.device)
    if args.seed is not None:
        torch.manual_seed(args.seed)
    with torch.no_grad(), purification_progress(not args.no_progress):
        y = defense(x)
    del x  # a large photo: room for the output's 8-bit copy
    save_image(y, args.output)
    print(f"{args.input} -> {args.output} ({defense.spec})")
    return 0
