"""The released LIIF/IRAD query algorithm, written out step by step (unfold, nearest grid_sample per neighbour,
concatenate, full MLP per query and neighbour). Kept as the numerical oracle for tests and the speed benchmark;
the library uses :func:`irad.models.implicit.query.query_local`."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from irad.models.implicit.mlp import MLP
from irad.models.implicit.query import make_coord


def query_reference(feat: torch.Tensor, coord: torch.Tensor, cell: torch.Tensor, mlp: MLP) -> torch.Tensor:
    """Same contract as :func:`query_local`; ``cell`` is ``(N, Q, 2)``."""
    n, c, h, w = feat.shape
    feat = F.unfold(feat, 3, padding=1).view(n, c * 9, h, w)
    rx, ry = 1 / h, 1 / w
    feat_coord = make_coord(h, w, feat.device, feat.dtype).permute(2, 0, 1).unsqueeze(0).expand(n, 2, h, w)
    preds, areas = [], []
    for vx in (-1, 1):
        for vy in (-1, 1):
            coord_ = coord.clone()
            coord_[:, :, 0] += vx * rx + 1e-6
            coord_[:, :, 1] += vy * ry + 1e-6
            coord_.clamp_(-1 + 1e-6, 1 - 1e-6)
            grid = coord_.flip(-1).unsqueeze(1)
            q_feat = F.grid_sample(feat, grid, mode="nearest", align_corners=False)[:, :, 0, :].permute(0, 2, 1)
            q_coord = F.grid_sample(feat_coord, grid, mode="nearest", align_corners=False)[:, :, 0, :].permute(0, 2, 1)
            rel_coord = coord - q_coord
            rel_coord[:, :, 0] *= h
            rel_coord[:, :, 1] *= w
            rel_cell = cell.clone()
            rel_cell[:, :, 0] *= h
            rel_cell[:, :, 1] *= w
            inp = torch.cat([q_feat, rel_coord, rel_cell], dim=-1)
            preds.append(mlp(inp.view(n * coord.shape[1], -1)).view(n, coord.shape[1], -1))
            areas.append(torch.abs(rel_coord[:, :, 0] * rel_coord[:, :, 1]) + 1e-9)
    total = torch.stack(areas).sum(dim=0)
    areas[0], areas[3] = areas[3], areas[0]
    areas[1], areas[2] = areas[2], areas[1]
    return sum(p * (a / total).unsqueeze(-1) for p, a in zip(preds, areas))
