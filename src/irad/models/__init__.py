"""Classifiers taking images in [0, 1]: a registry in the style of timm's ``create_model``."""

from irad.models.normalized import NormalizedClassifier
from irad.models.registry import (ClassifierInfo, classifier_info, create_classifier, input_geometry, list_classifiers,
                                  load_classifier, register_classifier)

__all__ = ["ClassifierInfo", "NormalizedClassifier", "classifier_info", "create_classifier", "input_geometry",
           "list_classifiers", "load_classifier", "register_classifier"]
