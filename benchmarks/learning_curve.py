"""Learning curve of an implicit-representation training run: per epoch, the CPU hours spent so far, the held-out
SA / RA of the source classifier recorded during training (validation pairs), and the victim's SA / RA through
that epoch's snapshot from an `irad eval` run over the snapshots.

    python benchmarks/learning_curve.py --metrics RUN/metrics.json --eval results.json --out curve.json --plot curve.png

``--eval`` rows are matched to epochs by the ``epoch-NNN`` in their defense spec.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from report import machine, table  # noqa: E402

from irad.analysis.plots import headless_pyplot, save_figure  # noqa: E402
from irad.utils.checkpoint import atomic_write_json  # noqa: E402


def curve(history: list[dict], results: list[dict]) -> list[dict]:
    victim = {}
    for r in results:
        m = re.search(r"epoch-(\d+)", r["defense"])
        if m:
            victim[int(m.group(1))] = {"victim_sa": r["sa"], "victim_ra": r["ra"], "victim_attack": r["attack"]}
    return [{k: h[k] for k in ("epoch", "cpu_hours", "wall_hours", "loss", "val_l1", "val_sa", "val_ra") if k in h}
            | victim.get(h["epoch"], {}) for h in history]


def plot(rows: list[dict], path: str | Path, source: str, victim: str) -> None:
    plt = headless_pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    hours = [r["cpu_hours"] for r in rows]
    for key, label, style in (("val_sa", f"SA, {source}", "C0--"), ("val_ra", f"RA, {source}", "C1--"),
                              ("victim_sa", f"SA, {victim}", "C0-"), ("victim_ra", f"RA, {victim}", "C1-")):
        pts = [(h, r[key]) for h, r in zip(hours, rows) if key in r]
        if pts:
            ax.plot(*zip(*pts), style, marker="o", markersize=3, label=label)
    ax.set_xlabel("CPU hours (process time, all threads)")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path)


def render(d: dict) -> list[str]:
    """The section's description and table from the results JSON."""
    return ["Per epoch of `irad train implicit --preset cpu-long`: CPU hours so far (process time of all threads), "
            "L1 and the source ResNet-20's SA / RA on the validation pairs (CIFAR-10 JPEG-75 test images 101-200 of "
            "each class, PGD-20 on ResNet-20; the best epoch by (SA + RA) / 2 is kept), and the victim ResNet-56's SA "
            f"/ RA through that epoch's snapshot queried DISCO-style (first {d['eval_n']} test images, stratified, "
            f"PGD-10 Linf 8/255, oblivious). Machine: {machine(d['environment'])}.", "",
            *table(["epoch", "CPU hours", "val L1", "val SA / RA (ResNet-20)", "SA / RA (ResNet-56, PGD-10)"],
                   [[str(r["epoch"]), f"{r['cpu_hours']:.2f}", f"{r['val_l1']:.4f}",
                     f"{r['val_sa']:.1f} / {r['val_ra']:.1f}",
                     f"{r['victim_sa']:.1f} / {r['victim_ra']:.1f}" if "victim_sa" in r else "-"] for r in d["rows"]])]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--metrics", required=True, help="the run's metrics.json (or a training.json with 'history')")
    ap.add_argument("--eval", default=None, help="`irad eval` results over the run's epoch snapshots")
    ap.add_argument("--source", default="ResNet-20 (source), validation pairs")
    ap.add_argument("--victim", default="ResNet-56 (victim), PGD-10 oblivious")
    ap.add_argument("--out", required=True)
    ap.add_argument("--plot", required=True)
    args = ap.parse_args()
    history = json.loads(Path(args.metrics).read_text())["history"]
    evaluation = json.loads(Path(args.eval).read_text()) if args.eval else {"results": [], "environment": None}
    rows = curve(history, evaluation["results"])
    eval_n = next((r["n"] for r in evaluation["results"]), None)
    atomic_write_json(args.out, {"metrics": args.metrics, "eval": args.eval, "eval_n": eval_n, "source": args.source,
                                 "victim": args.victim, "environment": evaluation["environment"], "rows": rows})
    plot(rows, args.plot, args.source, args.victim)
    print(f"wrote {args.out} and {args.plot}")


if __name__ == "__main__":
    main()
