"""IRAD purification throughput: irad's implementation vs a straightforward reimplementation of the released
forward pass (encoder run twice, four full MLP passes per query for SampleNet and for the decoder), same weights,
under glibc's default malloc and told to keep its heap (one child process each), irad in fp32 and bf16.

    python benchmarks/irad_speed.py [--weights DIR] [--repeats 3]

Writes benchmarks/results/irad_speed.json (rendered into BENCHMARKS.md by benchmarks/run.py). Without --weights
it uses randomly initialised paper-size weights (16 blocks, 64 features, MLPs 256x4): speed does not depend on
the values.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from report import machine, table  # noqa: E402

from irad.defenses.implicit import ImplicitResampling  # noqa: E402
from irad.models.implicit import ImplicitConfig, ImplicitResampler, make_cell, make_coord  # noqa: E402
from irad.models.implicit.reference import query_reference  # noqa: E402
from irad.models.implicit.resampler import QUERY_BUDGET  # noqa: E402
from irad.utils.checkpoint import atomic_write_json  # noqa: E402
from irad.utils.provenance import environment  # noqa: E402


def released_forward(model: ImplicitResampler, x: torch.Tensor) -> torch.Tensor:
    """The released IRAD test-time forward, step by step."""
    b, _, h, w = x.shape
    coord = make_coord(h, w).view(1, -1, 2).repeat(b, 1, 1)
    cell = make_cell(h, w).view(1, 1, 2).repeat(b, h * w, 1)
    sn_in = x if model.samplenet_encoder is not None else (x - 0.5) / 0.5
    sn_encoder = model.samplenet_encoder or model.encoder
    offset = query_reference(sn_encoder(sn_in), coord.clone(), cell.clone(), model.samplenet)
    out = query_reference(model.encoder((x - 0.5) / 0.5), coord + offset, cell.clone(), model.decoder)
    return (out * 0.5 + 0.5).clamp(0, 1).view(b, w, h, 3).permute(0, 3, 1, 2)


def timed(fn, x: torch.Tensor, repeats: int) -> tuple[float, torch.Tensor]:
    with torch.inference_mode():
        out = fn(x)  # warm-up
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            out = fn(x)
            best = min(best, time.perf_counter() - t0)
    return best, out


ALLOCATORS = {  # glibc malloc as users have it, and told to keep its heap (no mmap per large block, no trimming)
    "default": {},
    "keep-heap": {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": "100000000000", "MALLOC_TOP_PAD_": "1000000000"},
}


def render(d: dict) -> list[str]:
    """The section's description and table from the results JSON."""
    def cells(r: dict) -> list[str]:
        return [r["allocator"], str(r["batch"]), f"{r['released_ms_per_image']:.2f}",
                f"{r['irad_one_pass_ms_per_image']:.2f}", f"{r['irad_ms_per_image']:.2f}", f"{r['speedup']:.2f}x",
                f"{r['max_abs_diff']:.1e}", f"{r['irad_bf16_ms_per_image']:.2f}", f"{r['bf16_speedup_over_fp32']:.2f}x",
                f"{r['bf16_max_abs_diff']:.1e}"]

    return [f"Weights: {d['weights']}. Input 32x32, one process per allocator setting (keep-heap: "
            f"{' '.join(f'{k}={v}' for k, v in ALLOCATORS['keep-heap'].items())}), best of {d['repeats']} runs. "
            "irad one pass: the whole batch through each network at once (before query chunking); irad: "
            f"{d['query_budget']} query points per pass, the default. Speedup: released / irad. "
            f"Machine: {machine(d['environment'])}.", "",
            *table(["allocator", "batch", "released ms/img", "irad one pass ms/img", "irad ms/img", "speedup",
                    "max abs diff", "irad bf16 ms/img", "bf16 / fp32 speedup", "bf16 max abs diff"],
                   [cells(r) for r in d["rows"]])]


def measure(weights: str | None, batches: list[int], repeats: int, allocator: str) -> list[dict]:
    """Rows for one allocator setting (this process was started under it)."""
    torch.manual_seed(0)
    model = (ImplicitResampler.load(weights) if weights else ImplicitResampler(ImplicitConfig())).eval()
    defense = ImplicitResampling(model, "samplenet")
    bf16 = ImplicitResampling(model, "samplenet", precision="bf16")
    budget = model.query_budget
    rows = []
    for b in batches:
        x = torch.rand(b, 3, 32, 32)
        t_ref, y_ref = timed(lambda v: released_forward(model, v), x, repeats)
        model.query_budget = 10**9
        t_one, _ = timed(defense, x, repeats)
        model.query_budget = budget
        t_ours, y_ours = timed(defense, x, repeats)
        t_bf16, y_bf16 = timed(bf16, x, repeats)
        rows.append({"allocator": allocator, "batch": b, "released_ms_per_image": 1000 * t_ref / b,
                     "irad_one_pass_ms_per_image": 1000 * t_one / b, "irad_ms_per_image": 1000 * t_ours / b,
                     "speedup": t_ref / t_ours, "max_abs_diff": (y_ref - y_ours).abs().max().item(),
                     "irad_bf16_ms_per_image": 1000 * t_bf16 / b, "bf16_speedup_over_fp32": t_ours / t_bf16,
                     "bf16_max_abs_diff": (y_bf16 - y_ours).abs().max().item()})
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default=None, help="an irad IRAD weights directory (default: random paper-size)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 128])
    ap.add_argument("--allocator", choices=list(ALLOCATORS), help=argparse.SUPPRESS)  # a child's setting
    args = ap.parse_args()
    if args.allocator:  # a child process: print the rows as JSON on the last line
        print(json.dumps(measure(args.weights, args.batch, args.repeats, args.allocator)))
        return
    rows = []
    for name, env in ALLOCATORS.items():
        cmd = [sys.executable, __file__, "--allocator", name, "--repeats", str(args.repeats),
               "--batch", *map(str, args.batch), *(["--weights", args.weights] if args.weights else [])]
        done = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True, check=True)
        rows += json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{name}: {rows[-len(args.batch):]}", flush=True)
    out = ROOT / "benchmarks" / "results" / "irad_speed.json"
    atomic_write_json(out, {"weights": args.weights or "random paper-size (16x64 EDSR, 256x4 MLPs)",
                            "repeats": args.repeats, "query_budget": QUERY_BUDGET, "environment": environment("cpu"),
                            "rows": rows})
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
