"""``irad eval``: SA/RA table for defenses x attacks in one threat scenario."""

from __future__ import annotations

import argparse

from irad.attacks import NORMS
from irad.auditing import PRESETS, DefenseAudit, format_audit
from irad.cli.common import (BATCH_HELP, add_classifier_args, add_data_args, check_threat_model, fractions,
                             positive_int, weights_arg)
from irad.evaluation import SCENARIOS, format_table
from irad.evaluation.experiment import EvalConfig, run_eval
from irad.utils import distributed as D


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="evaluate defenses against attacks (SA, RA, Avg, ms/img)",
                       description="Evaluate defenses x attacks in one threat scenario; prints a table and writes JSON. "
                                   "Rerunning with the same --out skips finished rows.")
    add_data_args(p)
    add_classifier_args(p)
    p.add_argument("--defense", action="append", help="defense spec, repeatable (default: none)")
    p.add_argument("--attack", action="append", help="attack spec, repeatable (default: pgd)")
    p.add_argument("--scenario", default="oblivious", choices=SCENARIOS)
    p.add_argument("--norm", default="Linf", choices=NORMS)
    p.add_argument("--eps", type=fractions, default=8 / 255,
                   help="budget, e.g. 8/255 (default) or 0.5; a comma-separated list (1/255,2/255,4/255,8/255) gives "
                        "one row per budget: a robustness curve (--plot draws it)")
    p.add_argument("--plot", default=None, metavar="PNG",
                   help="draw RA against eps per defense and attack, 95%% intervals as bands (for a list of --eps)")
    p.add_argument("--eot-samples", type=positive_int, default=10,
                   help="EOT draws for randomized defenses in the bpda/adaptive scenarios (default: %(default)s)")
    p.add_argument("--worst-of", type=positive_int, default=1, metavar="N",
                   help="randomized defenses: also classify each adversarial example N times with fresh randomness and "
                        "report the share right on all N ('RA worst-of-N'; default 1: one draw only)")
    p.add_argument("--attack-precision", default="fp32", choices=["fp32", "bf16"],
                   help="craft the adversarial examples under bf16 autocast + channels_last (faster on CPUs with "
                        "AVX-512 BF16 and GPUs; predictions are still scored in fp32; default: %(default)s)")
    p.add_argument("--source", default=None, metavar="CLASSIFIER[:WEIGHTS]",
                   help="oblivious only: craft the examples on this model (weights default: its own) and score them "
                        "on --classifier behind each defense (transfer, the black-box setting)")
    p.add_argument("--batch-size", type=positive_int, default=None, help=BATCH_HELP)
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="results JSON (written after every row; reused to resume: rows already "
                                               "in it are kept, so delete it to recompute them after changing code)")
    p.add_argument("--adv-cache", default=None, metavar="DIR",
                   help="store adversarial examples per batch in DIR and reuse them in later runs (adding a defense, "
                        "resuming an interrupted attack): oblivious ones serve every defense, BPDA and adaptive ones "
                        "belong to one defense (spec and weights) and EOT count")
    p.add_argument("--adv-cache-strict", action="store_true",
                   help="stop at a cache entry that was not made by this run's attack, batch, images or classifier "
                        "(default: say so in one line and recompute it)")
    p.add_argument("--audit", action="store_true",
                   help="also run `irad audit`'s gradient-masking checks on each defense (same images, eps, norm, EOT); "
                        "the reports go to the output JSON under 'audit' (kept when a later run resumes it)")
    p.add_argument("--audit-preset", default="cpu", choices=sorted(PRESETS), help="budgets of --audit (default: cpu)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    check_threat_model(args.eps, args.norm, args.attack or ["pgd"])
    cfg = EvalConfig(
        dataset=args.dataset, data_root=args.data_root, split=args.split, n=args.n, offset=args.offset, classifier=args.classifier,
        weights=weights_arg(args.weights, args.classifier), defenses=args.defense or ["none"], attacks=args.attack or ["pgd"],
        scenario=args.scenario, norm=args.norm, eps=args.eps, batch_size=args.batch_size, device=args.device,
        seed=args.seed, eot_samples=args.eot_samples, worst_of=args.worst_of, attack_precision=args.attack_precision,
        source=_source_arg(args.source), out=args.out, adv_cache=args.adv_cache, adv_cache_strict=args.adv_cache_strict,
        audit=args.audit_preset if args.audit else None,
    )
    reports: list[DefenseAudit] = []
    try:
        rows = run_eval(cfg, progress=not args.no_progress, on_audit=reports.append)
    except KeyboardInterrupt:
        if D.is_main():
            print(f"\ninterrupted; finished rows are kept{' in ' + args.out if args.out else ''}", flush=True)
        return 130
    if D.is_main():
        print(format_table(rows))
        for report in reports:
            print(format_audit(report))
        if args.out:
            print(f"results written to {args.out}")
        if args.plot:
            from irad.analysis.plots import plot_robustness_curve

            plot_robustness_curve(rows, args.plot)
            print(f"plot written to {args.plot}")
    return 0


def _source_arg(value: str | None) -> str | None:
    """``NAME[:WEIGHTS]`` with its weights resolved as --weights is (``NAME`` alone: the architecture's own)."""
    if not value:
        return None
    name, _, weights = value.partition(":")
    return f"{name}:{weights_arg(weights or 'default', name) or 'none'}"
