"""``irad train classifier|implicit|samplenet`` and ``irad make-pairs``: presets plus per-field overrides, resumable."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable

from irad.attacks.registry import check_eps
from irad.cli.common import fraction, fractions
from irad.training import classifier, ddpm, implicit, jpeg_ensemble, pairs, samplenet
from irad.utils.validation import check_range

# command -> (config class, presets, run function, help, required fields)
COMMANDS: dict[str, tuple[type, dict, Callable, str, tuple[str, ...]]] = {
    "classifier": (classifier.ClassifierTrainConfig, classifier.PRESETS, classifier.train_classifier,
                   "train a classifier (resumes from OUT/last.pt)", ()),
    "implicit": (implicit.ImplicitTrainConfig, implicit.PRESETS, implicit.train_implicit,
                 "train the implicit representation on one task of IRAD Table 7 (L1)", ("pairs",)),
    "samplenet": (samplenet.SampleNetTrainConfig, samplenet.PRESETS, samplenet.train_samplenet,
                  "train SampleNet with the frozen source classifier's cross-entropy", ("pairs", "implicit")),
    "jpeg-ensemble": (jpeg_ensemble.JpegEnsembleTrainConfig, jpeg_ensemble.PRESETS, jpeg_ensemble.train_jpeg_ensemble,
                      "noisy training at decreasing JPEG qualities (M -> M90 -> ... -> M30) for jpeg-ensemble", ()),
    "ddpm": (ddpm.DDPMTrainConfig, ddpm.PRESETS, ddpm.train_ddpm,
             "train a DDPM (diffusers UNet, EMA weights) for the diffpure defenses", ()),
}


# list fields whose items are not parsed by their default's type: budgets take fractions (8/255), and a
# comma-separated list of them as --eps does everywhere else
_ITEM_TYPES = {"list[float]": fractions, "list[str]": str, "list[int]": int}

# the range of each numeric config field, by name (check_range's bounds; a list's items each); budgets: check_eps
_RANGES: dict[str, dict[str, object]] = {
    **dict.fromkeys(("epochs", "batch_size", "limit", "train_limit", "test_limit", "patience", "crop",
                     "crops_per_image", "n_resblocks", "n_feats", "hidden", "channels", "layers_per_block",
                     "timesteps", "t_max", "n", "variants", "shard_size"), {"lo": 1, "integer": True}),
    **dict.fromkeys(("offset", "samples", "val_n", "attention_level"), {"lo": 0, "integer": True}),
    **dict.fromkeys(("qualities", "members", "noisy_jpeg"), {"lo": 1, "hi": 100, "integer": True}),
    **dict.fromkeys(("lr", "shift_penalty", "weight_decay"), {"lo": 0}),  # lr 0: a run that keeps its init
    **dict.fromkeys(("momentum", "ema_decay"), {"lo": 0, "hi": 1}),
    "betas": {"lo": 0, "hi": 1, "hi_open": True},
    "init_shift": {},
}
_BUDGETS = ("eps", "adversarial_eps")  # adversarial training is Linf


def _add_fields(p: argparse.ArgumentParser, cls: type, required: tuple[str, ...]) -> None:
    """One ``--field`` per dataclass field; unset fields fall back to the preset, then the dataclass default."""
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        flag = "--" + f.name.replace("_", "-")
        kwargs: dict = {"default": None, "dest": f.name, "required": f.name in required}
        if isinstance(default, bool):
            kwargs["type"] = lambda s: s.lower() in ("1", "true", "yes")
        elif isinstance(default, (list, tuple)):
            kwargs.update(nargs="+", type=_ITEM_TYPES.get(str(f.type), type(default[0]) if default else str))
        elif isinstance(default, float) or f.name in ("eps", "adversarial_eps") or str(f.type) == "float | None":
            kwargs["type"] = fraction
        elif isinstance(default, int) or str(f.type) == "int | None":
            kwargs["type"] = int
        p.add_argument(flag, **kwargs, help=f"(default: preset, else {default!r})")


def _config(cls: type, presets: dict, args: argparse.Namespace):
    values = dict(presets[args.preset])
    for f in dataclasses.fields(cls):
        v = getattr(args, f.name, None)
        if isinstance(v, list) and str(f.type) == "list[float]":  # --eps 1/255,2/255 4/255
            v = [e for item in v for e in (item if isinstance(item, list) else [item])]
        if v is not None:
            values[f.name] = v
    _check_ranges(values)
    return cls(**values)


def _check_ranges(values: dict[str, object]) -> None:
    """Raise :class:`~irad.errors.IradError` naming the flag of the first numeric field outside its range."""
    for name, value in values.items():
        flag = "--" + name.replace("_", "-")
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if item is not None and name in _BUDGETS:
                check_eps(item, str(values.get("norm", "Linf")), flag)
            elif item is not None and name in _RANGES:
                check_range("", flag, item, **_RANGES[name])


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a classifier, the implicit representation, SampleNet, a DDPM or the "
                                     "JPEG ensemble")
    tsub = p.add_subparsers(dest="train_command", required=True)
    for name, (cls, presets, _, help_text, required) in COMMANDS.items():
        c = tsub.add_parser(name, help=help_text, description=help_text + ". Presets: " +
                            "; ".join(f"{k}: {v}" for k, v in presets.items()))
        c.add_argument("--preset", choices=sorted(presets), default="cpu")
        _add_fields(c, cls, required)
        c.add_argument("--device", default="cpu")
        c.add_argument("--out", required=True, help="output directory (weights, metrics.json, last.pt for resuming)")
        c.set_defaults(func=run, command_name=name, out_is_dir=True)
    m = sub.add_parser("make-pairs", help="craft adversarial/clean training pairs on a source classifier",
                       description="PGD pairs for IRAD training, written once as uint8 safetensors shards (resumable). "
                                   "Presets: " + "; ".join(f"{k}: {v}" for k, v in pairs.PRESETS.items()))
    m.add_argument("--preset", choices=sorted(pairs.PRESETS), default="cpu")
    _add_fields(m, pairs.PairsConfig, ())
    m.add_argument("--device", default="cpu")
    m.add_argument("--out", required=True)
    m.set_defaults(func=run_pairs, out_is_dir=True)


def run(args: argparse.Namespace) -> int:
    cls, presets, fn, _, _ = COMMANDS[args.command_name]
    result = fn(_config(cls, presets, args), args.out, device=args.device)
    print(f"done: {result}")
    return 0


def run_pairs(args: argparse.Namespace) -> int:
    cfg = _config(pairs.PairsConfig, pairs.PRESETS, args)
    if cfg.weights in ("none", ""):
        cfg.weights = None
    meta = pairs.make_pairs(cfg, args.out, device=args.device)
    combos = ", ".join(f"{c['attack']} {c['eps'] * 255:.3g}/255" for c in cfg.combos())
    print(f"{meta['count']} pairs of {meta.get('images', meta['count'])} images in {args.out} (source "
          f"{cfg.classifier}, {cfg.norm}: {combos}; {cfg.variants} per image)")
    return 0
