"""Analyses of classifiers and perturbations (aliasing of downsampling layers)."""

from irad.analysis.aliasing import LayerAliasing, aliasing, downsampling_operations

__all__ = ["LayerAliasing", "aliasing", "downsampling_operations"]
