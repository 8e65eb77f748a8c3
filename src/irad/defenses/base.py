"""The defense contract: an ``nn.Module`` mapping images ``(N, 3, H, W)`` in [0, 1] to images of the same shape in [0, 1].

Every defense declares two flags the evaluation harness relies on:

- ``differentiable``: autograd through ``forward`` gives the true (useful) gradient. When False, the
  non-differentiable parts either pass the gradient straight through (e.g. the Pillow JPEG codec) or
  have zero gradient almost everywhere (rounding); the ``bpda`` scenario is then the meaningful white-box attack.
- ``randomized``: two calls on the same input may differ; white-box attacks then need EOT.

:func:`bpda` wraps any defense with the identity backward pass of Athalye et al. (2018).

A defense checks its input (a float batch in [0, 1], finite) when called; inside :func:`trusted_inputs` it does not:
the evaluation harness checks each batch once there, so an attack's many steps do not repeat the check.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import torch
from torch import nn

from irad.utils.validation import check_images

_trusted = ContextVar("irad_trusted_inputs", default=False)


@contextmanager
def trusted_inputs() -> Iterator[None]:
    """Inside this block :meth:`Defense.forward` skips its input check: for callers that have checked their images
    (the evaluation harness checks each clean batch, and :func:`~irad.attacks.check_budget` each adversarial one)."""
    token = _trusted.set(True)
    try:
        yield
    finally:
        _trusted.reset(token)


class Defense(nn.Module):
    """Base class: subclasses implement :meth:`transform`; :meth:`forward` checks the input (outside
    :func:`trusted_inputs`) and clamps the output to [0, 1]."""

    differentiable: bool = True
    randomized: bool = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not _trusted.get():
            check_images(x, "defense input")
        return self.transform(x).clamp(0, 1)

    def transform(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"differentiable={self.differentiable}, randomized={self.randomized}"


class RandomizedDefense(Defense):
    """A defense that draws random numbers. With ``seed`` set, every call re-seeds its generator, so the
    output is a fixed function of the input and ``randomized`` is False."""

    def __init__(self, seed: int | None = None):
        super().__init__()
        self.seed = seed
        self.randomized = seed is None

    def generator(self, device: torch.device) -> torch.Generator | None:
        return None if self.seed is None else torch.Generator(device=device).manual_seed(self.seed)


class DefendedClassifier(nn.Module):
    """A defense that changes the model rather than only the input (e.g. an ensemble of fine-tuned classifiers).

    It has no single image transform; the harness predicts with :meth:`predict` (ignoring the victim it is given)
    and, in the bpda and adaptive scenarios, attacks :meth:`attack_model`. Subclasses implement both.
    """

    defended_classifier = True
    differentiable = False
    randomized = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from irad.errors import IradError

        raise IradError(f"{type(self).__name__} is a defended classifier, not an image transform: evaluate it with "
                        "irad eval (it predicts by itself)")

    def predict(self, classifier: nn.Module, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def attack_model(self, scenario: str) -> nn.Module:  # pragma: no cover - abstract
        """Images in [0, 1] -> log-probabilities, as the attacker differentiates them in ``scenario``."""
        raise NotImplementedError


def straight_through(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Value of ``y``, gradient of ``x``: BPDA with g the identity when ``x`` is the input, or with a differentiable
    approximation g when ``x`` = g(input)."""
    return x + (y - x).detach()


class BPDA(nn.Module):
    """Forward pass of ``defense``; backward pass replaced by the identity."""

    def __init__(self, defense: nn.Module):
        super().__init__()
        self.defense = defense
        self.randomized = getattr(defense, "randomized", False)
        self.differentiable = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            y = self.defense(x)
        return straight_through(x, y)


def bpda(defense: nn.Module) -> BPDA:
    """Wrap ``defense`` so that its backward pass is the identity."""
    return BPDA(defense)


class Identity(Defense):
    """No defense: returns the input unchanged."""

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        return x


class Chain(Defense):
    """Apply defenses left to right (the ``A+B`` spec)."""

    def __init__(self, defenses: list[nn.Module]):
        super().__init__()
        self.defenses = nn.ModuleList(defenses)
        self.differentiable = all(getattr(d, "differentiable", True) for d in defenses)
        self.randomized = any(getattr(d, "randomized", False) for d in defenses)

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        for d in self.defenses:
            x = d(x)
        return x
