"""``irad analyze dct``: block-DCT statistics of benign images and of adversarial perturbations per colour channel;
``irad analyze offsets``: SampleNet's shifts on clean vs adversarial images."""

from __future__ import annotations

import argparse

from irad.analysis.dct_stats import frequency_analysis
from irad.analysis.offsets import offset_statistics
from irad.analysis.plots import plot_dct_statistics, plot_offsets
from irad.cli.common import (add_classifier_args, add_crafting_args, add_data_args, adversarial_examples,
                             check_threat_model, classifier_from_args, load_images, write_outputs)
from irad.errors import IradError
from irad.utils.provenance import environment


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
    o = asub.add_parser("offsets", help="SampleNet's per-pixel shifts on clean images and on adversarial examples "
                                        "crafted on the classifier (oblivious): mean |offset|, spread over images")
    add_data_args(o)
    add_classifier_args(o)
    add_crafting_args(o, "attack spec crafting the adversarial examples (default: pgd)")
    o.add_argument("--defense", default="irad", help="an IRAD defense spec with a SampleNet (default: the built-in irad)")
    o.add_argument("--out", default=None, help="JSON: per image set {mean_abs_px, spread_px, pixel_std_px, mean_px, "
                                               "per_image_mean_abs_px}")
    o.add_argument("--plot", default=None, help="figure: histogram of each image's mean |offset|, clean vs adversarial")
    o.set_defaults(func=run_offsets)
    g = asub.add_parser("ddpm", help="a DDPM as a denoiser: PSNR per step t of the noisy input, its x0 prediction and "
                                     "the DiffPure output, on held-out images; a picture grid")
    add_data_args(g, n_default=100)
    g.add_argument("--weights", required=True, help="builtin (the package's DDPM), a diffusers DDPM directory "
                                                    "(`irad train ddpm` output) or a hub id")
    g.add_argument("--t", type=int, nargs="+", default=[10, 20, 30, 40, 100], help="DDPM steps (DiffPure's t*)")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--device", default="cpu")
    g.add_argument("--out", default=None, help="JSON: rows {t, psnr_noisy, psnr_x0_prediction, psnr_purified}")
    g.add_argument("--grid", default=None, help="PNG: per t, rows clean / diffused to t (rescaled) / purified")
    g.set_defaults(func=run_ddpm, plot=None)


def run_dct(args: argparse.Namespace) -> int:
    check_threat_model(args.eps, args.norm, [args.attack])
    _, x, y = load_images(args)
    model = classifier_from_args(args)
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


def run_offsets(args: argparse.Namespace) -> int:
    from irad.defenses import create_defense
    from irad.defenses.implicit import ImplicitResampling

    check_threat_model(args.eps, "Linf", [args.attack])
    defense = create_defense(args.defense)
    if not (isinstance(defense, ImplicitResampling) and defense.sampler == "samplenet"):
        raise IradError(f"{args.defense!r} has no SampleNet; pass an irad spec (e.g. irad or irad:weights=DIR)")
    _, x, y = load_images(args)
    model = classifier_from_args(args)
    adv = adversarial_examples(args, model, x, y)
    stats = offset_statistics(defense.model.to(args.device), {"clean": x, "adversarial": adv})
    clean, attacked = stats["clean"]["mean_abs_px"], stats["adversarial"]["mean_abs_px"]
    for name, s in stats.items():
        print(f"{name:12s} mean |offset| {s['mean_abs_px']:.3f} px  spread over images {s['spread_px']:.3f}  "
              f"within images {s['pixel_std_px']:.3f}  mean (dy, dx) ({s['mean_px'][0]:+.3f}, {s['mean_px'][1]:+.3f})")
    print(f"adversarial / clean mean |offset|: {attacked / clean:.3f}")
    result = {"defense": args.defense, "attack": args.attack, "eps": args.eps, "classifier": args.classifier,
              "weights": args.weights, "dataset": args.dataset, "n": len(y), "offsets": stats,
              "adversarial_over_clean": attacked / clean, "environment": environment(args.device)}
    write_outputs(args, result, plot_offsets)
    return 0


def run_ddpm(args: argparse.Namespace) -> int:
    import torch
    from torchvision.utils import save_image

    from irad.analysis.denoising import denoising_psnr
    from irad.defenses.diffpure import check_steps, load_ddpm, resolve_ddpm

    weights = resolve_ddpm(args.weights)
    unet, scheduler = load_ddpm(weights)
    check_steps(weights, scheduler, args.t, 1, "--t values")
    _, x, _ = load_images(args)
    x = x.to(args.device)
    rows, pictures = denoising_psnr(unet.to(args.device), scheduler, x, args.t, args.seed)
    for r in rows:
        print(f"t={r['t']:4d}  PSNR noisy {r['psnr_noisy']:6.2f} dB  x0 prediction {r['psnr_x0_prediction']:6.2f} dB  "
              f"purified {r['psnr_purified']:6.2f} dB")
    if args.grid:
        clean = x[:8].cpu()
        panels = [torch.cat([clean, *pictures[t].cpu()]) for t in args.t]
        save_image(torch.cat(panels), args.grid, nrow=len(clean))
        print(f"grid written to {args.grid} (per t: clean, diffused to t, purified)")
    result = {"weights": args.weights, "dataset": args.dataset, "n": len(x), "offset": args.offset, "seed": args.seed,
              "rows": rows, "environment": environment(args.device)}
    write_outputs(args, result, plot=None)  # the grid is the picture; no --plot
    return 0
