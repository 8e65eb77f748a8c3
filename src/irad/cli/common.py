"""Arguments shared by the subcommands, and what they select (images, the classifier)."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from torch import nn

from irad.attacks.registry import check_eps, parse_attack
from irad.data import default_batch_size, load_eval_data, load_into_memory
from irad.errors import IradError
from irad.models import classifier_info, input_geometry, load_classifier
from irad.utils.spec import parse_value
from irad.utils.validation import check_range


def number(integer: bool = False, **bounds: object) -> Callable[[str], float]:
    """An argparse ``type=``: the text as a number (``8/255`` too; an integer when ``integer``) that
    :func:`~irad.utils.validation.check_range` accepts within ``bounds``, else argparse's one-line error."""

    def convert(text: str) -> float:
        try:
            value = check_range("", "", parse_value(text), integer=integer, **bounds)
        except IradError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
        return value if integer else float(value)

    return convert


fraction = number()  # any finite number or fraction such as 8/255
budget = number(lo=0, lo_open=True)  # --eps: > 0; Linf's upper bound needs --norm (check_threat_model)
positive_int = number(integer=True, lo=1)
nonneg_int = number(integer=True, lo=0)
percent = number(lo=0, hi=100)


def fractions(text: str) -> float | list[float]:
    """``8/255`` -> 8/255; ``1/255,2/255,4/255`` -> a list of budgets (for robustness curves)."""
    parts = [budget(t) for t in text.split(",") if t.strip()]
    if not parts:
        raise argparse.ArgumentTypeError(f"expected a budget or a comma-separated list of them, got {text!r}")
    return parts[0] if len(parts) == 1 else parts


def check_threat_model(eps: float | list[float], norm: str = "Linf", attacks: Sequence[str] = ()) -> None:
    """Reject a bad --eps or --attack before any data loads: each budget and attack spec as
    :func:`~irad.attacks.create_attack` will check it."""
    for e in eps if isinstance(eps, list) else [eps]:
        check_eps(e, norm, "--eps")
        for spec in attacks:
            parse_attack(spec, norm, e)


def add_data_args(p: argparse.ArgumentParser, n_default: int | None = 500) -> None:
    p.add_argument("--dataset", default="cifar10",
                   help="cifar10, cifar100, imagenet, folder, or foolbox-cifar10/foolbox-cifar100/foolbox-imagenet "
                        "(the 20 samples shipped in the foolbox wheel)")
    p.add_argument("--data-root", default=None, help="data directory (default: $IRAD_DATA, else ~/.cache/irad/data)")
    p.add_argument("--split", default="test", choices=["train", "test", "val"])
    p.add_argument("--n", "--num-images", dest="n", type=positive_int, default=n_default,
                   help="stratified subset size: the first n/C images of each class (default: %(default)s); "
                        "under torchrun spell it --num-images (torchrun's own parser claims --n)")
    p.add_argument("--offset", type=nonneg_int, default=0,
                   help="leave out the images --n OFFSET would take: a validation slice disjoint from them")


def add_classifier_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--classifier", default="resnet20", help="classifier name (`irad list classifiers`)")
    p.add_argument("--weights", default="default",
                   help="checkpoint path or weights tag; 'default': the classifier's own default (resnet20: "
                        "irad-cifar10, efficientnet-lite*: imagenet); 'none' for random init (default: %(default)s)")


BATCH_HELP = "images per batch (default: as many as hold 8 Mpixel, at most 128: 128 at 32 px, 15 at 260 px)"


def add_crafting_args(p: argparse.ArgumentParser, attack_help: str) -> None:
    """--attack, --eps, --batch-size, --device: for commands that craft adversarial examples on a classifier."""
    p.add_argument("--attack", default="pgd", help=attack_help)
    p.add_argument("--eps", type=budget, default=8 / 255, help="Linf budget (default: 8/255)")
    p.add_argument("--batch-size", type=positive_int, default=None, help=BATCH_HELP)
    p.add_argument("--device", default="cpu")


def weights_arg(value: str | None, classifier: str | None = None) -> str | None:
    """--weights as :func:`~irad.models.create_classifier` takes it: None for none; ``default`` resolved to the
    classifier's own tag (so results, caches and labels record the real weights)."""
    if value in (None, "", "none"):
        return None
    if value == "default" and classifier is not None:
        return classifier_info(classifier).default_weights or value
    return value


def classifier_from_args(args: argparse.Namespace) -> nn.Module:
    """The classifier --classifier and --weights select, for --dataset's class count, on --device."""
    return load_classifier(args.classifier, weights_arg(args.weights, args.classifier), args.dataset, args.device)


def load_images(args: argparse.Namespace):
    """The images the data arguments select, decoded once: ``(dataset, float (N, 3, H, W) in [0, 1], labels (N,))``."""
    geometry = input_geometry(args.classifier) if getattr(args, "classifier", None) else {}
    data = load_eval_data(args.dataset, args.data_root, args.split, args.n, args.offset, **geometry)
    x, y = load_into_memory(data, desc="loading images")
    return data, x.float().div_(255), y


def batch_size_for(args: argparse.Namespace, x) -> int:
    """``--batch-size``, or by default :func:`~irad.data.default_batch_size` of the images ``x`` (N, 3, H, W)."""
    return args.batch_size or default_batch_size(*x.shape[-2:])


def adversarial_examples(args: argparse.Namespace, model, x, y):
    """``args.attack`` (Linf or ``args.norm``, ``args.eps``) on ``model`` over ``x``, ``y`` in batches of
    ``batch_size_for(args, x)`` on ``args.device``, with a progress bar; returned on the CPU."""
    import torch
    from tqdm.auto import tqdm

    from irad.attacks import create_attack

    attack = create_attack(args.attack, model, getattr(args, "norm", "Linf"), args.eps)
    size = batch_size_for(args, x)
    batches = list(zip(x.split(size), y.split(size)))
    return torch.cat([attack(xb.to(args.device), yb.to(args.device)).cpu() for xb, yb in tqdm(batches, desc=args.attack)])


def write_outputs(args: argparse.Namespace, result: dict, plot) -> None:
    """``result`` to ``--out`` (atomically) and ``plot(result, path)`` to ``--plot``, each when given."""
    from irad.utils.checkpoint import atomic_write_json

    if args.out:
        atomic_write_json(args.out, result)
        print(f"results written to {args.out}")
    if args.plot:
        plot(result, args.plot)
        print(f"plot written to {args.plot}")
