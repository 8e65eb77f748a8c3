"""The defense protocol: a :class:`Defense` is an ``nn.Module`` mapping images ``(N, 3, H, W)`` in [0, 1] to images
of the same shape in [0, 1] that declares, on the class, everything the evaluation harness and the audit read:

- ``differentiable``: autograd through ``forward`` gives the true (useful) gradient. When False, the
  non-differentiable parts either pass the gradient straight through (e.g. the Pillow JPEG codec) or
  have zero gradient almost everywhere (rounding); the ``bpda`` scenario is then the meaningful white-box attack.
- ``randomized``: two calls on the same input may differ; white-box attacks then need EOT.
- ``predicts_itself``: :meth:`~Defense.predict` decides the label (a majority vote, a defended classifier's own
  models) instead of the classifier reading the defended image; the harness then times all of ``predict``.
- ``needs_classifier``: the transform reads the victim classifier, which :func:`attach_classifier` hands to every
  part's :meth:`~Defense.set_classifier` (R-CAM guided pixel deflection).
- ``num_classes``: the classes a defense that predicts by itself can output (None: the victim's).
- ``spec``: its name in results (:func:`~irad.defenses.create_defense` sets the spec it was built from).
- ``local``: an output pixel reads input pixels at most this many pixels away (None: not local). Images of more
  than ``tile_pixels`` pixels then run in overlapping tiles (:mod:`irad.defenses.tiling`) with the same result, so
  memory stays bounded whatever the image size. The implicit defenses tile by themselves.

and the methods: :meth:`~Defense.transform` (the image transform; ``forward`` checks the input, transforms and clamps),
:meth:`~Defense.predict`, :meth:`~Defense.attack_model` (what the attacker differentiates in the bpda and adaptive
scenarios) and :meth:`~Defense.set_classifier`. Only ``transform`` has no default. Adding a defense::

    import torch.nn.functional as F
    from irad.defenses import Defense, create_defense, register_defense

    @register_defense("blur")
    class Blur(Defense):
        \"\"\"Box blur over ``size`` x ``size`` pixels.\"\"\"

        def __init__(self, size: int = 3):
            super().__init__()
            self.size = size

        def transform(self, x):
            return F.avg_pool2d(x, self.size, stride=1, padding=self.size // 2, count_include_pad=False)

    defense = create_defense("blur:size=5")  # differentiable and deterministic: the class defaults

A randomized defense derives from :class:`RandomizedDefense` (a ``seed`` parameter makes it deterministic); one that
changes the model rather than the input from :class:`DefendedClassifier`. A plain ``nn.Module`` given to the harness
is wrapped by :func:`as_defense` with the defaults above. :func:`bpda` gives any defense the identity backward pass of
Athalye et al. (2018).

A defense checks its input (a finite float batch in [0, 1]) when called, except inside :func:`trusted_inputs`: the
harness checks each batch once and runs there, so an attack's many steps do not repeat the check.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import torch
from torch import nn

from irad.defenses.tiling import TILE_PIXELS, tiled
from irad.errors import IradError
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
    """Base class of every defense (see the module doc for the protocol); subclasses implement :meth:`transform`."""

    differentiable: bool = True
    randomized: bool = False
    predicts_itself: bool = False
    needs_classifier: bool = False
    num_classes: int | None = None
    local: int | None = None

    def __init__(self) -> None:
        super().__init__()
        self.spec: str = type(self).__name__
        self.tile_pixels: int = TILE_PIXELS

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """:meth:`transform` of ``x`` clamped to [0, 1] (in tiles for a ``local`` defense on images of more than
        ``tile_pixels`` pixels); ``x`` is checked first outside :func:`trusted_inputs`."""
        if not _trusted.get():
            check_images(x, "defense input")
        if self.local is not None and x.shape[-2] * x.shape[-1] > self.tile_pixels:
            return tiled(lambda part, _: self.transform(part), x, self.local, self.tile_pixels).clamp_(0, 1)
        return self.transform(x).clamp(0, 1)

    def transform(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    @torch.no_grad()
    def predict(self, classifier: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Labels ``(N,)`` of ``x`` under the defense: by default the classifier's on the defended image."""
        return classifier(self(x)).argmax(1)

    def attack_model(self, classifier: nn.Module, scenario: str) -> nn.Module:
        """What the attacker differentiates in the ``bpda`` or ``adaptive`` scenario, images in [0, 1] -> logits: by
        default the defense (with the identity backward pass for bpda) followed by the classifier."""
        return nn.Sequential(BPDA(self) if scenario == "bpda" else self, classifier)

    def set_classifier(self, classifier: nn.Module) -> None:
        """Receive the victim classifier (a defense with ``needs_classifier`` keeps it; the rest ignore it)."""

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


class DefendedClassifier(Defense):
    """A defense that changes the model rather than only the input (e.g. an ensemble of fine-tuned classifiers).

    It has no image transform: it predicts by itself with :meth:`predict` (ignoring the victim it is given) and, in
    the bpda and adaptive scenarios, is attacked through :meth:`attack_model`. Subclasses implement both.
    """

    differentiable = False
    predicts_itself = True

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        raise IradError(f"{type(self).__name__} is a defended classifier, not an image transform: evaluate it with "
                        "irad eval (it predicts by itself)")

    def predict(self, classifier: nn.Module, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def attack_model(self, classifier: nn.Module, scenario: str) -> nn.Module:  # pragma: no cover - abstract
        """Images in [0, 1] -> log-probabilities, as the attacker differentiates them in ``scenario``."""
        raise NotImplementedError


class _PlainModule(Defense):
    """A plain ``nn.Module`` image transform under the protocol's defaults."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module
        self.spec = type(module).__name__

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x)


def as_defense(module: nn.Module) -> Defense:
    """``module`` if it is a :class:`Defense`, else ``module`` wrapped as one with the protocol's defaults:
    differentiable, deterministic, no classifier (derive from :class:`Defense` to declare otherwise)."""
    return module if isinstance(module, Defense) else _PlainModule(module)


def attach_classifier(defense: nn.Module, classifier: nn.Module) -> None:
    """Hand the victim ``classifier`` to every part of ``defense`` (:meth:`Defense.set_classifier`)."""
    for m in defense.modules():
        if isinstance(m, Defense):
            m.set_classifier(classifier)


def straight_through(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Value of ``y``, gradient of ``x``: BPDA with g the identity when ``x`` is the input, or with a differentiable
    approximation g when ``x`` = g(input)."""
    return x + (y - x).detach()


class BPDA(Defense):
    """Forward pass of ``defense``; backward pass replaced by the identity. Differentiable by construction."""

    def __init__(self, defense: nn.Module):
        super().__init__()
        self.defense = as_defense(defense)
        self.randomized = self.defense.randomized
        self.needs_classifier = self.defense.needs_classifier
        self.spec = f"bpda({self.defense.spec})"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # not transform + clamp: the straight-through sum may round past 1, where a clamp would zero the gradient
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
        self.defenses = nn.ModuleList(as_defense(d) for d in defenses)
        self.differentiable = all(d.differentiable for d in self.defenses)
        self.randomized = any(d.randomized for d in self.defenses)
        self.needs_classifier = any(d.needs_classifier for d in self.defenses)

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        for d in self.defenses:
            x = d(x)
        return x
