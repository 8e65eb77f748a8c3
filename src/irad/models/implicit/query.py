"""Querying a local implicit function (LIIF Eq. / IRAD Eq. 9) at continuous coordinates.

Conventions (LIIF's): coordinates are ``(y, x)`` in [-1, 1] with pixel centres at ``-1 + (2k + 1) / n``; the cell
is the query pixel's size, ``(2 / H, 2 / W)`` at the input resolution. For a query ``u`` the four feature cells
around it (LIIF's local ensemble: ``u`` shifted by ``(+-1/h, +-1/w)`` plus 1e-6, clamped, nearest cell) each
predict ``MLP([unfold3x3(F)(k), (u - centre_k) * (h, w), cell * (h, w)])``; predictions are weighted by the area
of the diagonally opposite rectangle.

Speed: the MLP's first layer is linear in the unfolded feature, so its feature part is one 3x3 convolution of F
computed once per feature cell and gathered per query, instead of a 580-wide matmul per query and neighbour.
The result equals the released algorithm (kept in :mod:`irad.models.implicit.reference`) to float rounding.
At the pixel grid itself (:func:`query_grid`) an interior pixel's own cell carries all but ~1e-9 of the weight,
so only the last row and column need the four-neighbour ensemble.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from irad.models.implicit.mlp import MLP

EPS_SHIFT = 1e-6


def make_coord(h: int, w: int, device: torch.device | None = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Pixel-centre coordinates ``(h, w, 2)`` as ``(y, x)`` in [-1, 1]."""
    ys = -1 + (2 * torch.arange(h, device=device, dtype=dtype) + 1) / h
    xs = -1 + (2 * torch.arange(w, device=device, dtype=dtype) + 1) / w
    return torch.stack(torch.meshgrid(ys, xs, indexing="ij"), dim=-1)


def make_cell(h: int, w: int, device: torch.device | None = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The cell ``(2/h, 2/w)`` of an ``h x w`` output pixel, shape ``(2,)``."""
    return torch.tensor([2.0 / h, 2.0 / w], device=device, dtype=dtype)


def coord_dtype(dtype: torch.dtype) -> torch.dtype:
    """Coordinates stay in float32 (float64 for float64 features): bf16 cannot index a 32-pixel grid exactly."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def pixels_to_coord_offsets(offsets: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Pixel-unit ``(dy, dx)`` offsets -> offsets in [-1, 1] coordinate units (one pixel = 2/h, 2/w)."""
    return offsets * torch.tensor([2.0 / h, 2.0 / w], device=offsets.device, dtype=offsets.dtype)


def feature_projection(feat: torch.Tensor, mlp: MLP) -> torch.Tensor:
    """The first MLP layer's feature part for every cell: ``(N, hidden, h, w)`` = conv3x3(F, W_feat)."""
    c = feat.shape[1]
    w_feat = mlp.first.weight[:, : 9 * c]
    return F.conv2d(feat, w_feat.reshape(-1, c, 3, 3), padding=1)


def query_local(feat: torch.Tensor, coord: torch.Tensor, cell: torch.Tensor, mlp: MLP,
                projected: torch.Tensor | None = None, chunk: int | None = None) -> torch.Tensor:
    """Evaluate the implicit function at ``coord``.

    Args:
        feat: ``(N, C, h, w)`` features F.
        coord: ``(N, Q, 2)`` query coordinates ``(y, x)`` in [-1, 1] (may lie outside; cells are clamped).
        cell: ``(N, Q, 2)`` or ``(2,)`` query cell size.
        mlp: decoder with input ``9C + 4``.
        projected: :func:`feature_projection` of ``feat`` if already computed (reuse across queries).
        chunk: at most this many query points (over the batch) per MLP pass; the result is the same, the
            temporaries smaller (``chunk x hidden``), so they stay in cache and in the allocator's heap.
    Returns:
        ``(N, Q, out_dim)``; differentiable w.r.t. ``feat``, ``coord`` and the MLP.
    """
    n, c, h, w = feat.shape
    if projected is None:
        projected = feature_projection(feat, mlp)
    table = projected.permute(0, 2, 3, 1).reshape(n * h * w, -1).contiguous()  # a row per feature cell, all images
    step = max(1, chunk // n) if chunk else coord.shape[1]
    parts = coord.split(step, 1)
    cells = cell.split(step, 1) if cell.dim() == 3 else [cell] * len(parts)
    outs = [_query_rows(table, (n, c, h, w), q, c_, mlp) for q, c_ in zip(parts, cells)]
    return outs[0] if len(outs) == 1 else torch.cat(outs, 1)


def _query_rows(table: torch.Tensor, shape: tuple[int, int, int, int], coord: torch.Tensor, cell: torch.Tensor,
                mlp: MLP) -> torch.Tensor:
    """:func:`query_local` on one chunk, from the projected features as rows ``(N*h*w, hidden)``. Each query's
    row is taken with index_select (whole rows): 10-20x faster than an elementwise gather over an expanded index."""
    n, c, h, w = shape
    hidden = table.shape[1]
    w1 = mlp.first.weight
    w_coord, w_cell, b1 = w1[:, 9 * c: 9 * c + 2], w1[:, 9 * c + 2: 9 * c + 4], mlp.first.bias
    size = torch.tensor([h, w], device=coord.device, dtype=coord.dtype)
    cell_term = F.linear(cell.expand(n, coord.shape[1], 2) * size, w_cell, b1)  # (N, Q, hidden)
    first_row = torch.arange(n, device=coord.device).unsqueeze(1) * (h * w)
    preds, areas = [], []
    for vy in (-1.0, 1.0):
        for vx in (-1.0, 1.0):
            shift = torch.tensor([vy / h + EPS_SHIFT, vx / w + EPS_SHIFT], device=coord.device, dtype=coord.dtype)
            shifted = (coord + shift).clamp(-1 + 1e-6, 1 - 1e-6)
            # grid_sample(mode="nearest", align_corners=False): index = round(((u + 1) * n - 1) / 2), half to even
            idx = torch.round(((shifted.detach() + 1) * size - 1) / 2)
            idx = torch.minimum(idx.clamp_min(0), size - 1)
            rel = (coord - (-1 + (2 * idx + 1) / size)) * size
            rows = (idx[..., 0] * w + idx[..., 1]).long() + first_row
            gathered = table.index_select(0, rows.flatten()).view(n, -1, hidden)
            preds.append(mlp.after_first(gathered + F.linear(rel, w_coord) + cell_term))
            areas.append((rel[..., 0] * rel[..., 1]).abs() + 1e-9)
    total = areas[0] + areas[1] + areas[2] + areas[3]
    # each prediction is weighted by the area of the diagonally opposite rectangle
    return sum(p * (a / total).unsqueeze(-1) for p, a in zip(preds, reversed(areas)))


def query_grid(feat: torch.Tensor, mlp: MLP, projected: torch.Tensor | None = None,
               chunk: int | None = None) -> torch.Tensor:
    """:func:`query_local` at the pixel-centre grid of ``feat`` (cell = one pixel): ``(N, h*w, out_dim)``.

    Interior pixels take their own cell's prediction (the three other ensemble weights are below 1e-9 of it);
    the last row and column, where the clamped ensemble averages neighbours, are queried in full. ``chunk``: as in
    :func:`query_local`.
    """
    n, c, h, w = feat.shape
    if projected is None:
        projected = feature_projection(feat, mlp)
    dtype = coord_dtype(feat.dtype)
    cell = make_cell(h, w, feat.device, dtype)
    w1 = mlp.first.weight
    size = torch.tensor([h, w], device=feat.device, dtype=dtype)
    bias = F.linear(cell * size, w1[:, 9 * c + 2: 9 * c + 4], mlp.first.bias)  # rel_coord = 0 at the own cell
    rows = projected.flatten(2).transpose(1, 2)  # (N, h*w, hidden)
    step = max(1, chunk // n) if chunk else h * w
    out = torch.cat([mlp.after_first(part + bias) for part in rows.split(step, 1)], 1).view(n, h, w, -1)
    edge = make_coord(h, w, feat.device, dtype)
    edge_coord = torch.cat([edge[-1, :], edge[:-1, -1]]).unsqueeze(0).expand(n, -1, -1)
    edge_out = query_local(feat, edge_coord, cell, mlp, projected, chunk)
    out = out.clone()
    out[:, -1, :] = edge_out[:, :w]
    out[:, :-1, -1] = edge_out[:, w:]
    return out.view(n, h * w, -1)
