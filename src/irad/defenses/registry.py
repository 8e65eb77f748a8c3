"""One registry for every defense: ``create_defense("NAME[:key=value,...][+NAME...]")`` or keyword arguments.

Spec grammar (:mod:`irad.utils.spec`): ``A+B`` chains defenses left to right; values are then coerced
to the type of the parameter's default.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass

from irad.defenses.base import Chain, Defense
from irad.errors import IradError
from irad.utils.spec import coerce_kwargs, parse_spec


@dataclass(frozen=True)
class DefenseInfo:
    name: str
    factory: Callable[..., Defense]
    summary: str

    def parameters(self) -> dict[str, object]:
        """Constructor parameters and their defaults (``inspect.Parameter.empty`` when required)."""
        sig = inspect.signature(self.factory)
        return {k: p.default for k, p in sig.parameters.items() if p.kind is p.POSITIONAL_OR_KEYWORD or p.kind is p.KEYWORD_ONLY}


_REGISTRY: dict[str, DefenseInfo] = {}


def register_defense(name: str) -> Callable:
    """Class or factory decorator adding ``name`` to the registry; the docstring's first line is its summary."""

    def deco(factory: Callable) -> Callable:
        doc = (inspect.getdoc(factory) or "").strip().splitlines()
        _REGISTRY[name] = DefenseInfo(name, factory, doc[0] if doc else "")
        return factory

    return deco


def list_defenses() -> list[DefenseInfo]:
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def create_defense(spec: str = "none", **kwargs: object) -> Defense:
    """Build a defense from a spec string.

    Args:
        spec: ``NAME[:key=value,...]`` (``irad list defenses`` shows the names and parameters); ``A+B`` chains
            defenses left to right; ``ens-N(SPEC)`` is the majority vote of N randomized runs of SPEC
            (:class:`~irad.defenses.vote.MajorityVote`). Values are coerced to the type of the parameter's default.
        **kwargs: parameters of a single defense, overriding those in ``spec``.

    Returns:
        The :class:`~irad.defenses.base.Defense` (an ``nn.Module``: images ``(N, 3, H, W)`` in [0, 1] -> the same),
        with ``spec`` set to the full spec it was built from.

    Raises:
        IradError: an unknown name or parameter, or a bad value.

    Example::

        >>> d = create_defense("resample:recon=bilinear,sampler=sv,shift=1.5")
        >>> d.spec, d.randomized
        ('resample:recon=bilinear,sampler=sv,shift=1.5', True)
        >>> y = d(torch.rand(2, 3, 32, 32))  # same shape, in [0, 1]
    """
    vote = re.fullmatch(r"\s*ens-(\d+)\((.+)\)\s*", spec or "")
    if vote:
        from irad.defenses.vote import MajorityVote

        module = MajorityVote(create_defense(vote.group(2), **kwargs), int(vote.group(1)))
        module.spec = f"ens-{vote.group(1)}({module.defense.spec})"
        return module
    parts = parse_spec(spec)
    if kwargs and len(parts) != 1:
        raise IradError("keyword arguments apply only to a single defense, not to a chain")
    modules = []
    for name, args in parts:
        if name not in _REGISTRY:
            raise IradError(f"unknown defense {name!r}; available: {', '.join(sorted(_REGISTRY))}")
        info = _REGISTRY[name]
        args = coerce_kwargs(f"defense {name!r}", info.parameters(), {**args, **kwargs})
        try:
            module = info.factory(**args)
        except (ValueError, TypeError) as e:
            raise IradError(f"defense {name!r}: {e}") from None
        module.spec = name + (":" + ",".join(f"{k}={v}" for k, v in args.items()) if args else "")
        modules.append(module)
    if len(modules) == 1:
        return modules[0]
    chain = Chain(modules)
    chain.spec = "+".join(m.spec for m in modules)
    return chain
