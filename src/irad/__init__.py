"""irad: test-time input-transformation defenses for image classifiers, led by IRAD (ICLR 2024)."""

from irad.errors import IradError

__version__ = "0.1.0"

__all__ = ["IradError", "__version__"]
