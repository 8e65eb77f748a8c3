"""Attacks by name over torchattacks (and the reference AutoAttack), with the same spec grammar as defenses:
``pgd``, ``pgd:steps=100,alpha=1/255``.

Every attack is a callable ``attack(x, y) -> x_adv`` on a model taking images in [0, 1]. An unset step
``alpha`` is eps/4 (2/255 at eps 8/255; ffgsm: 1.25 eps as in torchattacks); minimal-norm attacks
(deepfool, cw) are projected onto the eps-ball.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from irad.attacks.budget import NORMS, project
from irad.errors import IradError
from irad.utils.spec import coerce_kwargs, parse_spec
from irad.utils.validation import check_choice, check_range

Builder = Callable[..., Callable[[torch.Tensor, torch.Tensor], torch.Tensor]]


@dataclass(frozen=True)
class AttackInfo:
    name: str
    summary: str
    build: dict[str, Builder]  # norm -> builder(model, eps, **params)
    defaults: dict[str, object] = field(default_factory=dict)
    minimal_norm: bool = False

    @property
    def norms(self) -> tuple[str, ...]:
        return tuple(self.build)


def _torchattacks():
    try:
        import torchattacks
    except ImportError:
        raise IradError(
            "torchattacks is not installed; run `pip install --no-deps torchattacks==3.5.1` "
            "(--no-deps: its pin requests~=2.25.1 would downgrade requests)"
        ) from None
    return torchattacks


def _ta(cls: str, alpha_ratio: float = 0.25, **fixed: object) -> Builder:
    """Builder for a torchattacks class with budget ``eps``; a step ``alpha`` of None becomes ``alpha_ratio * eps``."""

    def build(model: nn.Module, eps: float, **p: object):
        kwargs = {**fixed, **p}
        if "alpha" in kwargs and kwargs["alpha"] is None:
            kwargs["alpha"] = alpha_ratio * eps
        return getattr(_torchattacks(), cls)(model, eps=eps, **kwargs)

    return build


def _apgd(norm: str) -> Builder:
    """torchattacks' APGD; ``best_loss=True`` returns every image's highest-loss iterate (its ``perturb(...,
    best_loss=True)``) instead of the first misclassified one, unperturbed where none is found: a point inside the
    ball for every image, as training pairs need."""
    plain = _ta("APGD", norm=norm)

    def build(model: nn.Module, eps: float, best_loss: bool = False, **p: object):
        attack = plain(model, eps, **p)
        if not best_loss:
            return attack
        return lambda x, y: attack.perturb(x.clone().detach(), y.clone().detach(), best_loss=True)[1]

    return build


def _unbounded(cls: str) -> Builder:
    def build(model: nn.Module, eps: float, **p: object):
        return getattr(_torchattacks(), cls)(model, **p)

    return build


def _deepfool(model: nn.Module, eps: float, **p: object):
    from irad.attacks.deepfool import DeepFool

    return DeepFool(model, **p)


def _autoattack(norm: str) -> Builder:
    def build(model: nn.Module, eps: float, version: str = "standard", seed: int = 0):
        from irad.attacks.autoattack import AutoAttack

        return AutoAttack(model, norm=norm, eps=eps, version=version, seed=seed)

    return build


_IT = {"alpha": None, "steps": 10}
ATTACKS: dict[str, AttackInfo] = {a.name: a for a in [
    AttackInfo("fgsm", "FGSM (Goodfellow et al. 2015)", {"Linf": _ta("FGSM")}),
    AttackInfo("bim", "BIM / I-FGSM (Kurakin et al. 2017)", {"Linf": _ta("BIM")}, dict(_IT)),
    AttackInfo("pgd", "PGD with random start (Madry et al. 2018)",
               {"Linf": _ta("PGD", random_start=True), "L2": _ta("PGDL2", random_start=True)}, dict(_IT)),
    AttackInfo("rfgsm", "R+FGSM (Tramer et al. 2018)", {"Linf": _ta("RFGSM")}, dict(_IT)),
    AttackInfo("tpgd", "TRADES-loss PGD (Zhang et al. 2019)", {"Linf": _ta("TPGD")}, dict(_IT)),
    AttackInfo("apgd", "APGD-CE (Croce & Hein 2020)",
               {"Linf": _apgd("Linf"), "L2": _apgd("L2")},
               {"steps": 10, "n_restarts": 1, "loss": "ce", "eot_iter": 1, "seed": 0, "best_loss": False}),
    AttackInfo("eotpgd", "PGD with expectation over transformation (Athalye et al. 2018)", {"Linf": _ta("EOTPGD")},
               {**_IT, "eot_iter": 2}),
    AttackInfo("ffgsm", "FGSM with random start, 'fast' AT (Wong et al. 2020)", {"Linf": _ta("FFGSM", alpha_ratio=1.25)}, {"alpha": None}),
    AttackInfo("mifgsm", "Momentum I-FGSM (Dong et al. 2018)", {"Linf": _ta("MIFGSM")}, {**_IT, "decay": 1.0}),
    AttackInfo("jitter", "Jitter attack (Schwinn et al. 2021)", {"Linf": _ta("Jitter", random_start=True)},
               {**_IT, "scale": 10, "std": 0.1}),
    AttackInfo("vmifgsm", "Variance-tuned MI-FGSM (Wang & He 2021)", {"Linf": _ta("VMIFGSM")},
               {**_IT, "decay": 1.0, "N": 5, "beta": 1.5}),
    AttackInfo("vnifgsm", "Variance-tuned NI-FGSM (Wang & He 2021)", {"Linf": _ta("VNIFGSM")},
               {**_IT, "decay": 1.0, "N": 5, "beta": 1.5}),
    AttackInfo("deepfool", "DeepFool (Moosavi-Dezfooli et al. 2016), minimal L2, batched; projected onto the eps-ball",
               {"Linf": _deepfool, "L2": _deepfool}, {"steps": 50, "overshoot": 0.02, "candidates": 10},
               minimal_norm=True),
    AttackInfo("cw", "Carlini-Wagner L2 (2017), minimal L2; projected onto the eps-ball",
               {"Linf": _unbounded("CW"), "L2": _unbounded("CW")}, {"c": 1.0, "kappa": 0.0, "steps": 50, "lr": 0.01},
               minimal_norm=True),
    AttackInfo("square", "Square attack, score-based black box (Andriushchenko et al. 2020)",
               {"Linf": _ta("Square", norm="Linf"), "L2": _ta("Square", norm="L2")},
               {"n_queries": 5000, "n_restarts": 1, "p_init": 0.8, "seed": 0}),
    AttackInfo("autoattack", "AutoAttack, standard version, reference implementation (Croce & Hein 2020)",
               {"Linf": _autoattack("Linf"), "L2": _autoattack("L2")}, {"version": "standard", "seed": 0}),
]}


# the range of each numeric attack parameter, by name (check_range's bounds); an unset alpha (None) is eps-relative
RANGES: dict[str, dict[str, object]] = {
    **dict.fromkeys(("steps", "n_restarts", "eot_iter", "n_queries", "N", "candidates"), {"lo": 1, "integer": True}),
    **dict.fromkeys(("alpha", "c", "lr", "scale", "beta"), {"lo": 0, "lo_open": True}),
    **dict.fromkeys(("decay", "overshoot", "kappa", "std"), {"lo": 0}),
    "p_init": {"lo": 0, "hi": 1, "lo_open": True},
}


def list_attacks() -> list[AttackInfo]:
    return [ATTACKS[k] for k in sorted(ATTACKS)]


class Attack:
    """``attack(x, y) -> x_adv``: a built attack with its name, norm, eps and (for minimal-norm attacks) projection."""

    def __init__(self, spec: str, info: AttackInfo, impl: Callable, norm: str, eps: float):
        self.spec, self.info, self.impl, self.norm, self.eps = spec, info, impl, norm, eps

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def flags(self) -> list[str]:
        """Automatic-check warnings raised by the attack (AutoAttack's), if any."""
        return list(getattr(self.impl, "flags", []))

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        x_adv = self.impl(x, y).detach()
        if self.info.minimal_norm:
            x_adv = project(x, x_adv, self.norm, self.eps)
        return x_adv


def check_eps(eps: float, norm: str, name: str = "eps") -> float:
    """Return ``eps`` if it is a finite budget > 0, in Linf at most 1 (images lie in [0, 1]); ``name`` says whose
    it is in the error."""
    what = f"{norm} budget"
    check_range(what, name, eps, lo=0, lo_open=True)
    return check_range(what, name, eps, lo=0, hi=1, lo_open=True) if norm == "Linf" else eps


def parse_attack(spec: str, norm: str = "Linf", eps: float = 8 / 255) -> tuple[AttackInfo, dict[str, object]]:
    """Check an attack spec in a threat model without building it: its :class:`AttackInfo` and parameters (the
    defaults filled in). Raises :class:`IradError` as :func:`create_attack` does."""
    parts = parse_spec(spec)
    if len(parts) != 1:
        raise IradError(f"attack spec {spec!r}: attacks cannot be chained")
    name, params = parts[0]
    if name not in ATTACKS:
        raise IradError(f"unknown attack {name!r}; available: {', '.join(sorted(ATTACKS))}")
    info = ATTACKS[name]
    check_choice("norm", norm, NORMS)
    if norm not in info.build:
        raise IradError(f"attack {name!r} has no {norm} version; it supports {', '.join(info.norms)}")
    check_eps(eps, norm)
    params = {**info.defaults, **coerce_kwargs(f"attack {name!r}", info.defaults, params)}
    for key, value in params.items():
        if key in RANGES and value is not None:
            check_range(f"attack {name!r}", key, value, **RANGES[key])
    return info, params


def create_attack(spec: str, model: nn.Module, norm: str = "Linf", eps: float = 8 / 255) -> Attack:
    """Build an attack on ``model`` in a threat model.

    Args:
        spec: ``NAME[:key=value,...]``, e.g. ``"pgd:steps=100,alpha=1/255"`` (``irad list attacks``).
        model: what the attack differentiates or queries: images in [0, 1] -> logits (a classifier, or
            :func:`~irad.evaluation.attack_target` for a defended one).
        norm: ``"Linf"`` or ``"L2"``.
        eps: the budget; minimal-norm attacks (deepfool, cw) are projected onto the eps-ball.

    Returns:
        An :class:`Attack`: ``attack(x, y)`` returns adversarial examples in [0, 1] within ``eps`` of ``x``.

    Raises:
        IradError: an unknown attack, parameter or norm, a parameter outside its :data:`RANGES`, or a budget
            that is not finite and positive (or above 1 in Linf).

    Example::

        >>> attack = create_attack("pgd:steps=10", model, "Linf", 8 / 255)
        >>> x_adv = attack(x, y)
    """
    info, params = parse_attack(spec, norm, eps)
    try:
        impl = info.build[norm](model, eps, **params)
    except (TypeError, ValueError) as e:
        raise IradError(f"attack {info.name!r}: {e}") from None
    return Attack(spec, info, impl, norm, eps)
