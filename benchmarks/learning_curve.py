"""Learning curve of an implicit-representation training run and its warm restarts: per epoch, the CPU hours spent
so far, the held-out SA / RA of the source classifier recorded during training (validation pairs), and the victim's
SA / RA through that epoch's snapshot from an `irad eval` run over the snapshots.

    python benchmarks/learning_curve.py --metrics RUN/metrics.json [RESTART/metrics.json ...] --eval results.json \
        --out curve.json --plot curve.png

Runs are chained in the order given (epochs numbered on, CPU hours added up); ``--eval`` rows are matched to a run's
epochs by ``<run directory name>/epochs/epoch-NNN`` in their defense spec.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from report import ci_text, machine, table  # noqa: E402

from irad.analysis.plots import headless_pyplot, save_figure  # noqa: E402
from irad.training.pairs import PRESETS as PAIR_PRESETS  # noqa: E402

VAL_N = PAIR_PRESETS["cpu-long-val"]["n"]  # the validation pairs every epoch is scored on
from irad.utils.checkpoint import atomic_write_json  # noqa: E402

KEYS = ("epoch", "cpu_hours", "wall_hours", "loss", "val_l1", "val_sa", "val_ra")


def curve(runs: list[tuple[str, list[dict]]], results: list[dict]) -> list[dict]:
    """One row per epoch of the chained ``(run name, history)`` runs, with the victim's numbers where evaluated."""
    victim = {}
    for r in results:
        m = re.search(r"([^/]+)/epochs/epoch-(\d+)", r["defense"])
        if m:
            victim[m.group(1), int(m.group(2))] = {"victim_sa": r["sa"], "victim_ra": r["ra"],
                                                   "victim_attack": r["attack"]}
    rows: list[dict] = []
    for name, history in runs:
        before = {"epoch": rows[-1]["epoch"], "cpu_hours": rows[-1]["cpu_hours"],
                  "wall_hours": rows[-1]["wall_hours"]} if rows else {}
        for h in history:
            row = {k: h[k] for k in KEYS if k in h} | {"run": name}
            for k in before:
                row[k] = round(row[k] + before[k], 6)
            rows.append(row | victim.get((name, h["epoch"]), {}))
    return rows


def plot(rows: list[dict], path: str | Path, source: str, victim: str) -> None:
    plt = headless_pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    hours = [r["cpu_hours"] for r in rows]
    for key, label, style in (("val_sa", f"SA, {source}", "C0--"), ("val_ra", f"RA, {source}", "C1--"),
                              ("victim_sa", f"SA, {victim}", "C0-"), ("victim_ra", f"RA, {victim}", "C1-")):
        pts = [(h, r[key]) for h, r in zip(hours, rows) if key in r]
        if pts:
            ax.plot(*zip(*pts), style, marker="o", markersize=3, label=label)
    for prev, r in zip(rows, rows[1:]):
        if r.get("run") != prev.get("run"):
            ax.axvline(prev["cpu_hours"], color="grey", linestyle=":", linewidth=1)  # a warm restart begins
    ax.set_xlabel("CPU hours (process time, all threads)")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path)


def render(d: dict) -> list[str]:
    """The section's description and table from the results JSON."""
    return ["Per epoch of `irad train implicit --preset cpu-long` and of its warm restart (`--init`, a new cosine "
            "schedule; epochs numbered on): CPU hours so far (process time of all threads), L1 and the source "
            "ResNet-20's SA / RA on the validation pairs (CIFAR-10 JPEG-75 test images 101-200 of each class, PGD-20 "
            "on ResNet-20; each run keeps its best epoch by (SA + RA) / 2), and the victim ResNet-56's SA / RA "
            f"through that epoch's snapshot queried DISCO-style (first {d['eval_n']} test images, stratified, PGD-10 "
            f"Linf 8/255, oblivious). Machine: {machine(d['environment'])}.", "",
            *table(["run", "epoch", "CPU hours", "val L1", f"val SA / RA (ResNet-20, n={VAL_N}; 95% CI)",
                    f"SA / RA (ResNet-56, PGD-10, n={d['eval_n']}; 95% CI)"],
                   [[r.get("run", "-"), str(r["epoch"]), f"{r['cpu_hours']:.2f}", f"{r['val_l1']:.4f}",
                     _sa_ra(r["val_sa"], r["val_ra"], VAL_N),
                     _sa_ra(r["victim_sa"], r["victim_ra"], d["eval_n"]) if "victim_sa" in r else "-"]
                    for r in d["rows"]])]


def _sa_ra(sa: float, ra: float, n: int) -> str:
    return f"{sa:.1f} ({ci_text(sa, n)}) / {ra:.1f} ({ci_text(ra, n)})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--metrics", required=True, nargs="+",
                    help="the run's metrics.json, then those of its warm restarts (`--init`), in order")
    ap.add_argument("--eval", default=None, help="`irad eval` results over the run's epoch snapshots")
    ap.add_argument("--source", default="ResNet-20 (source), validation pairs")
    ap.add_argument("--victim", default="ResNet-56 (victim), PGD-10 oblivious")
    ap.add_argument("--out", required=True)
    ap.add_argument("--plot", required=True)
    args = ap.parse_args()
    runs = [(Path(m).parent.name, json.loads(Path(m).read_text())["history"]) for m in args.metrics]
    evaluation = json.loads(Path(args.eval).read_text()) if args.eval else {"results": [], "environment": None}
    rows = curve(runs, evaluation["results"])
    eval_n = next((r["n"] for r in evaluation["results"]), None)
    atomic_write_json(args.out, {"metrics": args.metrics, "eval": args.eval, "eval_n": eval_n, "source": args.source,
                                 "victim": args.victim, "environment": evaluation["environment"], "rows": rows})
    plot(rows, args.plot, args.source, args.victim)
    print(f"wrote {args.out} and {args.plot}")


if __name__ == "__main__":
    main()
