"""Progress of a single long purification (DiffPure's reverse steps on a photo): shown on a terminal inside
:func:`purification_progress` (``irad purify`` enters it unless ``--no-progress``) once it has run ``DELAY``
seconds; never inside evaluations, whose own bars count batches."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")
DELAY = 3.0  # seconds before a bar appears
_enabled = ContextVar("irad_purification_progress", default=False)


@contextmanager
def purification_progress(enabled: bool = True) -> Iterator[None]:
    token = _enabled.set(enabled)
    try:
        yield
    finally:
        _enabled.reset(token)


def steps(iterable: Iterable[T], desc: str, total: int | None = None) -> Iterable[T]:
    """``iterable``, with a bar on a terminal (stderr a TTY) inside :func:`purification_progress`."""
    if not _enabled.get():
        return iterable
    return tqdm(iterable, desc=desc, total=total, delay=DELAY, disable=None, leave=False, unit="step")
