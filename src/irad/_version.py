"""The package version (read by ``pyproject.toml`` too: one place)."""

__version__ = "0.1.0"
