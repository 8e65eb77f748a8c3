"""Command-line interface: ``irad <command>``."""
