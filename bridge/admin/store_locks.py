"""Locks held per store, for dashboard steps that read a store's state and then change
it (a count moved in the aggregates, a Telegram user checked free and linked): two such
steps interleaved in this process would act on the same stale read."""

from __future__ import annotations

import asyncio
from weakref import WeakKeyDictionary

__all__ = ["store_lock"]

_LOCKS: WeakKeyDictionary[object, dict[str, asyncio.Lock]] = WeakKeyDictionary()


def store_lock(store: object, purpose: str) -> asyncio.Lock:
    """The one lock of ``store`` for ``purpose``, made on first use."""
    locks = _LOCKS.setdefault(store, {})
    lock = locks.get(purpose)
    if lock is None:
        lock = locks[purpose] = asyncio.Lock()
    return lock
