"""IRAD training throughput on this machine, before (fp32, contiguous: the settings of the `cpu` presets) and after
(bf16 autocast + channels_last: the `cpu-long` presets), in one run.

    python benchmarks/training_speed.py --pairs runs/pairs-50k [--steps 40]

- make-pairs: PGD-20 (step 2/255, Linf 8/255) on the built-in ResNet-20, batch 250, as `irad make-pairs` runs it;
  images/s after one warm-up batch; the source model's fp32 error rate on the result checks that the faster attack
  is as strong.
- train implicit / train samplenet: one epoch of the real trainer on the first pairs of ``--pairs`` with the
  `cpu-long` model sizes, images/s from the epoch's training time. For the implicit representation the same
  steps also run from the same initialisation in both precisions, and the mean loss of each is reported: bf16 is
  used only where its loss curve tracks fp32.

Writes benchmarks/results/training_speed.json (rendered into BENCHMARKS.md by benchmarks/run.py).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from report import machine, table  # noqa: E402

from irad.attacks import create_attack  # noqa: E402
from irad.models import create_classifier  # noqa: E402
from irad.training import implicit, samplenet  # noqa: E402
from irad.training.pairs import load_pairs  # noqa: E402
from irad.utils.checkpoint import atomic_write_json  # noqa: E402
from irad.utils.precision import FastForward  # noqa: E402
from irad.utils.provenance import environment  # noqa: E402

SETTINGS = {"before": dict(precision="fp32", channels_last=False), "after": dict(precision="bf16", channels_last=True)}


def pgd_speed(x: torch.Tensor, y: torch.Tensor, precision: str, batches: int) -> dict:
    model = create_classifier("resnet20", "irad-cifar10").eval()
    attacked = FastForward(model, precision) if precision != "fp32" else model
    attack = create_attack("pgd:steps=20,alpha=2/255", attacked, "Linf", 8 / 255)
    torch.manual_seed(0)
    attack(x[:250], y[:250])  # warm-up
    fooled, t0 = 0, time.perf_counter()
    for b in range(batches):
        xb, yb = x[b * 250:(b + 1) * 250], y[b * 250:(b + 1) * 250]
        adv = attack(xb, yb)
        with torch.no_grad():
            fooled += (model(adv).argmax(1) != yb).sum().item()
    seconds = time.perf_counter() - t0
    return {"images_per_s": batches * 250 / seconds, "source_error_rate": 100 * fooled / (batches * 250)}


def trainer_speed(fn, cfg, images_per_item: int) -> dict:
    with tempfile.TemporaryDirectory() as out:
        fn(cfg, out, progress=False)
        record = json.loads((Path(out) / "metrics.json").read_text())["history"][0]
    return {"images_per_s": cfg.limit * images_per_item / record["seconds"], "mean_loss": record["loss"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", required=True, help="a pairs directory from `irad make-pairs` (the data trained on)")
    ap.add_argument("--steps", type=int, default=40, help="training steps timed per stage and setting")
    ap.add_argument("--pgd-batches", type=int, default=4)
    args = ap.parse_args()
    pairs = load_pairs(args.pairs)
    x = pairs["clean"][:250 * args.pgd_batches].float() / 255
    y = pairs["labels"][:250 * args.pgd_batches]
    rows = []
    pgd = {"before": pgd_speed(x, y, "fp32", args.pgd_batches), "after": pgd_speed(x, y, "bf16", args.pgd_batches)}
    rows.append({"stage": "make-pairs (PGD-20 on ResNet-20, batch 250)", **_compare(pgd),
                 "check": "source fp32 error rate %: before {:.1f}, after {:.1f}".format(
                     pgd["before"]["source_error_rate"], pgd["after"]["source_error_rate"])})
    print(rows[-1], flush=True)
    preset = implicit.PRESETS["cpu-long"]
    base = implicit.ImplicitTrainConfig(**{**preset, "pairs": args.pairs, "epochs": 1, "keep_epochs": False,
                                           "schedule": "constant", "limit": args.steps * preset["batch_size"]})
    imp = {k: trainer_speed(implicit.train_implicit, replace(base, **s), 1) for k, s in SETTINGS.items()}
    rows.append({"stage": "train implicit (cpu-long: EDSR 6x48, MLP 192x3, batch 32)", **_compare(imp),
                 "check": "mean L1 over the same {} steps from the same initialisation: fp32 {:.4f}, "
                          "bf16 {:.4f}".format(args.steps, imp["before"]["mean_loss"], imp["after"]["mean_loss"])})
    print(rows[-1], flush=True)
    with tempfile.TemporaryDirectory() as base_dir:
        implicit.train_implicit(replace(base, limit=32), base_dir, progress=False)  # an implicit model to freeze
        sn_preset = samplenet.PRESETS["cpu-long"]
        sn = samplenet.SampleNetTrainConfig(**{**sn_preset, "pairs": args.pairs, "implicit": base_dir, "epochs": 1,
                                               "schedule": "constant",
                                               "limit": max(1, args.steps // 2) * sn_preset["batch_size"]})
        speeds = {k: trainer_speed(samplenet.train_samplenet, replace(sn, **s), 2) for k, s in SETTINGS.items()}
    rows.append({"stage": f"train samplenet (cpu-long: MLP 256x4, {sn.batch_size} pairs a step)", **_compare(speeds),
                 "check": "mean loss fp32 {:.3f}, bf16 {:.3f}".format(speeds["before"]["mean_loss"],
                                                                       speeds["after"]["mean_loss"])})
    print(rows[-1], flush=True)
    out = ROOT / "benchmarks" / "results" / "training_speed.json"
    atomic_write_json(out, {"pairs": args.pairs, "steps": args.steps, "environment": environment("cpu"), "rows": rows})
    print(f"wrote {out}")


def render(d: dict) -> list[str]:
    """The section's description and table from the results JSON."""
    return [f"Images per second of each training stage, as the trainers run it (the first {d['steps']} steps of an "
            f"epoch on the cpu-long pairs, {d['steps'] // 2} for SampleNet, whose frozen reconstruction is a briefly "
            "trained one: speed does not depend on the weights; make-pairs: 4 batches of 250 after one warm-up "
            "batch). before: fp32, contiguous (the `cpu` presets); after: bf16 autocast + channels_last (the "
            f"`cpu-long` presets). Machine: {machine(d['environment'])}.", "",
            *table(["stage", "before img/s", "after img/s", "speedup", "check"],
                   [[r["stage"], f"{r['before_images_per_s']:.1f}", f"{r['after_images_per_s']:.1f}",
                     f"{r['speedup']:.2f}x", r["check"]] for r in d["rows"]])]


def _compare(speeds: dict) -> dict:
    return {"before_images_per_s": speeds["before"]["images_per_s"],
            "after_images_per_s": speeds["after"]["images_per_s"],
            "speedup": speeds["after"]["images_per_s"] / speeds["before"]["images_per_s"]}


if __name__ == "__main__":
    main()
