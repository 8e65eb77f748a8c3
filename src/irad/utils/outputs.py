"""Where a command writes: checked writable before any work starts, one process at a time per ``--out``, and every
I/O failure said in one line (the path and the cause: no space, read-only, permission, not a directory)."""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from irad.errors import IradError


def os_error_cause(e: OSError) -> str:
    """The cause of an I/O failure in words, with the fix for a full disk."""
    cause = e.strerror or (os.strerror(e.errno) if e.errno else str(e) or type(e).__name__)
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        cause += " (free some space or write elsewhere)"
    return cause


def describe_os_error(e: OSError, path: str | os.PathLike | None = None) -> str:
    """``"PATH: No space left on device (...)"``: the path (``e.filename``, else ``path``) and the cause."""
    where = e.filename if e.filename is not None else path
    return f"{where}: {os_error_cause(e)}" if where is not None else os_error_cause(e)


def check_writable(path: str | os.PathLike, option: str, directory: bool = False) -> None:
    """Raise :class:`IradError` naming ``option`` unless ``path`` (a file, or with ``directory`` a folder) can be
    written: its folder is created if missing and a probe file is made and removed there."""
    p = Path(path)
    if not directory and p.is_dir():
        raise IradError(f"{option} {p} is a directory; give a file path")
    if directory and p.exists() and not p.is_dir():
        raise IradError(f"{option} {p} is a file; give a directory")
    folder = p if directory else p.parent
    ancestor = next(a for a in (folder, *folder.parents) if a.exists())
    if not ancestor.is_dir():
        raise IradError(f"{option} {p}: {ancestor} is a file, not a directory")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
        if p.is_file() and not os.access(p, os.W_OK):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(p))
    except OSError as e:
        raise IradError(f"{option} {p} cannot be written: {os_error_cause(e)}") from None


def lock_path(path: str | os.PathLike) -> Path:
    """The lock file of an output: ``.NAME.lock`` beside it."""
    p = Path(path)
    return p.parent / f".{p.name}.lock"


@contextmanager
def exclusive_output(path: str | os.PathLike, option: str = "--out") -> Iterator[None]:
    """Hold ``path``'s lock for the block; another process holding it is one :class:`IradError` at once (before any
    work), so two runs never write the same output. Under torchrun only rank 0 writes and locks."""
    if os.environ.get("RANK", "0") != "0":
        yield
        return
    lock = FileLock(str(lock_path(path)), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise IradError(f"{option} {path} is being written by another irad process (it holds {lock.lock_file}); "
                        f"wait for it to finish or use another {option}") from None
    try:
        yield
    finally:
        lock.release()


@contextmanager
def command_outputs(outputs: dict[str, tuple[str | os.PathLike | None, bool]],
                    locked: tuple[str, ...] = ("--out",)) -> Iterator[None]:
    """Check every given output writable (``option -> (path or None, is_directory)``), then hold the lock of those
    named in ``locked`` for the block."""
    for option, (path, directory) in outputs.items():
        if path:
            check_writable(path, option, directory)
    with ExitStack() as stack:
        for option in locked:
            path = outputs.get(option, (None, False))[0]
            if path:
                stack.enter_context(exclusive_output(path, option))
        yield
