"""``irad demo``: the main job, offline on CPU in minutes. The package's own ResNet-20, a CIFAR-10 subset (or the
foolbox samples when no data is found), oblivious PGD at 8/255, every shipped defense; a table, a JSON and a PNG grid."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from irad.cli.common import positive_int
from irad.data import load_dataset, load_eval_data
from irad.errors import IradError
from irad.evaluation import format_table
from irad.evaluation.experiment import EvalConfig, run_eval

DEMO_DEFENSES = [
    "none",
    "irad",
    "disco",
    "resample:recon=bilinear,sampler=si,shift=1.5",
    "resample:recon=bilinear,sampler=sv,shift=1.5",
    "resample:recon=nearest,sampler=si,shift=1.5",
    "bit-depth:bits=4",
    "jpeg:quality=75",
    "randomization",
    "median:size=3",
    "jpeg-ensemble",
]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="the main job: attack the built-in classifier, compare defenses, save a picture",
                       description=__doc__)
    p.add_argument("--data-root", default=None, help="where CIFAR-10 lives (default: $IRAD_DATA, else ~/.cache/irad/data)")
    p.add_argument("--n", type=positive_int, default=200, help="test images (stratified; default: %(default)s)")
    p.add_argument("--out-dir", default="irad-demo", help="where results.json and grid.png go (default: %(default)s)")
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=run)


def _has_cifar10(data_root: str | None) -> bool:
    try:
        load_dataset("cifar10", data_root, "test")
        return True
    except IradError:
        return False


def run(args: argparse.Namespace) -> int:
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cifar10 = _has_cifar10(args.data_root)
    if not cifar10:
        print("CIFAR-10 not found under the data root; using the 20 lossless CIFAR-10 samples shipped in foolbox")
    cfg = EvalConfig(dataset="cifar10" if cifar10 else "foolbox-cifar10", data_root=args.data_root, n=args.n,
                     classifier="resnet20", weights="irad-cifar10", defenses=DEMO_DEFENSES, attacks=["pgd"],
                     scenario="oblivious", eps=8 / 255, device=args.device, out=str(out / "results.json"))
    rows = run_eval(cfg)
    print(f"\nCIFAR-10 ({'JPEG-75 ' if cifar10 else 'foolbox samples, '}n={rows[0].n}), classifier resnet20 "
          f"(irad-cifar10 weights), PGD-10 Linf 8/255, oblivious scenario:\n")
    print(format_table(rows))
    print("\nirad and disco: the built-in weights, trained on pairs crafted on this ResNet-20 (irad's pairs and "
          "SampleNet on an earlier build of it, 87.36%; see each training.json), so source and victim (nearly) "
          "coincide here; BENCHMARKS.md evaluates them on a different victim.")
    _grid(cfg, out / "grid.png")
    print(f"\nwrote {out / 'results.json'} and {out / 'grid.png'}")
    return 0


def _grid(cfg: EvalConfig, path: Path, count: int = 6) -> None:
    """Columns: clean, adversarial, then each defense applied to the adversarial image; predicted class under each."""
    from irad.analysis.plots import headless_pyplot, save_figure
    from irad.attacks import create_attack
    from irad.data import CIFAR10_CLASSES
    from irad.defenses import create_defense
    from irad.models import load_classifier

    data = load_eval_data(cfg.dataset, cfg.data_root, cfg.split, cfg.n)
    idx = torch.linspace(0, len(data) - 1, count).long().tolist()
    x = torch.stack([data[i][0] for i in idx]).to(cfg.device)
    y = torch.tensor([int(data[i][1]) for i in idx], device=cfg.device)
    model = load_classifier(cfg.classifier, cfg.weights, cfg.dataset, cfg.device)
    torch.manual_seed(cfg.seed)
    x_adv = create_attack("pgd", model, cfg.norm, cfg.eps)(x, y)
    with torch.no_grad():
        columns, preds = [("clean", x), ("adversarial", x_adv)], [model(x).argmax(1), model(x_adv).argmax(1)]
        for spec in cfg.defenses:
            if spec == "none":
                continue
            defense = create_defense(spec).to(cfg.device)
            title = spec.split(":")[0] + ("\n" + spec.split(":")[1] if ":" in spec else "")
            if defense.predicts_itself:  # show its input and its prediction
                columns.append((title + "\n(own prediction)", x_adv))
                preds.append(defense.predict(model, x_adv))
            else:
                columns.append((title, defense(x_adv)))
                preds.append(model(columns[-1][1]).argmax(1))
    fig, axes = headless_pyplot().subplots(count, len(columns), figsize=(1.6 * len(columns), 1.7 * count), squeeze=False)
    for c, ((title, imgs), pred) in enumerate(zip(columns, preds)):
        for r in range(count):
            ax = axes[r][c]
            ax.imshow(imgs[r].permute(1, 2, 0).cpu().clamp(0, 1).numpy(), interpolation="nearest")
            ok = bool(pred[r] == y[r])
            ax.set_xlabel(CIFAR10_CLASSES[int(pred[r])], color="green" if ok else "red", fontsize=7)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(title.replace(",", ",\n"), fontsize=6)
    fig.suptitle("PGD Linf 8/255 on resnet20; defenses applied to the adversarial image (label: prediction)", fontsize=8)
    fig.tight_layout()
    save_figure(fig, path, dpi=130)
