"""Datasets by the names commands and configs use: one of :data:`~irad.data.datasets.DATASETS`, or
``foolbox-<name>`` for the 20 samples shipped in the foolbox wheel; their class counts; the evaluation subset."""

from __future__ import annotations

import os

from torch.utils.data import Subset

from irad.data.datasets import NUM_CLASSES, load_dataset, load_foolbox_samples, stratified_subset

FOOLBOX_PREFIX = "foolbox-"


def parse_dataset(name: str) -> tuple[str, bool]:
    """``(dataset, from foolbox)``: ``"foolbox-cifar10"`` -> ``("cifar10", True)``; ``"cifar10"`` ->
    ``("cifar10", False)``."""
    return name.removeprefix(FOOLBOX_PREFIX), name.startswith(FOOLBOX_PREFIX)


def dataset_classes(name: str) -> int | None:
    """How many classes dataset ``name`` has; None for a class-folder layout (its folders decide)."""
    return NUM_CLASSES.get(parse_dataset(name)[0])


def load_eval_data(dataset: str, data_root: str | os.PathLike | None = None, split: str = "test",
                   n: int | None = None, offset: int = 0, image_size: int = 224, crop_pct: float = 0.875) -> Subset:
    """The evaluation set: ``dataset`` from the data root (or foolbox's samples for ``foolbox-<name>``), as a
    stratified subset of ``n`` after leaving out the first ``offset`` (see :func:`stratified_subset`). ImageNet
    images are resized and cropped to ``image_size`` (pass :func:`irad.models.input_geometry` of the classifier)."""
    name, foolbox = parse_dataset(dataset)
    geometry = dict(image_size=image_size, crop_pct=crop_pct)
    ds = load_foolbox_samples(name, **geometry) if foolbox else load_dataset(name, data_root, split, **geometry)
    return stratified_subset(ds, n, offset)


BATCH_PIXELS = 128 * 32 * 32 * 8  # a default batch: 128 CIFAR-size images, 20 at 224 px, 15 at 260 px


def default_batch_size(height: int, width: int) -> int:
    """Images per batch when none is given: as many ``height x width`` images as hold :data:`BATCH_PIXELS` pixels,
    1 to 128, so that attacking an ImageNet-size batch through a classifier stays within a few GB."""
    return max(1, min(128, BATCH_PIXELS // (height * width)))
