"""Copy finished training runs into the package (src/irad/models/weights), with the metadata that says how they were
made. Maintainers only: users pass their own runs as paths.

  python scripts/package_weights.py classifier runs/resnet20-cifar10-60 [more stage runs ...]
  python scripts/package_weights.py jpeg-ensemble runs/jpeg-ensemble-cpu
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
from pathlib import Path

from safetensors.torch import load_file, save_file

DST = Path(__file__).resolve().parents[1] / "src" / "irad" / "models" / "weights"
MACHINE = f"{os.cpu_count()} CPU cores ({platform.machine()}), no GPU"


def _json(path: Path) -> dict:
    return json.loads(path.read_text())


def _write(path: Path, meta: dict) -> None:
    path.write_text(json.dumps(meta, indent=2) + "\n")
    print(f"wrote {path}")


def _train_command(cfg: dict, run: Path) -> str:
    """The `irad train classifier` line that reproduces a run: every set config field as its flag."""
    flags = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in cfg.items() if v is not None)
    return f"irad train classifier {flags} --out runs/{run.name}"


def classifier(runs: list[Path], dst: Path = DST) -> None:
    """The built-in ResNet-20 (tag irad-cifar10): the last run's weights; every run is listed as a stage."""
    stages = []
    for run in runs:
        cfg, metrics = _json(run / "config.json"), _json(run / "metrics.json")
        stages.append({"command": _train_command(cfg, run), "config": cfg, "final_test_acc": metrics["test_acc"],
                       "test_acc_by_epoch": [h["test_acc"] for h in metrics["history"]]})
    shutil.copy(runs[-1] / "model.safetensors", dst / "resnet20_cifar10_jpeg75.safetensors")
    last = _json(runs[-1] / "metrics.json")
    _write(dst / "resnet20_cifar10_jpeg75.json", {
        "arch": "resnet20",
        "dataset": "CIFAR-10 (JPEG-75), ../shared/data/cifar10 train (50,000 images); tested on its test split",
        "test_acc": last["test_acc"], "test_images": last["test_images"], "stages": stages, "machine": MACHINE,
        "normalisation": "mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225), owned by the model",
    })


def jpeg_ensemble(run: Path, dst: Path = DST) -> None:
    """The built-in NN-favoured JPEG ensemble: fine-tuned members stored as float16 (half the size; the harness
    loads them back into float32), M referenced by its tag."""
    spec = _json(run / "ensemble.json")
    if spec["training"]["weights"] != "irad-cifar10":
        raise SystemExit("the packaged ensemble must start from the built-in ResNet-20 (--weights irad-cifar10)")
    dst = dst / "jpeg_ensemble_cifar10"
    dst.mkdir(parents=True, exist_ok=True)
    members = []
    for m in spec["members"]:
        if m["quality"] is None:
            members.append({"quality": None, "weights": "irad-cifar10"})
            continue
        state = {k: v.half() if v.is_floating_point() else v for k, v in load_file(run / m["weights"]).items()}
        save_file(state, dst / f"M{m['quality']}.safetensors")
        members.append({"quality": m["quality"], "weights": f"M{m['quality']}.safetensors"})
    _write(dst / "ensemble.json", {"classifier": spec["classifier"], "members": members, "training": spec["training"],
                                   "quality_accuracy": _json(run / "quality_accuracy.json"),
                                   "storage": "members in float16", "machine": MACHINE})


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="what", required=True)
    sub.add_parser("classifier").add_argument("runs", nargs="+", type=Path)
    sub.add_parser("jpeg-ensemble").add_argument("run", type=Path)
    a = p.parse_args()
    classifier(a.runs) if a.what == "classifier" else jpeg_ensemble(a.run)


if __name__ == "__main__":
    main()
