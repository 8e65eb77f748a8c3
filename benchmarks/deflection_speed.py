"""Pixel deflection + BayesShrink throughput: irad's batched defense vs the reference algorithm (a per-pixel Python
loop over each image, then scikit-image's denoise_wavelet per image), same settings, in the same run.

    python benchmarks/deflection_speed.py [--repeats 30]

Writes benchmarks/results/deflection_speed.json (rendered into BENCHMARKS.md by benchmarks/run.py). Both sides use
the reference code's per-channel deflection; inputs are random images (speed does not depend on content).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from skimage.restoration import denoise_wavelet

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from report import machine, table  # noqa: E402

from irad.defenses import create_defense  # noqa: E402
from irad.defenses.deflection import deflect  # noqa: E402
from irad.defenses.wavelet import wavelet_denoise  # noqa: E402
from irad.utils.checkpoint import atomic_write_json  # noqa: E402
from irad.utils.provenance import environment  # noqa: E402

CASES = [  # (side, batch, deflections, window): CIFAR, then the paper's K and r at each ImageNet classifier's input
    (32, 256, 16, 2),  # size (224: the paper and EfficientNet-Lite0; 240: Lite1; 260: Lite2)
    (224, 32, 100, 10),
    (240, 32, 100, 10),
    (260, 32, 100, 10),
]


def reference_deflect(img: np.ndarray, deflections: int, window: int) -> np.ndarray:
    """Algorithm 1 as the reference code runs it: per channel, a random pixel takes a random neighbour's value
    (rejection-sampled inside the image). ``img`` (H, W, C) float in [0, 1]."""
    img = img.copy()
    h, w, c = img.shape
    for _ in range(deflections):
        for ch in range(c):
            x, y = random.randint(0, h - 1), random.randint(0, w - 1)
            while True:
                a, b = random.randint(-window, window), random.randint(-window, window)
                if 0 <= x + a < h and 0 <= y + b < w:
                    break
            img[x, y, ch] = img[x + a, y + b, ch]
    return img


def reference_denoise(img: np.ndarray) -> np.ndarray:
    """The reference's BayesShrink step: scikit-image, one image."""
    return denoise_wavelet(img, method="BayesShrink", mode="soft", wavelet="db1", convert2ycbcr=True,
                           channel_axis=-1, rescale_sigma=True)


def best(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Fastest of ``repeats`` runs of each function, in seconds, the functions taking turns round by round (the
    machine's speed drifts over seconds: interleaving exposes every function to the same drift)."""
    for fn in fns.values():
        fn()
    times = {name: float("inf") for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name] = min(times[name], time.perf_counter() - t0)
    return times


def render(d: dict) -> list[str]:
    """The section's description and table from the results JSON."""
    return ["Reference: the per-pixel Python loop of Algorithm 1 (per channel, as the reference code) and "
            "scikit-image's denoise_wavelet, one image at a time; irad: `pixel-deflection:per_channel=true` on the "
            f"whole batch. Random images, best of {d['repeats']} runs (the timed functions taking turns). "
            f"Machine: {machine(d['environment'])}.", "",
            *table(["image", "batch", "K", "r", "reference img/s", "irad img/s", "speedup",
                    "reference ms/img: skimage denoise",
                    "irad ms/img: deflect / denoise, sigma given / denoise, sigma estimated"],
                   [[f"{r['side']}x{r['side']}", str(r["batch"]), str(r["deflections"]), str(r["window"]),
                     f"{r['reference_images_per_s']:.1f}", f"{r['irad_images_per_s']:.1f}", f"{r['speedup']:.1f}x",
                     f"{r['reference_denoise_ms_per_image']:.2f}",
                     " / ".join(f"{v:.3f}" for v in r["irad_stage_ms_per_image"].values())] for r in d["rows"]])]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=30)
    args = ap.parse_args()
    torch.manual_seed(0)
    random.seed(0)
    rows = []
    for side, batch, k, r in CASES:
        x = torch.rand(batch, 3, side, side)
        arrays = [im.permute(1, 2, 0).numpy() for im in x]
        defense = create_defense(f"pixel-deflection:deflections={k},window={r},per_channel=true").eval()
        with torch.inference_mode():
            t = best({"irad": lambda: defense(x),
                      "deflect": lambda: deflect(x, k, r, per_channel=True),
                      "denoise_sigma_given": lambda: wavelet_denoise(x, sigma=0.05),
                      "denoise_with_estimate": lambda: wavelet_denoise(x),
                      "reference": lambda: [reference_denoise(reference_deflect(a, k, r)) for a in arrays],
                      "reference_denoise": lambda: [reference_denoise(a) for a in arrays]}, args.repeats)
        t_ours, t_ref, t_ref_denoise = t["irad"], t["reference"], t["reference_denoise"]
        stages = {name: t[name] for name in ("deflect", "denoise_sigma_given", "denoise_with_estimate")}
        ms = lambda t: 1e3 * t / batch  # noqa: E731
        rows.append({"side": side, "batch": batch, "deflections": k, "window": r,
                     "reference_images_per_s": batch / t_ref, "irad_images_per_s": batch / t_ours,
                     "speedup": t_ref / t_ours, "reference_denoise_ms_per_image": ms(t_ref_denoise),
                     "irad_stage_ms_per_image": {name: ms(t) for name, t in stages.items()}})
        print(rows[-1], flush=True)
    out = ROOT / "benchmarks" / "results" / "deflection_speed.json"
    atomic_write_json(out, {"environment": environment("cpu"), "repeats": args.repeats, "rows": rows})
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
