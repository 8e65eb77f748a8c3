"""Local implicit image function (LIIF-style) and SampleNet: the learned reconstruction and sampler of IRAD."""

from irad.models.implicit.edsr import EDSREncoder
from irad.models.implicit.mlp import MLP
from irad.models.implicit.query import make_cell, make_coord, query_local
from irad.models.implicit.resampler import ImplicitConfig, ImplicitResampler

__all__ = ["EDSREncoder", "ImplicitConfig", "ImplicitResampler", "MLP", "make_cell", "make_coord", "query_local"]
