"""Connecting to a Dask distributed cluster, for every engine that can use one (the region
search and the proof search): one place that knows the optional ``distributed`` package, the
address form and the one-line errors."""

from __future__ import annotations

from typing import Any

from .errors import InputError

#: Seconds to wait for a scheduler to answer (distributed's own default).
CONNECT_TIMEOUT = 30.0


def dask_client(scheduler: Any) -> tuple[Any, bool]:
    """A ``distributed.Client`` for an address like ``tcp://host:8786`` (or the given Client),
    and whether we opened it (and so must close it)."""
    try:
        from distributed import Client
    except ImportError:
        raise InputError("a Dask scheduler needs the 'distributed' package: "
                         "pip install 'verishallow[dask]'") from None
    if isinstance(scheduler, Client):
        return scheduler, False
    try:
        return Client(scheduler, timeout=CONNECT_TIMEOUT), True
    except OSError as exc:
        raise InputError(f"cannot reach Dask scheduler {scheduler}: {exc}") from None
