"""irad: test-time input-transformation defenses for image classifiers, led by IRAD (ICLR 2024).

Entry points: :func:`irad.models.create_classifier`, :func:`irad.defenses.create_defense`,
:func:`irad.attacks.create_attack`, :func:`irad.evaluation.evaluate`, :func:`irad.audit`, :func:`irad.load_official`.
"""

from irad._version import __version__
from irad.auditing import audit
from irad.defenses.domain import OutOfDomainWarning
from irad.defenses.implicit import load_official
from irad.errors import IradError

__all__ = ["IradError", "OutOfDomainWarning", "__version__", "audit", "load_official"]
