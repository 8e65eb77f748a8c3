"""``irad audit``: gradient-masking checks for one or more defenses in front of a classifier."""

from __future__ import annotations

import argparse

from irad.auditing import PRESETS, format_audit, run_audits
from irad.cli.common import (BATCH_HELP, add_classifier_args, add_data_args, budget, check_threat_model,
                             classifier_from_args, positive_int)
from irad.data import default_batch_size, load_eval_data
from irad.defenses import create_defense
from irad.models import input_geometry
from irad.utils.checkpoint import atomic_write_json
from irad.utils.provenance import environment


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audit", help="check defenses for gradient masking (PASS / WARN / FAIL with evidence)",
                       description="Randomness, gradient health, scenario ordering, attack-strength monotonicity, "
                                   "white-box vs black-box and transfer (and AutoAttack's flags in the full preset). "
                                   "Presets: " + "; ".join(f"{k}: {v}" for k, v in PRESETS.items()))
    add_data_args(p, n_default=None)
    add_classifier_args(p)
    p.add_argument("--defense", action="append", help="defense spec, repeatable (default: none)")
    p.add_argument("--preset", default="cpu", choices=sorted(PRESETS))
    p.add_argument("--eps", type=budget, default=8 / 255)
    p.add_argument("--norm", default="Linf", choices=["Linf", "L2"])
    p.add_argument("--eot-samples", type=positive_int, default=None, help="EOT samples (default: the preset's)")
    p.add_argument("--square-queries", type=positive_int, default=None,
                   help="Square's query budget in the black-box check (default: the preset's); for a defense too "
                        "slow for the preset's budget, at the cost of a weaker check")
    p.add_argument("--batch-size", type=positive_int, default=None, help=BATCH_HELP)
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="audit JSON")
    p.add_argument("--adv-cache", default=None, metavar="DIR",
                   help="keep every measurement's adversarial examples per batch in DIR: a rerun resumes an "
                        "interrupted audit")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    check_threat_model(args.eps, args.norm)
    n = args.n or PRESETS[args.preset]["n"]
    data = load_eval_data(args.dataset, args.data_root, args.split, n, args.offset, **input_geometry(args.classifier))
    classifier = classifier_from_args(args)
    specs = args.defense or ["none"]
    defenses = {spec: create_defense(spec) for spec in specs}
    preset = dict(PRESETS[args.preset])
    if args.square_queries:
        preset["square_queries"] = args.square_queries
    batch_size = args.batch_size or default_batch_size(*data[0][0].shape[-2:])
    reports = run_audits(classifier, defenses, data, preset, args.eps, args.norm, args.eot_samples,
                         batch_size, args.seed, not args.no_progress,
                         on_report=lambda report: print(format_audit(report), flush=True), adv_cache=args.adv_cache)
    if args.out:
        config = {k: getattr(args, k) for k in ("dataset", "data_root", "split", "offset", "classifier", "weights",
                                                "preset", "eps", "norm", "eot_samples", "seed")}
        config |= {"n": len(data), "square_queries": preset["square_queries"], "defenses": list(defenses)}
        atomic_write_json(args.out, {"config": config,
                                     "environment": environment(args.device),
                                     "defenses": [r.to_dict() for r in reports]})
        print(f"audit written to {args.out}")
    return 0
