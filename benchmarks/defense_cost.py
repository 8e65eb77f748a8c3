"""Defense cost per image at batch 1 and batch 128: the forward pass only, on real CIFAR-10 test images, or with
``--imagenet SIZE`` on ImageNet val images resized and centre-cropped to SIZE px (batches 1 and 16).

    python benchmarks/defense_cost.py [--defense SPEC ...] [--batch 1 128] [--repeats 5] [--device cpu]
    python benchmarks/defense_cost.py --imagenet 224

Writes benchmarks/results/cost.json (``--imagenet 224``: cost-imagenet224.json; rendered into BENCHMARKS.md by
benchmarks/run.py). Each number is the best of ``--repeats`` timed runs after one warm-up, under
``torch.inference_mode``.
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
# at ImageNet size: the ImageNet column's defenses and pixel deflection at the paper's K and r
IMAGENET_DEFENSES = [
    "bit-depth:bits=4", "jpeg:quality=75", "randomization", "median:size=3", "wavelet",
    "pixel-deflection:deflections=100,window=10",
    *[f"{d}{w}{p}" for d in ("disco", "irad") for w in (":weights=imagenet", ":weights=cifar10")
      for p in ("", ",precision=bf16")],
    "implicit:weights=imagenet,sampler=sv,shift=1.5,precision=bf16",
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
    size = d.get("imagenet")
    images = (f"ImageNet val subset images resized and centre-cropped to {size}x{size}" if size else
              "CIFAR-10 (JPEG-75) test images (32x32)")
    return [f"Forward pass of the defense only, on {images}, best of {d['repeats']} "
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
    ap.add_argument("--imagenet", type=int, default=None, metavar="SIZE",
                    help="time on ImageNet val images at SIZE px (default batches 1 and 16, the ImageNet defense set)")
    args = ap.parse_args()
    if args.imagenet:
        batches = args.batch if args.batch != [1, 128] else [1, 16]
        args.batch = batches
        data = load_eval_data("imagenet", args.data_root, "val", max(batches), image_size=args.imagenet)
    else:
        data = load_eval_data("cifar10", args.data_root, "test", max(args.batch))
    images = torch.stack([data[i][0] for i in range(len(data))]).to(args.device)
    rows = []
    for spec in args.defense or (IMAGENET_DEFENSES if args.imagenet else DEFENSES):
        defense = create_defense(spec).to(args.device).eval()
        row = {"defense": spec}
        for b in args.batch:
            row[f"ms_per_image_batch{b}"] = 1000 * best_seconds(defense, images[:b], args.repeats) / b
        rows.append(row)
        print(row, flush=True)
    name = "cost" + (f"-imagenet{args.imagenet}" if args.imagenet else "") + (
        f"-{args.device}" if args.device != "cpu" else "")
    out = ROOT / "benchmarks" / "results" / f"{name}.json"
    atomic_write_json(out, {"environment": environment(args.device), "batches": args.batch, "repeats": args.repeats,
                            "imagenet": args.imagenet, "rows": rows})
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
