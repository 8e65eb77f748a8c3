"""torchrun support: process-group setup from the environment, sharding, and reductions (no-ops when single-process)."""

from __future__ import annotations

import atexit
import os
from collections.abc import Sequence

import torch
import torch.distributed as dist


def init_from_env(device: str = "cpu") -> bool:
    """Join the process group torchrun describes (``WORLD_SIZE`` > 1); gloo on CPU, nccl on CUDA. Returns whether
    distributed."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    if not dist.is_initialized():
        backend = "nccl" if device.startswith("cuda") else "gloo"
        if device.startswith("cuda"):
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend)
        atexit.register(_leave)
    return True


def _leave() -> None:
    """Destroy the process group before the interpreter exits (left to teardown, gloo's threads can abort a rank:
    "terminate called without an active exception", seen once in CI under load)."""
    if dist.is_initialized():
        dist.destroy_process_group()


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    return rank() == 0


def local_device(device: str) -> str:
    """``cuda`` becomes ``cuda:<LOCAL_RANK>`` under torchrun."""
    if device == "cuda" and is_distributed():
        return f"cuda:{os.environ.get('LOCAL_RANK', '0')}"
    return device


def shard(items: Sequence[int]) -> list[int]:
    """This rank's share of ``items`` (strided, like DistributedSampler without padding)."""
    return list(items[rank()::world_size()])


def all_reduce_sum(values: Sequence[float]) -> list[float]:
    """Sum a short list of numbers over all ranks."""
    if not is_distributed():
        return list(values)
    t = torch.tensor(list(values), dtype=torch.float64)
    dist.all_reduce(t)
    return t.tolist()


def gather_strided(values: Sequence[float], n: int) -> list[float]:
    """The whole list of ``n`` per-item values from every rank's :func:`shard` of ``range(n)`` (``values``: this
    rank's, in shard order); single-process it is ``values`` itself."""
    if not is_distributed():
        return list(values)
    t = torch.zeros(n, dtype=torch.float64)
    t[shard(range(n))] = torch.tensor(list(values), dtype=torch.float64)
    dist.all_reduce(t)
    return t.tolist()


def barrier() -> None:
    if is_distributed():
        dist.barrier()
