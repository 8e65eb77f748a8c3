"""Defenses: :class:`Defense` modules, images in [0, 1] -> images in [0, 1] (the protocol: :mod:`irad.defenses.base`),
one registry (:func:`create_defense`)."""

from irad.defenses import (baselines, dct_jpeg, deflection, denoisers, diffpure, implicit, jpeg_ensemble,  # noqa: F401
                           resample, wavelet)  # (registration)
from irad.defenses.base import (BPDA, Chain, DefendedClassifier, Defense, Identity, RandomizedDefense, as_defense,
                                attach_classifier, bpda, straight_through, trusted_inputs)
from irad.defenses.registry import DefenseInfo, create_defense, list_defenses, parse_spec, register_defense

register_defense("none")(Identity)

__all__ = [
    "BPDA", "Chain", "DefendedClassifier", "Defense", "DefenseInfo", "Identity", "RandomizedDefense", "as_defense",
    "attach_classifier", "bpda", "create_defense", "list_defenses", "parse_spec", "register_defense", "straight_through",
    "trusted_inputs",
]
