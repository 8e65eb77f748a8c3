"""Figures of the analyses (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path


def plot_aliasing_vs_robustness(results: list[dict], path: str | Path) -> None:
    """Robust accuracy vs aliasing metric, one panel per downsampling layer, one marker per model (Grabinski et
    al., Fig. 4-5). ``results``: ``{"model", "robust_accuracy", "layers": [{"name", "am", ...}]}`` per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
