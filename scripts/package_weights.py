"""Copy finished training runs into the package (src/irad/models/weights), with the metadata that says how they were
made. Maintainers only: users pass their own runs as paths.

  python scripts/package_weights.py classifier runs/resnet20-cifar10-60 [more stage runs ...]
  python scripts/package_weights.py jpeg-ensemble runs/jpeg-ensemble-cpu
  python scripts/package_weights.py implicit runs/implicit-long --pairs runs/pairs-long --val-pairs runs/pairs-val
  python scripts/package_weights.py implicit runs/implicit-restart ...   # a warm restart: its start run is listed too
  python scripts/package_weights.py irad runs/irad-long
  python scripts/package_weights.py ddpm runs/ddpm-lownoise
  python scripts/package_weights.py irad-imagenet runs/in-irad   # SampleNet run over `irad train implicit --preset imagenet`
"""

from __future__ import annotations

import argparse
import hashlib
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


def reference_output(weights: Path) -> dict:
    """The purified output of the first four foolbox CIFAR-10 samples through ``weights`` (at the pixel grid, or at
    SampleNet's offsets where it has one): a test checks that the packaged copy reproduces it offline."""
    import torch

    from irad.data import load_foolbox_samples
    from irad.models.implicit import ImplicitResampler

    x = load_foolbox_samples("cifar10").tensors[0][:4]
    model = ImplicitResampler.load(weights)
    with torch.no_grad():
        out = model(x).clamp(0, 1)
    query = "SampleNet's offsets (irad)" if model.has_samplenet else "pixel grid (disco)"
    return {"input": "foolbox CIFAR-10 samples 0-3 (lossless PNGs in the foolbox wheel)", "query": query,
            **_summary(out)}


def _summary(out) -> dict:
    """What a packaged model's test compares: per-image channel means and centre pixels of ``out (4, 3, 32, 32)``."""
    return {"channel_means": out.mean(dim=(2, 3)).tolist(), "centre_pixels": out[:, :, 16, 16].tolist()}


def _chain(run: Path) -> list[Path]:
    """``run`` and the runs it warm-restarted from (``--init RUN/best``), first run first."""
    chain = [run]
    while (init := _json(chain[0] / "metrics.json")["config"].get("init")):
        chain.insert(0, Path(init).parent)
    return chain


def _package_best(run: Path, folder: Path, meta: dict) -> None:
    """Copy the run's best validation epoch (``best/``) into ``folder`` with its reference output and a
    training.json of ``meta`` plus the run's configuration, history, CPU hours and chosen epoch; a warm restart
    also lists the runs it started from, and its CPU hours include theirs."""
    metrics = _json(run / "metrics.json")
    history = metrics["history"]
    before = [{"run": r.name, "config": (m := _json(r / "metrics.json"))["config"], "epochs_run": len(m["history"]),
               "history": m["history"], "cpu_hours": m["history"][-1]["cpu_hours"],
               "wall_hours": m["history"][-1]["wall_hours"]} for r in _chain(run)[:-1]]
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("model.safetensors", "config.json"):
        shutil.copy(run / "best" / name, folder / name)
    _write(folder / "reference.json", reference_output(run / "best"))
    _write(folder / "training.json", {
        **meta,
        "training": {"config": metrics["config"], "epochs_run": len(history), "history": history,
                     "cpu_hours": round(history[-1]["cpu_hours"] + sum(b["cpu_hours"] for b in before), 6),
                     "wall_hours": round(history[-1]["wall_hours"] + sum(b["wall_hours"] for b in before), 6),
                     **({"warm_restart_of": before, "cpu_hours_this_run": history[-1]["cpu_hours"]}
                        if before else {})},
        "chosen_epoch": max(history, key=lambda h: h["val_avg"])["epoch"],
        "chosen_by": "highest validation (SA + RA) / 2 of the source ResNet-20", "storage": "float32",
        "machine": MACHINE})


def _implicit_command(run: Path) -> str:
    """The `irad train implicit` line of one run of the chain (a restart names its start and its schedule)."""
    cfg = _json(run / "metrics.json")["config"]
    restart = f" --init runs/{Path(cfg['init']).parent.name}/best --epochs {cfg['epochs']} --lr {cfg['lr']:g}" \
        if cfg.get("init") else ""
    return ("irad train implicit --preset cpu-long --pairs runs/pairs-long --val-pairs runs/pairs-val"
            f"{restart} --out runs/{run.name}")


def implicit(run: Path, pairs: Path, val_pairs: Path, dst: Path = DST) -> None:
    """The built-in implicit representation (``disco``, ``implicit:...``): the run's best epoch on its validation
    pairs (``best/``), float32, with the pairs' and the training's configuration, history and CPU hours."""
    cfg = _json(run / "metrics.json")["config"]
    pairs_meta, val_meta = _json(pairs / "meta.json"), _json(val_pairs / "meta.json")
    if pairs_meta["config"]["weights"] != "irad-cifar10" or val_meta["config"]["weights"] != "irad-cifar10":
        raise SystemExit("the packaged purifier must be trained on pairs from the built-in ResNet-20 (irad-cifar10)")
    _package_best(run, dst / "implicit_cifar10", {
        "what": f"implicit representation (EDSR-baseline {cfg['n_resblocks']}x{cfg['n_feats']} encoder + MLP "
                f"{'x'.join(map(str, cfg['hidden']))} decoder) trained on PGD denoising with L1; `disco` queries it at "
                "the pixel grid, `implicit:sampler=si|sv` with a fixed or random shift",
        "commands": [
            "irad make-pairs --preset cpu-long --data-root ../shared/data --out runs/pairs-long",
            "irad make-pairs --preset cpu-long-val --data-root ../shared/data --out runs/pairs-val",
            *[_implicit_command(r) for r in _chain(run)],
            f"python scripts/package_weights.py implicit runs/{run.name} --pairs runs/pairs-long "
            "--val-pairs runs/pairs-val"],
        "pairs": {"config": pairs_meta["config"], "count": pairs_meta["count"],
                  "source_error_rate": pairs_meta.get("source_error_rate_this_run"),
                  "wall_seconds": pairs_meta.get("wall_seconds_this_run")},
        "validation_pairs": {"config": val_meta["config"], "count": val_meta["count"]}})


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def irad(run: Path, dst: Path = DST) -> None:
    """The built-in IRAD (``irad``): SampleNet's best epoch on its validation pairs over the packaged implicit
    representation, whose encoder and decoder it must have been trained on (checked by hash), float32."""
    cfg = _json(run / "metrics.json")["config"]
    base = dst / "implicit_cifar10"
    implicit_run = Path(cfg["implicit"])
    trained_over = base if cfg["implicit"] == "builtin" else implicit_run
    if _sha256(trained_over / "model.safetensors") != _sha256(base / "model.safetensors"):
        raise SystemExit(f"{run} was trained over {implicit_run}, not the packaged implicit representation; "
                         "package that first (`package_weights.py implicit ...`)")
    _package_best(run, dst / "irad_cifar10", {
        "what": f"SampleNet (MLP {'x'.join(map(str, cfg['hidden']))}) trained with the frozen source ResNet-20's "
                "cross-entropy on resampled clean and adversarial images, over the built-in implicit representation "
                "(implicit_cifar10, whose training.json says how it was made; encoder and decoder frozen)",
        "commands": ["irad train samplenet --preset cpu-long --pairs runs/pairs-long --implicit "
                     f"runs/{implicit_run.parent.name}/best --val-pairs runs/pairs-val"
                     + "".join(f" --{k.replace('_', '-')} {cfg[k]}" for k in ("shift_penalty", "penalize")
                               if cfg.get(k) is not None) + f" --out runs/{run.name}",
                     f"python scripts/package_weights.py irad runs/{run.name}"],
        "implicit_representation": {"weights": "implicit_cifar10/model.safetensors",
                                    "sha256": _sha256(base / "model.safetensors")}})


def irad_imagenet(run: Path, dst: Path = DST) -> None:
    """The ImageNet built-ins (``irad:weights=imagenet``, ``disco:weights=imagenet``): one float16 file holding the
    implicit representation's best epoch and the SampleNet trained over it (frozen: checked tensor by tensor), with
    both runs' configurations, histories and CPU hours. The pairs must come from the source Lite0, never a victim."""
    import torch

    from irad.data import load_foolbox_samples
    from irad.models.implicit import ImplicitResampler

    sn = _json(run / "metrics.json")
    implicit_best = Path(sn["config"]["implicit"])
    imp = _json(implicit_best.parent / "metrics.json")
    for cfg in (sn["config"], imp["config"]):
        for key in ("pairs", "val_pairs"):
            if pairs_source_of(Path(cfg[key]))["classifier"] != "efficientnet-lite0":
                raise SystemExit(f"{cfg[key]} was not crafted on the source efficientnet-lite0")
    full, base = load_file(run / "best" / "model.safetensors"), load_file(implicit_best / "model.safetensors")
    if not all(torch.equal(full[k], v) for k, v in base.items()):
        raise SystemExit(f"{run}'s encoder/decoder differ from {implicit_best}: SampleNet must train over it frozen")
    folder = dst / "irad_imagenet"
    folder.mkdir(parents=True, exist_ok=True)
    ImplicitResampler.load(run / "best").save(folder, dtype=torch.float16)
    x = load_foolbox_samples("imagenet").tensors[0][:4]
    model = ImplicitResampler.load(folder)
    with torch.no_grad():
        outputs = {"irad": model(x).clamp(0, 1), "disco": model(x, use_samplenet=False).clamp(0, 1)}
    _write(folder / "reference.json", {
        "input": "foolbox ImageNet samples 0-3 (224 px)",
        **{name: {"channel_means": out.mean(dim=(2, 3)).tolist(), "pixels_112_112": out[:, :, 112, 112].tolist()}
           for name, out in outputs.items()}})

    def stage(metrics: dict) -> dict:
        h = metrics["history"]
        return {"config": metrics["config"], "epochs_run": len(h), "history": h, "cpu_hours": h[-1]["cpu_hours"],
                "wall_hours": h[-1]["wall_hours"], "chosen_epoch": max(h, key=lambda r: r["val_avg"])["epoch"]}

    pairs = {k: _json(Path(sn["config"][k]) / "meta.json") for k in ("pairs", "val_pairs")}
    _write(folder / "training.json", {
        "what": "ImageNet IRAD: the CIFAR-10 built-in implicit representation fine-tuned on PGD denoising (L1) on "
                "48 px random crops of 800 ImageNet training-side images at 224 px, then SampleNet trained with the "
                "frozen source EfficientNet-Lite0's cross-entropy on 160 px crops; `disco:weights=imagenet` reads the "
                "same file without SampleNet",
        "commands": [
            "irad make-pairs --preset imagenet --data-root ../shared/data --out runs/in-pairs",
            "irad make-pairs --preset imagenet-val --data-root ../shared/data --out runs/in-pairs-val",
            "irad train implicit --preset imagenet --pairs runs/in-pairs --val-pairs runs/in-pairs-val "
            "--out runs/in-implicit",
            "irad train samplenet --preset imagenet --pairs runs/in-pairs --val-pairs runs/in-pairs-val "
            "--implicit runs/in-implicit/best --out runs/in-irad",
            "python scripts/package_weights.py irad-imagenet runs/in-irad"],
        "pairs": {k: {"config": m["config"], "count": m["count"],
                      "source_error_rate": m.get("source_error_rate_this_run"),
                      "wall_seconds": m.get("wall_seconds_this_run")} for k, m in pairs.items()},
        "implicit": stage(imp), "samplenet": stage(sn),
        "cpu_hours": round(imp["history"][-1]["cpu_hours"] + sn["history"][-1]["cpu_hours"], 6),
        "chosen_by": "highest validation (SA + RA) / 2 of the source Lite0 on the 200 validation pairs",
        "storage": "float16 (read back as float32)", "machine": MACHINE})


def pairs_source_of(pairs: Path) -> dict:
    return _json(pairs / "meta.json")["config"]


def ddpm(run: Path, dst: Path = DST) -> None:
    """The built-in DDPM of ``diffpure`` / ``diffpure-irad``: the run's EMA UNet after its last epoch (a low-noise
    denoiser: no validation chooses among epochs), its scheduler and trained range, float32."""
    import torch

    from irad.data import load_foolbox_samples
    from irad.defenses import create_defense

    metrics = _json(run / "metrics.json")
    folder = dst / "ddpm_cifar10"
    shutil.rmtree(folder, ignore_errors=True)
    for sub in ("unet", "scheduler"):
        shutil.copytree(run / sub, folder / sub)
    shutil.copy(run / "trained_range.json", folder / "trained_range.json")
    x = load_foolbox_samples("cifar10").tensors[0][:4]
    with torch.no_grad():
        out = create_defense(f"diffpure:weights={folder},t=20,seed=0")(x)
    _write(folder / "reference.json", {"input": "foolbox CIFAR-10 samples 0-3", "defense": "diffpure:t=20,seed=0",
                                       **_summary(out)})
    history = metrics["history"]
    _write(folder / "training.json", {
        "what": "a purifier-only DDPM (diffusers UNet2DModel, EMA weights) trained with the noise-prediction loss on "
                "the low-noise steps DiffPure uses, on CIFAR-10 (JPEG-75) train",
        "commands": [f"irad train ddpm --preset cpu-lownoise --data-root ../shared/data --out runs/{run.name}",
                     f"python scripts/package_weights.py ddpm runs/{run.name}"],
        "training": {"config": metrics["config"], "epochs_run": len(history), "history": history,
                     "cpu_hours": history[-1]["cpu_hours"], "wall_hours": history[-1]["wall_hours"]},
        "storage": "float32", "machine": MACHINE})


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="what", required=True)
    sub.add_parser("classifier").add_argument("runs", nargs="+", type=Path)
    sub.add_parser("jpeg-ensemble").add_argument("run", type=Path)
    imp = sub.add_parser("implicit")
    imp.add_argument("run", type=Path)
    imp.add_argument("--pairs", type=Path, required=True)
    imp.add_argument("--val-pairs", type=Path, required=True)
    sub.add_parser("irad").add_argument("run", type=Path)
    sub.add_parser("ddpm").add_argument("run", type=Path)
    sub.add_parser("irad-imagenet").add_argument("run", type=Path)
    a = p.parse_args()
    if a.what == "classifier":
        classifier(a.runs)
    elif a.what == "jpeg-ensemble":
        jpeg_ensemble(a.run)
    elif a.what == "implicit":
        implicit(a.run, a.pairs, a.val_pairs)
    elif a.what == "irad":
        irad(a.run)
    elif a.what == "irad-imagenet":
        irad_imagenet(a.run)
    else:
        ddpm(a.run)


if __name__ == "__main__":
    main()
