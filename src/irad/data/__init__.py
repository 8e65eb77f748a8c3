"""Data: datasets and their names, deterministic stratified subsets, and single-image I/O."""

from irad.data.datasets import (
    CIFAR10_CLASSES,
    DATASETS,
    NUM_CLASSES,
    dataset_targets,
    load_dataset,
    load_foolbox_samples,
    load_into_memory,
    resolve_data_root,
    same_data_root,
    stratified_indices,
    stratified_subset,
)
from irad.data.images import load_image, save_image
from irad.data.selection import dataset_classes, default_batch_size, load_eval_data, parse_dataset

__all__ = [
    "CIFAR10_CLASSES", "DATASETS", "NUM_CLASSES", "dataset_classes", "dataset_targets", "default_batch_size",
    "load_dataset",
    "load_eval_data", "load_foolbox_samples", "load_image", "load_into_memory", "parse_dataset", "resolve_data_root",
    "same_data_root", "save_image", "stratified_indices", "stratified_subset",
]
