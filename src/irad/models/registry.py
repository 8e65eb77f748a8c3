"""Classifier registry: ``create_classifier(name, weights=..., num_classes=...)`` as in timm's ``create_model``."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import torch
from torch import nn

from irad.data import dataset_classes
from irad.errors import IradError
from irad.models import efficientnet_lite as lite
from irad.models.cifar_resnet import CifarResNet
from irad.models.normalized import NormalizedClassifier
from irad.models.resnet18 import ResNet18
from irad.models.vgg import VGG16BN
from irad.models.wideresnet import WideResNet
from irad.utils.checkpoint import load_module_weights

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
IDELBAYEV_URL = "https://github.com/akamaster/pytorch_resnet_cifar10/raw/master/pretrained_models/"


@dataclass(frozen=True)
class ClassifierInfo:
    """How to build one architecture and which named weights exist for it.

    ``weights`` maps a tag to ``package:<file>`` (shipped in ``irad/models/weights``), ``url:<address>``
    (downloaded once into the torch hub cache), ``torchvision:<enum>`` (torchvision's own weights) or a function
    returning the state dict (weights from an installed package). ``default_weights``: the tag ``weights="default"``
    (the command line's default) selects. ``crop_pct``: the ImageNet loader resizes the shorter side to
    ``input_size / crop_pct`` and centre-crops ``input_size``.
    """

    name: str
    build: Callable[[int], nn.Module]
    num_classes: int
    input_size: int
    description: str
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    weights: dict[str, str | Callable[[], dict[str, torch.Tensor]]] = field(default_factory=dict)
    default_weights: str | None = None
    crop_pct: float = 0.875


_REGISTRY: dict[str, ClassifierInfo] = {}


def register_classifier(info: ClassifierInfo) -> ClassifierInfo:
    _REGISTRY[info.name] = info
    return info


def list_classifiers() -> list[ClassifierInfo]:
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def classifier_info(name: str) -> ClassifierInfo:
    if name not in _REGISTRY:
        raise IradError(f"unknown classifier {name!r}; available: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def create_classifier(name: str, weights: str | os.PathLike | None = None, num_classes: int | None = None) -> nn.Module:
    """Build a classifier taking images ``(N, 3, H, W)`` in [0, 1] and returning logits (it owns its normalisation).

    Args:
        name: an architecture of :func:`list_classifiers` (``irad list classifiers``), e.g. ``"resnet20"``.
        weights: a checkpoint path (safetensors, or a torch state dict read with ``weights_only=True``), a tag of
            the architecture (e.g. ``"irad-cifar10"``, ``"idelbayev"``, ``"imagenet"``), ``"default"`` for the
            architecture's default tag, or None for random initialisation.
        num_classes: the head's size (default: the architecture's own).

    Returns:
        The model in eval mode, on the CPU.

    Raises:
        IradError: an unknown name or tag, or a checkpoint that is missing, unsafe or does not match.

    Example::

        >>> model = create_classifier("resnet20", weights="irad-cifar10")
        >>> model(torch.rand(4, 3, 32, 32)).shape
        torch.Size([4, 10])
    """
    info = classifier_info(name)
    n = num_classes or info.num_classes
    net = info.build(n)
    if weights == "default":
        if info.default_weights is None:
            tags = ", ".join(info.weights) or "none"
            raise IradError(f"{name!r} has no default weights; pass a checkpoint path, a tag ({tags}) or 'none'")
        weights = info.default_weights
    if weights is not None:
        if str(weights) in info.weights:
            _load_tagged(net, info, str(weights))
        elif Path(weights).exists():
            load_module_weights(net, weights, what=f"classifier {name!r}")
        else:
            tags = ", ".join(info.weights) or "none"
            raise IradError(f"weights {str(weights)!r} for {name!r} is neither an existing file nor a known tag (tags: {tags})")
    return NormalizedClassifier(net, info.mean, info.std).eval()


def load_classifier(name: str, weights: str | os.PathLike | None = None, dataset: str | None = None,
                    device: str | torch.device = "cpu") -> nn.Module:
    """The classifier a command or an evaluation run uses: :func:`create_classifier` with the class count of
    ``dataset`` (a name :func:`~irad.data.load_eval_data` takes; None or a class-folder layout: the architecture's
    own), on ``device``, in eval mode."""
    return create_classifier(name, weights, dataset_classes(dataset) if dataset else None).to(device)


def input_geometry(name: str) -> dict[str, float]:
    """``{"image_size", "crop_pct"}`` of classifier ``name``: what the ImageNet loader needs to feed it."""
    info = classifier_info(name)
    return {"image_size": info.input_size, "crop_pct": info.crop_pct}


def packaged_weights(name: str, hint: str = "") -> Path:
    """Path of file or folder ``name`` among the weights shipped inside the package; a clear error if absent."""
    path = Path(str(resources.files("irad.models") / "weights" / name))
    if not path.exists():
        raise IradError(f"packaged weights {name} are missing from this installation of irad" + (f"; {hint}" if hint else ""))
    return path


def _load_tagged(net: nn.Module, info: ClassifierInfo, tag: str) -> None:
    source = info.weights[tag]
    if callable(source):
        load_module_weights(net, source(), what=f"classifier {info.name!r}")
        return
    kind, _, ref = source.partition(":")
    if kind == "package":
        load_module_weights(net, packaged_weights(ref), what=f"classifier {info.name!r}")
    elif kind == "url":
        import torch.hub

        try:
            state = torch.hub.load_state_dict_from_url(ref, map_location="cpu", weights_only=True, check_hash=True)
        except OSError as e:
            raise IradError(f"cannot download {ref} ({e}); download it by hand and pass its path as weights") from None
        load_module_weights(net, state, what=f"classifier {info.name!r}")
    elif kind == "torchvision":
        import torchvision

        enum_name, _, member = ref.partition(".")
        w = getattr(getattr(torchvision.models, enum_name), member)
        try:
            state = w.get_state_dict(progress=True, check_hash=True)
        except OSError as e:
            raise IradError(f"cannot download torchvision weights {ref} ({e})") from None
        load_module_weights(net, state, what=f"classifier {info.name!r}")


def _cifar(depth: int, idelbayev_file: str | None, shipped: str | None = None) -> ClassifierInfo:
    weights = {}
    if idelbayev_file:
        weights["idelbayev"] = "url:" + IDELBAYEV_URL + idelbayev_file
    if shipped:
        weights["irad-cifar10"] = "package:" + shipped
    return ClassifierInfo(
        name=f"resnet{depth}", build=lambda n: CifarResNet(depth, n), num_classes=10, input_size=32,
        description=f"CIFAR ResNet-{depth}, option-A shortcuts (He et al. 2016)", weights=weights,
        default_weights="irad-cifar10" if shipped else None,
    )


def _lite(variant: int) -> ClassifierInfo:
    size, crop = lite.VARIANTS[variant]
    return ClassifierInfo(
        name=f"efficientnet-lite{variant}", build=lambda n: lite.build_lite(variant, n), num_classes=1000,
        input_size=size, crop_pct=crop, mean=(127 / 255,) * 3, std=(128 / 255,) * 3,
        description=f"EfficientNet-Lite{variant} for ImageNet (timm architecture; weights: {lite.INSTALL_HINT})",
        weights={"imagenet": lambda: lite.package_weights(variant)}, default_weights="imagenet",
    )


def _torchvision_resnet50(n: int) -> nn.Module:
    import torchvision

    return torchvision.models.resnet50(num_classes=n)


register_classifier(_cifar(20, "resnet20-12fca82f.th", shipped="resnet20_cifar10_jpeg75.safetensors"))
register_classifier(_cifar(32, "resnet32-d509ac18.th"))
register_classifier(_cifar(44, "resnet44-014dd654.th"))
register_classifier(_cifar(56, "resnet56-4bfd9763.th"))
register_classifier(ClassifierInfo("resnet18", ResNet18, 10, 32, "ResNet-18 for 32x32 inputs (projection shortcuts)"))
register_classifier(ClassifierInfo("wrn28-10", lambda n: WideResNet(28, 10, n), 10, 32, "WideResNet-28-10"))
register_classifier(ClassifierInfo("vgg16bn", VGG16BN, 10, 32, "VGG-16 with batch norm for 32x32 inputs"))
register_classifier(ClassifierInfo(
    "resnet50", _torchvision_resnet50, 1000, 224, "torchvision ImageNet ResNet-50",
    weights={"imagenet": "torchvision:ResNet50_Weights.IMAGENET1K_V1"}, default_weights="imagenet",
))
for _variant in lite.VARIANTS:
    register_classifier(_lite(_variant))
