"""Defenses: ``nn.Module`` images-in-[0,1] -> images-in-[0,1], one registry (``create_defense``)."""

from irad.defenses import (baselines, dct_jpeg, deflection, denoisers, diffpure, implicit, jpeg_ensemble,  # noqa: F401
                           resample, wavelet)  # (registration)
from irad.defenses.base import (BPDA, Chain, Defense, Identity, RandomizedDefense, bpda, straight_through,
                                trusted_inputs)
from irad.defenses.registry import DefenseInfo, create_defense, list_defenses, parse_spec, register_defense

register_defense("none")(Identity)

__all__ = [
    "BPDA", "Chain", "Defense", "DefenseInfo", "Identity", "RandomizedDefense", "bpda", "create_defense",
    "list_defenses", "parse_spec", "register_defense", "straight_through", "trusted_inputs",
]
