"""Datasets as ``(image (3, H, W) float in [0, 1], label int)``: CIFAR-10/100, ImageNet, and class-folder layouts.

Lookup order for ``<root>`` (``--data-root``, else ``$IRAD_DATA``, else ``~/.cache/irad/data``):
1. a class-folder layout ``<root>/<dataset>/<split>/<class>/*`` (or ``<root>/<split>/<class>/*``);
2. for CIFAR, torchvision's own files under ``<root>/<dataset>`` (downloaded there with ``irad data fetch``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch
from torch.utils.data import Dataset, Subset, TensorDataset
from torchvision import datasets as tvd
from torchvision import transforms as T

from irad.data.images import open_rgb, to_tensor
from irad.errors import IradError
from irad.utils.validation import check_choice

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
DATASETS = ("cifar10", "cifar100", "imagenet", "folder")
SPLITS = ("train", "test", "val")
NUM_CLASSES = {"cifar10": 10, "cifar100": 100, "imagenet": 1000}
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".webp", ".tif", ".tiff")


def resolve_data_root(root: str | os.PathLike | None = None) -> Path:
    """``root`` if given, else ``$IRAD_DATA``, else ``~/.cache/irad/data``."""
    if root:
        return Path(root).expanduser()
    env = os.environ.get("IRAD_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "irad" / "data"


def same_data_root(a: str | os.PathLike | None, b: str | os.PathLike | None) -> bool:
    """Whether two spellings of a data root (relative or absolute, through a link, or the default) are one folder."""
    return resolve_data_root(a).resolve() == resolve_data_root(b).resolve()


def same_setting(key: str, old: object, new: object) -> bool:
    """Whether a recorded setting equals this run's (a ``data_root`` in any spelling of the same folder)."""
    return same_data_root(old, new) if key == "data_root" else old == new


def same_settings(old: dict, new: dict) -> bool:
    """Whether two recorded configurations are equal key by key (:func:`same_setting`)."""
    return old.keys() == new.keys() and all(same_setting(k, old[k], new[k]) for k in old)


class ImageFolderDataset(tvd.ImageFolder):
    """torchvision's ImageFolder with an error naming the file when an image cannot be read."""

    def __init__(self, root: str | os.PathLike, transform=None):
        super().__init__(str(root), transform=transform, loader=open_rgb, is_valid_file=_is_image)


class ImageNetFolder(ImageFolderDataset):
    """``<split>/<wnid>/*`` with each folder's label its wnid's index in the 1000-class list ``wnids`` (a split may
    hold any subset of the classes: ``classes`` is always the full list)."""

    def __init__(self, root: str | os.PathLike, wnids: Sequence[str], transform=None):
        self._wnids = list(wnids)
        unknown = sorted(d.name for d in Path(root).iterdir() if d.is_dir() and d.name not in set(self._wnids))
        if unknown:
            raise IradError(f"{root}: class folders {unknown[:5]} are not ImageNet wnids of the class list")
        tvd.DatasetFolder.__init__(self, str(root), loader=open_rgb, transform=transform, is_valid_file=_is_image,
                                   allow_empty=True)
        self.imgs = self.samples

    def find_classes(self, directory: str) -> tuple[list[str], dict[str, int]]:
        return self._wnids, {w: i for i, w in enumerate(self._wnids)}


SYNSET_FILES = ("synset_words.txt", "LOC_synset_mapping.txt")  # "<wnid> <names>" per line, in label order


def imagenet_wnids(base: Path, split_dir: Path) -> list[str]:
    """The 1000 wnids in label order: the first line-per-class file of :data:`SYNSET_FILES` found in ``base`` (the
    folder above the split), else the split's own folders when it holds all 1000 (standard indices are sorted
    wnids)."""
    for name in SYNSET_FILES:
        f = base / name
        if f.is_file():
            wnids = [line.split()[0] for line in f.read_text().splitlines() if line.strip()]
            if len(wnids) != 1000 or len(set(wnids)) != 1000:
                raise IradError(f"{f} lists {len(set(wnids))} distinct wnids, ImageNet has 1000")
            return wnids
    folders = sorted(d.name for d in split_dir.iterdir() if d.is_dir())
    if len(folders) == 1000:
        return folders
    raise IradError(f"{split_dir} holds {len(folders)} class folders, so their labels cannot be told from folder "
                    f"order; put the 1000-class list ({' or '.join(SYNSET_FILES)}, one '<wnid> <name>' line per "
                    f"class in label order) in {base}")


def _is_image(path: str) -> bool:
    return path.lower().endswith(IMAGE_SUFFIXES)


def _has_class_folders(path: Path) -> bool:
    return path.is_dir() and any(c.is_dir() for c in path.iterdir())


def _folder_candidates(root: Path, name: str, split: str) -> list[Path]:
    splits = [split] + (["val"] if split == "test" else ["test"] if split == "val" else [])
    bases = [root / name, root] if name != "folder" else [root]
    return [b / s for b in bases for s in splits]


def load_dataset(name: str, root: str | os.PathLike | None = None, split: str = "test", download: bool = False,
                 image_size: int = 224, crop_pct: float = 0.875) -> Dataset:
    """Load dataset ``name`` (one of :data:`DATASETS`) as ``(image, label)`` pairs; see the module doc for lookup.

    ImageNet images are resized (shorter side ``round(image_size / crop_pct)``, bicubic with antialiasing) and
    centre-cropped to ``image_size`` (pass the classifier's ``input_size`` and ``crop_pct``); labels come from
    :func:`imagenet_wnids`, so a split holding only some classes keeps the standard indices.
    """
    check_choice("dataset", name, DATASETS)
    check_choice("split", split, SPLITS)
    base = resolve_data_root(root)
    transform = imagenet_transform(image_size, crop_pct) if name == "imagenet" else T.ToTensor()
    for cand in _folder_candidates(base, name, split):
        if _has_class_folders(cand):
            if name == "imagenet":
                ds = ImageNetFolder(cand, imagenet_wnids(cand.parent, cand), transform=transform)
            else:
                ds = ImageFolderDataset(cand, transform=transform)
            if len(ds) == 0:
                raise IradError(f"no image files in {cand}")
            _check_classes(name, ds.classes, cand)
            return ds
    if name in ("cifar10", "cifar100"):
        cls = tvd.CIFAR10 if name == "cifar10" else tvd.CIFAR100
        try:
            return cls(str(base / name), train=split == "train", transform=T.ToTensor(), download=download)
        except RuntimeError:
            pass
        except OSError as e:
            raise IradError(f"cannot download {name} into {base / name}: {e}") from None
    looked = ", ".join(str(c) for c in _folder_candidates(base, name, split))
    hint = {
        "cifar10": f"run `irad data fetch cifar10 --data-root {base}` (needs internet)",
        "cifar100": f"run `irad data fetch cifar100 --data-root {base}` (needs internet)",
        "imagenet": "ImageNet needs a manual download; place the validation set as <root>/imagenet/val/<wnid>/*.JPEG",
        "folder": "point --data-root at a directory holding <split>/<class>/<images>",
    }[name]
    raise IradError(f"dataset {name!r} ({split}) not found; looked in {looked}; {hint}")


def _check_classes(name: str, classes: Sequence[str], where: Path) -> None:
    expected = NUM_CLASSES.get(name)
    if expected and len(classes) != expected:
        raise IradError(f"{where} has {len(classes)} class folders, {name} has {expected}")
    if name == "cifar10" and tuple(classes) != CIFAR10_CLASSES:
        raise IradError(f"{where}: class folders {list(classes)} do not match CIFAR-10's {list(CIFAR10_CLASSES)}")


def imagenet_transform(image_size: int = 224, crop_pct: float = 0.875) -> T.Compose:
    """PIL image -> ``(3, image_size, image_size)`` in [0, 1]: shorter side to ``round(image_size / crop_pct)``
    (bicubic, antialiased, as timm's evaluation transform), then the centre crop."""
    return T.Compose([T.Resize(round(image_size / crop_pct), interpolation=T.InterpolationMode.BICUBIC),
                      T.CenterCrop(image_size), T.ToTensor()])


def dataset_targets(ds: Dataset) -> list[int]:
    """Labels of every item without decoding images (ImageFolder, torchvision CIFAR, Subset, TensorDataset)."""
    if isinstance(ds, Subset):
        inner = dataset_targets(ds.dataset)
        return [inner[i] for i in ds.indices]
    if isinstance(ds, TensorDataset):
        return [int(t) for t in ds.tensors[1]]
    targets = getattr(ds, "targets", None)
    if targets is None:
        raise IradError(f"cannot read labels of {type(ds).__name__} without decoding it")
    return [int(t) for t in targets]


def stratified_indices(targets: Sequence[int], n: int | None) -> list[int]:
    """The same ``n`` indices every run, balanced over classes: rounds over the classes in id order, each round
    taking the next item (in dataset order) of every class that has one left, until ``n`` are taken; returned in
    dataset order. With equal class counts that is the first ``n // C`` items of each class, the remainder one more
    each for the lowest class ids; with uneven counts (ImageNet's val subset) small classes simply run out first.
    ``None`` or ``n >= len`` keeps everything.

    For a class-folder layout (files sorted by class, then name) this is what "the first n test images"
    means with classes balanced.
    """
    if n is None or n >= len(targets):
        return list(range(len(targets)))
    if n <= 0:
        raise IradError(f"--n must be positive, got {n}")
    members: dict[int, list[int]] = {}
    for i, t in enumerate(targets):
        members.setdefault(t, []).append(i)
    order = sorted((rank, c) for c, items in members.items() for rank in range(len(items)))
    return sorted(members[c][rank] for rank, c in order[:n])


def stratified_subset(ds: Dataset, n: int | None, offset: int = 0) -> Subset:
    """:func:`stratified_indices` applied to a dataset. ``offset``: leave out the images that ``n=offset`` would
    take (a validation slice disjoint from an evaluation set of ``offset`` images)."""
    targets = dataset_targets(ds)
    if offset <= 0:
        return Subset(ds, stratified_indices(targets, n))
    if n is None:
        raise IradError("--offset needs --n")
    taken = set(stratified_indices(targets, offset))
    return Subset(ds, [i for i in stratified_indices(targets, n + offset) if i not in taken])


def load_foolbox_samples(name: str = "cifar10", image_size: int = 224, crop_pct: float = 0.875) -> TensorDataset:
    """The 20 samples shipped inside the ``foolbox`` wheel (``cifar10``, ``cifar100`` or ``imagenet``).

    Read straight from the package files (foolbox itself is not imported). The CIFAR samples are lossless 32x32
    PNGs; the ImageNet ones are JPEGs of varying size, resized and centre-cropped by :func:`imagenet_transform`.
    """
    import importlib.util

    spec = importlib.util.find_spec("foolbox")
    if spec is None or not spec.submodule_search_locations:
        raise IradError("the foolbox package is not installed (`pip install --no-deps foolbox`), so its sample images are unavailable")
    folder = Path(list(spec.submodule_search_locations)[0]) / "data"
    files = sorted(f for f in folder.glob(f"{name}_*") if f.suffix in (".png", ".jpg"))
    if not files:
        raise IradError(f"no {name} samples in {folder}")
    images, labels = [], []
    convert = imagenet_transform(image_size, crop_pct) if name == "imagenet" else to_tensor
    for f in files:
        images.append(convert(open_rgb(f)))
        labels.append(int(f.stem.rsplit("_", 1)[1]))
    return TensorDataset(torch.stack(images), torch.tensor(labels))


def load_into_memory(ds: Dataset, progress: bool = True, desc: str = "loading images") -> tuple[torch.Tensor, torch.Tensor]:
    """Decode a whole dataset once: ``(uint8 (N, 3, H, W), int64 (N,))``, for fast repeated epochs."""
    from torch.utils.data import DataLoader
    from tqdm.auto import tqdm

    xs, ys = [], []
    loader = DataLoader(ds, batch_size=500, num_workers=0)
    for x, y in tqdm(loader, desc=desc, disable=not progress, unit="batch"):
        xs.append(x.mul(255).round().byte())
        ys.append(y)
    return torch.cat(xs), torch.cat(ys).long()
