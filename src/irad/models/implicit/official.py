"""Reading the released IRAD checkpoints (``weights_only=True``; no code is executed).

- implicit representation: ``{"model": {"name": "liif", "args": {...}, "sd": state_dict}}`` with keys
  ``encoder.*`` (EDSR-baseline) and ``imnet.layers.*``;
- SampleNet: ``{"model": state_dict}`` with its own ``encoder.*`` copy and ``imnet.layers.*`` (output 2).

LIIF's unused mean-shift layers (``encoder.sub_mean``/``add_mean``) are dropped.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

import torch

from irad.errors import IradError
from irad.models.implicit.resampler import ImplicitConfig, ImplicitResampler
from irad.utils.checkpoint import load_module_weights, read_weights

_MEAN_SHIFT = re.compile(r"^encoder\.(sub_mean|add_mean)\.")


def _liif_payload(obj: object, path: str) -> Mapping[str, torch.Tensor]:
    model = obj.get("model") if isinstance(obj, Mapping) else None
    if not isinstance(model, Mapping) or "sd" not in model:
        raise IradError(f"{path} is not a LIIF checkpoint (expected {{'model': {{'name', 'args', 'sd'}}}})")
    if model.get("name") != "liif":
        raise IradError(f"{path}: model name is {model.get('name')!r}, expected 'liif'")
    args = model.get("args", {})
    enc = args.get("encoder_spec", {})
    if enc.get("name") != "edsr-baseline" or not enc.get("args", {}).get("no_upsampling", False):
        raise IradError(f"{path}: encoder {enc.get('name')!r} is not an edsr-baseline without upsampling")
    for flag in ("local_ensemble", "feat_unfold", "cell_decode"):
        if args.get(flag, True) is not True:
            raise IradError(f"{path}: {flag}=False is not supported (the released models use True)")
    return model["sd"]


def _mlp_hidden(state: Mapping[str, torch.Tensor], prefix: str) -> tuple[list[int], int]:
    idx = sorted(int(m.group(1)) for k in state if (m := re.match(rf"^{re.escape(prefix)}layers\.(\d+)\.weight$", k)))
    if not idx:
        raise IradError(f"no {prefix}layers.* weights in the checkpoint")
    shapes = [state[f"{prefix}layers.{i}.weight"].shape for i in idx]
    return [s[0] for s in shapes[:-1]], shapes[-1][0]


def _encoder_size(state: Mapping[str, torch.Tensor]) -> tuple[int, int]:
    blocks = {int(m.group(1)) for k in state if (m := re.match(r"^encoder\.body\.(\d+)\.body\.0\.weight$", k))}
    if "encoder.head.0.weight" not in state or not blocks:
        raise IradError("checkpoint has no EDSR encoder (encoder.head.0 / encoder.body.*)")
    return len(blocks), state["encoder.head.0.weight"].shape[0]


def load_official_model(liif: str | os.PathLike, samplenet: str | os.PathLike | None = None) -> ImplicitResampler:
    """Build an :class:`ImplicitResampler` holding the released weights (SampleNet optional)."""
    liif_sd = {k: v for k, v in _liif_payload(read_weights(liif), str(liif)).items() if not _MEAN_SHIFT.match(k)}
    n_resblocks, n_feats = _encoder_size(liif_sd)
    hidden, out = _mlp_hidden(liif_sd, "imnet.")
    if out != 3:
        raise IradError(f"{liif}: decoder outputs {out} values, expected 3 (RGB)")
    state = {("decoder." + k[len("imnet."):] if k.startswith("imnet.") else k): v for k, v in liif_sd.items()}
    sn_hidden = None
    if samplenet is not None:
        obj = read_weights(samplenet)
        sn = obj.get("model") if isinstance(obj, Mapping) else None
        if not isinstance(sn, Mapping):
            raise IradError(f"{samplenet} is not a SampleNet checkpoint (expected {{'model': state_dict}})")
        sn = {k: v for k, v in sn.items() if not _MEAN_SHIFT.match(k)}
        if _encoder_size(sn) != (n_resblocks, n_feats):
            raise IradError(f"{samplenet}: SampleNet encoder size {_encoder_size(sn)} differs from the LIIF's")
        sn_hidden, sn_out = _mlp_hidden(sn, "imnet.")
        if sn_out != 2:
            raise IradError(f"{samplenet}: SampleNet outputs {sn_out} values, expected 2 (a shift)")
        for k, v in sn.items():
            state[("samplenet_" + k) if k.startswith("encoder.") else "samplenet." + k[len("imnet."):]] = v
    cfg = ImplicitConfig(n_resblocks, n_feats, hidden, sn_hidden, samplenet_encoder=samplenet is not None)
    model = ImplicitResampler(cfg)
    load_module_weights(model, state, what="IRAD model built from the official checkpoint")
    return model.eval()
