"""Defense cost per image at batch 1 and batch 128: the forward pass only, on real CIFAR-10 test images.

    python benchmarks/defense_cost.py [--defense SPEC ...] [--batch 1 128] [--repeats 5] [--device cpu]

Writes benchmarks/results/cost.json (rendered into BENCHMARKS.md by benchmarks/run.py). Each number is
the best of ``--repeats`` timed runs after one warm-up, under ``torch.inference_mode``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from report import machine, table  # noqa: E402

from irad.data import load_eval_data  # noqa: E402
from irad.defenses import create_defense  # noqa: E402
from irad.utils.checkpoint import atomic_write_json  # noqa: E402
from irad.utils.provenance import environment  # noqa: E402

DEFENSES = [
    "resample:recon=bilinear,sampler=si,shift=1.5",
    "resample:recon=bilinear,sampler=sv,shift=1.5",
    "disco",
    "irad",
    "implicit:sampler=si",
    "jpeg:quality=75",
    "median:size=3",
    "pixel-deflection:deflections=10,window=1",
    "wavelet",
    "dct-jpeg",
    *[f"diffpure:t={t}" for t in (20, 30, 40, 100)],
    *[f"diffpure-irad:t={t}" for t in (20, 30, 40)],
]


def best_seconds(defense: torch.nn.Module, x: torch.Tensor, repeats: int) -> float:
    sync = torch.cuda.synchronize if x.is_cuda else (lambda: None)
    with torch.inference_mode():
        defense(x)
        sync()
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            defense(x)
            sync()
            best = min(best, time.perf_counter() - t0)
    return best


def render(d: dict) -> list[str]:
    """The section's description and table from the results JSON."""
    return [f"Forward pass of the defense only, on CIFAR-10 (JPEG-75) test images (32x32), best of {d['repeats']} "
            f"runs. Machine: {machine(d['environment'])}.", "",
            *table(["defense", *[f"ms/img, batch {b}" for b in d["batches"]]],
                   [[r["defense"], *[f"{r[f'ms_per_image_batch{b}']:.3f}" for b in d["batches"]]] for r in d["rows"]])]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--defense", action="append",
                    help="defense spec (repeatable; default: the IRAD-section set and the diffpure section's t*)")
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 128])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--data-root", default="../shared/data")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    data = load_eval_data("cifar10", args.data_root, "test", max(args.batch))
    images = torch.stack([data[i][0] for i in range(len(data))]).to(args.device)
    rows = []
    for spec in args.defense or DEFENSES:
        defense = create_defense(spec).to(args.device).eval()
        row = {"defense": spec}
        for b in args.batch:
            row[f"ms_per_image_batch{b}"] = 1000 * best_seconds(defense, images[:b], args.repeats) / b
        rows.append(row)
        print(row, flush=True)
    out = ROOT / "benchmarks" / "results" / ("cost.json" if args.device == "cpu" else f"cost-{args.device}.json")
    atomic_write_json(out, {"environment": environment(args.device), "batches": args.batch, "repeats": args.repeats,
                            "rows": rows})
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
