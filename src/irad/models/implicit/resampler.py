"""IRAD's learned resampler: implicit reconstruction (EDSR encoder + LIIF decoder) and SampleNet (Eq. 9-10).

The image is encoded once, F = FEAT((x - 0.5) / 0.5); SampleNet predicts a per-pixel offset from F at the pixel
grid G; the decoder is queried at U = G + offset and mapped back with ``* 0.5 + 0.5``. With ``samplenet_encoder``
(the layout of the released checkpoints) SampleNet has its own encoder that sees the raw image in [0, 1].
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from irad.errors import IradError
from irad.models.implicit.edsr import EDSREncoder
from irad.models.implicit.mlp import MLP
from irad.models.implicit.query import coord_dtype, feature_projection, make_cell, make_coord, query_grid, query_local
from irad.utils.checkpoint import load_module_weights, read_weights, save_safetensors
from irad.utils.files import read_json


@dataclass
class ImplicitConfig:
    """Sizes of the implicit representation; the paper preset is the default."""

    n_resblocks: int = 16
    n_feats: int = 64
    hidden: list[int] = field(default_factory=lambda: [256, 256, 256, 256])
    samplenet_hidden: list[int] | None = field(default_factory=lambda: [256, 256, 256, 256])
    samplenet_encoder: bool = False

    @classmethod
    def from_dict(cls, d: dict) -> ImplicitConfig:
        known = {k: d[k] for k in asdict(cls()) if k in d}
        return cls(**known)


QUERY_BUDGET = 1024  # one 32x32 image: temporaries of 1024 x hidden floats (1 MB at 256)


class ImplicitResampler(nn.Module):
    def __init__(self, cfg: ImplicitConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or ImplicitConfig()
        self.encoder = EDSREncoder(cfg.n_resblocks, cfg.n_feats)
        in_dim = cfg.n_feats * 9 + 4
        self.decoder = MLP(in_dim, 3, cfg.hidden)
        self.samplenet = MLP(in_dim, 2, cfg.samplenet_hidden) if cfg.samplenet_hidden else None
        self.samplenet_encoder = EDSREncoder(cfg.n_resblocks, cfg.n_feats) if cfg.samplenet_encoder else None
        self.query_budget = QUERY_BUDGET  # query points per MLP pass in forward (not stored with the weights)

    @property
    def has_samplenet(self) -> bool:
        return self.samplenet is not None

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """F: ``(N, 3, H, W)`` in [0, 1] -> ``(N, n_feats, H, W)``."""
        return self.encoder((x - 0.5) / 0.5)

    def samplenet_offsets(self, x: torch.Tensor, feat: torch.Tensor, chunk: int | None = None) -> torch.Tensor:
        """SampleNet's offsets ``(N, H*W, 2)`` in [-1, 1] coordinate units (one pixel = 2/H)."""
        if self.samplenet is None:
            raise IradError("this implicit representation has no SampleNet (train one with `irad train samplenet`)")
        sn_feat = feat if self.samplenet_encoder is None else self.samplenet_encoder(x)
        return query_grid(sn_feat, self.samplenet, chunk=chunk)

    def render(self, feat: torch.Tensor, offsets: torch.Tensor | None = None,
               size: tuple[int, int] | None = None, chunk: int | None = None) -> torch.Tensor:
        """Query the decoder at the pixel grid of ``size`` (default: the feature size) plus ``offsets``
        (``(N or 1, H*W, 2)`` coordinate units) -> ``(N, 3, H, W)``, unclamped. ``chunk``: query points per MLP
        pass (:func:`~irad.models.implicit.query.query_local`)."""
        n = feat.shape[0]
        h, w = size or feat.shape[-2:]
        projected = feature_projection(feat, self.decoder)
        if offsets is None and (h, w) == tuple(feat.shape[-2:]):
            rgb = query_grid(feat, self.decoder, projected, chunk)
        else:
            dtype = coord_dtype(feat.dtype)
            coord = make_coord(h, w, feat.device, dtype).view(1, -1, 2)
            if offsets is not None:
                coord = coord + offsets
            rgb = query_local(feat, coord.expand(n, -1, -1), make_cell(h, w, feat.device, dtype), self.decoder,
                              projected, chunk)
        return (rgb * 0.5 + 0.5).view(n, h, w, 3).permute(0, 3, 1, 2)

    def in_passes(self, x: torch.Tensor, fn: Callable[[torch.Tensor, slice], torch.Tensor]) -> torch.Tensor:
        """``fn(images, their slice of the batch)`` over groups of as many images as ``query_budget`` query points
        hold (at least one), concatenated along the batch."""
        group = max(1, self.query_budget // (x.shape[-2] * x.shape[-1]))
        parts = [fn(x[i:i + group], slice(i, i + group)) for i in range(0, x.shape[0], group)]
        return parts[0] if len(parts) == 1 else torch.cat(parts)

    def forward(self, x: torch.Tensor, use_samplenet: bool = True) -> torch.Tensor:
        """``(N, 3, H, W)`` in [0, 1] -> resampled image (unclamped): IRAD with SampleNet, else DISCO-style.

        Runs ``query_budget`` query points at a time (whole images while they fit, else parts of one): the same
        result as one pass, with temporaries small enough for the cache and the allocator's heap (about 2x faster
        on CPU at batch 128 under glibc's default malloc, `benchmarks/irad_speed.py`)."""
        def one_pass(part: torch.Tensor, _: slice) -> torch.Tensor:
            feat = self.features(part)
            use = use_samplenet and self.has_samplenet
            offsets = self.samplenet_offsets(part, feat, self.query_budget) if use else None
            return self.render(feat, offsets, chunk=self.query_budget)

        return self.in_passes(x, one_pass)

    # ---- storage -------------------------------------------------------------------------------------------
    def save(self, directory: str | Path, dtype: torch.dtype | None = None) -> None:
        """``directory/model.safetensors`` + ``directory/config.json`` (the config is also in the file's metadata);
        ``dtype`` (e.g. float16) stores the weights in that type, read back as float32 by :meth:`load`."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        text = json.dumps(asdict(self.cfg))
        state = {k: v.to(dtype) if dtype is not None else v for k, v in self.state_dict().items()}
        save_safetensors(d / "model.safetensors", state, metadata={"irad_implicit_config": text})
        (d / "config.json").write_text(json.dumps(asdict(self.cfg), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> ImplicitResampler:
        """Load from a directory written by :meth:`save` or a ``.safetensors`` file carrying its config."""
        p = Path(path)
        file = p / "model.safetensors" if p.is_dir() else p
        if not file.is_file():
            raise IradError(f"no implicit-representation weights at {p} (expected a directory with model.safetensors)")
        cfg_file = file.parent / "config.json"
        if cfg_file.is_file():
            cfg = ImplicitConfig.from_dict(read_json(cfg_file, f"restore it from the run that wrote {file}"))
        else:
            from safetensors import safe_open

            with safe_open(str(file), "pt") as f:
                meta = (f.metadata() or {}).get("irad_implicit_config")
            if meta is None:
                raise IradError(f"{file} carries no irad implicit config and has no config.json beside it")
            try:
                cfg = ImplicitConfig.from_dict(json.loads(meta))
            except (json.JSONDecodeError, TypeError, AttributeError):
                raise IradError(f"{file}: its irad implicit config metadata is damaged") from None
        model = cls(cfg)
        load_module_weights(model, read_weights(file), what="implicit representation")
        return model.eval()
