"""Figures of the analyses (matplotlib, headless)."""

from __future__ import annotations

import textwrap
from pathlib import Path


def headless_pyplot():
    """matplotlib.pyplot on the headless Agg backend (imported on first use: plotting is optional)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str | Path, dpi: int = 120) -> None:
    """Write ``fig`` to ``path`` (parent folders created) and free it."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    headless_pyplot().close(fig)


def plot_aliasing_vs_robustness(results: list[dict], path: str | Path) -> None:
    """Robust accuracy vs aliasing metric, one panel per downsampling layer, one marker per model (Grabinski et
    al., Fig. 4-5). ``results``: ``{"model", "robust_accuracy", "layers": [{"name", "am", ...}]}`` per model."""
    plt = headless_pyplot()

    names = list(dict.fromkeys(layer["name"] for r in results for layer in r["layers"]))
    cols = min(len(names), 4)
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.8 * rows), squeeze=False)
    markers = "osD^v<>ph*"
    for ax, name in zip(axes.flat, names):
        for i, r in enumerate(results):
            am = next((layer["am"] for layer in r["layers"] if layer["name"] == name), None)
            if am is not None:
                ax.scatter(am, r["robust_accuracy"], marker=markers[i % len(markers)], label=r["model"])
        ax.set_title(name, fontsize=8)
        ax.set_xlabel("aliasing metric (AM)")
        ax.set_ylabel("robust accuracy (%)")
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(results), 3), fontsize=7)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    save_figure(fig, path)


def plot_dct_statistics(result: dict, path: str | Path) -> None:
    """Std of the 64 DCT coefficients (zigzag order) per colour channel, benign vs perturbation (log scale)."""
    plt = headless_pyplot()

    from irad.analysis.dct_stats import zigzag_order

    order = zigzag_order()
    fig, axes = plt.subplots(2, 3, figsize=(12, 6), sharex=True)
    for ax, ch in zip(axes.flat, result["channels"]):
        for key, label in (("benign_std", "benign"), ("perturbation_std", "perturbation")):
            ax.semilogy([result[key][ch][i][j] for i, j in order], label=label)
        ax.set_title(ch)
        ax.set_xlabel("DCT coefficient (zigzag index)")
        ax.set_ylabel("std (0-255 scale)")
    axes.flat[0].legend()
    fig.tight_layout()
    save_figure(fig, path)


def plot_table_search(result: dict, path: str | Path) -> None:
    """Heat map of adversarial accuracy over (k, QS_AF); tables over the benign-accuracy budget are greyed out and
    the choice is circled."""
    plt = headless_pyplot()
    import numpy as np

    ks = sorted({r["k"] for r in result["grid"]})
    qs = sorted({r["qs_af"] for r in result["grid"]})
    adv = np.full((len(ks), len(qs)), np.nan)
    ok = np.zeros_like(adv, dtype=bool)
    for r in result["grid"]:
        i, j = ks.index(r["k"]), qs.index(r["qs_af"])
        adv[i, j] = r["adv_acc"]
        ok[i, j] = result["base_benign_acc"] - r["benign_acc"] < result["settings"]["max_drop"]
    fig, ax = plt.subplots(figsize=(10, 5))
    im = ax.imshow(np.where(ok, adv, np.nan), aspect="auto", origin="lower", cmap="viridis")
    ax.imshow(np.where(ok, np.nan, adv), aspect="auto", origin="lower", cmap="Greys", alpha=0.5)
    fig.colorbar(im, label="accuracy on adversarial examples after compression (%)")
    ax.set_xticks(range(len(qs)), qs, fontsize=7)
    ax.set_yticks(range(len(ks)), ks)
    ax.set_xlabel("QS_AF (coarse step)")
    ax.set_ylabel("k (zigzag diagonals in the fine band)")
    if result.get("choice"):
        c = result["choice"]
        ax.scatter(qs.index(c["qs_af"]), ks.index(c["k"]), s=200, facecolors="none", edgecolors="red", linewidths=2)
    ax.set_title(f"grey: benign accuracy drops {result['settings']['max_drop']} points or more")
    fig.tight_layout()
    save_figure(fig, path)


def plot_quality_accuracy(result: dict, path: str | Path) -> None:
    """Clean accuracy of each model of the JPEG ensemble chain vs the JPEG quality of its test images (the NN-favoured
    JPEG paper's Figure 6). ``result``: ``{"n", "accuracy": {model: {"none" | "90" | ...: percent}}}``."""
    plt = headless_pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for model, row in result["accuracy"].items():
        ax.plot(list(row), list(row.values()), marker="o", label=model)
    ax.set_xlabel("JPEG quality of the test images (none: uncompressed)")
    ax.set_ylabel(f"clean accuracy (%), n={result['n']}")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path)


def plot_offsets(result: dict, path: str | Path) -> None:
    """Histogram of each image's mean |offset| (pixels) per image set, from ``irad analyze offsets``."""
    plt = headless_pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for name, stats in result["offsets"].items():
        ax.hist(stats["per_image_mean_abs_px"], bins=40, alpha=0.6, label=f"{name} (mean {stats['mean_abs_px']:.3f})")
    ax.set_xlabel("mean |offset| per image (pixels)")
    ax.set_ylabel("images")
    ax.set_title(textwrap.fill(f"SampleNet shifts: {result['defense']}, {result['attack']} on {result['classifier']}",
                               70), fontsize=8)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


def _axis_eps(row) -> float:
    """A row's budget on the curve's x axis: Linf in units of 1/255, others as they are."""
    return row.eps * 255 if row.norm == "Linf" else row.eps


def plot_robustness_curve(rows: list, path: str | Path) -> None:
    """RA against eps, one line per (defense, attack, scenario) of ``rows`` (:class:`~irad.evaluation.ResultRow`),
    each with its 95% interval as a band (Carlini et al. 2019: accuracy against the budget as a curve)."""
    from irad.evaluation.results import interval

    plt = headless_pyplot()
    curves: dict[tuple, list] = {}
    for r in rows:
        curves.setdefault((r.defense, r.attack, r.scenario), []).append(r)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for (defense, attack, scenario), rs in curves.items():
        rs = sorted(rs, key=lambda r: r.eps)
        eps = [_axis_eps(r) for r in rs]
        lo, hi = zip(*(interval(r, "ra") for r in rs))
        label = defense + (f" [{attack}]" if len({k[1] for k in curves}) > 1 else "")
        (line,) = ax.plot(eps, [r.ra for r in rs], marker="o", label=label)
        ax.fill_between(eps, lo, hi, color=line.get_color(), alpha=0.15)
    norms = {r.norm for r in rows}
    budgets = sorted({_axis_eps(r) for r in rows})
    if budgets[0] > 0 and budgets[-1] >= 4 * budgets[0]:  # budgets that double (1, 2, 4, ...): evenly spaced
        ax.set_xscale("log", base=2)
        ax.set_xticks(budgets, [f"{b:g}" for b in budgets])
        ax.minorticks_off()
    ax.set_xlabel("eps (x/255)" if norms == {"Linf"} else "eps")
    ax.set_ylabel("robust accuracy (%)")
    ax.set_ylim(0, 100)
    scenarios = sorted({k[2] for k in curves})
    n = sorted({r.n for r in rows})
    ax.set_title(f"RA vs budget ({', '.join(scenarios)}; n={', '.join(map(str, n))}; bands: 95% Wilson)", fontsize=9)
    if len(curves) > 4:  # many curves: the legend beside the axes, not over them
        fig.set_size_inches(8.4, 4.2)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    else:
        ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path)
