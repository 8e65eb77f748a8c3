"""irad: test-time input-transformation defenses for image classifiers, led by IRAD (ICLR 2024).

Entry points: :func:`irad.models.create_classifier`, :func:`irad.defenses.create_defense`,
:func:`irad.attacks.create_attack`, :func:`irad.evaluation.evaluate`, :func:`irad.audit`, :func:`irad.load_official`.
"""

from irad.errors import IradError

__version__ = "0.1.0"


def load_official(liif, samplenet=None):
    """Load the paper's released checkpoints as a defense; see :func:`irad.defenses.implicit.load_official`."""
    from irad.defenses.implicit import load_official as _load

    return _load(liif, samplenet)


def audit(classifier, defense, data, *args, **kwargs):
    """Gradient-masking checks of a defense; see :func:`irad.auditing.runner.audit`."""
    from irad.auditing.runner import audit as _audit

    return _audit(classifier, defense, data, *args, **kwargs)


__all__ = ["IradError", "__version__", "audit", "load_official"]
