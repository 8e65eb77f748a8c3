"""Safe loading and saving of weights: safetensors, or torch files with ``weights_only=True`` (never unpickled code)."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from irad.errors import IradError
from irad.utils.outputs import describe_os_error, os_error_cause

_FULL_DISK_BYTES = 1 << 20  # a failed torch.save with less free than this was a full disk
_WRAPPER_KEYS = ("state_dict", "model_state_dict", "model", "net", "sd")


def read_weights(path: str | os.PathLike) -> object:
    """Read a checkpoint file: safetensors gives a flat dict; torch files load with ``weights_only=True``."""
    p = Path(path)
    if not p.is_file():
        raise IradError(f"checkpoint not found: {p}")
    if p.suffix == ".safetensors":
        try:
            return load_file(str(p))
        except (SafetensorError, OSError, ValueError) as e:
            raise IradError(f"corrupt or truncated safetensors checkpoint {p}: {e}") from None
    try:
        return torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for bad files: EOFError, RuntimeError, UnpicklingError
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise IradError(f"cannot load checkpoint {p} safely (corrupt, truncated, or needs code execution): {first}") from None


def extract_state_dict(obj: object, strip_prefixes: tuple[str, ...] = ("module.", "_orig_mod.")) -> dict[str, torch.Tensor]:
    """Find the state dict inside common checkpoint wrappers and strip DataParallel/compile prefixes."""
    while isinstance(obj, Mapping) and not _is_state_dict(obj):
        inner = next((obj[k] for k in _WRAPPER_KEYS if k in obj and isinstance(obj[k], Mapping)), None)
        if inner is None:
            break
        obj = inner
    if not isinstance(obj, Mapping) or not _is_state_dict(obj):
        raise IradError("checkpoint holds no state dict (expected a mapping of parameter names to tensors)")
    out = {}
    for k, v in obj.items():
        for pre in strip_prefixes:
            if k.startswith(pre):
                k = k[len(pre):]
        out[k] = v
    return out


def _is_state_dict(obj: Mapping) -> bool:
    return len(obj) > 0 and all(isinstance(v, torch.Tensor) for v in obj.values())


def load_module_weights(module: nn.Module, source: str | os.PathLike | Mapping[str, torch.Tensor], what: str = "model") -> nn.Module:
    """Load a checkpoint path or state dict into ``module`` strictly; mismatches raise a clear :class:`IradError`."""
    state = extract_state_dict(read_weights(source) if not isinstance(source, Mapping) else source)
    own = module.state_dict()
    # Checkpoints from before PyTorch 0.4.1 lack BatchNorm's ``num_batches_tracked`` counters; keep ours.
    state = {**{k: v for k, v in own.items() if k.endswith("num_batches_tracked")}, **state}
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong_shape = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or wrong_shape:
        parts = []
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong_shape)):
            if keys:
                shown = ", ".join(keys[:8]) + (f", ... ({len(keys)} in all)" if len(keys) > 8 else "")
                parts.append(f"{label} keys: {shown}")
        raise IradError(f"checkpoint does not match the {what}: " + "; ".join(parts))
    module.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()})
    return module


def state_fingerprint(module: nn.Module) -> str:
    """First 16 hex digits of the SHA-256 of ``module``'s state (names, dtypes, shapes, bytes): the same weights give
    the same fingerprint whatever file or tag they came from."""
    h = hashlib.sha256()
    for name, t in sorted(module.state_dict().items()):
        t = t.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[str]:
    """A temporary file beside ``path`` to write; when the block succeeds it is renamed over ``path`` (with the
    permissions a plain ``open`` would give), else deleted, so readers never see half a file. The one way irad
    writes a file atomically."""
    p = Path(path)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    except OSError as e:
        raise IradError(f"cannot write {p}: {describe_os_error(e, p.parent)}") from None
    os.close(fd)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates the file 0600
        os.replace(tmp, p)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise IradError(f"cannot write {p}: {os_error_cause(e)}") from None
    except RuntimeError as e:  # torch.save reports a full disk as "unexpected pos ..."
        Path(tmp).unlink(missing_ok=True)
        if shutil.disk_usage(p.parent).free < _FULL_DISK_BYTES:
            raise IradError(f"cannot write {p}: {os_error_cause(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))}") from None
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (:func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(data)


def atomic_write_json(path: str | os.PathLike, obj: object) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically (:func:`atomic_path`)."""
    atomic_write_bytes(path, (json.dumps(obj, indent=2) + "\n").encode())


def save_safetensors(path: str | os.PathLike, state: Mapping[str, torch.Tensor], metadata: dict[str, str] | None = None) -> None:
    """Save a state dict as safetensors atomically (tensors made contiguous, shared storage cloned)."""
    with atomic_path(path) as tmp:
        save_file({k: v.detach().contiguous().clone() for k, v in state.items()}, tmp, metadata=metadata)
